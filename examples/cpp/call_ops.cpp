// A C++ program calling the myops ops directly through their typed C++ API (no model file, no
// Python): a StyleGAN-style block (2x upsampling with a [1, 3, 3, 1] filter, then bias + leaky
// ReLU + clamp) with its gradient, checked against the same block written with ATen ops.
//   call_ops        (exit status 0 when every check passes)
#include <ATen/ATen.h>
#include <myops/bias_act.h>
#include <myops/upfirdn2d.h>
#include <torch/autograd.h>

#include <cmath>
#include <iostream>

#include "example_data.h"  // check_close

int main() {
  at::manual_seed(0);
  const at::Tensor x = at::randn({2, 3, 8, 8}).requires_grad_();
  const at::Tensor bias = at::randn({3});
  // setup_filter([1, 3, 3, 1]) as StyleGAN does: the outer product, normalized.
  const at::Tensor taps = at::tensor({1.f, 3.f, 3.f, 1.f});
  const at::Tensor f = at::outer(taps, taps) / 64;

  // upsample2d(x, f, up=2): padding [2, 1, 2, 1], gain 4 (= up_x * up_y).
  const at::Tensor up = myops::upfirdn2d(x, f, {2, 2}, {1, 1}, {2, 1, 2, 1}, false, 4.0);
  const at::Tensor y = myops::bias_act(up, bias, 1, "lrelu", std::nullopt, std::nullopt, 1.0);
  const at::Tensor grad_x = torch::autograd::grad({y.sum()}, {x})[0];

  // The same with ATen: zero insertion, padding, a depthwise transposed filter, lrelu, clamp.
  const at::Tensor xr = x.detach().clone().requires_grad_();
  using at::indexing::Slice;
  at::Tensor z = at::zeros({2, 3, 16, 16});
  z.index_put_({Slice(), Slice(), Slice(0, 16, 2), Slice(0, 16, 2)}, xr);
  const at::Tensor w = (f.flip({0, 1}) * 4).expand({3, 1, 4, 4});
  const at::Tensor conv = at::conv2d(at::constant_pad_nd(z, {2, 1, 2, 1}), w, /*bias=*/std::nullopt,
                                     /*stride=*/at::IntArrayRef{1}, /*padding=*/at::IntArrayRef{0},
                                     /*dilation=*/at::IntArrayRef{1}, /*groups=*/3);
  const at::Tensor v = conv + bias.view({3, 1, 1});
  const at::Tensor want = (at::where(v > 0, v, v * 0.2) * std::sqrt(2.0)).clamp(-1.0, 1.0);
  const at::Tensor want_grad = torch::autograd::grad({want.sum()}, {xr})[0];

  bool ok = check_close("upsample2d + bias_act       ", y.detach(), want.detach());
  ok &= check_close("its gradient with respect to x", grad_x, want_grad);
  return ok ? 0 : 1;
}
