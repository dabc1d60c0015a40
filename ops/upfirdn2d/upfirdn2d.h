// upfirdn2d: argument checks and output metadata, shared by the CPU, CUDA and Meta kernels
// (output sizes templated on int64_t / c10::SymInt, so the Meta kernel works with symbolic
// shapes under torch.compile(dynamic=True)).
//
// Argument order follows StyleGAN's upfirdn2d: up = [x, y], down = [x, y],
// padding = [x0, x1, y0, y1]; x is [N, C, H, W]; x is the width axis. upfirdn2d_stacked
// (Form kStacked) takes the same arguments with a leading stack dim on x and f.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_strided.h>
#include <c10/core/SymBool.h>
#include <c10/core/SymInt.h>
#include <c10/util/ArrayRef.h>

#include <array>
#include <optional>

#include "ops/common/checks.h"
#include "ops/common/output.h"

namespace myops::ops::upfirdn2d {

inline constexpr const char* kOp = "myops.upfirdn2d";

// The two ops of the family and how each lays out its tensors: upfirdn2d's x [N, C, H, W]
// with f [taps] / [fh, fw], and upfirdn2d_stacked's, with one more leading dim S on both:
// out[s] = upfirdn2d(x[s], f[s]), one filter per stack entry (what upfirdn2d's vmap rule calls
// for per-sample filters).
struct Form {
  const char* op;
  int64_t lead;  // leading stacked dims: 0 or 1
};
inline constexpr Form kSingle{kOp, 0};
inline constexpr Form kStacked{"myops.upfirdn2d_stacked", 1};

enum class FilterKind { Identity, Separable, Full };  // f None, 1-D, 2-D

// The checked, unpacked arguments every backend works from.
struct Args {
  int64_t up_x, up_y, down_x, down_y;
  int64_t pad_x0, pad_x1, pad_y0, pad_y1;
  bool flip_filter;
  double gain;
  FilterKind kind;
  int64_t fw, fh;  // taps along x and y (a 1-D filter has the same taps on both axes)
};

// Every check the op makes, before any backend does anything (Meta included).
inline Args check_args(const Form& form, const at::Tensor& x, const std::optional<at::Tensor>& f,
                       c10::IntArrayRef up, c10::IntArrayRef down, c10::IntArrayRef padding,
                       bool flip_filter, double gain) {
  const char* op = form.op;
  const int64_t lead = form.lead;
  check_float_dtype(op, "x", x);
  TORCH_CHECK_VALUE(x.dim() == 4 + lead, op, ": x must be ", lead ? "5-D [S, N, C, H, W]" : "4-D [N, C, H, W]",
                    ", got ", x.dim(), "-D with shape ", x.sym_sizes());
  TORCH_CHECK_VALUE(up.size() == 2, op, ": up must be [x, y], got ", up);
  TORCH_CHECK_VALUE(down.size() == 2, op, ": down must be [x, y], got ", down);
  TORCH_CHECK_VALUE(padding.size() == 4, op, ": padding must be [x0, x1, y0, y1], got ", padding);
  TORCH_CHECK_VALUE(up[0] >= 1 && up[1] >= 1, op, ": up must be >= 1 along x and y, got ", up);
  TORCH_CHECK_VALUE(down[0] >= 1 && down[1] >= 1, op, ": down must be >= 1 along x and y, got ",
                    down);

  Args a{up[0], up[1], down[0], down[1], padding[0], padding[1], padding[2], padding[3],
         flip_filter, gain, FilterKind::Identity, 1, 1};
  TORCH_CHECK_VALUE(!lead || (f.has_value() && f->defined()), op, ": f must be a tensor");
  if (f.has_value() && f->defined()) {
    const at::Tensor& w = *f;
    TORCH_CHECK_VALUE(w.dim() == 1 + lead || w.dim() == 2 + lead, op, ": f must be ",
                      lead ? "2-D [S, taps] (separable) or 3-D [S, fh, fw]" : "1-D [taps] (separable) or 2-D [fh, fw]",
                      ", got ", w.dim(), "-D with shape ", w.sym_sizes());
    TORCH_CHECK_TYPE(w.scalar_type() == at::kFloat || w.scalar_type() == x.scalar_type(), op,
                     ": f must be float32 or x's dtype (", x.scalar_type(), "), got ",
                     w.scalar_type());
    check_same_device(op, "x", x, "f", w);
    if (lead) {
      const c10::SymBool same = w.sym_size(0).sym_eq(x.sym_size(0));
      const auto fail = [&] {
        return c10::str(op, ": f must have one filter per x[s]: f has ", w.sym_size(0), ", x has S = ", x.sym_size(0));
      };
      if (const auto v = same.maybe_as_bool()) {
        TORCH_CHECK_VALUE(*v, fail());
      } else {
        TORCH_SYM_CHECK(same, fail());  // a runtime assert under dynamic shapes, not a guard
      }
    }
    // A filter's size is part of the op's contract (it sets the output size): never symbolic.
    a.kind = w.dim() == 1 + lead ? FilterKind::Separable : FilterKind::Full;
    a.fw = w.sym_size(-1).guard_int(__FILE__, __LINE__);
    a.fh = w.sym_size(lead).guard_int(__FILE__, __LINE__);
    TORCH_CHECK_VALUE(a.fw >= 1 && a.fh >= 1, op, ": f must have at least one tap, got shape ",
                      w.sym_sizes());
    TORCH_CHECK_VALUE(a.kind != FilterKind::Separable || gain >= 0, op,
                      ": gain must be >= 0 with a 1-D (separable) filter, since each pass is "
                      "scaled by sqrt(gain); got gain = ", gain, " (use a 2-D filter instead)");
  }
  return a;
}
inline Args check_args(const at::Tensor& x, const std::optional<at::Tensor>& f, c10::IntArrayRef up,
                       c10::IntArrayRef down, c10::IntArrayRef padding, bool flip_filter, double gain) {
  return check_args(kSingle, x, f, up, down, padding, flip_filter, gain);
}

// The check autograd makes (autograd/upfirdn2d.cpp), and the vmap rule before it stacks the
// samples: the filter is not differentiable, so a filter that requires grad is an error, never
// a silent zero gradient.
inline void check_filter_not_requiring_grad(const Form& form, const std::optional<at::Tensor>& f) {
  TORCH_CHECK(!(at::GradMode::is_enabled() && f.has_value() && f->defined() && f->requires_grad()), form.op,
              ": f requires grad, but the filter is not differentiable (only x is); pass f.detach() or a "
              "filter made without requires_grad=True");
}

// Output size along one axis: (in*up + pad0 + pad1 - taps) // down + 1, >= 1. ValueError naming
// the sizes when the upsampled, padded input is smaller than the filter.
template <typename T>
T output_size(const char* op, const char* axis, const T& in, int64_t up, int64_t down, int64_t pad0, int64_t pad1,
              int64_t taps) {
  const T span = in * up + pad0 + pad1;  // the upsampled, padded input
  const T num = span - taps;
  const auto fail = [&](auto&&... more) {
    return c10::str(op, ": the output would be empty along ", axis, ": the upsampled, padded ",
                    axis, " (in ", in, " * up ", up, " + padding ", pad0, " + ", pad1, " = ", span,
                    ") must be at least the filter's ", taps, " taps", more...);
  };
  if constexpr (std::is_same_v<T, c10::SymInt>) {
    if (const auto v = num.maybe_as_int()) {
      TORCH_CHECK_VALUE(*v >= 0, fail());
    } else {
      TORCH_SYM_CHECK(num.sym_ge(0), fail());  // a runtime assert, not a guard
    }
  } else {
    TORCH_CHECK_VALUE(num >= 0, fail());
  }
  return num / down + 1;  // num >= 0: truncation is floor division
}

// [N, C, outH, outW] from the (possibly symbolic) sizes of one x [N, C, H, W].
template <typename T>
std::array<T, 4> output_shape(c10::ArrayRef<T> x_sizes, const Args& a, const char* op = kOp) {
  return {x_sizes[0], x_sizes[1],
          output_size<T>(op, "height", x_sizes[2], a.up_y, a.down_y, a.pad_y0, a.pad_y1, a.fh),
          output_size<T>(op, "width", x_sizes[3], a.up_x, a.down_x, a.pad_x0, a.pad_x1, a.fw)};
}

// The output: x's dtype and device, in x's suggested memory format (channels_last in,
// channels_last out), identical for every backend so the Meta tensor describes the real one.
// Stacked: [S, N, C, outH, outW], each out[s] in x[s]'s suggested memory format.
inline at::Tensor empty_output(const Form& form, const at::Tensor& x, const Args& a) {
  if (!form.lead) {
    if (!x.is_meta()) {  // concrete sizes: no dispatcher call (ops/common/output.h)
      return new_output(output_shape<int64_t>(x.sizes(), a, form.op), x.options(), x.suggest_memory_format());
    }
    const auto shape = output_shape<c10::SymInt>(x.sym_sizes(), a, form.op);
    return at::empty_symint(shape, x.options(), x.suggest_memory_format());
  }
  const auto sample_sizes = x.sym_sizes().slice(1);
  const auto shape = output_shape<c10::SymInt>(sample_sizes, a, form.op);
  // x[s]'s geometry without indexing x (S may be 0 or symbolic): a Meta tensor, no data.
  const at::MemoryFormat format =
      at::empty_strided_symint(sample_sizes, x.sym_strides().slice(1), x.options().device(at::kMeta))
          .suggest_memory_format();
  const c10::SymInt S = x.sym_size(0);
  return at::empty_symint({S * shape[0], shape[1], shape[2], shape[3]}, x.options(), format)
      .view_symint({S, shape[0], shape[1], shape[2], shape[3]});
}
inline at::Tensor empty_output(const at::Tensor& x, const Args& a) { return empty_output(kSingle, x, a); }

}  // namespace myops::ops::upfirdn2d

