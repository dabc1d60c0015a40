// CPU entry points of lltm, lltm_forward and lltm_backward: ATen's BLAS products around the
// gate passes compiled for the best ISA of this CPU (lltm_cpu_kernel.cpp).
#include <torch/library.h>

#include "ops/common/cpu_isa.h"
#include "ops/lltm/lltm_impl.h"

namespace myops::lltm {

MYOPS_DECLARE_CPU_KERNEL(ForwardGatesKernel, forward_gates_kernel)
MYOPS_DECLARE_CPU_KERNEL(BackwardGatesKernel, backward_gates_kernel)

namespace {

ForwardOutputs forward_cpu(const at::Tensor& input, const at::Tensor& weights,
                           const at::Tensor& bias, const at::Tensor& old_h,
                           const at::Tensor& old_cell) {
  const auto d = check_forward_args<int64_t>("myops.lltm", input, weights, bias, old_h, old_cell);
  return forward_impl(d, input, weights, bias, old_h, old_cell, MYOPS_CPU_KERNEL(forward_gates_kernel));
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> lltm_forward_cpu(
    const at::Tensor& input, const at::Tensor& weights, const at::Tensor& bias,
    const at::Tensor& old_h, const at::Tensor& old_cell) {
  return forward_cpu(input, weights, bias, old_h, old_cell).tuple();
}

std::tuple<at::Tensor, at::Tensor> lltm_cpu(const at::Tensor& input, const at::Tensor& weights,
                                            const at::Tensor& bias, const at::Tensor& old_h,
                                            const at::Tensor& old_cell) {
  auto out = forward_cpu(input, weights, bias, old_h, old_cell);
  return {out.new_h, out.new_cell};
}

BackwardOutputs lltm_backward_cpu(const at::Tensor& grad_h, const at::Tensor& grad_cell,
                                  const at::Tensor& new_cell, const at::Tensor& gates,
                                  const at::Tensor& X, const at::Tensor& weights) {
  const auto d = check_backward_args<int64_t>("myops.lltm_backward", grad_h, grad_cell, new_cell,
                                              gates, X, weights);
  return backward_impl(d, grad_h, grad_cell, new_cell, gates, X, weights,
                       MYOPS_CPU_KERNEL(backward_gates_kernel));
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, CPU, m) {
  m.impl("lltm", &lltm_cpu);
  m.impl("lltm_forward", &lltm_forward_cpu);
  m.impl("lltm_backward", &lltm_backward_cpu);
}

}  // namespace myops::lltm
