// The CPU and CUDA entry bodies of the LLTM ops, written once (ops/common/entry.h): the matrix
// products through ATen (BLAS on the CPU, cuBLAS on the GPU, on the current stream) around the
// backend's fused gate pass (lltm_kernels.h). Not used by Meta, which only allocates (lltm.h).
#pragma once

#include <ATen/ops/addmm.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/sum.h>
#include <ATen/TensorIterator.h>
#include <torch/library.h>

#include <array>

#include "ops/common/operand_view.h"
#include "ops/common/same_dtype_iter.h"
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

// The products of lltm's backward from d_gates (the gradient of the gate pre-activations, [B, 3S]):
//   grad_weights = d_gates^T @ X, grad_bias = sum(d_gates, 0), grad_X = d_gates @ weights,
// with grad_X's two column blocks (old_h | input) computed as two products so that each is its
// own contiguous tensor (outputs that are views of one buffer would alias each other).
// Differentiable ATen calls: the autograd formula's double-backward path uses them too.
struct ProductGradients {
  at::Tensor grad_input, grad_weights, grad_bias, grad_old_h;
};
inline ProductGradients gradients_from_d_gates(const at::Tensor& d_gates, const at::Tensor& X,
                                               const at::Tensor& weights) {
  const c10::SymInt state = d_gates.sym_size(1) / 3;
  const c10::SymInt features = X.sym_size(1) - state;
  return {at::mm(d_gates, weights.narrow_symint(1, state, features)), at::mm(d_gates.t(), X),
          at::sum(d_gates, 0), at::mm(d_gates, weights.narrow_symint(1, 0, state))};
}

// The backward's gate pass: d_gates (the gradient of the gate pre-activations, [B, 3S]) and
// grad_old_cell ([B, S]). All of lltm_gates_backward, and the first half of lltm_backward.
// `d`: what check_gates_backward_args (or check_backward_args) returned.
inline GatesBackwardOutputs gates_backward_impl(const Dims<int64_t>& d, const at::Tensor& grad_h,
                                                const at::Tensor& grad_cell, const at::Tensor& new_cell,
                                                const at::Tensor& gates, BackwardGatesKernel* gate_pass) {
  auto [d_gates, grad_old_cell] = empty_gates_backward_outputs<int64_t>(new_cell, d);
  if (grad_old_cell.numel() > 0) gate_pass(grad_h, grad_cell, new_cell, gates, d_gates, grad_old_cell);
  return {d_gates, grad_old_cell};
}

