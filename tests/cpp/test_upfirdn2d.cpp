// myops::upfirdn2d (the typed C++ API, through c10::Dispatcher) against small cases worked out
// by hand.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <myops/upfirdn2d.h>
#include <torch/autograd.h>

#include <optional>
#include <string>

namespace {

using myops::upfirdn2d;

at::Tensor image(std::initializer_list<float> values, int64_t h, int64_t w) {
  return at::tensor(std::vector<float>(values)).view({1, 1, h, w});
}

// x = [[1, 2], [3, 4]], f = [[1, 2], [3, 4]], padding 1 on every side: the full 2-D convolution
// x * f = [[1, 4, 4], [6, 20, 16], [9, 24, 16]]; with flip_filter, the correlation.
TEST(Upfirdn2d, FullConvolutionAndCorrelation) {
  const at::Tensor x = image({1, 2, 3, 4}, 2, 2), f = at::tensor({1.f, 2.f, 3.f, 4.f}).view({2, 2});
  const at::Tensor conv = upfirdn2d(x, f, {1, 1}, {1, 1}, {1, 1, 1, 1}, false, 1.0);
  EXPECT_TRUE(at::equal(conv, image({1, 4, 4, 6, 20, 16, 9, 24, 16}, 3, 3))) << conv;
  const at::Tensor corr = upfirdn2d(x, f, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, 1.0);
  EXPECT_TRUE(at::equal(corr, image({4, 11, 6, 14, 30, 14, 6, 11, 4}, 3, 3))) << corr;
}

// The typed API's defaults are the schema's: no filter, up = down = 1, no padding, gain 1.
TEST(Upfirdn2d, DefaultsAreTheIdentity) {
  const at::Tensor x = at::randn({2, 3, 4, 5});
  EXPECT_TRUE(at::equal(upfirdn2d(x), x));
}

// Row [1, 2] upsampled x2 along x -> [1, 0, 2, 0], padded left by 1 -> [0, 1, 0, 2, 0], box
// filter [1, 1] with gain 2 -> [2, 2, 4, 4]: nearest-neighbour upsampling.
TEST(Upfirdn2d, UpsampleWithBoxFilterRepeatsPixels) {
  const at::Tensor got = upfirdn2d(image({1, 2}, 1, 2), at::ones({1, 2}), {2, 1}, {1, 1}, {1, 0, 0, 0}, false, 2.0);
  EXPECT_TRUE(at::equal(got, image({2, 2, 4, 4}, 1, 4))) << got;
}

TEST(Upfirdn2d, DownsampleWithoutFilterKeepsEveryOtherPixel) {
  const at::Tensor got = upfirdn2d(image({1, 2, 3, 4}, 1, 4), std::nullopt, {1, 1}, {2, 1}, {0, 0, 0, 0}, false, 1.0);
  EXPECT_TRUE(at::equal(got, image({1, 3}, 1, 2))) << got;
}

// A 1-D filter is applied along x then y, each pass scaled by sqrt(gain): [1, 1] with gain 4 on
// a single pixel 1, padding 1 -> [[2*2, 2*2], [2*2, 2*2]] = all 4.
TEST(Upfirdn2d, SeparableFilterSplitsTheGain) {
  const at::Tensor got = upfirdn2d(image({1}, 1, 1), at::ones({2}), {1, 1}, {1, 1}, {1, 0, 1, 0}, false, 4.0);
  EXPECT_TRUE(at::allclose(got, at::full({1, 1, 2, 2}, 4.f))) << got;
}

// d/dx sum(conv(x, f)) with the full padding: every pixel meets every tap once, sum(f) = 10.
TEST(Upfirdn2d, GradientOfTheSumIsTheFilterSum) {
  const at::Tensor x = image({1, 2, 3, 4}, 2, 2).requires_grad_();
  const at::Tensor f = at::tensor({1.f, 2.f, 3.f, 4.f}).view({2, 2});
  upfirdn2d(x, f, {1, 1}, {1, 1}, {1, 1, 1, 1}, false, 1.0).sum().backward();
  EXPECT_TRUE(at::equal(x.grad(), at::full({1, 1, 2, 2}, 10.f))) << x.grad();
}

// upfirdn2d_stacked: entry s filtered by its own filter f[s], as upfirdn2d(x[s], f[s]) is;
// here a box [1, 1] and a difference [1, -1] of the same rows, padding 1 on the left.
TEST(Upfirdn2d, StackedUsesEachEntrysFilter) {
  const at::Tensor x = at::cat({image({1, 2, 4}, 1, 3), image({1, 2, 4}, 1, 3)}).unsqueeze(1);  // [2, 1, 1, 1, 3]
  const at::Tensor f = at::tensor({1.f, 1.f, 1.f, -1.f}).view({2, 1, 2});
  const at::Tensor got = myops::upfirdn2d_stacked(x, f, {1, 1}, {1, 1}, {1, 0, 0, 0}, true, 1.0);
  ASSERT_EQ(got.sizes(), (at::IntArrayRef{2, 1, 1, 1, 3}));
  EXPECT_TRUE(at::equal(got[0], image({1, 3, 6}, 1, 3))) << got;
  EXPECT_TRUE(at::equal(got[1], image({-1, -1, -2}, 1, 3))) << got;
  for (int64_t s = 0; s < 2; ++s) {
    EXPECT_TRUE(at::equal(got[s], upfirdn2d(x[s], f[s], {1, 1}, {1, 1}, {1, 0, 0, 0}, true, 1.0)));
  }
  EXPECT_THROW(myops::upfirdn2d_stacked(x, f[0]), c10::ValueError);  // one filter per entry
}

TEST(Upfirdn2d, BadInputThrowsWithOpAndArgument) {
  try {
    upfirdn2d(at::ones({1, 1, 2, 2}, at::kInt), std::nullopt, {1, 1}, {1, 1}, {0, 0, 0, 0}, false, 1.0);
    FAIL() << "no exception";
  } catch (const c10::TypeError& e) {
    EXPECT_NE(std::string(e.what()).find("myops.upfirdn2d: x must be a floating-point tensor"), std::string::npos);
  }
  try {
    upfirdn2d(at::ones({1, 1, 2, 2}), at::ones({3, 3}), {1, 1}, {1, 1}, {0, 0, 0, 0}, false, 1.0);
    FAIL() << "no exception";
  } catch (const c10::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("myops.upfirdn2d: the output would be empty along height"), std::string::npos);
  }
  EXPECT_THROW(upfirdn2d(at::ones({1, 1, 2, 2}), at::ones({2}), {1, 1}, {1, 1}, {0, 0, 0, 0}, false, -1.0), c10::ValueError);
}

}  // namespace
