// Autograd formulas of filtered_lrelu and filtered_lrelu_backward (graph nodes: autograd/node.h).
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
// Forward mode (tangents tx, tb, tg; the same maps):
//   filtered_lrelu:          ty = D(h(m) * U(tx + tb))             (h piecewise constant in m)
//   filtered_lrelu_backward: t  = filtered_lrelu_backward(tg, x, b)  (linear in g; zero in x, b)
// The filters are not differentiable: fu or fd requiring grad is an error, never a silent zero.
#include <ATen/OpMathType.h>
#include <ATen/ops/sum.h>
#include <ATen/ops/zeros_like.h>
#include <torch/library.h>

#include "autograd/node.h"
#include "myops/filtered_lrelu.h"
#include "ops/filtered_lrelu/filtered_lrelu_kernels.h"  // composed_upsample, check_args

namespace myops::autograd_filtered_lrelu {

using namespace myops::autograd;
namespace fl = myops::ops::filtered_lrelu;

namespace {

OptTensor optional(const at::Tensor& t) { return t.defined() ? OptTensor(t) : std::nullopt; }

// The arguments that are not tensors.
struct Config {
  int64_t up, down;
  std::vector<int64_t> padding;
  double gain, slope;
  std::optional<double> clamp;
  bool flip_filter;

  at::Tensor forward(const at::Tensor& x, const OptTensor& fu, const OptTensor& fd, const OptTensor& b) const {
    return myops::filtered_lrelu(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter);
  }
  at::Tensor backward(const at::Tensor& grad, const at::Tensor& x, const OptTensor& fu, const OptTensor& fd,
                      const OptTensor& b) const {
    return myops::filtered_lrelu_backward(grad, x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter);
  }
  // D(h(m) * U(v)), m = U(x + b): the derivative of the forward in the direction v (v has x's
  // shape); the double backward's d/dg and the forward-mode tangent.
  at::Tensor linearized(const at::Tensor& v, const at::Tensor& x, const OptTensor& fu, const OptTensor& fd,
                        const OptTensor& b) const {
    const fl::Args a = fl::check_args(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter);
    const at::Tensor m = fl::composed_upsample(x, fu, b, a);
    const at::Tensor h_uv = myops::bias_act_backward(fl::composed_upsample(v, fu, std::nullopt, a), m,
                                                     std::nullopt, 1, "lrelu", a.slope, a.gain, a.clamp, 1);
    return myops::upfirdn2d(h_uv, fd, {1, 1}, {a.down, a.down}, {0, 0, 0, 0}, a.flip_filter, 1.0);
  }
};

void check_filters(const OptTensor& fu, const OptTensor& fd) {
  fl::check_filters_not_requiring_grad(fu, fd);
  for (const auto& [name, f] : {std::pair<const char*, const OptTensor*>{"fu", &fu}, {"fd", &fd}}) {
    TORCH_CHECK_NOT_IMPLEMENTED(!tangent(*f).defined(), "myops.filtered_lrelu: ", name, " has a forward-mode "
                                "tangent, but the filters are not differentiable (only x and b are)");
  }
}

// tx + tb (b broadcast over N, H, W), in x's shape; undefined when neither has a tangent.
at::Tensor input_tangent(const at::Tensor& x, const OptTensor& b) {
  const at::Tensor tx = tangent(x), tb = tangent(b);
  if (!tb.defined()) return tx;
  const at::Tensor tb_x = tb.view({1, -1, 1, 1});
  return tx.defined() ? at::add(tx, tb_x) : tb_x.expand_symint(x.sym_sizes());
}

at::Tensor filtered_lrelu_autograd(const at::Tensor& x, const OptTensor& fu, const OptTensor& fd, const OptTensor& b,
                                   int64_t up, int64_t down, c10::IntArrayRef padding, double gain, double slope,
                                   std::optional<double> clamp, bool flip_filter) {
  check_filters(fu, fd);
  const Config config{up, down, padding.vec(), gain, slope, clamp, flip_filter};
  auto node = make_node(
      "MyopsFilteredLreluBackward",
      [config](const BackwardArgs& s) -> variable_list {
        const at::Tensor& x = s.saved[0];
        // For float16/bfloat16 the gradient is taken in float32 (what the kernels compute in
        // anyway) and rounded once: b's gradient sums it over N, H and W before any rounding,
        // not a sum of rounded terms.
        const at::ScalarType dtype = x.scalar_type(), opmath = at::toOpMathType(dtype);
        const auto wide = [&](const at::Tensor& t) { return t.defined() ? t.to(opmath) : t; };
        const at::Tensor grad_wide = config.backward(wide(s.grads[0]), wide(x), optional(wide(s.saved[2])),
                                                     optional(wide(s.saved[3])), optional(wide(s.saved[1])));
        at::Tensor grad_x, grad_b;
        if (s.needs_grad(1)) grad_b = at::sum(grad_wide, {0, 2, 3}).to(dtype);
        if (s.needs_grad(0)) grad_x = grad_wide.to(dtype);
        return {grad_x, grad_b};
      },
      x, b);
  if (node) {
    node->save(x);
    node->save(b);
    node->save(fu);
    node->save(fd);
  }
  at::Tensor y = below_autograd([&] { return config.forward(x, fu, fd, b); });
  set_history(node, {y});
  if (any_tangent(x, b)) {
    const at::Tensor x_p = primal(x);
    set_tangent(y, config.linearized(input_tangent(x, b).to(x.scalar_type()), x_p, fu, fd, primal(b)));
  }
  return y;
}

at::Tensor filtered_lrelu_backward_autograd(const at::Tensor& grad, const at::Tensor& x, const OptTensor& fu,
                                            const OptTensor& fd, const OptTensor& b, int64_t up, int64_t down,
                                            c10::IntArrayRef padding, double gain, double slope,
                                            std::optional<double> clamp, bool flip_filter) {
  check_filters(fu, fd);
  const Config config{up, down, padding.vec(), gain, slope, clamp, flip_filter};
  auto node = make_node(
      "MyopsFilteredLreluBackwardBackward",
      [config](const BackwardArgs& s) -> variable_list {
        const at::Tensor& x = s.saved[0];
        const OptTensor b = optional(s.saved[1]), fu = optional(s.saved[2]), fd = optional(s.saved[3]);
        at::Tensor d_grad, d_x, d_b;
        if (s.needs_grad(0)) d_grad = config.linearized(s.grads[0], x, fu, fd, b);
        if (s.needs_grad(1)) d_x = at::zeros_like(x);  // h is piecewise constant
        if (s.needs_grad(2)) d_b = at::zeros_like(*b);
        return {d_grad, d_x, d_b};
      },
      grad, x, b);
  if (node) {
    node->save(x);
    node->save(b);
    node->save(fu);
    node->save(fd);
  }
  at::Tensor out = below_autograd([&] { return config.backward(grad, x, fu, fd, b); });
  set_history(node, {out});
  if (any_tangent(grad, x, b)) {
    // Linear in grad; x and b only move h, which is piecewise constant: their part is zero.
    const at::Tensor tg = tangent(grad);
    set_tangent(out, tg.defined() ? config.backward(tg, primal(x), fu, fd, primal(b)) : at::zeros_like(out));
  }
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, Autograd, m) {
  m.impl("filtered_lrelu", &filtered_lrelu_autograd);
  m.impl("filtered_lrelu_backward", &filtered_lrelu_backward_autograd);
}

}  // namespace myops::autograd_filtered_lrelu
