// Autograd formulas of filtered_lrelu and filtered_lrelu_backward.
//
//   y     = filtered_lrelu(x, b)           = D(phi(U(x + b)))
//   dL/dx = filtered_lrelu_backward(g, x, b) = U^T(h(m) * D^T(g)),   m = U(x + b)
//   dL/db = dL/dx summed over N, H and W  (b is broadcast along them)
//
// with U the upsampling upfirdn2d (fu, up, padding, gain up^2), D the downsampling one (fd,
// down), phi = clamp(gain * lrelu(., slope)) and h = phi' (gain or gain * slope, zero where
// clamped). The backward is a registered op with CPU, CUDA and Meta kernels, so compiled
// backward graphs call myops.filtered_lrelu_backward by name, and it has a formula of its own:
//   d/dg: <gg, U^T(h * D^T g)> = <D(h * U(gg)), g>  ->  D(bias_act_backward(U(gg), m)), i.e.
//         forward-direction upfirdn2d and bias_act_backward calls through the dispatcher, all
//         differentiable again (every order);
//   d/dx, d/db: zero. h is piecewise constant in m (lrelu's two slopes and the clamp mask), the
//         same rule as bias_act_backward's order 2 for lrelu.
// The filters are not differentiable: fu or fd requiring grad is an error, never a silent zero.
#include <ATen/OpMathType.h>
#include <ATen/ops/sum.h>
#include <ATen/ops/zeros_like.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include "autograd/autograd_utils.h"
#include "myops/filtered_lrelu.h"
#include "ops/filtered_lrelu/filtered_lrelu_kernels.h"  // composed_upsample, check_args

namespace myops::autograd_filtered_lrelu {

using torch::autograd::AutogradContext;
using torch::autograd::Function;
using torch::autograd::variable_list;
using OptTensor = std::optional<at::Tensor>;
namespace fl = myops::ops::filtered_lrelu;

namespace {

OptTensor optional(const at::Tensor& t) { return t.defined() ? OptTensor(t) : std::nullopt; }

// The arguments that are not tensors, kept in ctx->saved_data; the tensors (x, b, fu, fd) are
// saved variables, in that order after any leading ones.
struct Config {
  int64_t up, down;
  std::vector<int64_t> padding;
  double gain, slope;
  std::optional<double> clamp;
  bool flip_filter;

  void save(AutogradContext* ctx) const {
    ctx->saved_data["up"] = up;
    ctx->saved_data["down"] = down;
    ctx->saved_data["padding"] = padding;
    ctx->saved_data["gain"] = gain;
    ctx->saved_data["slope"] = slope;
    ctx->saved_data["clamp"] = clamp;
    ctx->saved_data["flip_filter"] = flip_filter;
  }
  static Config load(AutogradContext* ctx) {
    return {ctx->saved_data["up"].toInt(), ctx->saved_data["down"].toInt(),
            ctx->saved_data["padding"].toIntVector(), ctx->saved_data["gain"].toDouble(),
            ctx->saved_data["slope"].toDouble(), ctx->saved_data["clamp"].toOptional<double>(),
            ctx->saved_data["flip_filter"].toBool()};
  }
  at::Tensor forward(const at::Tensor& x, const OptTensor& fu, const OptTensor& fd, const OptTensor& b) const {
    return myops::filtered_lrelu(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter);
  }
  at::Tensor backward(const at::Tensor& grad, const at::Tensor& x, const OptTensor& fu, const OptTensor& fd,
                      const OptTensor& b) const {
    return myops::filtered_lrelu_backward(grad, x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter);
  }
  fl::Args args(const at::Tensor& x, const OptTensor& fu, const OptTensor& fd, const OptTensor& b) const {
    return fl::check_args(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter);
  }
};

class FilteredLrelu : public Function<FilteredLrelu> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const OptTensor& b, const OptTensor& fu,
                            const OptTensor& fd, const Config& config) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    ctx->save_for_backward({x, b.value_or(at::Tensor()), fu.value_or(at::Tensor()), fd.value_or(at::Tensor())});
    config.save(ctx);
    return config.forward(x, fu, fd, b);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto s = ctx->get_saved_variables();
    const Config config = Config::load(ctx);
    // (needs_input_grad counts tensor inputs only: b, given, is input 1.)
    const bool needs_b = s[1].defined() && ctx->needs_input_grad(1);
    at::Tensor grad_x, grad_b;
    if (ctx->needs_input_grad(0) || needs_b) {
      // For float16/bfloat16 the gradient is taken in float32 (what the kernels compute in
      // anyway) and rounded once: b's gradient sums it over N, H and W before any rounding,
      // not a sum of rounded terms.
      const at::ScalarType dtype = s[0].scalar_type(), opmath = at::toOpMathType(dtype);
      const auto wide = [&](const at::Tensor& t) { return t.defined() ? t.to(opmath) : t; };
      const at::Tensor grad_wide = config.backward(wide(grads[0]), wide(s[0]), optional(wide(s[2])),
                                                   optional(wide(s[3])), optional(wide(s[1])));
      if (needs_b) grad_b = at::sum(grad_wide, {0, 2, 3}).to(dtype);
      if (ctx->needs_input_grad(0)) grad_x = grad_wide.to(dtype);
    }
    return {grad_x, grad_b, {}, {}, {}};
  }
};

