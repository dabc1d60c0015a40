// The typed C++ API of the bias_act family (ops/bias_act).
//   #include <myops/bias_act.h>
//   at::Tensor y = myops::bias_act(x, b, 1, "lrelu", std::nullopt, std::nullopt, 256.0);
// Every function calls the registered op through the dispatcher (autograd and every backend
// apply); the arguments and defaults are the schema's (ops/library.cpp).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/string_view.h>

#include <optional>

#include "myops/detail/dispatch.h"

namespace myops {

// y = clamp(act(x + b along dim, alpha) * gain, -clamp, clamp); alpha/gain default per act.
inline at::Tensor bias_act(const at::Tensor& x, const std::optional<at::Tensor>& b = std::nullopt,
                           int64_t dim = 1, c10::string_view act = "linear",
                           std::optional<double> alpha = std::nullopt,
                           std::optional<double> gain = std::nullopt,
                           std::optional<double> clamp = std::nullopt) {
  static const auto op = detail::typed_op<at::Tensor(
      const at::Tensor&, const std::optional<at::Tensor>&, int64_t, c10::string_view,
      std::optional<double>, std::optional<double>, std::optional<double>)>("myops::bias_act");
  return op.call(x, b, dim, act, alpha, gain, clamp);
}

// grad * d^order bias_act / dx^order (order 1, 2 or 3), zero where the output is clamped.
inline at::Tensor bias_act_backward(const at::Tensor& grad, const at::Tensor& x,
                                    const std::optional<at::Tensor>& b, int64_t dim,
                                    c10::string_view act, std::optional<double> alpha,
                                    std::optional<double> gain, std::optional<double> clamp,
                                    int64_t order = 1) {
  static const auto op = detail::typed_op<at::Tensor(
      const at::Tensor&, const at::Tensor&, const std::optional<at::Tensor>&, int64_t,
      c10::string_view, std::optional<double>, std::optional<double>, std::optional<double>,
      int64_t)>("myops::bias_act_backward");
  return op.call(grad, x, b, dim, act, alpha, gain, clamp, order);
}

}  // namespace myops
