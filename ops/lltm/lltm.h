// lltm, lltm_forward, lltm_backward, lltm_gates_backward and the cell ops: argument checks and
// output sizes, shared by the CPU, CUDA and Meta kernels (templated on int64_t for the real
// kernels, c10::SymInt for Meta, where the batch size may be symbolic).
//
// Shapes: input [B, F], weights [3S, S+F], bias [3S], old_h and old_cell [B, S]. The gates'
// columns are [input gate | output gate | candidate cell], S each; X = cat([old_h, input], 1).
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/core/SymInt.h>

#include <initializer_list>
#include <tuple>
#include <type_traits>
#include <utility>

#include "ops/common/checks.h"
#include "ops/common/output.h"

namespace myops::ops::lltm {

template <typename T>
struct Dims {
  T batch, features, state;  // B, F, S
};

template <typename T>
c10::ArrayRef<T> sizes_of(const at::Tensor& t) {
  if constexpr (std::is_same_v<T, c10::SymInt>) {
    return t.sym_sizes();
  } else {
    return t.sizes();
  }
}

template <typename T>
at::Tensor empty_2d(const at::Tensor& like, T rows, T cols) {
  if constexpr (std::is_same_v<T, c10::SymInt>) {
    return at::empty_symint({rows, cols}, like.options());
  } else {
    return new_output({rows, cols}, like.options());  // (no dispatcher call: ops/common/output.h)
  }
}

template <typename T>
at::Tensor empty_1d(const at::Tensor& like, T size) {
  if constexpr (std::is_same_v<T, c10::SymInt>) {
    return at::empty_symint({size}, like.options());
  } else {
    return new_output({size}, like.options());
  }
}

// `t` has `like`'s dtype and device (the op does no type promotion: one dtype throughout).
inline void check_like(const char* op, const char* arg, const at::Tensor& t, const char* like_arg,
                       const at::Tensor& like) {
  TORCH_CHECK_TYPE(t.scalar_type() == like.scalar_type(), op, ": ", arg, " must have ", like_arg,
                   "'s dtype ", like.scalar_type(), ", got ", t.scalar_type());
  TORCH_CHECK(t.device() == like.device(), op, ": expected all tensors on the same device, got ",
              like_arg, " on ", like.device(), " and ", arg, " on ", t.device());
}

// The checks of lltm and lltm_forward; returns B, F, S.
template <typename T>
Dims<T> check_forward_args(const char* op, const at::Tensor& input, const at::Tensor& weights,
                           const at::Tensor& bias, const at::Tensor& old_h,
                           const at::Tensor& old_cell) {
  check_float_dtype(op, "input", input);
  check_like(op, "weights", weights, "input", input);
  check_like(op, "bias", bias, "input", input);
  check_like(op, "old_h", old_h, "input", input);
  check_like(op, "old_cell", old_cell, "input", input);
  const auto in = sizes_of<T>(input), h = sizes_of<T>(old_h), c = sizes_of<T>(old_cell);
  const auto w = sizes_of<T>(weights), b = sizes_of<T>(bias);
  TORCH_CHECK(in.size() == 2, op, ": input must be 2-D [batch, features], got shape ", in);
  TORCH_CHECK(h.size() == 2 && h[0] == in[0], op,
              ": old_h must be 2-D [batch, state] with batch = input.shape[0] = ", in[0],
              ", got shape ", h);
  TORCH_CHECK(c == h, op, ": old_cell must have old_h's shape ", h, ", got shape ", c);
  Dims<T> d{in[0], in[1], h[1]};
  TORCH_CHECK(w.size() == 2 && w[0] == 3 * d.state && w[1] == d.state + d.features, op,
              ": weights must have shape [3 * state, state + features] = [", 3 * d.state, ", ",
              d.state + d.features, "], got shape ", w);
  TORCH_CHECK(b.size() == 1 && b[0] == 3 * d.state, op, ": bias must be 1-D with 3 * state = ",
              3 * d.state, " elements, got shape ", b);
  return d;
}

// The checks of lltm_gates_backward, and the first part of lltm_backward's (`op` names the op
// in the errors): grad_h, grad_cell, new_cell [B, S] and gates [B, 3S], one floating dtype and
// device. Returns B and S (features unknown here: 0).
template <typename T>
Dims<T> check_gates_backward_args(const char* op, const at::Tensor& grad_h, const at::Tensor& grad_cell,
                                  const at::Tensor& new_cell, const at::Tensor& gates) {
  check_float_dtype(op, "new_cell", new_cell);
  check_like(op, "grad_h", grad_h, "new_cell", new_cell);
  check_like(op, "grad_cell", grad_cell, "new_cell", new_cell);
  check_like(op, "gates", gates, "new_cell", new_cell);
  const auto c = sizes_of<T>(new_cell), g = sizes_of<T>(gates);
  TORCH_CHECK(c.size() == 2, op, ": new_cell must be 2-D [batch, state], got shape ", c);
  TORCH_CHECK(sizes_of<T>(grad_h) == c, op, ": grad_h must have new_cell's shape ", c,
              ", got shape ", sizes_of<T>(grad_h));
  TORCH_CHECK(sizes_of<T>(grad_cell) == c, op, ": grad_cell must have new_cell's shape ", c,
              ", got shape ", sizes_of<T>(grad_cell));
  TORCH_CHECK(g.size() == 2 && g[0] == c[0] && g[1] == 3 * c[1], op,
              ": gates must have shape [batch, 3 * state] = [", c[0], ", ", 3 * c[1],
              "], got shape ", g);
  return {c[0], T(0), c[1]};
}

// The checks of lltm_backward: the gate pass's, then X and weights; returns B, F, S (F from X's
// width). X and weights are checked after the other four, as they always were.
template <typename T>
Dims<T> check_backward_args(const char* op, const at::Tensor& grad_h, const at::Tensor& grad_cell,
                            const at::Tensor& new_cell, const at::Tensor& gates,
                            const at::Tensor& X, const at::Tensor& weights) {
  check_float_dtype(op, "new_cell", new_cell);
  check_like(op, "X", X, "new_cell", new_cell);
  check_like(op, "weights", weights, "new_cell", new_cell);
  const Dims<T> d = check_gates_backward_args<T>(op, grad_h, grad_cell, new_cell, gates);
  const T batch = d.batch, state = d.state;
  const auto x = sizes_of<T>(X), w = sizes_of<T>(weights);
  TORCH_CHECK(x.size() == 2 && x[0] == batch && x[1] >= state, op,
              ": X must be 2-D [batch, state + features] with batch = ", batch,
              " and at least state = ", state, " columns, got shape ", x);
  TORCH_CHECK(w.size() == 2 && w[0] == 3 * state && w[1] == x[1], op,
              ": weights must have shape [3 * state, X.shape[1]] = [", 3 * state, ", ", x[1],
              "], got shape ", w);
  return {batch, x[1] - state, state};
}

// Output tensors, allocated the same way by every backend (all contiguous).
struct ForwardOutputs {
  at::Tensor new_h, new_cell, gates, X;
  std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> tuple() && {
    return {std::move(new_h), std::move(new_cell), std::move(gates), std::move(X)};
  }
};

template <typename T>
ForwardOutputs empty_forward_outputs(const at::Tensor& input, const Dims<T>& d) {
  return {empty_2d<T>(input, d.batch, d.state), empty_2d<T>(input, d.batch, d.state),
          empty_2d<T>(input, d.batch, 3 * d.state), empty_2d<T>(input, d.batch, d.state + d.features)};
}

using BackwardOutputs = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>;
using GatesBackwardOutputs = std::tuple<at::Tensor, at::Tensor>;  // d_gates [B, 3S], grad_old_cell [B, S]

template <typename T>
GatesBackwardOutputs empty_gates_backward_outputs(const at::Tensor& like, const Dims<T>& d) {
  return {empty_2d<T>(like, d.batch, 3 * d.state), empty_2d<T>(like, d.batch, d.state)};
}

// grad_input, grad_weights, grad_bias, grad_old_h, grad_old_cell (Meta: shapes only).
template <typename T>
BackwardOutputs empty_backward_outputs(const at::Tensor& like, const Dims<T>& d) {
  return {empty_2d<T>(like, d.batch, d.features),
          empty_2d<T>(like, 3 * d.state, d.state + d.features), empty_1d<T>(like, 3 * d.state),
          empty_2d<T>(like, d.batch, d.state), empty_2d<T>(like, d.batch, d.state)};
}

// ---------------------------------------------------------------- the cell ops
// lltm_cell(pre_gates, old_cell) -> (new_h, new_cell): the cell from its gate pre-activations;
// lltm_cell_backward(grad_h, grad_cell, pre_gates, old_cell) -> (d_gates, d_old_cell) and
// lltm_cell_double_backward(gg_gates, gg_old_cell, grad_h, grad_cell, pre_gates, old_cell)
//   -> (d_grad_h, d_grad_cell, d_gates, d_old_cell): the gate pass of lltm's backward from the
// gate pre-activations [B, 3S], and its own backward.

// Their checks: old_cell [B, S] sets the dtype, device and sizes; `cells` are more [B, S]
// tensors, `gates` [B, 3S] ones. Returns B and S (features unused: 0).
template <typename T>
Dims<T> check_cell_args(const char* op, const at::Tensor& old_cell,
                        std::initializer_list<std::pair<const char*, const at::Tensor*>> cells,
                        std::initializer_list<std::pair<const char*, const at::Tensor*>> gates) {
  check_float_dtype(op, "old_cell", old_cell);
  const auto c = sizes_of<T>(old_cell);
  TORCH_CHECK(c.size() == 2, op, ": old_cell must be 2-D [batch, state], got shape ", c);
  for (const auto& [name, t] : cells) {
    check_like(op, name, *t, "old_cell", old_cell);
    TORCH_CHECK(sizes_of<T>(*t) == c, op, ": ", name, " must have old_cell's shape ", c, ", got shape ",
                sizes_of<T>(*t));
  }
  for (const auto& [name, t] : gates) {
    check_like(op, name, *t, "old_cell", old_cell);
    const auto g = sizes_of<T>(*t);
    TORCH_CHECK(g.size() == 2 && g[0] == c[0] && g[1] == 3 * c[1], op, ": ", name,
                " must have shape [batch, 3 * state] = [", c[0], ", ", 3 * c[1], "], got shape ", g);
  }
  return {c[0], T(0), c[1]};
}

template <typename T>
Dims<T> check_cell_forward_args(const at::Tensor& pre_gates, const at::Tensor& old_cell) {
  return check_cell_args<T>("myops.lltm_cell", old_cell, {}, {{"pre_gates", &pre_gates}});
}

template <typename T>
Dims<T> check_cell_backward_args(const at::Tensor& grad_h, const at::Tensor& grad_cell, const at::Tensor& pre_gates,
                                 const at::Tensor& old_cell) {
  return check_cell_args<T>("myops.lltm_cell_backward", old_cell, {{"grad_h", &grad_h}, {"grad_cell", &grad_cell}},
                            {{"pre_gates", &pre_gates}});
}

template <typename T>
Dims<T> check_cell_double_backward_args(const at::Tensor& gg_gates, const at::Tensor& gg_old_cell,
                                        const at::Tensor& grad_h, const at::Tensor& grad_cell,
                                        const at::Tensor& pre_gates, const at::Tensor& old_cell) {
  return check_cell_args<T>("myops.lltm_cell_double_backward", old_cell,
                            {{"gg_old_cell", &gg_old_cell}, {"grad_h", &grad_h}, {"grad_cell", &grad_cell}},
                            {{"gg_gates", &gg_gates}, {"pre_gates", &pre_gates}});
}

// Their outputs, allocated the same way by every backend (Meta: shapes only).
using CellForwardOutputs = std::tuple<at::Tensor, at::Tensor>;   // new_h, new_cell [B, S]
using CellBackwardOutputs = std::tuple<at::Tensor, at::Tensor>;  // d_gates [B, 3S], d_old_cell [B, S]
using CellDoubleBackwardOutputs = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

template <typename T>
CellForwardOutputs empty_cell_forward_outputs(const at::Tensor& like, const Dims<T>& d) {
  return {empty_2d<T>(like, d.batch, d.state), empty_2d<T>(like, d.batch, d.state)};
}

template <typename T>
CellBackwardOutputs empty_cell_backward_outputs(const at::Tensor& like, const Dims<T>& d) {
  return {empty_2d<T>(like, d.batch, 3 * d.state), empty_2d<T>(like, d.batch, d.state)};
}

template <typename T>
CellDoubleBackwardOutputs empty_cell_double_backward_outputs(const at::Tensor& like, const Dims<T>& d) {
  return {empty_2d<T>(like, d.batch, d.state), empty_2d<T>(like, d.batch, d.state),
          empty_2d<T>(like, d.batch, 3 * d.state), empty_2d<T>(like, d.batch, d.state)};
}

}  // namespace myops::ops::lltm
