// The CPU kernel entry point of upfirdn2d, compiled once per ISA (upfirdn2d_cpu_kernel.cpp) and
// called by upfirdn2d_cpu.cpp.
#pragma once

#include <ATen/core/Tensor.h>

#include "ops/upfirdn2d/upfirdn2d.h"

namespace myops::upfirdn2d {

// out (allocated, any strides) = upfirdn2d(x) for x of any strides. `coef` is
// correlation_filter(): op-math dtype, contiguous, [taps] (separable) or [fh, fw].
using CpuKernel = void(const at::Tensor& x, const at::Tensor& coef, const Args& a,
                       const at::Tensor& out);

}  // namespace myops::upfirdn2d
