// Deliberately NOT linked with libmyops: shows (and the tests check) what a C++ user sees when a
// TorchScript file needs myops ops that the program never registered. torch::jit::load fails
// with "Unknown builtin op: myops::muladd ..."; the fix is to link myops::myops.
//   load_without_myops MODEL.ts.pt
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/script.h>

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " MODEL.ts.pt\n";
    return 2;
  }
  if (c10::Dispatcher::singleton().findSchema({"myops::muladd", ""}).has_value()) {
    std::cerr << "myops is registered in this program: it must not link libmyops\n";
    return 2;
  }
  try {
    torch::jit::load(argv[1]);
  } catch (const std::exception& e) {
    std::cout << "torch::jit::load failed as expected without myops:\n" << e.what() << "\n";
    return 1;
  }
  std::cout << "loaded a model that uses myops without myops: unexpected\n";
  return 3;
}
