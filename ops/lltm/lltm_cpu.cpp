// CPU registration of the lltm family (lltm, lltm_forward, lltm_backward, lltm_gates_backward
// and the cell ops): the shared entry bodies (lltm_impl.h) with the gate passes compiled for the
// best ISA of this CPU.
#include <torch/library.h>

#include "ops/common/cpu_isa.h"
#include "ops/common/entry.h"
#include "ops/lltm/lltm_impl.h"

namespace myops::ops::lltm {

MYOPS_DECLARE_CPU_KERNEL(ForwardGatesKernel, forward_gates_kernel)
MYOPS_DECLARE_CPU_KERNEL(BackwardGatesKernel, backward_gates_kernel)
MYOPS_DECLARE_CPU_KERNEL(CellKernel, cell_forward_kernel)
MYOPS_DECLARE_CPU_KERNEL(CellKernel, cell_backward_kernel)
MYOPS_DECLARE_CPU_KERNEL(CellKernel, cell_double_backward_kernel)

namespace {
void forward_gates_cpu(const at::Tensor& gates, const at::Tensor& old_cell, const at::Tensor& new_h,
                       const at::Tensor& new_cell) {
  MYOPS_CPU_KERNEL(forward_gates_kernel)(gates, old_cell, new_h, new_cell);
}
void backward_gates_cpu(const at::Tensor& grad_h, const at::Tensor& grad_cell, const at::Tensor& new_cell,
                        const at::Tensor& gates, const at::Tensor& d_gates, const at::Tensor& grad_old_cell) {
  MYOPS_CPU_KERNEL(backward_gates_kernel)(grad_h, grad_cell, new_cell, gates, d_gates, grad_old_cell);
}
void cell_forward_cpu(at::TensorIteratorBase& iter) { MYOPS_CPU_KERNEL(cell_forward_kernel)(iter); }
void cell_backward_cpu(at::TensorIteratorBase& iter) { MYOPS_CPU_KERNEL(cell_backward_kernel)(iter); }
void cell_double_backward_cpu(at::TensorIteratorBase& iter) { MYOPS_CPU_KERNEL(cell_double_backward_kernel)(iter); }
}  // namespace

TORCH_LIBRARY_IMPL(myops, CPU, m) {
  register_backend<NoDeviceGuard, forward_gates_cpu, backward_gates_cpu, cell_forward_cpu, cell_backward_cpu,
                   cell_double_backward_cpu>(m);
}

}  // namespace myops::ops::lltm
