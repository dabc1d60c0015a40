// bias_act and bias_act_backward: the activation table, argument checks and output metadata,
// shared by the CPU, CUDA and Meta kernels (so every backend raises the same errors and the
// Meta kernel describes the real output exactly).
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/empty_strided.h>
#include <c10/util/Exception.h>
#include <c10/util/string_view.h>

#include <array>
#include <optional>
#include <sstream>
#include <string>

#include "ops/bias_act/bias_act_math.h"
#include "ops/common/checks.h"
#include "ops/common/output.h"

namespace myops::ops::bias_act {

// StyleGAN2/3's table (NVlabs torch_utils/ops/bias_act.py): name, default alpha, default gain.
struct ActSpec {
  const char* name;
  Act act;
  double default_alpha;  // only lrelu uses alpha
  double default_gain;
};
constexpr double kSqrt2 = 1.4142135623730951;  // np.sqrt(2), StyleGAN's gain for the ReLU family
constexpr std::array<ActSpec, 9> kActivations = {{
    {"linear", Act::Linear, 0.0, 1.0},
    {"relu", Act::Relu, 0.0, kSqrt2},
    {"lrelu", Act::Lrelu, 0.2, kSqrt2},
    {"tanh", Act::Tanh, 0.0, 1.0},
    {"sigmoid", Act::Sigmoid, 0.0, 1.0},
    {"elu", Act::Elu, 0.0, 1.0},
    {"selu", Act::Selu, 0.0, 1.0},
    {"softplus", Act::Softplus, 0.0, 1.0},
    {"swish", Act::Swish, 0.0, kSqrt2},
}};

// ValueError listing the valid names for an unknown activation.
inline const ActSpec& find_activation(const char* op, c10::string_view act) {
  for (const ActSpec& spec : kActivations) {
    if (act == spec.name) return spec;
  }
  std::ostringstream names;
  for (size_t i = 0; i < kActivations.size(); ++i) names << (i ? ", " : "") << "'" << kActivations[i].name << "'";
  TORCH_CHECK_VALUE(false, op, ": act must be one of ", names.str(), "; got '", std::string(act), "'");
}

// The arguments of bias_act after checking, with the defaults filled in.
struct Args {
  const ActSpec* spec;
  double alpha, gain, clamp;
  bool has_clamp;
  int64_t dim;  // in [0, x.dim()) when b is given; unused (and unchecked) otherwise
};

// dim in [-ndim, ndim), Python's rule for negative values; IndexError like PyTorch's own
// "Dimension out of range".
inline int64_t wrap_dim(const char* op, int64_t dim, int64_t ndim) {
  TORCH_CHECK_INDEX(ndim > 0, op, ": x must have at least one dimension when b is given (b runs along x's "
                    "dimension dim), got a 0-dimensional x");
  TORCH_CHECK_INDEX(dim >= -ndim && dim < ndim, op, ": dim must be in [", -ndim, ", ", ndim - 1,
                    "] for x with ", ndim, " dimensions, got ", dim);
  return dim < 0 ? dim + ndim : dim;
}

// Every check bias_act makes, for every backend; returns the resolved arguments.
inline Args check_args(const char* op, const at::Tensor& x, const std::optional<at::Tensor>& b, int64_t dim,
                       c10::string_view act, std::optional<double> alpha, std::optional<double> gain,
                       std::optional<double> clamp) {
  check_float_dtype(op, "x", x);
  const ActSpec& spec = find_activation(op, act);
  // `!(c >= 0)` also rejects NaN. -1 is StyleGAN's internal "off", not a user value: None is.
  TORCH_CHECK_VALUE(!clamp.has_value() || *clamp >= 0, op, ": clamp must be None (no clamping) or >= 0, got ",
                    *clamp);
  Args args{&spec, alpha.value_or(spec.default_alpha), gain.value_or(spec.default_gain), clamp.value_or(0.0),
            clamp.has_value(), 0};
  if (b.has_value() && b->defined()) {
    check_float_dtype(op, "b", *b);
    TORCH_CHECK_TYPE(b->scalar_type() == x.scalar_type(), op, ": b must have x's dtype ", x.scalar_type(),
                     ", got ", b->scalar_type());
    args.dim = wrap_dim(op, dim, x.dim());
    TORCH_CHECK(b->dim() == 1 && b->sym_size(0) == x.sym_size(args.dim), op, ": b must be 1-D with x.shape[",
                args.dim, "] = ", x.sym_size(args.dim), " elements, got shape ", b->sym_sizes());
    check_same_device(op, "x", x, "b", *b);
  }
  return args;
}

// The highest derivative bias_act_math.h has: gradients of bias_act up to third order.
constexpr int64_t kMaxOrder = 3;

// bias_act_backward's extra checks: grad is y's gradient (x's shape, dtype and device) and the
// order is one the math has.
inline void check_backward_args(const char* op, const at::Tensor& grad, const at::Tensor& x, int64_t order) {
  check_float_dtype(op, "grad", grad);
  TORCH_CHECK_TYPE(grad.scalar_type() == x.scalar_type(), op, ": grad must have x's dtype ", x.scalar_type(),
                   ", got ", grad.scalar_type());
  TORCH_CHECK(grad.sym_sizes() == x.sym_sizes(), op, ": grad must have x's shape ", x.sym_sizes(), ", got ",
              grad.sym_sizes());
  check_same_device(op, "grad", grad, "x", x);
  TORCH_CHECK_VALUE(order >= 1 && order <= kMaxOrder, op, ": order must be 1, 2 or 3, got ", order);
}

// The output (y or a gradient of x): x's shape, dtype, device and layout. empty_like keeps
// x's strides when x is dense (channels_last in -> channels_last out, a transposed x gives a
// transposed y) and otherwise picks x's suggested memory format; on Meta tensors it gives the
// very same strides, symbolic sizes included.
// A dense x (the usual case) takes empty_like's own branch for it directly: empty_strided with
// x's sizes and strides, one dispatcher call instead of two, and none on the backends
// (ops/common/output.h; Meta keeps the symbolic sizes).
inline at::Tensor empty_output(const at::Tensor& x) {
  if (x.is_non_overlapping_and_dense()) {
    if (x.is_meta()) return at::empty_strided_symint(x.sym_sizes(), x.sym_strides(), x.options());
    return new_strided_output(x.sizes(), x.strides(), x.options());
  }
  return at::empty_like(x, at::MemoryFormat::Preserve);
}

// The kernels' parameters in the op-math type S.
template <typename S>
Params<S> make_params(const Args& args, bool has_bias) {
  return Params<S>{args.spec->act, static_cast<S>(args.alpha), static_cast<S>(args.gain),
                   static_cast<S>(args.clamp), args.has_clamp, has_bias};
}

}  // namespace myops::ops::bias_act
