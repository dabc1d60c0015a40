// The typed C++ API of the elementwise family (ops/elementwise): muladd, mul, add, add_out.
//   #include <myops/elementwise.h>
//   at::Tensor y = myops::muladd(a, b, 0.5);   // a * b + 0.5, broadcast, type-promoted
// Every function calls the registered op through the dispatcher (autograd and every backend
// apply); the arguments and defaults are the schema's (ops/library.cpp).
#pragma once

#include <ATen/core/Tensor.h>

#include "myops/detail/dispatch.h"

namespace myops {

inline at::Tensor muladd(const at::Tensor& a, const at::Tensor& b, double c) {
  static const auto op = detail::typed_op<at::Tensor(const at::Tensor&, const at::Tensor&, double)>("myops::muladd");
  return op.call(a, b, c);
}

inline at::Tensor mul(const at::Tensor& a, const at::Tensor& b) {
  static const auto op = detail::typed_op<at::Tensor(const at::Tensor&, const at::Tensor&)>("myops::mul");
  return op.call(a, b);
}

inline at::Tensor add(const at::Tensor& a, const at::Tensor& b) {
  static const auto op = detail::typed_op<at::Tensor(const at::Tensor&, const at::Tensor&)>("myops::add");
  return op.call(a, b);
}

// out = a + b; out must already have the broadcast shape and the result dtype. Returns out.
inline at::Tensor& add_out(const at::Tensor& a, const at::Tensor& b, at::Tensor& out) {
  static const auto op =
      detail::typed_op<void(const at::Tensor&, const at::Tensor&, at::Tensor&)>("myops::add_out");
  op.call(a, b, out);
  return out;
}

}  // namespace myops
