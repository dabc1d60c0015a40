// What the example programs share: the expected values export_model.py saved (data.pt, a TorchScript
// module with one buffer per tensor, read with torch::jit::load) and the comparison.
#pragma once

#include <torch/script.h>

#include <iostream>
#include <string>

class ExampleData {
 public:
  explicit ExampleData(const std::string& path) : module_(torch::jit::load(path)) {}

  // e.g. get("x", 3): the input x for batch size 3.
  at::Tensor get(const std::string& name, int64_t batch) {
    return module_.attr(name + "_" + std::to_string(batch)).toTensor();
  }

 private:
  torch::jit::Module module_;
};

// Prints one line per comparison; false when `got` is not `want` (to float32 rounding).
inline bool check_close(const std::string& what, const at::Tensor& got, const at::Tensor& want) {
  const at::Tensor g = got.to(at::kCPU);
  const bool same_shape = g.sizes() == want.sizes();
  const bool ok = same_shape && at::allclose(g, want, /*rtol=*/1e-4, /*atol=*/1e-5);
  std::cout << (ok ? "ok       " : "MISMATCH ") << what;
  if (same_shape) {
    std::cout << "  max |diff| = " << (g - want).abs().max().item<double>() << "\n";
  } else {
    std::cout << "  shape " << g.sizes() << ", expected " << want.sizes() << "\n";
  }
  return ok;
}

// What both programs' main() share: one argument, DIR (the folder export_model.py wrote), and
// the error report. `run(dir)` returns true when every check passed. Exit status: 0 all checks
// passed, 1 a mismatch or an error, 2 bad usage.
template <typename Run>
int run_example(int argc, char** argv, const Run& run) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " DIR  (the folder export_model.py wrote)\n";
    return 2;
  }
  try {
    return run(std::string(argv[1])) ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
