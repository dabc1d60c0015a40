// Autograd formulas of bias_act and bias_act_backward.
//
//   y       = bias_act(x, b)                  = clamp(gain * f(x + b))
//   dL/dx   = bias_act_backward(g, x, b, 1)   = g * gain * f'(x + b) * [|gain * f| <= clamp]
//   dL/db   = dL/dx summed over every dimension but `dim`
//
// bias_act_backward is linear in g and its x-derivative is the same op one order higher, so its
// own formula is two calls of itself (order 2 = the double backward, order 3 the triple); the
// clamp mask is piecewise constant and adds nothing. Every step is a dispatcher op, so compiled backward
// graphs show myops.bias_act_backward by name and create_graph=True differentiates it again.
//
// The backward recomputes f from x instead of reading y (StyleGAN's CUDA plugin reads y for
// most activations): one read either way, but x gives exact derivatives for every activation
// and alpha (y cannot tell lrelu's sides apart when alpha <= 0) and an exact clamp mask in
// float16/bfloat16, at the price of keeping x alive until the backward.
#include <ATen/ops/mul.h>
#include <ATen/ops/sum.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include "autograd/autograd_utils.h"
#include "myops/bias_act.h"
#include "ops/bias_act/bias_act.h"  // kMaxOrder

namespace myops::autograd_bias_act {

using torch::autograd::AutogradContext;
using torch::autograd::Function;
using torch::autograd::variable_list;
using OptTensor = std::optional<at::Tensor>;
using OptDouble = std::optional<double>;

namespace {

// The arguments that are not tensors, kept in ctx->saved_data.
struct Config {
  int64_t dim;
  std::string act;
  OptDouble alpha, gain, clamp;

  void save(AutogradContext* ctx) const {
    ctx->saved_data["dim"] = dim;
    ctx->saved_data["act"] = act;
    ctx->saved_data["alpha"] = alpha;
    ctx->saved_data["gain"] = gain;
    ctx->saved_data["clamp"] = clamp;
  }
  static Config load(AutogradContext* ctx) {
    return {ctx->saved_data["dim"].toInt(), ctx->saved_data["act"].toStringRef(),
            ctx->saved_data["alpha"].toOptional<double>(), ctx->saved_data["gain"].toOptional<double>(),
            ctx->saved_data["clamp"].toOptional<double>()};
  }
  at::Tensor backward(const at::Tensor& grad, const at::Tensor& x, const OptTensor& b, int64_t order) const {
    return myops::bias_act_backward(grad, x, b, dim, act, alpha, gain, clamp, order);
  }
};

OptTensor optional(const at::Tensor& t) { return t.defined() ? OptTensor(t) : std::nullopt; }

// b's gradient from x's: summed over every dimension of x but `dim` (b broadcast along them).
at::Tensor reduce_to_bias(const at::Tensor& grad_x, int64_t dim) {
  const int64_t ndim = grad_x.dim();
  dim = dim < 0 ? dim + ndim : dim;  // already checked by the op
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < ndim; ++d) {
    if (d != dim) dims.push_back(d);
  }
  // (at::sum over an empty list would sum everything: a 1-D x needs no reduction at all.)
  return dims.empty() ? grad_x : at::sum(grad_x, dims);
}

class BiasAct : public Function<BiasAct> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const OptTensor& b, int64_t dim,
                            c10::string_view act, OptDouble alpha, OptDouble gain, OptDouble clamp) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    ctx->save_for_backward({x, b.value_or(at::Tensor())});
    Config{dim, std::string(act), alpha, gain, clamp}.save(ctx);
    return myops::bias_act(x, b, dim, act, alpha, gain, clamp);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const Config config = Config::load(ctx);
    // (needs_input_grad counts tensor inputs only: b's index exists only when b was given.)
    const bool needs_b = saved[1].defined() && ctx->needs_input_grad(1);
    at::Tensor grad_x, grad_b;
    if (ctx->needs_input_grad(0) || needs_b) {
      grad_x = config.backward(grads[0], saved[0], optional(saved[1]), 1);
      if (needs_b) grad_b = reduce_to_bias(grad_x, config.dim);
      if (!ctx->needs_input_grad(0)) grad_x = at::Tensor();
    }
    return {grad_x, grad_b, {}, {}, {}, {}, {}};
  }
};

