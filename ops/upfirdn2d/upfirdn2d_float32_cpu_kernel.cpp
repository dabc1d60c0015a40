// upfirdn2d's CPU loops for float32, compiled once per ISA (one dtype per translation unit:
// upfirdn2d_cpu_dtypes.h says why).
#include "ops/upfirdn2d/upfirdn2d_cpu_run.h"

namespace myops::ops::upfirdn2d {
namespace CPU_CAPABILITY {

template void run<float>(const at::Tensor& x, const at::Tensor& coef, const Args& a, const at::Tensor& out);

}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::upfirdn2d
