// CPU registration of bias_act and bias_act_backward: the shared entry bodies
// (bias_act_kernels.h) with the loops compiled for the best ISA of this CPU.
#include <torch/library.h>

#include "ops/bias_act/bias_act_kernels.h"
#include "ops/common/cpu_isa.h"
#include "ops/common/entry.h"

namespace myops::ops::bias_act {

MYOPS_DECLARE_CPU_KERNEL(ForwardKernel, forward_kernel)
MYOPS_DECLARE_CPU_KERNEL(BackwardKernel, backward_kernel)

namespace {
void forward_cpu(at::TensorIteratorBase& iter, const Args& args, bool has_bias) {
  MYOPS_CPU_KERNEL(forward_kernel)(iter, args, has_bias);
}
void backward_cpu(at::TensorIteratorBase& iter, const Args& args, bool has_bias, int order) {
  MYOPS_CPU_KERNEL(backward_kernel)(iter, args, has_bias, order);
}
}  // namespace

TORCH_LIBRARY_IMPL(myops, CPU, m) {
  register_backend<NoDeviceGuard, forward_cpu, backward_cpu>(m);
}

}  // namespace myops::ops::bias_act
