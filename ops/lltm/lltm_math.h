// The LLTM cell's elementwise math, written once for every backend: instantiated with
// float/double on the CPU (scalar loop) and the GPU, and with at::vec::Vectorized<float/double>
// on the CPU (vector loop, which specializes Prim below). Values are already in the op-math type.
//
// Derivatives are written in terms of the function's *value* (what the forward stores), so the
// backward needs no pre-activations: sigmoid' = y(1-y), tanh' = 1-t^2, elu' = y > 0 ? 1 : y+1.
//
// The unnamed namespace gives each translation unit its own copy: the CPU kernel file is compiled
// once per ISA (DEFAULT, AVX2, AVX512), and one shared (COMDAT) copy compiled with -mavx512f
// could otherwise be picked by the linker for the DEFAULT kernels too.
#pragma once

#include <c10/macros/Macros.h>

#include <cmath>

namespace myops::lltm::math {
namespace {

// The elementary functions on one value (CPU scalar loop, CUDA).
template <typename T>
struct Prim {
  C10_HOST_DEVICE static T exp(T x) { return std::exp(x); }
  C10_HOST_DEVICE static T expm1(T x) { return std::expm1(x); }
  C10_HOST_DEVICE static T tanh(T x) { return std::tanh(x); }
  // a where x > 0, b elsewhere
  C10_HOST_DEVICE static T where_positive(T x, T a, T b) { return x > T(0) ? a : b; }
};

template <typename T>
C10_HOST_DEVICE inline T sigmoid(T x) {
  return T(1) / (T(1) + Prim<T>::exp(T(0) - x));  // exp overflow -> inf -> 0: the right limit
}
template <typename T>
C10_HOST_DEVICE inline T elu(T x) {  // alpha = 1
  return Prim<T>::where_positive(x, x, Prim<T>::expm1(x));
}
template <typename T>
C10_HOST_DEVICE inline T sigmoid_grad_from_output(T y) { return y * (T(1) - y); }
template <typename T>
C10_HOST_DEVICE inline T tanh_grad_from_output(T t) { return T(1) - t * t; }
template <typename T>
C10_HOST_DEVICE inline T elu_grad_from_output(T y) {  // y <= 0: exp(x) = elu(x) + 1
  return Prim<T>::where_positive(y, T(1), y + T(1));
}

// One state element of one batch row: the three pre-activations of its gates and old_cell.
template <typename T>
struct CellForward {
  T input_gate, output_gate, candidate, new_cell, new_h;  // gates: activated
};
template <typename T>
C10_HOST_DEVICE inline CellForward<T> cell_forward(T pre_input, T pre_output, T pre_candidate,
                                                   T old_cell) {
  const T input_gate = sigmoid(pre_input);
  const T output_gate = sigmoid(pre_output);
  const T candidate = elu(pre_candidate);
  const T new_cell = old_cell + candidate * input_gate;
  return {input_gate, output_gate, candidate, new_cell, Prim<T>::tanh(new_cell) * output_gate};
}

// Its backward: gradients w.r.t. the three pre-activations and old_cell, from the gradients of
// new_h and new_cell and what the forward stored (new_cell and the activated gates).
template <typename T>
struct CellBackward {
  T d_pre_input, d_pre_output, d_pre_candidate, d_old_cell;
};
template <typename T>
C10_HOST_DEVICE inline CellBackward<T> cell_backward(T grad_h, T grad_cell, T new_cell,
                                                     T input_gate, T output_gate, T candidate) {
  const T tanh_cell = Prim<T>::tanh(new_cell);
  // new_cell reaches the loss directly (grad_cell) and through new_h = tanh(new_cell) * output_gate.
  const T d_new_cell = grad_cell + grad_h * output_gate * tanh_grad_from_output(tanh_cell);
  return {d_new_cell * candidate * sigmoid_grad_from_output(input_gate),
          grad_h * tanh_cell * sigmoid_grad_from_output(output_gate),
          d_new_cell * input_gate * elu_grad_from_output(candidate),
          d_new_cell};
}

}  // namespace
}  // namespace myops::lltm::math