// ----------------------------------------------------------------------------------------
// For the CPU and CUDA backends (not Meta): the filter as the kernels read it.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/ops/flip.h>
#include <ATen/ops/ones.h>

#include <cmath>
#include <vector>

namespace myops::ops::upfirdn2d {

// The filter in correlation order (flipped unless flip_filter: the op is a true convolution by
// default), in the op-math dtype, contiguous, on x's device, scaled by the gain (a 2-D filter
// by gain, a 1-D one by sqrt(gain) since it is applied twice). Identity (f None): [[gain]].
// Stacked (form.lead = 1): every filter f[s] so, [S, taps] or [S, fh, fw].
inline at::Tensor correlation_filter(const at::Tensor& x, const std::optional<at::Tensor>& f,
                                     const Args& a, const Form& form = kSingle) {
  const auto opmath = at::toOpMathType(x.scalar_type());
  if (a.kind == FilterKind::Identity) {
    return at::ones({1, 1}, x.options().dtype(opmath)).mul_(a.gain);
  }
  const int64_t lead = form.lead;
  const at::Tensor w = f->to(opmath);  // (no copy for the usual float32 filter)
  const double scale = a.kind == FilterKind::Separable ? std::sqrt(a.gain) : a.gain;
  if (!w.is_cpu()) {
    const at::Tensor flipped =
        a.flip_filter ? w : a.kind == FilterKind::Separable ? w.flip({lead}) : w.flip({lead, lead + 1});
    return flipped.mul(scale).contiguous();
  }
  // On the CPU, one loop over the taps instead of flip + mul (two ATen ops, each a
  // TensorIterator and an allocation: ~1/4 of a small image's whole call). The same values:
  // each tap times the scale rounded to the op-math type, as mul(scale) computes it.
  at::Tensor out = at::empty(w.sizes(), w.options());
  AT_DISPATCH_FLOATING_TYPES(opmath, "myops_upfirdn2d_filter", [&] {
    const bool separable = a.kind == FilterKind::Separable;
    const int64_t stack = lead ? w.size(0) : 1, stack_stride = lead ? w.stride(0) : 0;
    const int64_t rows = separable ? 1 : w.size(lead), cols = w.size(-1);
    const int64_t row_stride = separable ? 0 : w.stride(lead), col_stride = w.stride(-1);
    const scalar_t* src = w.const_data_ptr<scalar_t>();
    scalar_t* dst = out.mutable_data_ptr<scalar_t>();
    const auto s = static_cast<scalar_t>(scale);
    for (int64_t k = 0; k < stack; ++k) {
      for (int64_t i = 0; i < rows; ++i) {
        for (int64_t j = 0; j < cols; ++j) {
          const int64_t si = a.flip_filter ? i : rows - 1 - i, sj = a.flip_filter ? j : cols - 1 - j;
          *dst++ = src[k * stack_stride + si * row_stride + sj * col_stride] * s;
        }
      }
    }
  });
  return out;
}

// The 2-D correlation filter [taps, taps] (a stack: [S, taps, taps]) of a separable one, CPU:
// w[i][j] = (coef[i] * vertical_gain) * coef[j], i the vertical tap. The CPU kernels run a
// few-tap separable filter so (separable_runs_as_2d, upfirdn2d_cpu_planes.h): upfirdn2d's with
// correlation_filter's coefficients (sqrt(gain) on each factor), filtered_lrelu's fused steps
// with their unscaled ones and the step's gain vertically (FusedFilter).
inline at::Tensor outer_filter(const at::Tensor& coef, double vertical_gain = 1.0) {
  const at::Tensor c = coef.contiguous();
  const int64_t taps = c.size(-1), stack = c.dim() == 2 ? c.size(0) : 1;
  std::vector<int64_t> sizes = c.sizes().vec();
  sizes.push_back(taps);
  at::Tensor w = at::empty(sizes, c.options());
  AT_DISPATCH_FLOATING_TYPES(c.scalar_type(), "myops_upfirdn2d_outer_filter", [&] {
    const scalar_t* src = c.const_data_ptr<scalar_t>();
    scalar_t* dst = w.mutable_data_ptr<scalar_t>();
    const auto gain = static_cast<scalar_t>(vertical_gain);
    for (int64_t s = 0; s < stack; ++s, src += taps) {
      for (int64_t i = 0; i < taps; ++i) {
        for (int64_t j = 0; j < taps; ++j) *dst++ = (src[i] * gain) * src[j];
      }
    }
  });
  return w;
}

}  // namespace myops::ops::upfirdn2d
