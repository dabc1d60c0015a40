// Autograd formulas of lltm (graph nodes: autograd/node.h). The forward calls myops::lltm_forward, which also returns what the
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
//
// Forward mode. The cell (new_h, new_cell) = C(pre_gates, old_cell) has the vector-Jacobian
// product lltm_cell_backward(g, z) = J(z)^T g (z = (pre_gates, old_cell)), linear in g, and its
// derivative lltm_cell_double_backward(gg, g, z) = (J(z) gg, sum_j g_j H_j(z) gg) (H_j: the
// Hessian of output j, symmetric). Hence, with registered ops only:
//   lltm:               t_pre = [t_old_h, t_input] W^T + X t_W^T + t_bias,
//                       (t_new_h, t_new_cell) = J(z) (t_pre, t_old_cell) = double_backward's first
//                       two outputs (its g = 0: they do not depend on it);
//   lltm_cell:          the same J(z) (t_pre, t_old_cell);
//   lltm_cell_backward: t = J^T t_g + sum_j g_j H_j t_z = lltm_cell_backward(t_g, z)
//                       + double_backward(t_z, g, z)'s last two outputs (so hessian =
//                       jacfwd(jacrev(f)) works);
//   lltm_cell_double_backward (third order), lltm_forward, lltm_backward and
//   lltm_gates_backward: no tangent, a NotImplementedError naming the op.
#include <ATen/ops/addmm.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/zeros_like.h>
#include <torch/library.h>

#include "autograd/node.h"
#include "myops/lltm.h"
#include "ops/lltm/lltm_impl.h"  // gradients_from_d_gates

