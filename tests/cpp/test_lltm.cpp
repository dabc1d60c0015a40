// myops::lltm (the typed C++ API, through c10::Dispatcher) from C++: values and all five
// gradients against the same formula written with ATen ops, lltm_cell likewise, lltm_gates_backward
// against ATen's autograd, and the argument checks' messages.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <myops/lltm.h>
#include <torch/autograd.h>

namespace {

using Pair = std::tuple<at::Tensor, at::Tensor>;
Pair call_lltm(const std::vector<at::Tensor>& a) { return myops::lltm(a[0], a[1], a[2], a[3], a[4]); }

Pair formula(const std::vector<at::Tensor>& a) {  // input, weights, bias, old_h, old_cell
  const auto gates = at::addmm(a[2], at::cat({a[3], a[0]}, 1), a[1].t()).chunk(3, 1);
  const at::Tensor new_cell = a[4] + at::elu(gates[2]) * at::sigmoid(gates[0]);
  return {at::tanh(new_cell) * at::sigmoid(gates[1]), new_cell};
}

// B = 3, F = 4, S = 10 (vector body + scalar tail in the CPU gate pass).
std::vector<at::Tensor> make_args(bool requires_grad) {
  at::manual_seed(0);
  std::vector<at::Tensor> a = {at::randn({3, 4}), at::randn({30, 14}) * 0.3, at::randn({30}),
                               at::randn({3, 10}), at::randn({3, 10})};
  for (auto& t : a) t.requires_grad_(requires_grad);
  return a;
}

TEST(Lltm, MatchesFormula) {
  const auto args = make_args(false);
  const auto [h, c] = call_lltm(args);
  const auto [want_h, want_c] = formula(args);
  EXPECT_TRUE(at::allclose(h, want_h, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(c, want_c, 1e-5, 1e-6));
}

TEST(Lltm, GradientsOfAllFiveInputs) {
  const auto args = make_args(true);
  std::vector<at::Tensor> ref_args;
  for (const auto& t : args) ref_args.push_back(t.detach().clone().requires_grad_());
  const auto [h, c] = call_lltm(args);
  const auto [ref_h, ref_c] = formula(ref_args);
  (h.sum() + (c * c).sum()).backward();
  (ref_h.sum() + (ref_c * ref_c).sum()).backward();
  for (size_t i = 0; i < args.size(); ++i) {
    ASSERT_TRUE(args[i].grad().defined()) << "argument " << i;
    EXPECT_TRUE(at::allclose(args[i].grad(), ref_args[i].grad(), 1e-4, 1e-5)) << "argument " << i;
  }
}

// Double backward from a C++ host (the gradient of a gradient penalty), in float64.
TEST(Lltm, SecondOrderGradients) {
  std::vector<at::Tensor> args, ref_args;
  for (const auto& t : make_args(false)) {
    args.push_back(t.to(at::kDouble).requires_grad_());
    ref_args.push_back(t.to(at::kDouble).requires_grad_());
  }
  const auto penalty_gradients = [](const Pair& out, const std::vector<at::Tensor>& inputs) {
    const auto grads = torch::autograd::grad({std::get<0>(out).sum() + std::get<1>(out).sum()}, inputs, {},
                                             /*retain_graph=*/true, /*create_graph=*/true);
    at::Tensor penalty = at::zeros({}, at::kDouble);
    for (const auto& g : grads) penalty = penalty + (g * g).sum();
    return torch::autograd::grad({penalty}, inputs);
  };
  const auto got = penalty_gradients(call_lltm(args), args);
  const auto want = penalty_gradients(formula(ref_args), ref_args);
  for (size_t i = 0; i < args.size(); ++i) {
    EXPECT_TRUE(at::allclose(got[i], want[i], 1e-9, 1e-10)) << "argument " << i;
  }
}

// lltm_gates_backward (lltm_backward's gate pass) against ATen's autograd through the formula's
// cell: the gradients of the gate pre-activations and of old_cell. And lltm_backward's weight
// gradient is d_gates^T X.
TEST(Lltm, GatesBackwardMatchesAutograd) {
  const auto a = make_args(false);
  const auto [new_h, new_cell, gates, X] = myops::lltm_forward(a[0], a[1], a[2], a[3], a[4]);
  const at::Tensor pre = at::addmm(a[2], at::cat({a[3], a[0]}, 1), a[1].t()).requires_grad_();
  const at::Tensor old_cell = a[4].clone().requires_grad_();
  const auto p = pre.chunk(3, 1);
  const at::Tensor cell = old_cell + at::elu(p[2]) * at::sigmoid(p[0]);
  const at::Tensor grad_h = at::randn({3, 10}), grad_cell = at::randn({3, 10});
  const auto want = torch::autograd::grad({at::tanh(cell) * at::sigmoid(p[1]), cell}, {pre, old_cell},
                                          {grad_h, grad_cell});
  const auto [d_gates, grad_old_cell] = myops::lltm_gates_backward(grad_h, grad_cell, new_cell, gates);
  EXPECT_TRUE(at::allclose(d_gates, want[0], 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(grad_old_cell, want[1], 1e-5, 1e-6));
  const auto full = myops::lltm_backward(grad_h, grad_cell, new_cell, gates, X, a[1]);
  EXPECT_TRUE(at::allclose(std::get<1>(full), at::mm(want[0].t(), X), 1e-4, 1e-5));
}

// lltm_cell from C++: the cell of the formula from given pre-activations, and its gradients.
TEST(Lltm, CellFromPreActivations) {
  at::manual_seed(1);
  const at::Tensor pre = at::randn({3, 30}).requires_grad_(), old_cell = at::randn({3, 10}).requires_grad_();
  const at::Tensor ref_pre = pre.detach().clone().requires_grad_();
  const at::Tensor ref_cell = old_cell.detach().clone().requires_grad_();
  const auto [h, c] = myops::lltm_cell(pre, old_cell);
  const auto gates = ref_pre.chunk(3, 1);
  const at::Tensor want_c = ref_cell + at::elu(gates[2]) * at::sigmoid(gates[0]);
  const at::Tensor want_h = at::tanh(want_c) * at::sigmoid(gates[1]);
  EXPECT_TRUE(at::allclose(h, want_h, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(c, want_c, 1e-5, 1e-6));
  (h.sum() + (c * c).sum()).backward();
  (want_h.sum() + (want_c * want_c).sum()).backward();
  EXPECT_TRUE(at::allclose(pre.grad(), ref_pre.grad(), 1e-4, 1e-5));
  EXPECT_TRUE(at::allclose(old_cell.grad(), ref_cell.grad(), 1e-4, 1e-5));
}

TEST(Lltm, BadShapeNamesTheArgument) {
  auto args = make_args(false);
  args[2] = at::zeros({10});
  try {
    call_lltm(args);
    FAIL() << "no exception";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("myops.lltm: bias must be 1-D with 3 * state = 30 elements"),
              std::string::npos) << e.what();
  }
}

}  // namespace
