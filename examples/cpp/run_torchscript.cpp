// Runs the TorchScript model saved by export_model.py (the legacy path; see run_aoti.cpp) on the
// CPU (and on the GPU when there is one) on every test case in data.pt and checks it against the
// saved expected values. No Python: the myops ops it calls are registered because this program
// links myops::myops (see CMakeLists.txt).
//   run_torchscript DIR      (DIR: what export_model.py wrote)
#include <torch/cuda.h>
#include <torch/script.h>

#include <iostream>

#include "example_data.h"

// The model's result as a list of tensors: one tensor, or a tuple of them.
static std::vector<at::Tensor> tensors_of(const c10::IValue& result) {
  if (result.isTensor()) return {result.toTensor()};
  std::vector<at::Tensor> out;
  for (const c10::IValue& v : result.toTupleRef().elements()) out.push_back(v.toTensor());
  return out;
}

int main(int argc, char** argv) {
  return run_example(argc, argv, [](const std::string& dir) {
    torch::jit::Module model = torch::jit::load(dir + "/model.ts.pt");
    model.eval();
    ExampleData data(dir + "/data.pt");
    std::vector<torch::Device> devices = {torch::kCPU};
    if (torch::cuda::is_available()) devices.emplace_back(torch::kCUDA);
    const int64_t cases = data.cases();
    if (cases == 0) {
      std::cerr << "no test case in " << dir << "/data.pt\n";
      return false;
    }

    torch::NoGradGuard no_grad;
    bool ok = true;
    for (const torch::Device& device : devices) {
      model.to(device);
      for (int64_t c = 0; c < cases; ++c) {
        std::vector<c10::IValue> inputs;
        for (const at::Tensor& t : data.inputs(c)) inputs.emplace_back(t.to(device));
        ok &= check_outputs(device.str() + " " + data.describe(c), tensors_of(model.forward(inputs)), data.outputs(c));
      }
    }
    return ok;
  });
}
