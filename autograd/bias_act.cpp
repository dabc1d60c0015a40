// Autograd formulas of bias_act and bias_act_backward (graph nodes: autograd/node.h).
//
//   y       = bias_act(x, b)                  = clamp(gain * f(x + b))
//   dL/dx   = bias_act_backward(g, x, b, 1)   = g * gain * f'(x + b) * [|gain * f| <= clamp]
//   dL/db   = dL/dx summed over every dimension but `dim`
//   ty      = bias_act_backward(tx + tb, x, b, 1)        (tb broadcast along `dim`)
//
// bias_act_backward is linear in g and its x-derivative is the same op one order higher, so its
// own formulas are two calls of itself (order 2 = the double backward, order 3 the triple):
//   out = g * h_k(x + b)  ->  reverse: (h_k * gg, g * gg * h_{k+1}),
//                             forward: h_k * tg + g * h_{k+1} * (tx + tb);
// the clamp mask is piecewise constant and adds nothing. Every step is a dispatcher op, so
// compiled backward graphs show myops.bias_act_backward by name and every derivative is
// differentiable again.
//
// For the piecewise-linear activations (linear, relu, lrelu) h_{k+1} is zero for k >= 1, so
// the x- and b-derivatives of bias_act_backward are zero and no kernel runs for them. Where x
// is an intermediate (a conv's output, as in every network) the zero is autograd's undefined
// gradient, as StyleGAN's plugin returns: the backward of the graph that produced x is then
// skipped, not run on zeros (R1 regularization differentiates D's backward: through ATen's
// leaky_relu, whose derivative here is zeros_like, the engine runs the conv backwards of D's
// forward graph on those zeros when nothing else reaches them). Where x or b is a leaf (a
// user's tensor, a parameter) the zero is a tensor (an expanded scalar, no memory), so
// torch.autograd.grad returns zeros for it, as for ATen's ops (a constant: differentiating it
// again is autograd's usual error).
//
// The backward recomputes f from x instead of reading y (StyleGAN's CUDA plugin reads y for
// most activations): one read either way, but x gives exact derivatives for every activation
// and alpha (y cannot tell lrelu's sides apart when alpha <= 0) and an exact clamp mask in
// float16/bfloat16, at the price of keeping x alive until the backward.
#include <ATen/ops/mul.h>
#include <ATen/ops/sum.h>
#include <ATen/ops/zeros.h>
#include <torch/library.h>

#include "autograd/node.h"
#include "myops/bias_act.h"
#include "ops/bias_act/bias_act.h"  // kMaxOrder

namespace myops::autograd_bias_act {

using namespace myops::autograd;
using OptDouble = std::optional<double>;

namespace {

// The arguments that are not tensors.
struct Config {
  int64_t dim;
  std::string act;
  OptDouble alpha, gain, clamp;

