// Every op through c10::Dispatcher, the way any C++ host reaches them: no Python anywhere.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <gtest/gtest.h>
#include <torch/autograd.h>

namespace {

template <typename Signature>
c10::TypedOperatorHandle<Signature> op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Signature>();
}

using Binary = at::Tensor(const at::Tensor&, const at::Tensor&);

TEST(Dispatcher, MulAddBroadcastsAndMatchesFormula) {
  const at::Tensor a = at::randn({4, 3}), b = at::randn({3});
  const at::Tensor got = op<at::Tensor(const at::Tensor&, const at::Tensor&, double)>("myops::muladd").call(a, b, 2.0);
  EXPECT_TRUE(at::allclose(got, a * b + 2.0));
}

TEST(Dispatcher, MulAndAddPromoteTypes) {
  const at::Tensor a = at::randn({5}).to(at::kHalf), b = at::randn({5});
  const at::Tensor product = op<Binary>("myops::mul").call(a, b);
  EXPECT_EQ(product.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::allclose(product, a.to(at::kFloat) * b));
  EXPECT_TRUE(at::allclose(op<Binary>("myops::add").call(a, b), a.to(at::kFloat) + b));
}

TEST(Dispatcher, AddOutWritesIntoOut) {
  const at::Tensor a = at::randn({2, 3}), b = at::randn({3});
  at::Tensor out = at::empty({2, 3});
  op<void(const at::Tensor&, const at::Tensor&, at::Tensor&)>("myops::add_out").call(a, b, out);
  EXPECT_TRUE(at::allclose(out, a + b));
}

TEST(Dispatcher, BadInputThrowsWithOpName) {
  const at::Tensor ints = at::ones({3}, at::kInt), floats = at::ones({3});
  try {
    op<Binary>("myops::mul").call(ints, floats);
    FAIL() << "no exception";
  } catch (const c10::TypeError& e) {
    EXPECT_NE(std::string(e.what()).find("myops.mul: a must be a floating-point tensor"), std::string::npos);
  }
  EXPECT_THROW(op<Binary>("myops::add").call(at::ones({3}), at::ones({4})), c10::Error);
}

TEST(Dispatcher, AutogradReducesOverBroadcastDims) {
  const at::Tensor a = at::randn({4, 3}).requires_grad_(), b = at::randn({3}).requires_grad_();
  op<Binary>("myops::mul").call(a, b).sum().backward();
  EXPECT_TRUE(at::allclose(a.grad(), b.detach().expand({4, 3})));
  EXPECT_TRUE(at::allclose(b.grad(), a.detach().sum(0)));
}

using BiasAct = at::Tensor(const at::Tensor&, const std::optional<at::Tensor>&, int64_t, c10::string_view,
                           std::optional<double>, std::optional<double>, std::optional<double>);

TEST(Dispatcher, BiasActMatchesFormulaAndDifferentiates) {
  const at::Tensor x = at::randn({2, 3, 4, 5}).requires_grad_(), b = at::randn({3}).requires_grad_();
  const at::Tensor y = op<BiasAct>("myops::bias_act").call(x, b, 1, "lrelu", std::nullopt, std::nullopt, 0.5);
  const at::Tensor v = x.detach() + b.detach().view({3, 1, 1});
  const at::Tensor unclamped = at::where(v > 0, v, v * 0.2) * std::sqrt(2.0);  // StyleGAN's defaults
  EXPECT_TRUE(at::allclose(y, unclamped.clamp(-0.5, 0.5)));
  y.sum().backward();
  const at::Tensor dx = at::where(unclamped.abs() > 0.5, 0.0, at::where(v > 0, 1.0, 0.2) * std::sqrt(2.0));
  EXPECT_TRUE(at::allclose(x.grad(), dx));
  EXPECT_TRUE(at::allclose(b.grad(), dx.sum({0, 2, 3})));
}

TEST(Dispatcher, BiasActUnknownActivationIsAValueError) {
  try {
    op<BiasAct>("myops::bias_act").call(at::ones({3}), std::nullopt, 1, "gelu", std::nullopt, std::nullopt, std::nullopt);
    FAIL() << "no exception";
  } catch (const c10::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("myops.bias_act: act must be one of 'linear'"), std::string::npos) << e.what();
  }
}

}  // namespace
