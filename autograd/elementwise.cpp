// Autograd formulas of muladd, mul, add and add_out (graph nodes: autograd/node.h). The math
// calls the myops ops themselves through the dispatcher (the typed API,
// include/myops/elementwise.h), so it is differentiable again (double backward, jvp of a
// gradient) and traceable by torch.compile.
//
//   reverse: gradients reduced over broadcast dimensions (sum_to), cast to each input's dtype;
//   forward: d(a*b [+ c]) = ta*b + a*tb,  d(a + b) = ta + tb  (the output's shape and dtype).
// add_out mutates `out` and has no reverse formula (as in pytorch/extension-cpp: its inputs may
// require grad, out gets no history); forward mode gives out the tangent ta + tb.
#include <ATen/ExpandUtils.h>
#include <ATen/ops/zeros_like.h>
#include <torch/library.h>

#include "autograd/node.h"
#include "myops/elementwise.h"

namespace myops::autograd_elementwise {

using namespace myops::autograd;

namespace {

// The gradient of a broadcast input: summed back to its shape, in its dtype.
at::Tensor reduce_to_input(const at::Tensor& grad, c10::SymIntArrayRef sizes, at::ScalarType dtype) {
  return at::sum_to(grad, sizes).to(dtype);
}

// A term of the output's tangent, broadcast to the output's shape (add's ta alone has a's).
at::Tensor to_output(const at::Tensor& t, const at::Tensor& out) {
  if (!t.defined()) return t;
  return t.sym_sizes().equals(out.sym_sizes()) ? t : t.expand_symint(out.sym_sizes());
}

// d(a*b) = ta*b + a*tb, from the primals.
at::Tensor product_tangent(const at::Tensor& a, const at::Tensor& b, const at::Tensor& out) {
  const at::Tensor ta = tangent(a), tb = tangent(b);
  return to_output(sum_defined(ta.defined() ? myops::mul(ta, primal(b)) : at::Tensor(),
                               tb.defined() ? myops::mul(primal(a), tb) : at::Tensor()),
                   out);
}

at::Tensor sum_tangent(const at::Tensor& a, const at::Tensor& b, const at::Tensor& out) {
  const at::Tensor ta = tangent(a), tb = tangent(b);
  return to_output(ta.defined() && tb.defined() ? myops::add(ta, tb) : sum_defined(ta, tb), out);
}

// d(a*b [+ c]) = grad * b for a, grad * a for b.
BackwardFormula product_backward() {
  return [](const BackwardArgs& s) -> variable_list {
    const at::Tensor &a = s.saved[0], &b = s.saved[1], &grad = s.grads[0];
    at::Tensor grad_a, grad_b;
    if (s.needs_grad(0)) grad_a = reduce_to_input(myops::mul(grad, b), a.sym_sizes(), a.scalar_type());
    if (s.needs_grad(1)) grad_b = reduce_to_input(myops::mul(grad, a), b.sym_sizes(), b.scalar_type());
    return {grad_a, grad_b};
  };
}

template <typename Op>
at::Tensor product_autograd(const char* name, const at::Tensor& a, const at::Tensor& b, Op op) {
  auto node = make_node(name, product_backward(), a, b);
  if (node) {
    node->save(a);
    node->save(b);
  }
  at::Tensor out = below_autograd(op);
  set_history(node, {out});
  if (any_tangent(a, b)) set_tangent(out, product_tangent(a, b, out));
  return out;
}

at::Tensor muladd_autograd(const at::Tensor& a, const at::Tensor& b, double c) {
  return product_autograd("MyopsMuladdBackward", a, b, [&] { return myops::muladd(a, b, c); });
}

at::Tensor mul_autograd(const at::Tensor& a, const at::Tensor& b) {
  return product_autograd("MyopsMulBackward", a, b, [&] { return myops::mul(a, b); });
}

at::Tensor add_autograd(const at::Tensor& a, const at::Tensor& b) {
  // Only the shapes and dtypes are needed: keep no tensor alive.
  auto node = make_node(
      "MyopsAddBackward",
      [a_sizes = a.sym_sizes().vec(), b_sizes = b.sym_sizes().vec(), a_dtype = a.scalar_type(),
       b_dtype = b.scalar_type()](const BackwardArgs& s) -> variable_list {
        at::Tensor grad_a, grad_b;
        if (s.needs_grad(0)) grad_a = reduce_to_input(s.grads[0], a_sizes, a_dtype);
        if (s.needs_grad(1)) grad_b = reduce_to_input(s.grads[0], b_sizes, b_dtype);
        return {grad_a, grad_b};
      },
      a, b);
  at::Tensor out = below_autograd([&] { return myops::add(a, b); });
  set_history(node, {out});
  if (any_tangent(a, b)) set_tangent(out, sum_tangent(a, b, out));
  return out;
}

// out's new value does not depend on its old one: its tangent becomes ta + tb, or zero when out
// had a tangent and neither a nor b has one. An existing tangent is updated in place (PyTorch
// allows setting a tangent only once), as VariableType does for in-place ops.
void add_out_autograd(const at::Tensor& a, const at::Tensor& b, at::Tensor& out) {
  below_autograd([&] { myops::add_out(a, b, out); });
  const at::Tensor t_out = tangent(out);
  if (!any_tangent(a, b) && !t_out.defined()) return;
  at::Tensor t = sum_tangent(a, b, out);
  if (t_out.defined()) {
    if (t.defined()) {
      t_out.copy_(t);
    } else {
      t_out.zero_();
    }
  } else {
    out._set_fw_grad(t.to(out.scalar_type()).clone(), /*level=*/0, /*is_inplace_op=*/true);
  }
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, Autograd, m) {
  m.impl("muladd", &muladd_autograd);
  m.impl("mul", &mul_autograd);
  m.impl("add", &add_autograd);
  m.impl("add_out", &add_out_autograd);
}

}  // namespace myops::autograd_elementwise
