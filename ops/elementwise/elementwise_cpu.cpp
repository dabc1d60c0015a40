// CPU entry points of muladd/mul/add/add_out: checks, output, iterator, then the loop compiled
// for the best ISA of this CPU.
#include <torch/library.h>

#include "ops/common/cpu_isa.h"
#include "ops/elementwise/elementwise.h"
#include "ops/elementwise/elementwise_kernels.h"

namespace myops::elementwise {

MYOPS_DECLARE_CPU_KERNEL(MulAddKernel, muladd_kernel)
MYOPS_DECLARE_CPU_KERNEL(BinaryKernel, mul_kernel)
MYOPS_DECLARE_CPU_KERNEL(BinaryKernel, add_kernel)

namespace {

at::Tensor muladd_cpu(const at::Tensor& a, const at::Tensor& b, double c) {
  return run_binary("myops.muladd", a, b, [c](at::TensorIteratorBase& iter) { MYOPS_CPU_KERNEL(muladd_kernel)(iter, c); });
}

at::Tensor mul_cpu(const at::Tensor& a, const at::Tensor& b) {
  return run_binary("myops.mul", a, b, MYOPS_CPU_KERNEL(mul_kernel));
}

at::Tensor add_cpu(const at::Tensor& a, const at::Tensor& b) {
  return run_binary("myops.add", a, b, MYOPS_CPU_KERNEL(add_kernel));
}

void add_out_cpu(const at::Tensor& a, const at::Tensor& b, at::Tensor& out) {
  run_binary_out("myops.add_out", a, b, out, MYOPS_CPU_KERNEL(add_kernel));
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, CPU, m) {
  m.impl("muladd", &muladd_cpu);
  m.impl("mul", &mul_cpu);
  m.impl("add", &add_cpu);
  m.impl("add_out", &add_out_cpu);
}

}  // namespace myops::elementwise