class FilteredLreluBackward : public Function<FilteredLreluBackward> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& grad, const at::Tensor& x, const OptTensor& b,
                            const OptTensor& fu, const OptTensor& fd, const Config& config) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    ctx->save_for_backward({grad, x, b.value_or(at::Tensor()), fu.value_or(at::Tensor()),
                            fd.value_or(at::Tensor())});
    config.save(ctx);
    return config.backward(grad, x, fu, fd, b);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto s = ctx->get_saved_variables();
    const at::Tensor& x = s[1];
    const OptTensor b = optional(s[2]), fu = optional(s[3]), fd = optional(s[4]);
    const Config config = Config::load(ctx);
    const bool needs_b = b.has_value() && ctx->needs_input_grad(2);
    at::Tensor d_grad, d_x, d_b;
    if (ctx->needs_input_grad(0)) {  // D(h(m) * U(gg))
      const fl::Args a = config.args(x, fu, fd, b);
      const at::Tensor m = fl::composed_upsample(x, fu, b, a);
      const at::Tensor h_ugg = myops::bias_act_backward(fl::composed_upsample(grads[0], fu, std::nullopt, a), m,
                                                        std::nullopt, 1, "lrelu", a.slope, a.gain, a.clamp, 1);
      d_grad = myops::upfirdn2d(h_ugg, fd, {1, 1}, {a.down, a.down}, {0, 0, 0, 0}, a.flip_filter, 1.0);
    }
    if (ctx->needs_input_grad(1)) d_x = at::zeros_like(x);  // h is piecewise constant
    if (needs_b) d_b = at::zeros_like(*b);
    return {d_grad, d_x, d_b, {}, {}, {}};
  }
};

using myops::autograd::check_no_forward_ad;
using myops::autograd::needs_graph;

void check_filters_do_not_require_grad(const OptTensor& fu, const OptTensor& fd) {
  for (const auto& [name, f] : {std::pair<const char*, const OptTensor*>{"fu", &fu}, {"fd", &fd}}) {
    TORCH_CHECK(!(at::GradMode::is_enabled() && f->has_value() && (*f)->defined() && (*f)->requires_grad()),
                "myops.filtered_lrelu: ", name, " requires grad, but the filters are not differentiable (only x and "
                "b are); pass ", name, ".detach() or a filter made without requires_grad=True");
  }
}

at::Tensor filtered_lrelu_autograd(const at::Tensor& x, const OptTensor& fu, const OptTensor& fd, const OptTensor& b,
                                   int64_t up, int64_t down, c10::IntArrayRef padding, double gain, double slope,
                                   std::optional<double> clamp, bool flip_filter) {
  check_no_forward_ad("myops.filtered_lrelu", x, b, fu, fd);
  check_filters_do_not_require_grad(fu, fd);
  const Config config{up, down, padding.vec(), gain, slope, clamp, flip_filter};
  if (needs_graph(x, b.value_or(at::Tensor()))) return FilteredLrelu::apply(x, b, fu, fd, config);
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  return config.forward(x, fu, fd, b);
}

at::Tensor filtered_lrelu_backward_autograd(const at::Tensor& grad, const at::Tensor& x, const OptTensor& fu,
                                            const OptTensor& fd, const OptTensor& b, int64_t up, int64_t down,
                                            c10::IntArrayRef padding, double gain, double slope,
                                            std::optional<double> clamp, bool flip_filter) {
  check_no_forward_ad("myops.filtered_lrelu_backward", grad, x, b, fu, fd);
  check_filters_do_not_require_grad(fu, fd);
  const Config config{up, down, padding.vec(), gain, slope, clamp, flip_filter};
  if (needs_graph(grad, x, b.value_or(at::Tensor()))) {
    return FilteredLreluBackward::apply(grad, x, b, fu, fd, config);
  }
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  return config.backward(grad, x, fu, fd, b);
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, Autograd, m) {
  m.impl("filtered_lrelu", &filtered_lrelu_autograd);
  m.impl("filtered_lrelu_backward", &filtered_lrelu_backward_autograd);
}

}  // namespace myops::autograd_filtered_lrelu
