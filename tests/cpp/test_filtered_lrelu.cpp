// myops::filtered_lrelu (the typed C++ API, through c10::Dispatcher) against small cases worked
// out by hand.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <myops/filtered_lrelu.h>
#include <torch/autograd.h>

#include <cmath>
#include <optional>
#include <string>

namespace {

using myops::filtered_lrelu;

// No filters, up = down = 1: gain * lrelu(x + b, slope), clamped; the defaults are StyleGAN3's
// (gain sqrt(2), slope 0.2).
TEST(FilteredLrelu, WithoutFiltersIsBiasLreluGainClamp) {
  const at::Tensor x = at::tensor({-2.f, -1.f, 0.5f, 3.f}).view({1, 1, 2, 2});
  const at::Tensor b = at::tensor({1.f});
  const at::Tensor got = filtered_lrelu(x, std::nullopt, std::nullopt, b);
  const float s = std::sqrt(2.f);
  EXPECT_TRUE(at::allclose(got, at::tensor({-0.2f * s, 0.f, 1.5f * s, 4.f * s}).view({1, 1, 2, 2}))) << got;
  const at::Tensor clamped = filtered_lrelu(x, std::nullopt, std::nullopt, b, 1, 1, {0, 0, 0, 0}, 1.0, 0.5, 2.0);
  EXPECT_TRUE(at::allclose(clamped, at::tensor({-0.5f, 0.f, 1.5f, 2.f}).view({1, 1, 2, 2}))) << clamped;
}

// Up 2 with the box filter [1, 1] (nearest neighbour, gain up^2 = 4 split over the two passes)
// and down 2 with [0.5, 0.5]: a pixel p becomes a 2x2 block of 4 * lrelu(p) * gain / 4 (the
// filter gains) averaged back: y = lrelu(x) * gain. StyleGAN's padding [1, 0, 1, 0].
TEST(FilteredLrelu, BoxUpDownRoundTripIsTheActivation) {
  const at::Tensor x = at::tensor({-1.f, 2.f, 3.f, -4.f}).view({1, 1, 2, 2});
  const at::Tensor got = filtered_lrelu(x, at::full({2}, 0.5f), at::full({2}, 0.5f), std::nullopt, 2, 2,
                                        {1, 0, 1, 0}, 1.0, 0.1);
  EXPECT_TRUE(at::allclose(got, at::tensor({-0.1f, 2.f, 3.f, -0.4f}).view({1, 1, 2, 2}))) << got;
}

// Where the activation is clamped the gradient is zero; elsewhere it is gain (or gain * slope).
TEST(FilteredLrelu, GradientIsZeroWhereClamped) {
  const at::Tensor x = at::tensor({-1.f, 0.5f, 3.f}).view({1, 1, 1, 3}).requires_grad_();
  filtered_lrelu(x, std::nullopt, std::nullopt, std::nullopt, 1, 1, {0, 0, 0, 0}, 2.0, 0.25, 2.0).sum().backward();
  EXPECT_TRUE(at::allclose(x.grad(), at::tensor({0.5f, 2.f, 0.f}).view({1, 1, 1, 3}))) << x.grad();
}

TEST(FilteredLrelu, BadInputThrowsWithOpAndArgument) {
  try {
    filtered_lrelu(at::ones({1, 2, 3, 3}), std::nullopt, std::nullopt, at::ones({3}));
    FAIL() << "no exception";
  } catch (const c10::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("myops.filtered_lrelu: b must be 1-D with x.shape[1] = 2"), std::string::npos);
  }
  EXPECT_THROW(filtered_lrelu(at::ones({1, 1, 3, 3}), std::nullopt, std::nullopt, std::nullopt, 1, 1, {0, 0, 0, 0}, 0.0),
               c10::ValueError);
}

}  // namespace
