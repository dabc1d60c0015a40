// The typed C++ API of the LLTM family (ops/lltm).
//   #include <myops/lltm.h>
//   auto [new_h, new_cell] = myops::lltm(input, weights, bias, old_h, old_cell);
// Calls the registered ops through the dispatcher (autograd and every backend apply).
#pragma once

#include <ATen/core/Tensor.h>

#include <tuple>

#include "myops/detail/dispatch.h"

namespace myops {

// input [B, F], weights [3S, S+F], bias [3S], old_h and old_cell [B, S] -> (new_h, new_cell).
inline std::tuple<at::Tensor, at::Tensor> lltm(const at::Tensor& input, const at::Tensor& weights,
                                               const at::Tensor& bias, const at::Tensor& old_h,
                                               const at::Tensor& old_cell) {
  static const auto op = detail::typed_op<std::tuple<at::Tensor, at::Tensor>(
      const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
      const at::Tensor&)>("myops::lltm");
  return op.call(input, weights, bias, old_h, old_cell);
}

// The pieces of lltm's autograd formula (internal ops, no derivative of their own):
// lltm plus what the backward needs (the activated gates [B, 3S] and X = [old_h, input]) ...
inline std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> lltm_forward(
    const at::Tensor& input, const at::Tensor& weights, const at::Tensor& bias,
    const at::Tensor& old_h, const at::Tensor& old_cell) {
  static const auto op = detail::typed_op<std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>(
      const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
      const at::Tensor&)>("myops::lltm_forward");
  return op.call(input, weights, bias, old_h, old_cell);
}

// ... and the five gradients (input, weights, bias, old_h, old_cell) from those.
inline std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> lltm_backward(
    const at::Tensor& grad_h, const at::Tensor& grad_cell, const at::Tensor& new_cell,
    const at::Tensor& gates, const at::Tensor& X, const at::Tensor& weights) {
  static const auto op = detail::typed_op<std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>(
      const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
      const at::Tensor&, const at::Tensor&)>("myops::lltm_backward");
  return op.call(grad_h, grad_cell, new_cell, gates, X, weights);
}

// ... or only its gate pass: d_gates, the gradient of the gate pre-activations [B, 3S] (columns:
// input | output | candidate gate), and grad_old_cell [B, S]. lltm_backward's other gradients
// are products of d_gates: grad_weights = d_gates^T X, grad_bias = sum(d_gates, 0),
// [grad_old_h, grad_input] = d_gates @ weights.
inline std::tuple<at::Tensor, at::Tensor> lltm_gates_backward(const at::Tensor& grad_h, const at::Tensor& grad_cell,
                                                              const at::Tensor& new_cell, const at::Tensor& gates) {
  static const auto op = detail::typed_op<std::tuple<at::Tensor, at::Tensor>(
      const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&)>("myops::lltm_gates_backward");
  return op.call(grad_h, grad_cell, new_cell, gates);
}

// The cell alone: (new_h, new_cell) from the gate pre-activations pre_gates [B, 3S] (columns:
// input | output | candidate gate; pre_gates = [old_h, input] @ weights^T + bias in lltm) and
// old_cell [B, S]. Differentiable twice (its backward is lltm_cell_backward); for callers that
// compute the gate products themselves (a whole sequence's input projection at once, per-sample
// weights).
inline std::tuple<at::Tensor, at::Tensor> lltm_cell(const at::Tensor& pre_gates, const at::Tensor& old_cell) {
  static const auto op = detail::typed_op<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&)>(
      "myops::lltm_cell");
  return op.call(pre_gates, old_cell);
}

// lltm's double backward: the gradients of the gate pre-activations pre_gates [B, 3S] and of
// old_cell from those of new_h and new_cell (differentiable) ...
inline std::tuple<at::Tensor, at::Tensor> lltm_cell_backward(const at::Tensor& grad_h, const at::Tensor& grad_cell,
                                                             const at::Tensor& pre_gates, const at::Tensor& old_cell) {
  static const auto op = detail::typed_op<std::tuple<at::Tensor, at::Tensor>(
      const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&)>("myops::lltm_cell_backward");
  return op.call(grad_h, grad_cell, pre_gates, old_cell);
}

// ... and its backward: given the gradients of (d_gates, d_old_cell), those of grad_h,
// grad_cell, pre_gates and old_cell.
inline std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> lltm_cell_double_backward(
    const at::Tensor& gg_gates, const at::Tensor& gg_old_cell, const at::Tensor& grad_h,
    const at::Tensor& grad_cell, const at::Tensor& pre_gates, const at::Tensor& old_cell) {
  static const auto op = detail::typed_op<std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>(
      const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
      const at::Tensor&)>("myops::lltm_cell_double_backward");
  return op.call(gg_gates, gg_old_cell, grad_h, grad_cell, pre_gates, old_cell);
}

}  // namespace myops
