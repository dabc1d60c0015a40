// Runs the AOTInductor package saved by export_model.py (compiled for the CPU, with dynamic
// batch and image sizes) on every test case in data.pt (different sizes, one package) and checks
// it against the saved expected values. The package's compiled code calls the myops ops through
// the dispatcher: this program links myops::myops, so they are registered at start-up.
//   run_aoti DIR      (DIR: what export_model.py wrote)
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/script.h>

#include <iostream>

#include "example_data.h"

int main(int argc, char** argv) {
  return run_example(argc, argv, [](const std::string& dir) {
    torch::inductor::AOTIModelPackageLoader model(dir + "/model.pt2");
    ExampleData data(dir + "/data.pt");
    c10::InferenceMode inference;
    const int64_t cases = data.cases();
    if (cases == 0) {
      std::cerr << "no test case in " << dir << "/data.pt\n";
      return false;
    }
    bool ok = true;
    for (int64_t c = 0; c < cases; ++c) {
      ok &= check_outputs("cpu " + data.describe(c), model.run(data.inputs(c)), data.outputs(c));
    }
    return ok;
  });
}
