// CPU registration of filtered_lrelu and filtered_lrelu_backward: the shared entry bodies
// (filtered_lrelu_kernels.h) with the fused kernels (filtered_lrelu_cpu_kernel.cpp, compiled
// for the best ISA of this CPU), which never materialize the upsampled intermediate.
#include <ATen/ops/ones.h>
#include <torch/library.h>

#include "ops/common/cpu_isa.h"
#include "ops/common/entry.h"
#include "ops/filtered_lrelu/filtered_lrelu_kernels.h"
#include "ops/upfirdn2d/upfirdn2d.h"

namespace myops::ops::filtered_lrelu {

MYOPS_DECLARE_CPU_KERNEL(FusedForward, filtered_lrelu_fused_forward)
MYOPS_DECLARE_CPU_KERNEL(FusedBackward, filtered_lrelu_fused_backward)

namespace {

// f as the step upfirdn2d(f, flip_filter, gain) reads it: upfirdn2d's own correlation_filter,
// a 1-D filter unscaled with the gain on its vertical taps (FusedFilter says why; None: one
// tap of 1, the gain vertically).
FusedFilter fused_filter(const at::Tensor& x, const OptTensor& f, bool flip_filter, double gain) {
  if (!f.has_value() || !f->defined()) {
    return {at::ones({1}, x.options().dtype(at::toOpMathType(x.scalar_type()))), true, 1, 1, gain};
  }
  const bool separable = f->dim() == 1;
  const int64_t w = f->size(-1), h = f->size(0);
  upfirdn2d::Args ua{1, 1, 1, 1, 0, 0, 0, 0, flip_filter, separable ? 1.0 : gain,
                     separable ? upfirdn2d::FilterKind::Separable : upfirdn2d::FilterKind::Full, w, h};
  return {upfirdn2d::correlation_filter(x, f, ua), separable, w, h, separable ? gain : 1.0};
}

at::Tensor fused_forward(const at::Tensor& x, const OptTensor& fu, const OptTensor& fd, const OptTensor& b,
                         const Args& a) {
  const at::Tensor out = empty_output(x, a);
  MYOPS_CPU_KERNEL(filtered_lrelu_fused_forward)
  (x, fused_filter(x, fu, a.flip_filter, double(a.up * a.up)), fused_filter(x, fd, a.flip_filter, 1.0), b, a, out);
  return out;
}

at::Tensor fused_backward(const at::Tensor& grad, const at::Tensor& x, const OptTensor& fu, const OptTensor& fd,
                          const OptTensor& b, const Args& a) {
  const at::Tensor dx = empty_grad_input(x);
  MYOPS_CPU_KERNEL(filtered_lrelu_fused_backward)
  (grad, x, fused_filter(x, fu, a.flip_filter, double(a.up * a.up)), fused_filter(x, fd, a.flip_filter, 1.0), b, a,
   dx);
  return dx;
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, CPU, m) {
  register_backend<NoDeviceGuard, fused_forward, fused_backward>(m);
}

}  // namespace myops::ops::filtered_lrelu
