// Autograd formula of lltm. The forward calls myops::lltm_forward, which also returns what the
// backward needs (the activated gates and X = [old_h, input]); the backward calls
// myops::lltm_backward (fused gate derivatives + three products). Both are dispatcher ops, so
// they run on every backend and appear by name in torch.compile graphs.
//
// Double backward: lltm_backward has no derivative of its own, so when the backward itself must
// be differentiable (create_graph=True) it is computed instead by autograd through the same math
// written with differentiable ATen ops, recomputed from the saved inputs. The first-order
// gradients are the same; the fused path is taken whenever no graph is needed (the common case,
// and always inside torch.compile's backward).
#include <ATen/ops/addmm.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/elu.h>
#include <ATen/ops/sigmoid.h>
#include <ATen/ops/tanh.h>
#include <ATen/TensorOperators.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include "autograd/autograd_utils.h"
#include "myops/lltm.h"

namespace myops::autograd_lltm {

using at::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::Function;
using torch::autograd::variable_list;
using myops::autograd::needs_graph;

namespace {

// The gradients of the five inputs through differentiable ATen ops (create_graph=True).
variable_list differentiable_backward(AutogradContext* ctx, const Tensor& grad_h, const Tensor& grad_cell,
                                      const variable_list& inputs) {
  const Tensor& input = inputs[0];
  const Tensor& weights = inputs[1];
  const Tensor& bias = inputs[2];
  const Tensor& old_h = inputs[3];
  const Tensor& old_cell = inputs[4];
  const auto gates = at::addmm(bias, at::cat({old_h, input}, 1), weights.t()).chunk(3, 1);
  const Tensor input_gate = at::sigmoid(gates[0]);
  const Tensor output_gate = at::sigmoid(gates[1]);
  const Tensor candidate = at::elu(gates[2]);
  const Tensor new_cell = old_cell + candidate * input_gate;
  const Tensor new_h = at::tanh(new_cell) * output_gate;

  variable_list wrt;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (ctx->needs_input_grad(i)) wrt.push_back(inputs[i]);
  }
  const variable_list grads = torch::autograd::grad({new_h, new_cell}, wrt, {grad_h, grad_cell},
                                                    /*retain_graph=*/true, /*create_graph=*/true,
                                                    /*allow_unused=*/true);
  variable_list result(inputs.size());
  for (size_t i = 0, k = 0; i < inputs.size(); ++i) {
    if (ctx->needs_input_grad(i)) result[i] = grads[k++];
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
  TORCH_CHECK(!needs_graph(input, weights, bias, old_h, old_cell),
              "myops.lltm_forward is not differentiable (it is a piece of myops.lltm's autograd "
              "formula): call myops.lltm to get gradients");
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  return myops::lltm_forward(input, weights, bias, old_h, old_cell);
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> lltm_backward_autograd(
    const Tensor& grad_h, const Tensor& grad_cell, const Tensor& new_cell, const Tensor& gates,
    const Tensor& X, const Tensor& weights) {
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
}

}  // namespace myops::autograd_lltm
