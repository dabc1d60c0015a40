// Runs the TorchScript model saved by export_model.py on the CPU (and on the GPU when there is
// one) and checks it against the saved expected values. No Python: the myops ops it calls are
// registered because this program links myops::myops (see CMakeLists.txt).
//   run_torchscript DIR      (DIR: what export_model.py wrote)
#include <torch/cuda.h>
#include <torch/script.h>

#include <iostream>

#include "example_data.h"

int main(int argc, char** argv) {
  return run_example(argc, argv, [](const std::string& dir) {
    torch::jit::Module model = torch::jit::load(dir + "/model.ts.pt");
    model.eval();
    ExampleData data(dir + "/data.pt");
    std::vector<torch::Device> devices = {torch::kCPU};
    if (torch::cuda::is_available()) devices.emplace_back(torch::kCUDA);

    torch::NoGradGuard no_grad;
    bool ok = true;
    for (const torch::Device& device : devices) {
      model.to(device);
      for (int64_t batch : {3, 7}) {
        const auto outputs = model.forward({data.get("x", batch).to(device), data.get("h", batch).to(device),
                                            data.get("c", batch).to(device)}).toTuple();
        const std::string where = device.str() + " batch " + std::to_string(batch);
        ok &= check_close("new_h    " + where, outputs->elements()[0].toTensor(), data.get("new_h", batch));
        ok &= check_close("new_cell " + where, outputs->elements()[1].toTensor(), data.get("new_cell", batch));
      }
    }
    return ok;
  });
}
