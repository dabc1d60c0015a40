// The CPU and CUDA entry points of the LLTM ops, written once: the matrix products through
// ATen (BLAS on the CPU, cuBLAS on the GPU, on the current stream) around the backend's fused
// gate pass (lltm_kernels.h). Not used by Meta, which only allocates (lltm.h).
#pragma once

#include <ATen/ops/addmm.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/sum.h>

#include "ops/lltm/lltm.h"
#include "ops/lltm/lltm_kernels.h"

namespace myops::lltm {

// X = [old_h, input]; gates = X @ weights^T + bias, activated in place by the gate pass.
// `d`: what check_forward_args returned (the caller checks first, then sets the CUDA device).
inline ForwardOutputs forward_impl(const Dims<int64_t>& d, const at::Tensor& input,
                                   const at::Tensor& weights, const at::Tensor& bias,
                                   const at::Tensor& old_h, const at::Tensor& old_cell,
                                   ForwardGatesKernel* gate_pass) {
  ForwardOutputs out = empty_forward_outputs<int64_t>(input, d);
  at::cat_out(out.X, {old_h, input}, 1);
  at::addmm_out(out.gates, bias, out.X, weights.t());
  if (out.new_h.numel() > 0) gate_pass(out.gates, old_cell, out.new_h, out.new_cell);
  return out;
}

// d_gates (w.r.t. the pre-activations) from the gate pass, then
//   grad_weights = d_gates^T @ X, grad_bias = sum(d_gates, 0), grad_X = d_gates @ weights,
// with grad_X's two column blocks (old_h | input) computed as two products so that each is its
// own contiguous tensor (outputs that are views of one buffer would alias each other).
// `d`: what check_backward_args returned.
inline BackwardOutputs backward_impl(const Dims<int64_t>& d, const at::Tensor& grad_h,
                                     const at::Tensor& grad_cell, const at::Tensor& new_cell,
                                     const at::Tensor& gates, const at::Tensor& X,
                                     const at::Tensor& weights, BackwardGatesKernel* gate_pass) {
  at::Tensor d_gates = empty_2d<int64_t>(new_cell, d.batch, 3 * d.state);
  at::Tensor grad_old_cell = empty_2d<int64_t>(new_cell, d.batch, d.state);
  if (grad_old_cell.numel() > 0) gate_pass(grad_h, grad_cell, new_cell, gates, d_gates, grad_old_cell);
  at::Tensor grad_weights = at::mm(d_gates.t(), X);
  at::Tensor grad_bias = at::sum(d_gates, 0);
  at::Tensor grad_old_h = at::mm(d_gates, weights.narrow(1, 0, d.state));
  at::Tensor grad_input = at::mm(d_gates, weights.narrow(1, d.state, d.features));
  return {grad_input, grad_weights, grad_bias, grad_old_h, grad_old_cell};
}

}  // namespace myops::lltm
