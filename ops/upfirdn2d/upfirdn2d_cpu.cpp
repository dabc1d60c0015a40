// CPU entry point of upfirdn2d: checks, output, filter in correlation order, then the loop
// compiled for the best ISA of this CPU.
#include <torch/library.h>

#include "ops/common/cpu_isa.h"
#include "ops/upfirdn2d/upfirdn2d.h"
#include "ops/upfirdn2d/upfirdn2d_kernels.h"

namespace myops::upfirdn2d {

MYOPS_DECLARE_CPU_KERNEL(CpuKernel, upfirdn2d_kernel)

namespace {

at::Tensor upfirdn2d_cpu(const at::Tensor& x, const std::optional<at::Tensor>& f,
                         c10::IntArrayRef up, c10::IntArrayRef down, c10::IntArrayRef padding,
                         bool flip_filter, double gain) {
  const Args a = check_args(x, f, up, down, padding, flip_filter, gain);
  at::Tensor out = empty_output(x, a);
  if (out.numel() == 0) return out;
  MYOPS_CPU_KERNEL(upfirdn2d_kernel)(x, correlation_filter(x, f, a), a, out);
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, CPU, m) { m.impl("upfirdn2d", &upfirdn2d_cpu); }

}  // namespace myops::upfirdn2d
