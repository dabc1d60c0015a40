// Meta kernels: the same checks and output metadata as the real kernels, no data. With these
// in the library, torch.ops.load_library alone makes bias_act work under torch.compile/export.
#include <torch/library.h>

#include "ops/bias_act/bias_act.h"

namespace myops::ops::bias_act {
namespace {

at::Tensor bias_act_meta(const at::Tensor& x, const std::optional<at::Tensor>& b, int64_t dim,
                         c10::string_view act, std::optional<double> alpha, std::optional<double> gain,
                         std::optional<double> clamp) {
  check_args("myops.bias_act", x, b, dim, act, alpha, gain, clamp);
  return empty_output(x);
}

at::Tensor bias_act_backward_meta(const at::Tensor& grad, const at::Tensor& x, const std::optional<at::Tensor>& b,
                                  int64_t dim, c10::string_view act, std::optional<double> alpha,
                                  std::optional<double> gain, std::optional<double> clamp, int64_t order) {
  const char* op = "myops.bias_act_backward";
  check_args(op, x, b, dim, act, alpha, gain, clamp);
  check_backward_args(op, grad, x, order);
  return empty_output(x);
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, Meta, m) {
  m.impl("bias_act", &bias_act_meta);
  m.impl("bias_act_backward", &bias_act_backward_meta);
}

}  // namespace myops::ops::bias_act
