// Every op through the typed C++ API (include/myops/*.h), which calls c10::Dispatcher, the way
// any C++ host reaches them: no Python anywhere.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <gtest/gtest.h>
#include <myops/bias_act.h>
#include <myops/elementwise.h>
#include <torch/autograd.h>

namespace {

TEST(Dispatcher, MulAddBroadcastsAndMatchesFormula) {
  const at::Tensor a = at::randn({4, 3}), b = at::randn({3});
  const at::Tensor got = myops::muladd(a, b, 2.0);
  EXPECT_TRUE(at::allclose(got, a * b + 2.0));
}

TEST(Dispatcher, MulAndAddPromoteTypes) {
  const at::Tensor a = at::randn({5}).to(at::kHalf), b = at::randn({5});
  const at::Tensor product = myops::mul(a, b);
  EXPECT_EQ(product.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::allclose(product, a.to(at::kFloat) * b));
  EXPECT_TRUE(at::allclose(myops::add(a, b), a.to(at::kFloat) + b));
}

TEST(Dispatcher, AddOutWritesIntoOut) {
  const at::Tensor a = at::randn({2, 3}), b = at::randn({3});
  at::Tensor out = at::empty({2, 3});
  EXPECT_TRUE(myops::add_out(a, b, out).is_same(out));
  EXPECT_TRUE(at::allclose(out, a + b));
}

TEST(Dispatcher, BadInputThrowsWithOpName) {
  const at::Tensor ints = at::ones({3}, at::kInt), floats = at::ones({3});
  try {
    myops::mul(ints, floats);
    FAIL() << "no exception";
  } catch (const c10::TypeError& e) {
    EXPECT_NE(std::string(e.what()).find("myops.mul: a must be a floating-point tensor"), std::string::npos);
  }
  EXPECT_THROW(myops::add(at::ones({3}), at::ones({4})), c10::Error);
}

TEST(Dispatcher, AutogradReducesOverBroadcastDims) {
  const at::Tensor a = at::randn({4, 3}).requires_grad_(), b = at::randn({3}).requires_grad_();
  myops::mul(a, b).sum().backward();
  EXPECT_TRUE(at::allclose(a.grad(), b.detach().expand({4, 3})));
  EXPECT_TRUE(at::allclose(b.grad(), a.detach().sum(0)));
}

TEST(Dispatcher, BiasActMatchesFormulaAndDifferentiates) {
  const at::Tensor x = at::randn({2, 3, 4, 5}).requires_grad_(), b = at::randn({3}).requires_grad_();
  const at::Tensor y = myops::bias_act(x, b, 1, "lrelu", std::nullopt, std::nullopt, 0.5);
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
    myops::bias_act(at::ones({3}), std::nullopt, 1, "gelu");
    FAIL() << "no exception";
  } catch (const c10::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("myops.bias_act: act must be one of 'linear'"), std::string::npos) << e.what();
  }
}

// The typed API's defaults are the schema's: bias_act(x) is the identity (act "linear", gain 1,
// no clamp), and the schema itself says so.
TEST(TypedApi, DefaultsAreTheSchemas) {
  const at::Tensor x = at::randn({2, 3, 4});
  EXPECT_TRUE(at::equal(myops::bias_act(x), x));
  const auto& args = c10::Dispatcher::singleton().findSchemaOrThrow("myops::bias_act", "").schema().arguments();
  ASSERT_EQ(args.size(), 7u);
  EXPECT_EQ(args[2].default_value()->toInt(), 1);  // dim
  EXPECT_EQ(args[3].default_value()->toStringRef(), "linear");  // act
  for (size_t i : {1, 4, 5, 6}) EXPECT_TRUE(args[i].default_value()->isNone()) << args[i].name();
}

}  // namespace
