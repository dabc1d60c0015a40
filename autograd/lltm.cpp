// Autograd formula of lltm. The forward calls myops::lltm_forward, which also returns what the
// backward needs (the activated gates and X = [old_h, input]); the backward calls
// myops::lltm_backward (fused gate derivatives + three products). Both are dispatcher ops, so
// they run on every backend and appear by name in torch.compile graphs.
//
// Double backward: lltm_backward has no derivative of its own (it reads the forward's activated
// gates, which are not differentiable outputs). When the backward itself must be differentiable
// (create_graph=True), it is built instead from differentiable registered ops: the gate
// pre-activations recomputed by ATen's cat + addmm, myops::lltm_cell_backward (the same gate
// pass, from the pre-activations; its own derivative is myops::lltm_cell_double_backward, the
// second derivatives in lltm_math.h) and the products of ops/lltm/lltm_impl.h. The fused path is
// taken whenever no graph is needed (the common case, and always inside torch.compile's
// backward).
#include <ATen/ops/addmm.h>
#include <ATen/ops/cat.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include "autograd/autograd_utils.h"
#include "myops/lltm.h"
#include "ops/lltm/lltm_impl.h"  // gradients_from_d_gates

namespace myops::autograd_lltm {

using at::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::Function;
using torch::autograd::variable_list;
using myops::autograd::check_no_forward_ad;
using myops::autograd::needs_graph;

namespace {

// lltm_cell_backward's derivative: lltm_cell_double_backward (no third order).
class LltmCellBackward : public Function<LltmCellBackward> {
 public:
  static variable_list forward(AutogradContext* ctx, const Tensor& grad_h, const Tensor& grad_cell,
                               const Tensor& pre_gates, const Tensor& old_cell) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    ctx->save_for_backward({grad_h, grad_cell, pre_gates, old_cell});
    auto [d_gates, d_old_cell] = myops::lltm_cell_backward(grad_h, grad_cell, pre_gates, old_cell);
    return {d_gates, d_old_cell};
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list s = ctx->get_saved_variables();
    auto [d_grad_h, d_grad_cell, d_gates, d_old_cell] =
        myops::lltm_cell_double_backward(grads[0], grads[1], s[0], s[1], s[2], s[3]);
    return {d_grad_h, d_grad_cell, d_gates, d_old_cell};
  }
};

// lltm_cell_double_backward records a node (so that create_graph=True at second order works)
// whose own backward, a third-order gradient of lltm, raises: never a silent zero.
class LltmCellDoubleBackward : public Function<LltmCellDoubleBackward> {
 public:
  static variable_list forward(AutogradContext* ctx, const Tensor& gg_gates, const Tensor& gg_old_cell,
                               const Tensor& grad_h, const Tensor& grad_cell, const Tensor& pre_gates,
                               const Tensor& old_cell) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    auto [a, b, c, d] = myops::lltm_cell_double_backward(gg_gates, gg_old_cell, grad_h, grad_cell, pre_gates, old_cell);
    return {a, b, c, d};
  }
  static variable_list backward(AutogradContext*, variable_list) {
    TORCH_CHECK_NOT_IMPLEMENTED(false, "myops.lltm: gradients of order 3 and higher are not implemented "
                                "(orders 1 and 2 are)");
    return {};
  }
};

// The gradients of the five inputs as a differentiable graph (create_graph=True).
variable_list differentiable_backward(AutogradContext* ctx, const Tensor& grad_h, const Tensor& grad_cell,
                                      const variable_list& inputs) {
  const Tensor& input = inputs[0];
  const Tensor& weights = inputs[1];
  const Tensor& bias = inputs[2];
  const Tensor& old_h = inputs[3];
  const Tensor& old_cell = inputs[4];
  const Tensor X = at::cat({old_h, input}, 1);
  const Tensor pre_gates = at::addmm(bias, X, weights.t());
  const auto [d_gates, d_old_cell] = myops::lltm_cell_backward(grad_h, grad_cell, pre_gates, old_cell);
  const auto g = ops::lltm::gradients_from_d_gates(d_gates, X, weights);
  variable_list result = {g.grad_input, g.grad_weights, g.grad_bias, g.grad_old_h, d_old_cell};
  for (size_t i = 0; i < result.size(); ++i) {
    if (!ctx->needs_input_grad(i)) result[i] = Tensor();
  }
  return result;
}

