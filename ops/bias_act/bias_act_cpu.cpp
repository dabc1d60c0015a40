// CPU entry points of bias_act and bias_act_backward: checks, output, iterator, then the loop
// compiled for the best ISA of this CPU.
#include <torch/library.h>

#include "ops/bias_act/bias_act_kernels.h"
#include "ops/common/cpu_isa.h"

namespace myops::bias_act {

MYOPS_DECLARE_CPU_KERNEL(ForwardKernel, forward_kernel)
MYOPS_DECLARE_CPU_KERNEL(BackwardKernel, backward_kernel)

namespace {

at::Tensor bias_act_cpu(const at::Tensor& x, const std::optional<at::Tensor>& b, int64_t dim,
                        c10::string_view act, std::optional<double> alpha, std::optional<double> gain,
                        std::optional<double> clamp) {
  const Args args = check_args("myops.bias_act", x, b, dim, act, alpha, gain, clamp);
  at::Tensor y = empty_output(x);
  auto iter = make_iter(y, {x, bias_along_dim(x, b, args)});
  MYOPS_CPU_KERNEL(forward_kernel)(iter, args, has_bias(b));
  return y;
}

at::Tensor bias_act_backward_cpu(const at::Tensor& grad, const at::Tensor& x, const std::optional<at::Tensor>& b,
                                 int64_t dim, c10::string_view act, std::optional<double> alpha,
                                 std::optional<double> gain, std::optional<double> clamp, int64_t order) {
  const char* op = "myops.bias_act_backward";
  const Args args = check_args(op, x, b, dim, act, alpha, gain, clamp);
  check_backward_args(op, grad, x, order);
  at::Tensor grad_x = empty_output(x);
  auto iter = make_iter(grad_x, {grad, x, bias_along_dim(x, b, args)});
  MYOPS_CPU_KERNEL(backward_kernel)(iter, args, has_bias(b), static_cast<int>(order));
  return grad_x;
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, CPU, m) {
  m.impl("bias_act", &bias_act_cpu);
  m.impl("bias_act_backward", &bias_act_backward_cpu);
}

}  // namespace myops::bias_act