  at::Tensor backward(const at::Tensor& grad, const at::Tensor& x, const OptTensor& b, int64_t order) const {
    return myops::bias_act_backward(grad, x, b, dim, act, alpha, gain, clamp, order);
  }
  // linear with gain 1 and no clamp is x + b: dL/dx is the output's gradient itself, as for
  // ATen's add (no pass over it: the backward op would copy it, 0.6x eager autograd's time).
  bool passes_gradient_through() const { return act == "linear" && gain.value_or(1.0) == 1.0 && !clamp.has_value(); }
  // f'' = 0 (and every higher derivative): see the header comment.
  bool is_piecewise_linear() const { return act == "linear" || act == "relu" || act == "lrelu"; }
  // x's dimension `dim`, wrapped (already checked by the op).
  int64_t channel_dim(const at::Tensor& x) const { return dim < 0 ? dim + x.dim() : dim; }
};

OptTensor optional(const at::Tensor& t) { return t.defined() ? OptTensor(t) : std::nullopt; }

void check_order(int64_t order) {
  TORCH_CHECK_NOT_IMPLEMENTED(order < ops::bias_act::kMaxOrder, "myops.bias_act: gradients of order ",
                              ops::bias_act::kMaxOrder + 1, " and higher with respect to x or b are not "
                              "implemented (orders 1 to ", ops::bias_act::kMaxOrder, " are)");
}

// A zero gradient for t: nothing (autograd's zero) for an intermediate, zeros for a leaf (see
// the header comment). Undefined when t is.
at::Tensor zero_gradient(const at::Tensor& t) {
  if (!t.defined() || !t.is_leaf()) return {};
  return at::zeros({}, t.options()).expand_symint(t.sym_sizes());
}

// b's gradient from x's: summed over every dimension of x but `dim` (b broadcast along them).
at::Tensor reduce_to_bias(const at::Tensor& grad_x, int64_t dim) {
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < grad_x.dim(); ++d) {
    if (d != dim) dims.push_back(d);
  }
  // (at::sum over an empty list would sum everything: a 1-D x needs no reduction at all.)
  return dims.empty() ? grad_x : at::sum(grad_x, dims);
}

// tx + tb, tb (1-D, along `dim`) broadcast to x's shape; undefined when neither is.
at::Tensor input_tangent(const at::Tensor& x, const OptTensor& b, int64_t dim) {
  const at::Tensor tx = tangent(x), tb = tangent(b);
  if (!tb.defined()) return tx;
  std::vector<int64_t> shape(x.dim(), 1);
  shape[dim] = -1;
  const at::Tensor tb_x = tb.view(shape);
  return tx.defined() ? at::add(tx, tb_x) : tb_x.expand_symint(x.sym_sizes());
}

at::Tensor bias_act_autograd(const at::Tensor& x, const OptTensor& b, int64_t dim, c10::string_view act,
                             OptDouble alpha, OptDouble gain, OptDouble clamp) {
  const Config config{dim, std::string(act), alpha, gain, clamp};
  auto node = make_node(
      "MyopsBiasActBackward",
      [config](const BackwardArgs& s) -> variable_list {
        const at::Tensor &x = s.saved[0], &b = s.saved[1];
        at::Tensor grad_x, grad_b;
        if (s.needs_grad(0) || s.needs_grad(1)) {
          grad_x = config.passes_gradient_through() ? s.grads[0] : config.backward(s.grads[0], x, optional(b), 1);
          if (s.needs_grad(1)) grad_b = reduce_to_bias(grad_x, config.channel_dim(x));
        }
        return {grad_x, grad_b};
      },
      x, b);
  if (node) {
    node->save(x);
    node->save(b);
  }
  at::Tensor y = below_autograd([&] { return myops::bias_act(x, b, dim, act, alpha, gain, clamp); });
  set_history(node, {y});
  if (any_tangent(x, b)) {
    const at::Tensor t = input_tangent(x, b, config.channel_dim(x));
    set_tangent(y, config.backward(t, primal(x), primal(b), 1));
  }
  return y;
}

at::Tensor bias_act_backward_autograd(const at::Tensor& grad, const at::Tensor& x, const OptTensor& b, int64_t dim,
                                      c10::string_view act, OptDouble alpha, OptDouble gain, OptDouble clamp,
                                      int64_t order) {
  const Config config{dim, std::string(act), alpha, gain, clamp};
  auto node = make_node(
      "MyopsBiasActBackwardBackward",
      [config, order](const BackwardArgs& s) -> variable_list {
        const at::Tensor &grad = s.saved[0], &x = s.saved[1];
        const OptTensor b = optional(s.saved[2]);
        at::Tensor d_grad, d_x, d_b;
        if (s.needs_grad(0)) d_grad = config.backward(s.grads[0], x, b, order);
        if (config.is_piecewise_linear()) {
          if (s.needs_grad(1)) d_x = zero_gradient(x);
          if (s.needs_grad(2)) d_b = zero_gradient(s.saved[2]);
        } else if (s.needs_grad(1) || s.needs_grad(2)) {
          check_order(order);
          d_x = config.backward(at::mul(s.grads[0], grad), x, b, order + 1);
          if (s.needs_grad(2)) d_b = reduce_to_bias(d_x, config.channel_dim(x));
        }
        return {d_grad, d_x, d_b};
      },
      grad, x, b);
  if (node) {
    node->save(grad);
    node->save(x);
    node->save(b);
  }
  at::Tensor out = below_autograd([&] { return myops::bias_act_backward(grad, x, b, dim, act, alpha, gain, clamp, order); });
  set_history(node, {out});
  if (any_tangent(grad, x, b)) {
    const at::Tensor x_p = primal(x), g_p = primal(grad), tg = tangent(grad);
    const OptTensor b_p = primal(b);
    at::Tensor t = tg.defined() ? config.backward(tg, x_p, b_p, order) : at::Tensor();
    if (any_tangent(x, b)) {
      check_order(order);
      const at::Tensor tz = input_tangent(x, b, config.channel_dim(x));
      t = sum_defined(t, config.backward(at::mul(g_p, tz), x_p, b_p, order + 1));
    }
    set_tangent(out, t);
  }
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, Autograd, m) {
  m.impl("bias_act", &bias_act_autograd);
  m.impl("bias_act_backward", &bias_act_backward_autograd);
}

}  // namespace myops::autograd_bias_act