class Lltm : public Function<Lltm> {
 public:
  static variable_list forward(AutogradContext* ctx, const Tensor& input, const Tensor& weights,
                               const Tensor& bias, const Tensor& old_h, const Tensor& old_cell) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    auto [new_h, new_cell, gates, X] = myops::lltm_forward(input, weights, bias, old_h, old_cell);
    // [0..2] + weights: the fused backward's arguments; [3..7]: the inputs (references, no
    // copies), also for the differentiable path.
    ctx->save_for_backward({new_cell, gates, X, input, weights, bias, old_h, old_cell});
    return {new_h, new_cell};
  }

  // grads: the gradients of new_h and new_cell (an unused output's is materialized as zeros).
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const Tensor& grad_h = grads[0];
    const Tensor& grad_cell = grads[1];
    const variable_list inputs(saved.begin() + 3, saved.end());  // input, weights, bias, old_h, old_cell
    if (needs_graph(grad_h, grad_cell, inputs[0], inputs[1], inputs[2], inputs[3], inputs[4])) {
      return differentiable_backward(ctx, grad_h, grad_cell, inputs);
    }
    auto [g_input, g_weights, g_bias, g_old_h, g_old_cell] =
        myops::lltm_backward(grad_h, grad_cell, saved[0], saved[1], saved[2], inputs[1]);
    return {g_input, g_weights, g_bias, g_old_h, g_old_cell};
  }
};

std::tuple<Tensor, Tensor> lltm_autograd(const Tensor& input, const Tensor& weights, const Tensor& bias,
                                         const Tensor& old_h, const Tensor& old_cell) {
  check_no_forward_ad("myops.lltm", input, weights, bias, old_h, old_cell);
  if (needs_graph(input, weights, bias, old_h, old_cell)) {
    const variable_list out = Lltm::apply(input, weights, bias, old_h, old_cell);
    return {out[0], out[1]};
  }
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  return myops::lltm(input, weights, bias, old_h, old_cell);
}

// lltm_forward and lltm_backward are the pieces of lltm's formula, with no derivative of their
// own: asked to record a graph, they raise (PyTorch's fallback would only warn and give no
// gradient, a silent wrong answer).
std::tuple<Tensor, Tensor, Tensor, Tensor> lltm_forward_autograd(const Tensor& input, const Tensor& weights,
                                                                 const Tensor& bias, const Tensor& old_h,
                                                                 const Tensor& old_cell) {
  check_no_forward_ad("myops.lltm_forward", input, weights, bias, old_h, old_cell);
  TORCH_CHECK(!needs_graph(input, weights, bias, old_h, old_cell),
              "myops.lltm_forward is not differentiable (it is a piece of myops.lltm's autograd "
              "formula): call myops.lltm to get gradients");
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  return myops::lltm_forward(input, weights, bias, old_h, old_cell);
}

// lltm_cell_backward: differentiable once (lltm's double backward); its backward op is not.
std::tuple<Tensor, Tensor> lltm_cell_backward_autograd(const Tensor& grad_h, const Tensor& grad_cell,
                                                       const Tensor& pre_gates, const Tensor& old_cell) {
  check_no_forward_ad("myops.lltm_cell_backward", grad_h, grad_cell, pre_gates, old_cell);
  if (needs_graph(grad_h, grad_cell, pre_gates, old_cell)) {
    const variable_list out = LltmCellBackward::apply(grad_h, grad_cell, pre_gates, old_cell);
    return {out[0], out[1]};
  }
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  return myops::lltm_cell_backward(grad_h, grad_cell, pre_gates, old_cell);
}

std::tuple<Tensor, Tensor, Tensor, Tensor> lltm_cell_double_backward_autograd(
    const Tensor& gg_gates, const Tensor& gg_old_cell, const Tensor& grad_h, const Tensor& grad_cell,
    const Tensor& pre_gates, const Tensor& old_cell) {
  check_no_forward_ad("myops.lltm_cell_double_backward", gg_gates, gg_old_cell, grad_h, grad_cell, pre_gates, old_cell);
  if (needs_graph(gg_gates, gg_old_cell, grad_h, grad_cell, pre_gates, old_cell)) {
    const variable_list out = LltmCellDoubleBackward::apply(gg_gates, gg_old_cell, grad_h, grad_cell, pre_gates,
                                                            old_cell);
    return {out[0], out[1], out[2], out[3]};
  }
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  return myops::lltm_cell_double_backward(gg_gates, gg_old_cell, grad_h, grad_cell, pre_gates, old_cell);
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> lltm_backward_autograd(
    const Tensor& grad_h, const Tensor& grad_cell, const Tensor& new_cell, const Tensor& gates,
    const Tensor& X, const Tensor& weights) {
  check_no_forward_ad("myops.lltm_backward", grad_h, grad_cell, new_cell, gates, X, weights);
  TORCH_CHECK(!needs_graph(grad_h, grad_cell, new_cell, gates, X, weights),
              "myops.lltm_backward is not differentiable: double backward of myops.lltm works "
              "through myops.lltm itself (backward with create_graph=True)");
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  return myops::lltm_backward(grad_h, grad_cell, new_cell, gates, X, weights);
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, Autograd, m) {
  m.impl("lltm", &lltm_autograd);
  m.impl("lltm_forward", &lltm_forward_autograd);
  m.impl("lltm_backward", &lltm_backward_autograd);
  m.impl("lltm_cell_backward", &lltm_cell_backward_autograd);
  m.impl("lltm_cell_double_backward", &lltm_cell_double_backward_autograd);
}

}  // namespace myops::autograd_lltm
