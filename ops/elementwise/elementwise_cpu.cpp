// CPU registration of muladd/mul/add/add_out: the shared entry bodies (elementwise.h) with the
// loops compiled for the best ISA of this CPU (elementwise_cpu_kernel.cpp).
#include <torch/library.h>

#include "ops/common/cpu_isa.h"
#include "ops/common/entry.h"
#include "ops/elementwise/elementwise.h"

namespace myops::ops::elementwise {

MYOPS_DECLARE_CPU_KERNEL(MulAddKernel, muladd_kernel)
MYOPS_DECLARE_CPU_KERNEL(BinaryKernel, mul_kernel)
MYOPS_DECLARE_CPU_KERNEL(BinaryKernel, add_kernel)

namespace {
void muladd_cpu(at::TensorIteratorBase& iter, double c) { MYOPS_CPU_KERNEL(muladd_kernel)(iter, c); }
void mul_cpu(at::TensorIteratorBase& iter) { MYOPS_CPU_KERNEL(mul_kernel)(iter); }
void add_cpu(at::TensorIteratorBase& iter) { MYOPS_CPU_KERNEL(add_kernel)(iter); }
}  // namespace

TORCH_LIBRARY_IMPL(myops, CPU, m) {
  register_backend<NoDeviceGuard, muladd_cpu, mul_cpu, add_cpu>(m);
}

}  // namespace myops::ops::elementwise
