// The CPU and CUDA entry bodies of the LLTM ops, written once (ops/common/entry.h): the matrix
// products through ATen (BLAS on the CPU, cuBLAS on the GPU, on the current stream) around the
// backend's fused gate pass (lltm_kernels.h). Not used by Meta, which only allocates (lltm.h).
#pragma once

#include <ATen/ops/addmm.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/sum.h>
#include <torch/library.h>

#include "ops/lltm/lltm.h"
#include "ops/lltm/lltm_kernels.h"

namespace myops::ops::lltm {

// X = [old_h, input]; gates = X @ weights^T + bias, activated in place by the gate pass.
// `d`: what check_forward_args returned.
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

// The registered entry points: checks (they name the argument on the wrong device), then the
// device guard from the checked device, then the work. lltm_forward reports errors as
// myops.lltm: it is what lltm's autograd formula calls.
template <typename DeviceGuard, ForwardGatesKernel* gate_pass>
ForwardOutputs checked_forward(const at::Tensor& input, const at::Tensor& weights, const at::Tensor& bias,
                               const at::Tensor& old_h, const at::Tensor& old_cell) {
  const auto d = check_forward_args<int64_t>("myops.lltm", input, weights, bias, old_h, old_cell);
  const DeviceGuard guard(input.device());
  return forward_impl(d, input, weights, bias, old_h, old_cell, gate_pass);
}

template <typename DeviceGuard, ForwardGatesKernel* gate_pass>
std::tuple<at::Tensor, at::Tensor> lltm_entry(const at::Tensor& input, const at::Tensor& weights,
                                              const at::Tensor& bias, const at::Tensor& old_h,
                                              const at::Tensor& old_cell) {
  auto out = checked_forward<DeviceGuard, gate_pass>(input, weights, bias, old_h, old_cell);
  return {out.new_h, out.new_cell};
}

template <typename DeviceGuard, ForwardGatesKernel* gate_pass>
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> lltm_forward_entry(
    const at::Tensor& input, const at::Tensor& weights, const at::Tensor& bias, const at::Tensor& old_h,
    const at::Tensor& old_cell) {
  return checked_forward<DeviceGuard, gate_pass>(input, weights, bias, old_h, old_cell).tuple();
}

template <typename DeviceGuard, BackwardGatesKernel* gate_pass>
BackwardOutputs lltm_backward_entry(const at::Tensor& grad_h, const at::Tensor& grad_cell,
                                    const at::Tensor& new_cell, const at::Tensor& gates, const at::Tensor& X,
                                    const at::Tensor& weights) {
  const auto d = check_backward_args<int64_t>("myops.lltm_backward", grad_h, grad_cell, new_cell, gates, X,
                                              weights);
  const DeviceGuard guard(new_cell.device());
  return backward_impl(d, grad_h, grad_cell, new_cell, gates, X, weights, gate_pass);
}

// The family's kernel table for one backend: the list of op names lives here once.
template <typename DeviceGuard, ForwardGatesKernel* forward_gates, BackwardGatesKernel* backward_gates>
void register_backend(torch::Library& m) {
  m.impl("lltm", &lltm_entry<DeviceGuard, forward_gates>);
  m.impl("lltm_forward", &lltm_forward_entry<DeviceGuard, forward_gates>);
  m.impl("lltm_backward", &lltm_backward_entry<DeviceGuard, backward_gates>);
}

}  // namespace myops::ops::lltm
