// Runs the AOTInductor package saved by export_model.py (compiled for the CPU, with a dynamic
// batch dimension) for two batch sizes and checks it against the saved expected values. The
// package's compiled code calls the myops ops through the dispatcher: this program links
// myops::myops, so they are registered at start-up.
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
    bool ok = true;
    for (int64_t batch : {3, 7}) {  // one package, two batch sizes: the batch dimension is dynamic
      const std::vector<at::Tensor> outputs =
          model.run({data.get("x", batch), data.get("h", batch), data.get("c", batch)});
      if (outputs.size() != 2) {
        std::cerr << "expected 2 outputs (new_h, new_cell), got " << outputs.size() << "\n";
        return false;
      }
      const std::string where = " cpu batch " + std::to_string(batch);
      ok &= check_close("new_h   " + where, outputs[0], data.get("new_h", batch));
      ok &= check_close("new_cell" + where, outputs[1], data.get("new_cell", batch));
    }
    return ok;
  });
}