namespace myops::autograd_lltm {

using at::Tensor;
using namespace myops::autograd;

namespace {

// A tangent, or zeros shaped like `like` when the argument has none.
Tensor tangent_or_zeros(const Tensor& t, const Tensor& like) {
  const Tensor tt = tangent(t);
  return tt.defined() ? tt : at::zeros_like(like);
}

// The third order of lltm: gradients of lltm_cell_double_backward.
variable_list third_order() {
  TORCH_CHECK_NOT_IMPLEMENTED(false, "myops.lltm: gradients of order 3 and higher are not implemented "
                              "(orders 1 and 2 are)");
  return {};
}

// The gradients of the five inputs as a differentiable graph (create_graph=True).
variable_list differentiable_backward(const Tensor& grad_h, const Tensor& grad_cell,
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
  return {g.grad_input, g.grad_weights, g.grad_bias, g.grad_old_h, d_old_cell};
}

// lltm's tangents (new_h, new_cell), from the primals.
std::pair<Tensor, Tensor> lltm_tangents(const Tensor& input, const Tensor& weights, const Tensor& bias,
                                        const Tensor& old_h, const Tensor& old_cell) {
  const Tensor in_p = primal(input), w_p = primal(weights), b_p = primal(bias), h_p = primal(old_h),
               c_p = primal(old_cell);
  const Tensor X = at::cat({h_p, in_p}, 1);
  const Tensor pre_gates = at::addmm(b_p, X, w_p.t());
  Tensor t_pre;
  if (any_tangent(input, old_h)) {
    t_pre = at::mm(at::cat({tangent_or_zeros(old_h, h_p), tangent_or_zeros(input, in_p)}, 1), w_p.t());
  }
  if (any_tangent(weights)) t_pre = sum_defined(t_pre, at::mm(X, tangent(weights).t()));
  if (any_tangent(bias)) t_pre = t_pre.defined() ? at::add(t_pre, tangent(bias)) : tangent(bias).expand_as(pre_gates);
  if (!t_pre.defined()) t_pre = at::zeros_like(pre_gates);
  const Tensor zeros = at::zeros_like(c_p);
  auto [t_new_h, t_new_cell, unused_pre, unused_cell] =
      myops::lltm_cell_double_backward(t_pre, tangent_or_zeros(old_cell, c_p), zeros, zeros, pre_gates, c_p);
  return {t_new_h, t_new_cell};
}

std::tuple<Tensor, Tensor> lltm_autograd(const Tensor& input, const Tensor& weights, const Tensor& bias,
                                         const Tensor& old_h, const Tensor& old_cell) {
  auto node = make_node(
      "MyopsLltmBackward",
      [](const BackwardArgs& s) -> variable_list {
        const Tensor& grad_h = s.grads[0];
        const Tensor& grad_cell = s.grads[1];
        // saved: the five inputs (references, no copies), then new_cell, gates, X (the fused
        // backward's arguments; undefined under functorch).
        const variable_list inputs(s.saved.begin(), s.saved.begin() + 5);
        if (!s.saved[5].defined() ||
            torch::autograd::compute_requires_grad(grad_h, grad_cell, inputs[0], inputs[1], inputs[2], inputs[3],
                                                   inputs[4])) {
          return differentiable_backward(grad_h, grad_cell, inputs);
        }
        auto [g_input, g_weights, g_bias, g_old_h, g_old_cell] =
            myops::lltm_backward(grad_h, grad_cell, s.saved[5], s.saved[6], s.saved[7], inputs[1]);
        return {g_input, g_weights, g_bias, g_old_h, g_old_cell};
      },
      input, weights, bias, old_h, old_cell);
  Tensor new_h, new_cell;
  if (node && !functorch_wrapped(input, weights, bias, old_h, old_cell)) {
    // lltm_forward also returns what the fused backward reads.
    auto [h, cell, gates, X] =
        below_autograd([&] { return myops::lltm_forward(input, weights, bias, old_h, old_cell); });
    new_h = h;
    new_cell = cell;
    set_history(node, {new_h, new_cell});
    for (const Tensor& t : {input, weights, bias, old_h, old_cell}) node->save(t);
    node->save_output(new_cell);
    node->save(gates);  // not outputs of lltm: plain tensors
    node->save(X);
  } else {
    std::tie(new_h, new_cell) = below_autograd([&] { return myops::lltm(input, weights, bias, old_h, old_cell); });
    set_history(node, {new_h, new_cell});
    if (node) {
      for (const Tensor& t : {input, weights, bias, old_h, old_cell}) node->save(t);
      for (int i = 0; i < 3; ++i) node->save(Tensor());
    }
  }
  if (any_tangent(input, weights, bias, old_h, old_cell)) {
    auto [t_h, t_cell] = lltm_tangents(input, weights, bias, old_h, old_cell);
    set_tangent(new_h, t_h);
    set_tangent(new_cell, t_cell);
  }
  return {new_h, new_cell};
}

// lltm_forward and lltm_backward are the pieces of lltm's formula, with no derivative of their
// own: asked to record a graph, they raise (PyTorch's fallback would only warn and give no
// gradient, a silent wrong answer).
std::tuple<Tensor, Tensor, Tensor, Tensor> lltm_forward_autograd(const Tensor& input, const Tensor& weights,
                                                                 const Tensor& bias, const Tensor& old_h,
                                                                 const Tensor& old_cell) {
  check_no_forward_ad("myops.lltm_forward", "it is a piece of myops.lltm's autograd formula; call myops.lltm",
                      input, weights, bias, old_h, old_cell);
  TORCH_CHECK(!torch::autograd::compute_requires_grad(input, weights, bias, old_h, old_cell),
              "myops.lltm_forward is not differentiable (it is a piece of myops.lltm's autograd "
              "formula): call myops.lltm to get gradients");
  return below_autograd([&] { return myops::lltm_forward(input, weights, bias, old_h, old_cell); });
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> lltm_backward_autograd(
    const Tensor& grad_h, const Tensor& grad_cell, const Tensor& new_cell, const Tensor& gates,
    const Tensor& X, const Tensor& weights) {
  check_no_forward_ad("myops.lltm_backward", "it is a piece of myops.lltm's autograd formula; lltm's derivatives "
                      "of every mode work through myops.lltm itself", grad_h, grad_cell, new_cell, gates, X, weights);
  TORCH_CHECK(!torch::autograd::compute_requires_grad(grad_h, grad_cell, new_cell, gates, X, weights),
              "myops.lltm_backward is not differentiable: double backward of myops.lltm works "
              "through myops.lltm itself (backward with create_graph=True)");
  return below_autograd([&] { return myops::lltm_backward(grad_h, grad_cell, new_cell, gates, X, weights); });
}

// lltm_gates_backward: lltm_backward's gate pass, no derivative either (it reads the activated
// gates too). Asked for one in either mode it raises NotImplementedError (what the op lacks is a
// formula; lltm_backward's RuntimeError for reverse mode predates it and is kept for callers).
std::tuple<Tensor, Tensor> lltm_gates_backward_autograd(const Tensor& grad_h, const Tensor& grad_cell,
                                                        const Tensor& new_cell, const Tensor& gates) {
  check_no_forward_ad("myops.lltm_gates_backward", "it is lltm_backward's gate pass, with no derivative of its "
                      "own; lltm's derivatives of every mode work through myops.lltm itself",
                      grad_h, grad_cell, new_cell, gates);
  TORCH_CHECK_NOT_IMPLEMENTED(!torch::autograd::compute_requires_grad(grad_h, grad_cell, new_cell, gates),
                              "myops.lltm_gates_backward is not differentiable (it is lltm_backward's gate pass): "
                              "double backward of myops.lltm works through myops.lltm itself (backward with "
                              "create_graph=True)");
  return below_autograd([&] { return myops::lltm_gates_backward(grad_h, grad_cell, new_cell, gates); });
}

// lltm_cell: the cell from its gate pre-activations (what lltm's vmap rule calls for batched
// weights), differentiable twice: its backward is lltm_cell_backward (itself differentiable), its
// tangent J(z) t_z the first two outputs of lltm_cell_double_backward (see the top of the file).
std::tuple<Tensor, Tensor> lltm_cell_autograd(const Tensor& pre_gates, const Tensor& old_cell) {
  auto node = make_node(
      "MyopsLltmCellBackward",
      [](const BackwardArgs& s) -> variable_list {
        auto [d_gates, d_old_cell] = myops::lltm_cell_backward(s.grads[0], s.grads[1], s.saved[0], s.saved[1]);
        return {d_gates, d_old_cell};
      },
      pre_gates, old_cell);
  if (node) {
    node->save(pre_gates);
    node->save(old_cell);
  }
  auto [new_h, new_cell] = below_autograd([&] { return myops::lltm_cell(pre_gates, old_cell); });
  set_history(node, {new_h, new_cell});
  if (any_tangent(pre_gates, old_cell)) {
    const Tensor pre = primal(pre_gates), oc = primal(old_cell);
    const Tensor zeros = at::zeros_like(oc);
    auto [t_h, t_cell, unused_gates, unused_cell] = myops::lltm_cell_double_backward(
        tangent_or_zeros(pre_gates, pre), tangent_or_zeros(old_cell, oc), zeros, zeros, pre, oc);
    set_tangent(new_h, t_h);
    set_tangent(new_cell, t_cell);
  }
  return {new_h, new_cell};
}

// lltm_cell_backward: differentiable once (lltm's double backward), in both modes; its
// derivative is lltm_cell_double_backward.
std::tuple<Tensor, Tensor> lltm_cell_backward_autograd(const Tensor& grad_h, const Tensor& grad_cell,
                                                       const Tensor& pre_gates, const Tensor& old_cell) {
  auto node = make_node(
      "MyopsLltmCellBackwardBackward",
      [](const BackwardArgs& s) -> variable_list {
        auto [d_grad_h, d_grad_cell, d_gates, d_old_cell] =
            myops::lltm_cell_double_backward(s.grads[0], s.grads[1], s.saved[0], s.saved[1], s.saved[2], s.saved[3]);
        return {d_grad_h, d_grad_cell, d_gates, d_old_cell};
      },
      grad_h, grad_cell, pre_gates, old_cell);
  if (node) {
    for (const Tensor& t : {grad_h, grad_cell, pre_gates, old_cell}) node->save(t);
  }
  auto [d_gates, d_old_cell] =
      below_autograd([&] { return myops::lltm_cell_backward(grad_h, grad_cell, pre_gates, old_cell); });
  set_history(node, {d_gates, d_old_cell});
  if (any_tangent(grad_h, grad_cell, pre_gates, old_cell)) {
    const Tensor gh = primal(grad_h), gc = primal(grad_cell), pre = primal(pre_gates), oc = primal(old_cell);
    Tensor t_gates, t_old_cell;
    if (any_tangent(grad_h, grad_cell)) {
      std::tie(t_gates, t_old_cell) =
          myops::lltm_cell_backward(tangent_or_zeros(grad_h, gh), tangent_or_zeros(grad_cell, gc), pre, oc);
    }
    if (any_tangent(pre_gates, old_cell)) {
      auto [unused_h, unused_cell, s_gates, s_old_cell] = myops::lltm_cell_double_backward(
          tangent_or_zeros(pre_gates, pre), tangent_or_zeros(old_cell, oc), gh, gc, pre, oc);
      t_gates = sum_defined(t_gates, s_gates);
      t_old_cell = sum_defined(t_old_cell, s_old_cell);
    }
    set_tangent(d_gates, t_gates);
    set_tangent(d_old_cell, t_old_cell);
  }
  return {d_gates, d_old_cell};
}

// lltm_cell_double_backward records a node (so that create_graph=True at second order works)
// whose own backward, a third-order gradient of lltm, raises: never a silent zero. Likewise
// its tangent.
std::tuple<Tensor, Tensor, Tensor, Tensor> lltm_cell_double_backward_autograd(
    const Tensor& gg_gates, const Tensor& gg_old_cell, const Tensor& grad_h, const Tensor& grad_cell,
    const Tensor& pre_gates, const Tensor& old_cell) {
  TORCH_CHECK_NOT_IMPLEMENTED(!any_tangent(gg_gates, gg_old_cell, grad_h, grad_cell, pre_gates, old_cell),
                              "myops.lltm: gradients of order 3 and higher are not implemented (orders 1 and 2 "
                              "are); forward-mode AD of lltm's second derivatives "
                              "(myops.lltm_cell_double_backward) is one");
  auto node = make_node(
      "MyopsLltmCellDoubleBackwardBackward", [](const BackwardArgs&) { return third_order(); },
      gg_gates, gg_old_cell, grad_h, grad_cell, pre_gates, old_cell);
  auto out = below_autograd([&] {
    return myops::lltm_cell_double_backward(gg_gates, gg_old_cell, grad_h, grad_cell, pre_gates, old_cell);
  });
  set_history(node, {std::get<0>(out), std::get<1>(out), std::get<2>(out), std::get<3>(out)});
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, Autograd, m) {
  m.impl("lltm", &lltm_autograd);
  m.impl("lltm_forward", &lltm_forward_autograd);
  m.impl("lltm_backward", &lltm_backward_autograd);
  m.impl("lltm_gates_backward", &lltm_gates_backward_autograd);
  m.impl("lltm_cell", &lltm_cell_autograd);
  m.impl("lltm_cell_backward", &lltm_cell_backward_autograd);
  m.impl("lltm_cell_double_backward", &lltm_cell_double_backward_autograd);
}

}  // namespace myops::autograd_lltm
