// filtered_lrelu: argument checks and output metadata, shared by the CPU, CUDA and Meta kernels
// (output sizes templated on int64_t / c10::SymInt, so the Meta kernel works with symbolic
// shapes under torch.compile(dynamic=True)).
//
// StyleGAN3's filtered_lrelu (NVlabs torch_utils/ops/filtered_lrelu.py), per channel of x
// [N, C, H, W]: add b, upsample by `up` (zero insertion), pad by `padding` = [x0, x1, y0, y1]
// (relative to the upsampled image; negative crops), convolve with fu, times up^2, leaky ReLU
// with `slope`, times `gain`, clamp to [-clamp, clamp], convolve with fd, keep every `down`-th
// pixel. Filters: None (identity), 1-D [taps] (separable) or 2-D [fh, fw].
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/empty.h>
#include <c10/core/SymBool.h>
#include <c10/core/SymInt.h>
#include <c10/util/ArrayRef.h>

#include <array>
#include <cmath>
#include <optional>
#include <utility>

#include "ops/common/checks.h"
#include "ops/common/output.h"

namespace myops::ops::filtered_lrelu {

inline constexpr const char* kOp = "myops.filtered_lrelu";

struct Taps {
  int64_t w = 1, h = 1;  // along x and y (a 1-D filter has the same taps on both axes)
};

// The checked, unpacked arguments every backend works from.
struct Args {
  int64_t up, down;
  int64_t pad_x0, pad_x1, pad_y0, pad_y1;
  double gain, slope;
  std::optional<double> clamp;
  bool flip_filter;
  Taps fu, fd;
};

// None -> 1 x 1; otherwise 1-D or 2-D with >= 1 tap, float32 or x's dtype, on x's device.
// A filter's size sets the output size: never symbolic.
inline Taps check_filter(const char* name, const at::Tensor& x, const std::optional<at::Tensor>& f) {
  if (!f.has_value() || !f->defined()) return {};
  TORCH_CHECK_VALUE(f->dim() == 1 || f->dim() == 2, kOp, ": ", name,
                    " must be None, 1-D [taps] (separable) or 2-D [fh, fw], got ", f->dim(), "-D with shape ",
                    f->sym_sizes());
  TORCH_CHECK_TYPE(f->scalar_type() == at::kFloat || f->scalar_type() == x.scalar_type(), kOp, ": ", name,
                   " must be float32 or x's dtype (", x.scalar_type(), "), got ", f->scalar_type());
  check_same_device(kOp, "x", x, name, *f);
  const Taps t{f->sym_size(-1).guard_int(__FILE__, __LINE__), f->sym_size(0).guard_int(__FILE__, __LINE__)};
  TORCH_CHECK_VALUE(t.w >= 1 && t.h >= 1, kOp, ": ", name, " must have at least one tap, got shape ",
                    f->sym_sizes());
  return t;
}

// The filters are not differentiable (only x and b are): one that requires grad is an error,
// never a silent zero gradient (the Autograd kernel's check, also made by the vmap rule, whose
// steps would otherwise report it under another op's name).
inline void check_filters_not_requiring_grad(const std::optional<at::Tensor>& fu, const std::optional<at::Tensor>& fd) {
  for (const auto& [name, f] : {std::pair<const char*, const std::optional<at::Tensor>*>{"fu", &fu}, {"fd", &fd}}) {
    TORCH_CHECK(!(at::GradMode::is_enabled() && f->has_value() && (*f)->defined() && (*f)->requires_grad()), kOp,
                ": ", name, " requires grad, but the filters are not differentiable (only x and b are); pass ", name,
                ".detach() or a filter made without requires_grad=True");
  }
}

// Every check the op makes, before any backend does anything (Meta included).
inline Args check_args(const at::Tensor& x, const std::optional<at::Tensor>& fu,
                       const std::optional<at::Tensor>& fd, const std::optional<at::Tensor>& b, int64_t up,
                       int64_t down, c10::IntArrayRef padding, double gain, double slope,
                       std::optional<double> clamp, bool flip_filter) {
  check_float_dtype(kOp, "x", x);
  TORCH_CHECK_VALUE(x.dim() == 4, kOp, ": x must be 4-D [N, C, H, W], got ", x.dim(), "-D with shape ",
                    x.sym_sizes());
  TORCH_CHECK_VALUE(up >= 1, kOp, ": up must be >= 1, got ", up);
  TORCH_CHECK_VALUE(down >= 1, kOp, ": down must be >= 1, got ", down);
  TORCH_CHECK_VALUE(padding.size() == 4, kOp, ": padding must be [x0, x1, y0, y1], got ", padding);
  // `!(v > 0)` also rejects NaN.
  TORCH_CHECK_VALUE(gain > 0 && std::isfinite(gain), kOp, ": gain must be > 0 and finite, got ", gain);
  TORCH_CHECK_VALUE(slope >= 0 && std::isfinite(slope), kOp, ": slope must be >= 0 and finite, got ", slope);
  TORCH_CHECK_VALUE(!clamp.has_value() || *clamp >= 0, kOp, ": clamp must be None (no clamping) or >= 0, got ",
                    clamp.value_or(0.0));
  if (b.has_value() && b->defined()) {
    check_float_dtype(kOp, "b", *b);
    TORCH_CHECK_TYPE(b->scalar_type() == x.scalar_type(), kOp, ": b must have x's dtype ", x.scalar_type(),
                     ", got ", b->scalar_type());
    TORCH_CHECK_VALUE(b->dim() == 1 && b->sym_size(0) == x.sym_size(1), kOp,
                      ": b must be 1-D with x.shape[1] = ", x.sym_size(1), " elements, got shape ", b->sym_sizes());
    check_same_device(kOp, "x", x, "b", *b);
  }
  return Args{up, down, padding[0], padding[1], padding[2], padding[3], gain, slope, clamp, flip_filter,
              check_filter("fu", x, fu), check_filter("fd", x, fd)};
}

// Output size along one axis, StyleGAN3's formula
//   (in*up + p0 + p1 - (fu_taps - 1) - (fd_taps - 1) + (down - 1)) // down,
// which must be >= 1: ValueError naming the sizes otherwise.
template <typename T>
T output_size(const char* axis, const T& in, const Args& a, int64_t p0, int64_t p1, int64_t fu, int64_t fd) {
  const T span = in * a.up + p0 + p1;  // the upsampled, padded input
  const T num = span - (fu - 1) - (fd - 1) - 1;
  const auto fail = [&] {
    return c10::str(kOp, ": the output would be empty along ", axis, ": the upsampled, padded ", axis, " (in ",
                    in, " * up ", a.up, " + padding ", p0, " + ", p1, " = ", span,
                    ") must be at least fu's taps + fd's taps - 1 = ", fu + fd - 1);
  };
  // expect_true: the check itself when num is known, a runtime assert (not a guard) when it
  // is symbolic.
  TORCH_CHECK_VALUE(c10::SymInt(num).sym_ge(0).expect_true(__FILE__, __LINE__), fail());
  return num / a.down + 1;  // num >= 0: truncation is floor division
}

template <typename T>
std::array<T, 4> output_shape(c10::ArrayRef<T> x_sizes, const Args& a) {
  return {x_sizes[0], x_sizes[1],
          output_size<T>("height", x_sizes[2], a, a.pad_y0, a.pad_y1, a.fu.h, a.fd.h),
          output_size<T>("width", x_sizes[3], a, a.pad_x0, a.pad_x1, a.fu.w, a.fd.w)};
}

// The output: x's dtype and device, in x's suggested memory format (channels_last in,
// channels_last out), identical for every backend so the Meta tensor describes the real one.
inline at::Tensor empty_output(const at::Tensor& x, const Args& a) {
  if (!x.is_meta()) {  // concrete sizes: no dispatcher call (ops/common/output.h)
    return new_output(output_shape<int64_t>(x.sizes(), a), x.options(), x.suggest_memory_format());
  }
  return at::empty_symint(output_shape<c10::SymInt>(x.sym_sizes(), a), x.options(), x.suggest_memory_format());
}

// filtered_lrelu_backward's extra checks: grad has the output's shape (and x's dtype/device).
inline void check_backward_args(const at::Tensor& grad, const at::Tensor& x, const Args& a) {
  constexpr const char* op = "myops.filtered_lrelu_backward";
  check_float_dtype(op, "grad", grad);
  TORCH_CHECK_TYPE(grad.scalar_type() == x.scalar_type(), op, ": grad must have x's dtype ", x.scalar_type(),
                   ", got ", grad.scalar_type());
  const auto want = output_shape<c10::SymInt>(x.sym_sizes(), a);
  TORCH_CHECK_VALUE(grad.sym_sizes() == c10::SymIntArrayRef(want), op, ": grad must have the output's shape ",
                    c10::SymIntArrayRef(want), ", got ", grad.sym_sizes());
  check_same_device(op, "grad", grad, "x", x);
}

// The gradient with respect to x: x's shape, dtype, device and suggested memory format.
inline at::Tensor empty_grad_input(const at::Tensor& x) {
  return at::empty_symint(x.sym_sizes(), x.options(), x.suggest_memory_format());
}

}  // namespace myops::ops::filtered_lrelu
