// The LLTM cell's elementwise math, written once for every backend in the library's one math
// style (ops/common/scalar_ops.h): templates on the ops O (ScalarOps on the CPU's scalar loop
// and the GPU, VecOps on the CPU's vector loop) and the value type T, already op-math.
//
// Derivatives are written in terms of the function's *value* (what the forward stores), so the
// backward needs no pre-activations: sigmoid' = y(1-y), tanh' = 1-t^2, elu' = y > 0 ? 1 : y+1.
// Unnamed namespace: one copy per translation unit (see ops/common/scalar_ops.h).
#pragma once

#include <c10/macros/Macros.h>

#include "ops/common/scalar_ops.h"

namespace myops::ops::lltm::math {
namespace {

template <typename O, typename T>
C10_HOST_DEVICE inline T sigmoid(T x) {
  return T(1) / (T(1) + O::exp(T(0) - x));  // exp overflow -> inf -> 0: the right limit
}
template <typename O, typename T>
C10_HOST_DEVICE inline T elu(T x) {  // alpha = 1
  return O::select(x > T(0), x, O::expm1(x));
}
template <typename T>
C10_HOST_DEVICE inline T sigmoid_grad_from_output(T y) { return y * (T(1) - y); }
template <typename T>
C10_HOST_DEVICE inline T tanh_grad_from_output(T t) { return T(1) - t * t; }
template <typename O, typename T>
C10_HOST_DEVICE inline T elu_grad_from_output(T y) {  // y <= 0: exp(x) = elu(x) + 1
  return O::select(y > T(0), T(1), y + T(1));
}

// One state element of one batch row: the three pre-activations of its gates and old_cell.
template <typename T>
struct CellForward {
  T input_gate, output_gate, candidate, new_cell, new_h;  // gates: activated
};
template <typename O, typename T>
C10_HOST_DEVICE inline CellForward<T> cell_forward(T pre_input, T pre_output, T pre_candidate,
                                                   T old_cell) {
  const T input_gate = sigmoid<O>(pre_input);
  const T output_gate = sigmoid<O>(pre_output);
  const T candidate = elu<O>(pre_candidate);
  const T new_cell = old_cell + candidate * input_gate;
  return {input_gate, output_gate, candidate, new_cell, O::tanh(new_cell) * output_gate};
}

// Its backward: gradients w.r.t. the three pre-activations and old_cell, from the gradients of
// new_h and new_cell and what the forward stored (new_cell and the activated gates).
template <typename T>
struct CellBackward {
  T d_pre_input, d_pre_output, d_pre_candidate, d_old_cell;
};
template <typename O, typename T>
C10_HOST_DEVICE inline CellBackward<T> cell_backward(T grad_h, T grad_cell, T new_cell,
                                                     T input_gate, T output_gate, T candidate) {
  const T tanh_cell = O::tanh(new_cell);
  // new_cell reaches the loss directly (grad_cell) and through new_h = tanh(new_cell) * output_gate.
  const T d_new_cell = grad_cell + grad_h * output_gate * tanh_grad_from_output(tanh_cell);
  return {d_new_cell * candidate * sigmoid_grad_from_output(input_gate),
          grad_h * tanh_cell * sigmoid_grad_from_output(output_gate),
          d_new_cell * input_gate * elu_grad_from_output<O>(candidate),
          d_new_cell};
}

// The same backward from the gate *pre-activations* (recomputing the forward): what lltm's
// double backward differentiates (the registered op lltm_cell_backward).
template <typename O, typename T>
C10_HOST_DEVICE inline CellBackward<T> cell_backward_from_pre(T grad_h, T grad_cell, T pre_input,
                                                              T pre_output, T pre_candidate, T old_cell) {
  const CellForward<T> f = cell_forward<O>(pre_input, pre_output, pre_candidate, old_cell);
  return cell_backward<O>(grad_h, grad_cell, f.new_cell, f.input_gate, f.output_gate, f.candidate);
}

// Its vector-Jacobian product (lltm's second derivatives): given the gradients u of the four
// outputs of cell_backward_from_pre, the gradients of its six inputs. With ig, og the sigmoid
// gates (s = their derivatives), cc = elu(pre_candidate) (e1, e2 its first two derivatives),
// t = tanh(new_cell) and dnc = grad_cell + grad_h * og * (1 - t^2), the backward is
//   d_pre_input = dnc * cc * s_i,  d_pre_output = grad_h * t * s_o,
//   d_pre_candidate = dnc * ig * e1,  d_old_cell = dnc,  new_cell = old_cell + cc * ig,
// and each term below is the chain rule through one of these.
template <typename T>
struct CellDoubleBackward {
  T d_grad_h, d_grad_cell, d_pre_input, d_pre_output, d_pre_candidate, d_old_cell;
};
template <typename O, typename T>
C10_HOST_DEVICE inline CellDoubleBackward<T> cell_double_backward(T u_input, T u_output, T u_candidate,
                                                                  T u_old_cell, T grad_h, T grad_cell,
                                                                  T pre_input, T pre_output,
                                                                  T pre_candidate, T old_cell) {
  const T one(1), two(2);
  const CellForward<T> f = cell_forward<O>(pre_input, pre_output, pre_candidate, old_cell);
  const T ig = f.input_gate, og = f.output_gate, cc = f.candidate;
  const T t = O::tanh(f.new_cell), dt = tanh_grad_from_output(t);
  const T s_i = sigmoid_grad_from_output(ig), s_o = sigmoid_grad_from_output(og);
  const T e1 = elu_grad_from_output<O>(cc);
  // elu'' = exp = elu' below 0, and 0 from 0 on (at exactly 0 too, as PyTorch's elu double
  // backward has it: elu' is continuous there, elu'' is not).
  const T e2 = O::select(cc < T(0), e1, T(0));
  const T dnc = grad_cell + grad_h * og * dt;
  // How the loss changes with dnc, then with t (through dnc and d_pre_output), then new_cell.
  const T g_dnc = u_input * cc * s_i + u_candidate * ig * e1 + u_old_cell;
  const T g_t = T(-2) * t * g_dnc * grad_h * og + u_output * grad_h * s_o;
  const T g_new_cell = g_t * dt;
  return {g_dnc * og * dt + u_output * t * s_o,
          g_dnc,
          s_i * (u_input * dnc * cc * (one - two * ig) + u_candidate * dnc * e1 + g_new_cell * cc),
          s_o * (g_dnc * grad_h * dt + u_output * grad_h * t * (one - two * og)),
          u_input * dnc * s_i * e1 + u_candidate * dnc * ig * e2 + g_new_cell * ig * e1,
          g_new_cell};
}

}  // namespace
}  // namespace myops::ops::lltm::math
