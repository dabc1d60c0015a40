// CPU registration of upfirdn2d: the shared entry body (upfirdn2d_kernels.h) with the loops
// compiled for the best ISA of this CPU.
#include <torch/library.h>

#include "ops/common/cpu_isa.h"
#include "ops/common/entry.h"
#include "ops/upfirdn2d/upfirdn2d_kernels.h"

namespace myops::ops::upfirdn2d {

MYOPS_DECLARE_CPU_KERNEL(Kernel, upfirdn2d_kernel)

namespace {
void upfirdn2d_cpu(const at::Tensor& x, const at::Tensor& coef, const Args& a, const at::Tensor& out) {
  MYOPS_CPU_KERNEL(upfirdn2d_kernel)(x, coef, a, out);
}
}  // namespace

TORCH_LIBRARY_IMPL(myops, CPU, m) {
  register_backend<NoDeviceGuard, upfirdn2d_cpu>(m);
}

}  // namespace myops::ops::upfirdn2d
