// What the example programs share: the test cases export_model.py saved (data.pt, a TorchScript
// module with one buffer per tensor, read with torch::jit::load) and the comparison.
//
// data.pt holds input_<case>_<i> and output_<case>_<i> for case = 0, 1, ... and i = 0, 1, ...:
// how many cases, inputs and outputs there are comes from the file, so the programs run any
// model export_model.py writes, whatever its arguments and results.
#pragma once

#include <torch/script.h>

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

class ExampleData {
 public:
  explicit ExampleData(const std::string& path) : module_(torch::jit::load(path)) {}

  // The number of cases (input_<case>_0 exists).
  int64_t cases() const {
    int64_t n = 0;
    while (module_.hasattr(name("input", n, 0))) ++n;
    return n;
  }
  std::vector<at::Tensor> inputs(int64_t c) const { return tensors("input", c); }
  std::vector<at::Tensor> outputs(int64_t c) const { return tensors("output", c); }

  // e.g. "case 0: [3, 8] [3, 16] [3, 16] [3, 3, 8, 8]": the inputs' shapes.
  std::string describe(int64_t c) const {
    std::ostringstream s;
    s << "case " << c << ":";
    for (const at::Tensor& t : inputs(c)) s << " " << t.sizes();
    return s.str();
  }

 private:
  static std::string name(const char* kind, int64_t c, int64_t i) {
    return std::string(kind) + "_" + std::to_string(c) + "_" + std::to_string(i);
  }
  std::vector<at::Tensor> tensors(const char* kind, int64_t c) const {
    std::vector<at::Tensor> out;
    for (int64_t i = 0; module_.hasattr(name(kind, c, i)); ++i) out.push_back(module_.attr(name(kind, c, i)).toTensor());
    return out;
  }

  torch::jit::Module module_;
};

// Prints one line per comparison; false when `got` is not `want` (to float32 rounding).
inline bool check_close(const std::string& what, const at::Tensor& got, const at::Tensor& want) {
  const at::Tensor g = got.to(at::kCPU);
  const bool same_shape = g.sizes() == want.sizes();
  const bool ok = same_shape && at::allclose(g, want, /*rtol=*/1e-4, /*atol=*/1e-5);
  std::cout << (ok ? "ok       " : "MISMATCH ") << what;
  if (same_shape) {
    std::cout << "  shape " << g.sizes() << "  max |diff| = " << (g - want).abs().max().item<double>() << "\n";
  } else {
    std::cout << "  shape " << g.sizes() << ", expected " << want.sizes() << "\n";
  }
  return ok;
}

// Compares every output of one case with the expected ones (their number too).
inline bool check_outputs(const std::string& where, const std::vector<at::Tensor>& got,
                          const std::vector<at::Tensor>& want) {
  if (got.size() != want.size()) {
    std::cout << "MISMATCH " << where << ": " << got.size() << " outputs, expected " << want.size() << "\n";
    return false;
  }
  bool ok = true;
  for (size_t i = 0; i < got.size(); ++i) ok &= check_close(where + " output " + std::to_string(i), got[i], want[i]);
  return ok;
}

// What both programs' main() share: one argument, DIR (the folder export_model.py wrote), and
// the error report. `run(dir)` returns true when every check passed. Exit status: 0 all checks
// passed, 1 a mismatch or an error (or no test case in data.pt), 2 bad usage.
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
