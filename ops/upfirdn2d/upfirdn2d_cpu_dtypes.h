// The CPU loops of upfirdn2d, one translation unit per dtype.
//
// run<scalar_t> (upfirdn2d_cpu_run.h) is instantiated in its own file per dtype,
// upfirdn2d_<dtype>_cpu_kernel.cpp, each compiled once per ISA like every *_cpu_kernel.cpp;
// upfirdn2d_cpu_kernel.cpp dispatches on the dtype. Why not one file: GCC's inlining decisions
// are made over the whole translation unit (its growth budget is a share of the unit's size), so
// with every dtype's routes in one unit, adding or changing one dtype's code re-inlined the others:
// a bfloat16-only change moved float32's hottest loop (four_by_four_rows<float> 0x1771 ->
// 0x19a3 bytes) and its speed by 8-9% (docs/performance.md, 2026-12-07). Apart, a change to one
// dtype's route leaves the other dtypes' code as it was, so an A/B of that route measures it alone.
#pragma once

#include <ATen/core/Tensor.h>

#include "ops/upfirdn2d/upfirdn2d.h"

namespace myops::ops::upfirdn2d {
namespace CPU_CAPABILITY {

// out = upfirdn2d(x) for x, out of dtype scalar_t (upfirdn2d_kernels.h's Kernel, after the
// dispatch on the dtype; a separable filter that runs as its 2-D outer product comes here
// already as that 2-D filter). Instantiated for float, double, c10::Half and c10::BFloat16.
template <typename scalar_t>
void run(const at::Tensor& x, const at::Tensor& coef, const Args& a, const at::Tensor& out);

}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::upfirdn2d
