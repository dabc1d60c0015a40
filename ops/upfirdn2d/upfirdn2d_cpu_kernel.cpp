// upfirdn2d's CPU kernel, compiled once per ISA (DEFAULT, AVX2, AVX512; ops/common/cpu_isa.h):
// the dispatch on the dtype. The loops are in upfirdn2d_cpu_run.h, compiled in one translation
// unit per dtype (upfirdn2d_<dtype>_cpu_kernel.cpp; why: upfirdn2d_cpu_dtypes.h).
#include <ATen/Dispatch.h>

#include "ops/upfirdn2d/upfirdn2d_cpu_dtypes.h"
#include "ops/upfirdn2d/upfirdn2d_cpu_planes.h"  // separable_runs_as_2d
#include "ops/upfirdn2d/upfirdn2d_kernels.h"
#include "ops/upfirdn2d/upfirdn2d_math.h"

namespace myops::ops::upfirdn2d {
namespace CPU_CAPABILITY {

void upfirdn2d_kernel(const at::Tensor& x, const at::Tensor& coef, const Args& a,
                      const at::Tensor& out) {
  if (a.kind == FilterKind::Separable && separable_runs_as_2d(a.fw, a.up_x, a.up_y, a.down_y)) {
    Args full = a;
    full.kind = FilterKind::Full;
    upfirdn2d_kernel(x, outer_filter(coef), full, out);
    return;
  }
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "myops_upfirdn2d_cpu", [&] {
    run<scalar_t>(x, coef, a, out);
  });
}

}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::upfirdn2d
