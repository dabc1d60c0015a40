// Autograd formulas of muladd, mul and add (add_out mutates and has none, as in
// pytorch/extension-cpp). The backward math calls the myops ops themselves through the
// dispatcher (the typed API, include/myops/elementwise.h), so it is differentiable again (double
// backward) and traceable by torch.compile.
// Gradients are reduced over broadcast dimensions (sum_to) and cast back to each input's dtype.
#include <ATen/ExpandUtils.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include "autograd/autograd_utils.h"
#include "myops/elementwise.h"

namespace myops::autograd_elementwise {

using torch::autograd::AutogradContext;
using torch::autograd::Function;
using torch::autograd::variable_list;

namespace {

// The gradient of a broadcast input: summed back to its shape, in its dtype.
at::Tensor reduce_to_input(const at::Tensor& grad, c10::SymIntArrayRef sizes, at::ScalarType dtype) {
  return at::sum_to(grad, sizes).to(dtype);
}

// d(a*b [+ c]) = grad * b for a, grad * a for b.
variable_list product_grads(AutogradContext* ctx, const at::Tensor& grad) {
  const auto saved = ctx->get_saved_variables();
  const at::Tensor& a = saved[0];
  const at::Tensor& b = saved[1];
  at::Tensor grad_a, grad_b;
  if (ctx->needs_input_grad(0)) grad_a = reduce_to_input(myops::mul(grad, b), a.sym_sizes(), a.scalar_type());
  if (ctx->needs_input_grad(1)) grad_b = reduce_to_input(myops::mul(grad, a), b.sym_sizes(), b.scalar_type());
  return {grad_a, grad_b};
}

class MulAdd : public Function<MulAdd> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& a, const at::Tensor& b, double c) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    ctx->save_for_backward({a, b});
    return myops::muladd(a, b, c);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto g = product_grads(ctx, grads[0]);
    g.emplace_back();  // c: a float, no gradient
    return g;
  }
};

class Mul : public Function<Mul> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& a, const at::Tensor& b) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    ctx->save_for_backward({a, b});
    return myops::mul(a, b);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return product_grads(ctx, grads[0]);
  }
};

class Add : public Function<Add> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& a, const at::Tensor& b) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    // Only the shapes and dtypes are needed: keep no tensor alive.
    ctx->saved_data["a_sizes"] = a.sym_sizes();
    ctx->saved_data["b_sizes"] = b.sym_sizes();
    ctx->saved_data["a_dtype"] = a.scalar_type();
    ctx->saved_data["b_dtype"] = b.scalar_type();
    return myops::add(a, b);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const at::Tensor& grad = grads[0];
    at::Tensor grad_a, grad_b;
    if (ctx->needs_input_grad(0)) {
      grad_a = reduce_to_input(grad, ctx->saved_data["a_sizes"].toSymIntVector(),
                               ctx->saved_data["a_dtype"].toScalarType());
    }
    if (ctx->needs_input_grad(1)) {
      grad_b = reduce_to_input(grad, ctx->saved_data["b_sizes"].toSymIntVector(),
                               ctx->saved_data["b_dtype"].toScalarType());
    }
    return {grad_a, grad_b};
  }
};

using myops::autograd::check_no_forward_ad;
using myops::autograd::needs_graph;
using myops::autograd::redispatch_below_autograd;
using Binary = at::Tensor(const at::Tensor&, const at::Tensor&);

at::Tensor muladd_autograd(c10::DispatchKeySet ks, const at::Tensor& a, const at::Tensor& b, double c) {
  check_no_forward_ad("myops.muladd", a, b);
  if (needs_graph(a, b)) return MulAdd::apply(a, b, c);
  static const auto op = myops::detail::typed_op<at::Tensor(const at::Tensor&, const at::Tensor&, double)>("myops::muladd");
  return redispatch_below_autograd(op, ks, a, b, c);
}
at::Tensor mul_autograd(c10::DispatchKeySet ks, const at::Tensor& a, const at::Tensor& b) {
  check_no_forward_ad("myops.mul", a, b);
  if (needs_graph(a, b)) return Mul::apply(a, b);
  static const auto op = myops::detail::typed_op<Binary>("myops::mul");
  return redispatch_below_autograd(op, ks, a, b);
}
at::Tensor add_autograd(c10::DispatchKeySet ks, const at::Tensor& a, const at::Tensor& b) {
  check_no_forward_ad("myops.add", a, b);
  if (needs_graph(a, b)) return Add::apply(a, b);
  static const auto op = myops::detail::typed_op<Binary>("myops::add");
  return redispatch_below_autograd(op, ks, a, b);
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, Autograd, m) {
  m.impl("muladd", &muladd_autograd);
  m.impl("mul", &mul_autograd);
  m.impl("add", &add_autograd);
}

}  // namespace myops::autograd_elementwise
