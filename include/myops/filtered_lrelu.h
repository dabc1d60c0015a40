// The typed C++ API of the filtered_lrelu family (ops/filtered_lrelu).
//   #include <myops/filtered_lrelu.h>
//   at::Tensor y = myops::filtered_lrelu(x, fu, fd, b, 2, 2, {7, 6, 7, 6}, std::sqrt(2.0), 0.2, 256.0);
// Calls the registered op through the dispatcher (autograd and every backend apply); the
// arguments and defaults are the schema's (ops/library.cpp): padding [x0, x1, y0, y1] is
// relative to the upsampled image, as in StyleGAN3's Python API.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

#include <optional>

#include "myops/detail/dispatch.h"

namespace myops {

// StyleGAN3's filtered_lrelu: bias, upsample (fu, up), leaky ReLU * gain, clamp, downsample (fd, down).
inline at::Tensor filtered_lrelu(const at::Tensor& x, const std::optional<at::Tensor>& fu = std::nullopt,
                                 const std::optional<at::Tensor>& fd = std::nullopt,
                                 const std::optional<at::Tensor>& b = std::nullopt, int64_t up = 1,
                                 int64_t down = 1, c10::IntArrayRef padding = {0, 0, 0, 0},
                                 double gain = 1.4142135623730951, double slope = 0.2,
                                 std::optional<double> clamp = std::nullopt, bool flip_filter = false) {
  static const auto op = detail::typed_op<at::Tensor(
      const at::Tensor&, const std::optional<at::Tensor>&, const std::optional<at::Tensor>&,
      const std::optional<at::Tensor>&, int64_t, int64_t, c10::IntArrayRef, double, double,
      std::optional<double>, bool)>("myops::filtered_lrelu");
  return op.call(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter);
}

// dL/dx of filtered_lrelu for dL/dy = grad (dL/db is its sum over dimensions 0, 2 and 3).
inline at::Tensor filtered_lrelu_backward(const at::Tensor& grad, const at::Tensor& x,
                                          const std::optional<at::Tensor>& fu, const std::optional<at::Tensor>& fd,
                                          const std::optional<at::Tensor>& b, int64_t up, int64_t down,
                                          c10::IntArrayRef padding, double gain, double slope,
                                          std::optional<double> clamp, bool flip_filter) {
  static const auto op = detail::typed_op<at::Tensor(
      const at::Tensor&, const at::Tensor&, const std::optional<at::Tensor>&, const std::optional<at::Tensor>&,
      const std::optional<at::Tensor>&, int64_t, int64_t, c10::IntArrayRef, double, double,
      std::optional<double>, bool)>("myops::filtered_lrelu_backward");
  return op.call(grad, x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter);
}

}  // namespace myops