// The backward: the gate pass, then the products (one implementation of each: lltm_backward is
// lltm_gates_backward + gradients_from_d_gates, without a second trip through the dispatcher).
inline BackwardOutputs backward_impl(const Dims<int64_t>& d, const at::Tensor& grad_h,
                                     const at::Tensor& grad_cell, const at::Tensor& new_cell,
                                     const at::Tensor& gates, const at::Tensor& X,
                                     const at::Tensor& weights, BackwardGatesKernel* gate_pass) {
  auto [d_gates, grad_old_cell] = gates_backward_impl(d, grad_h, grad_cell, new_cell, gates, gate_pass);
  auto g = gradients_from_d_gates(d_gates, X, weights);
  return {g.grad_input, g.grad_weights, g.grad_bias, g.grad_old_h, grad_old_cell};
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

template <typename DeviceGuard, BackwardGatesKernel* gate_pass>
GatesBackwardOutputs lltm_gates_backward_entry(const at::Tensor& grad_h, const at::Tensor& grad_cell,
                                               const at::Tensor& new_cell, const at::Tensor& gates) {
  const auto d = check_gates_backward_args<int64_t>("myops.lltm_gates_backward", grad_h, grad_cell, new_cell, gates);
  const DeviceGuard guard(new_cell.device());
  return gates_backward_impl(d, grad_h, grad_cell, new_cell, gates, gate_pass);
}

// The three [B, S] columns of a [B, 3S] gates tensor: input, output and candidate gates (views
// made without the dispatcher: ops/common/operand_view.h).
inline std::array<at::Tensor, 3> gate_columns(const at::Tensor& gates) {
  const int64_t S = gates.size(1) / 3;
  return {operand_columns(gates, 0, S), operand_columns(gates, S, S), operand_columns(gates, 2 * S, S)};
}

template <typename DeviceGuard, CellKernel* kernel>
CellForwardOutputs lltm_cell_entry(const at::Tensor& pre_gates, const at::Tensor& old_cell) {
  const auto d = check_cell_forward_args<int64_t>(pre_gates, old_cell);
  const DeviceGuard guard(old_cell.device());
  auto [new_h, new_cell] = empty_cell_forward_outputs<int64_t>(old_cell, d);
  if (new_cell.numel() > 0) {
    const auto [pi, po, pc] = gate_columns(pre_gates);
    auto iter = same_dtype_iter({new_h, new_cell}, {pi, po, pc, old_cell});
    kernel(iter);
  }
  return {new_h, new_cell};
}

template <typename DeviceGuard, CellKernel* kernel>
CellBackwardOutputs lltm_cell_backward_entry(const at::Tensor& grad_h, const at::Tensor& grad_cell,
                                             const at::Tensor& pre_gates, const at::Tensor& old_cell) {
  const auto d = check_cell_backward_args<int64_t>(grad_h, grad_cell, pre_gates, old_cell);
  const DeviceGuard guard(old_cell.device());
  auto [d_gates, d_old_cell] = empty_cell_backward_outputs<int64_t>(old_cell, d);
  if (d_old_cell.numel() > 0) {
    const auto [pi, po, pc] = gate_columns(pre_gates);
    const auto [di, dout, dc] = gate_columns(d_gates);
    auto iter = same_dtype_iter({di, dout, dc, d_old_cell}, {grad_h, grad_cell, pi, po, pc, old_cell});
    kernel(iter);
  }
  return {d_gates, d_old_cell};
}

template <typename DeviceGuard, CellKernel* kernel>
CellDoubleBackwardOutputs lltm_cell_double_backward_entry(const at::Tensor& gg_gates, const at::Tensor& gg_old_cell,
                                                          const at::Tensor& grad_h, const at::Tensor& grad_cell,
                                                          const at::Tensor& pre_gates, const at::Tensor& old_cell) {
  const auto d =
      check_cell_double_backward_args<int64_t>(gg_gates, gg_old_cell, grad_h, grad_cell, pre_gates, old_cell);
  const DeviceGuard guard(old_cell.device());
  auto [d_grad_h, d_grad_cell, d_gates, d_old_cell] = empty_cell_double_backward_outputs<int64_t>(old_cell, d);
  if (d_old_cell.numel() > 0) {
    const auto [ui, uo, uc] = gate_columns(gg_gates);
    const auto [pi, po, pc] = gate_columns(pre_gates);
    const auto [di, dout, dc] = gate_columns(d_gates);
    auto iter = same_dtype_iter({d_grad_h, d_grad_cell, di, dout, dc, d_old_cell},
                               {ui, uo, uc, gg_old_cell, grad_h, grad_cell, pi, po, pc, old_cell});
    kernel(iter);
  }
  return {d_grad_h, d_grad_cell, d_gates, d_old_cell};
}

// The family's kernel table for one backend: the list of op names lives here once.
template <typename DeviceGuard, ForwardGatesKernel* forward_gates, BackwardGatesKernel* backward_gates,
          CellKernel* cell_forward, CellKernel* cell_backward, CellKernel* cell_double_backward>
void register_backend(torch::Library& m) {
  m.impl("lltm", &lltm_entry<DeviceGuard, forward_gates>);
  m.impl("lltm_forward", &lltm_forward_entry<DeviceGuard, forward_gates>);
  m.impl("lltm_backward", &lltm_backward_entry<DeviceGuard, backward_gates>);
  m.impl("lltm_gates_backward", &lltm_gates_backward_entry<DeviceGuard, backward_gates>);
  m.impl("lltm_cell", &lltm_cell_entry<DeviceGuard, cell_forward>);
  m.impl("lltm_cell_backward", &lltm_cell_backward_entry<DeviceGuard, cell_backward>);
  m.impl("lltm_cell_double_backward", &lltm_cell_double_backward_entry<DeviceGuard, cell_double_backward>);
}

}  // namespace myops::ops::lltm
