// The typed C++ API of the upfirdn2d family (ops/upfirdn2d).
//   #include <myops/upfirdn2d.h>
//   at::Tensor y = myops::upfirdn2d(x, f, {2, 2}, {1, 1}, {2, 1, 2, 1}, false, 4.0);
// Calls the registered op through the dispatcher (autograd and every backend apply); the
// arguments and defaults are the schema's (ops/library.cpp): up/down are [x, y] and padding
// [x0, x1, y0, y1], as in StyleGAN's Python API.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

#include <optional>

#include "myops/detail/dispatch.h"

namespace myops {

inline at::Tensor upfirdn2d(const at::Tensor& x, const std::optional<at::Tensor>& f = std::nullopt,
                            c10::IntArrayRef up = {1, 1}, c10::IntArrayRef down = {1, 1},
                            c10::IntArrayRef padding = {0, 0, 0, 0}, bool flip_filter = false,
                            double gain = 1.0) {
  static const auto op = detail::typed_op<at::Tensor(
      const at::Tensor&, const std::optional<at::Tensor>&, c10::IntArrayRef, c10::IntArrayRef,
      c10::IntArrayRef, bool, double)>("myops::upfirdn2d");
  return op.call(x, f, up, down, padding, flip_filter, gain);
}

// out[s] = upfirdn2d(x[s], f[s], ...) for x [S, N, C, H, W] and f [S, taps] or [S, fh, fw]: one
// filter per stack entry, in one call (what upfirdn2d's vmap rule uses for per-sample filters).
inline at::Tensor upfirdn2d_stacked(const at::Tensor& x, const at::Tensor& f, c10::IntArrayRef up = {1, 1},
                                    c10::IntArrayRef down = {1, 1}, c10::IntArrayRef padding = {0, 0, 0, 0},
                                    bool flip_filter = false, double gain = 1.0) {
  static const auto op = detail::typed_op<at::Tensor(
      const at::Tensor&, const at::Tensor&, c10::IntArrayRef, c10::IntArrayRef, c10::IntArrayRef, bool,
      double)>("myops::upfirdn2d_stacked");
  return op.call(x, f, up, down, padding, flip_filter, gain);
}

}  // namespace myops