class BiasActBackward : public Function<BiasActBackward> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& grad, const at::Tensor& x, const OptTensor& b,
                            int64_t dim, c10::string_view act, OptDouble alpha, OptDouble gain, OptDouble clamp,
                            int64_t order) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    ctx->save_for_backward({grad, x, b.value_or(at::Tensor())});
    Config{dim, std::string(act), alpha, gain, clamp}.save(ctx);
    ctx->saved_data["order"] = order;
    return myops::bias_act_backward(grad, x, b, dim, act, alpha, gain, clamp, order);
  }

  // out = grad * h(x + b), h = gain * f^(order) * mask:
  //   d out / d grad = h             -> the same op applied to the incoming gradient
  //   d out / d x    = grad * h'     -> the op one order higher, applied to (incoming * grad)
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &grad = saved[0], &x = saved[1];
    const OptTensor b = optional(saved[2]);
    const Config config = Config::load(ctx);
    const int64_t order = ctx->saved_data["order"].toInt();
    const bool needs_b = b.has_value() && ctx->needs_input_grad(2);
    at::Tensor d_grad, d_x, d_b;
    if (ctx->needs_input_grad(0)) d_grad = config.backward(grads[0], x, b, order);
    if (ctx->needs_input_grad(1) || needs_b) {
      TORCH_CHECK_NOT_IMPLEMENTED(order < ops::bias_act::kMaxOrder, "myops.bias_act: gradients of order ",
                                  ops::bias_act::kMaxOrder + 1, " and higher with respect to x or b are not "
                                  "implemented (orders 1 to ", ops::bias_act::kMaxOrder, " are)");
      d_x = config.backward(at::mul(grads[0], grad), x, b, order + 1);
      if (needs_b) d_b = reduce_to_bias(d_x, config.dim);
      if (!ctx->needs_input_grad(1)) d_x = at::Tensor();
    }
    return {d_grad, d_x, d_b, {}, {}, {}, {}, {}, {}};
  }
};

using myops::autograd::check_no_forward_ad;
using myops::autograd::needs_graph;
using myops::autograd::redispatch_below_autograd;

at::Tensor bias_act_autograd(c10::DispatchKeySet ks, const at::Tensor& x, const OptTensor& b, int64_t dim,
                             c10::string_view act, OptDouble alpha, OptDouble gain, OptDouble clamp) {
  check_no_forward_ad("myops.bias_act", x, b);
  if (needs_graph(x, b.value_or(at::Tensor()))) return BiasAct::apply(x, b, dim, act, alpha, gain, clamp);
  static const auto op = myops::detail::typed_op<at::Tensor(const at::Tensor&, const OptTensor&, int64_t,
                                                            c10::string_view, OptDouble, OptDouble, OptDouble)>(
      "myops::bias_act");
  return redispatch_below_autograd(op, ks, x, b, dim, act, alpha, gain, clamp);
}

at::Tensor bias_act_backward_autograd(c10::DispatchKeySet ks, const at::Tensor& grad, const at::Tensor& x,
                                      const OptTensor& b, int64_t dim, c10::string_view act, OptDouble alpha,
                                      OptDouble gain, OptDouble clamp, int64_t order) {
  check_no_forward_ad("myops.bias_act_backward", grad, x, b);
  if (needs_graph(grad, x, b.value_or(at::Tensor()))) {
    return BiasActBackward::apply(grad, x, b, dim, act, alpha, gain, clamp, order);
  }
  static const auto op =
      myops::detail::typed_op<at::Tensor(const at::Tensor&, const at::Tensor&, const OptTensor&, int64_t,
                                         c10::string_view, OptDouble, OptDouble, OptDouble, int64_t)>(
          "myops::bias_act_backward");
  return redispatch_below_autograd(op, ks, grad, x, b, dim, act, alpha, gain, clamp, order);
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, Autograd, m) {
  m.impl("bias_act", &bias_act_autograd);
  m.impl("bias_act_backward", &bias_act_backward_autograd);
}

}  // namespace myops::autograd_bias_act
