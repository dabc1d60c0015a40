// LeakSanitizer check (`make sanitize`): every myops op, N times (default 1,000), through the
// typed C++ API: forward with inputs requiring grad, backward and double backward through the
// C++ autograd formulas where the op has them, the backward ops called directly, one error case
// per family (the exception path), every op under one level of vmap (the C++ batching rules;
// functorch's per-sample fallback off, so that a rule must exist) and with forward-mode AD dual
// inputs (the tangent formulas; forward over reverse too: a backward pass on dual inputs runs
// the backward ops' tangents). Run with ASAN_OPTIONS=detect_leaks=1: a leak of a call
// shows up N times at exit. Prints the calls made; exit status 0 (LSan exits non-zero on a leak).
//   leak_check [N]
#include <ATen/ATen.h>
#include <myops/bias_act.h>
#include <myops/elementwise.h>
#include <myops/filtered_lrelu.h>
#include <myops/lltm.h>
#include <myops/upfirdn2d.h>
#include <ATen/functorch/BatchedFallback.h>
#include <ATen/functorch/BatchedTensorImpl.h>
#include <ATen/functorch/DynamicLayer.h>
#include <torch/autograd.h>
#include <torch/csrc/autograd/forward_grad.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace {

using torch::autograd::grad;
using TensorList = std::vector<at::Tensor>;

at::Tensor leaf(at::IntArrayRef shape, double scale = 1.0) {
  return (at::randn(shape, at::kDouble) * scale).to(at::kFloat).requires_grad_(true);
}

// d(sum(out * g))/d(inputs), then (order 2) the gradient of the sum of those gradients.
void backward(const TensorList& outs, const TensorList& inputs, bool twice) {
  TensorList g;
  for (const auto& o : outs) g.push_back(at::randn_like(o));
  const TensorList first = grad(outs, inputs, g, /*retain_graph=*/std::nullopt, /*create_graph=*/twice,
                                /*allow_unused=*/true);
  if (!twice) return;
  TensorList gs, ones;
  for (const auto& t : first) {
    if (t.defined() && t.requires_grad()) {
      gs.push_back(t);
      ones.push_back(at::ones_like(t));
    }
  }
  if (!gs.empty()) grad(gs, inputs, ones, std::nullopt, false, /*allow_unused=*/true);
}

template <typename F>
void expect_error(const char* what, F&& f) {
  try {
    f();
  } catch (const c10::Error&) {
    return;
  }
  std::fprintf(stderr, "leak_check: %s: no error raised\n", what);
  std::exit(1);
}

// f(batch) inside one level of vmap of size 2 (torch.vmap's _vmap_increment_nesting), where
// batch(t) is t (leading dim 2) as a BatchedTensor of that level. The results die before the
// level is popped, as in torch.vmap.
template <typename F>
void under_vmap(F&& f) {
  namespace ft = at::functorch;
  const int64_t level = ft::initAndPushDynamicLayer(ft::TransformType::Vmap, c10::SymInt(2), ft::RandomnessType::Error);
  struct Pop {
    ~Pop() { ft::popDynamicLayerAndDeleteMetadata(); }
  } pop;
  f([level](const at::Tensor& t) { return ft::addBatchDim(t, 0, level); });
}

// Two different samples stacked: a physical tensor for under_vmap's batch().
at::Tensor two(const at::Tensor& t) { return at::stack({t.detach(), -t.detach()}); }

// f(dual, tangents) inside a forward-AD level (torch.autograd.forward_ad.dual_level()), where
// dual(t) is t with a random tangent, requiring grad when t does (forward over reverse), and
// tangents(outputs) reads the outputs' tangents (computed by the op; read, not checked).
template <typename F>
void under_dual_level(F&& f) {
  const uint64_t level = torch::autograd::ForwardADLevel::get_next_idx();
  struct Release {
    uint64_t level;
    ~Release() { torch::autograd::ForwardADLevel::release_idx(level); }
  } release{level};
  f(
      [level](const at::Tensor& t) {
        at::Tensor d = t.detach().clone();
        d._set_fw_grad(at::randn_like(d), level, /*is_inplace_op=*/false);
        return d.requires_grad_(t.requires_grad());
      },
      [level](const TensorList& outs, bool required = true) {
        for (const auto& o : outs) {
          if (!o._fw_grad(level).defined() && required) {
            std::fprintf(stderr, "leak_check: an output has no tangent\n");
            std::exit(1);
          }
        }
      });
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines in order with sanitizer reports
  const int n = argc > 1 ? std::atoi(argv[1]) : 1000;
  at::functorch::setVmapFallbackEnabled(false);  // under vmap, an op without a batching rule raises
  at::manual_seed(0);
  const auto x4 = leaf({2, 16, 5, 7});
  const auto b16 = leaf({16});
  const auto a = leaf({4, 3, 33}), b = leaf({3, 1});
  const auto img = leaf({2, 3, 9, 10});
  const auto f1 = at::tensor({1.0f, 3.0f, 3.0f, 1.0f}) / 8;
  const auto f2 = at::outer(f1, f1);
  const auto fl = leaf({1, 3, 6, 7});
  const auto fb = leaf({3});
  const auto fh = at::ones({2}) / 2;
  const int64_t B = 5, F = 7, S = 9;
  const TensorList lltm_in = {leaf({B, F}), leaf({3 * S, S + F}, 0.25), leaf({3 * S}, 0.5), leaf({B, S}),
                              leaf({B, S})};
  const TensorList cell_in = {leaf({B, S}), leaf({B, S}), leaf({B, 3 * S}), leaf({B, S})};

  const std::vector<std::pair<std::string, std::function<void()>>> cases = {
      {"bias_act", [&] { backward({myops::bias_act(x4, b16, 1, "lrelu", 0.2, std::nullopt, 64.0)}, {x4, b16}, true); }},
      {"bias_act_backward", [&] {
         myops::bias_act_backward(x4.detach(), x4.detach(), b16.detach(), 1, "elu", std::nullopt, std::nullopt,
                                  std::nullopt, 2);
       }},
      {"muladd", [&] { backward({myops::muladd(a, b, 0.5)}, {a, b}, true); }},
      {"mul", [&] { backward({myops::mul(a, b)}, {a, b}, true); }},
      {"add", [&] { backward({myops::add(a.transpose(1, 2), b.t())}, {a, b}, true); }},
      {"add_out", [&] {
         auto out = at::empty({4, 3, 33});
         myops::add_out(a.detach(), b.detach(), out);
       }},
      {"upfirdn2d", [&] {
         backward({myops::upfirdn2d(img, f1, {2, 2}, {1, 1}, {2, 1, 2, 1}, false, 4.0)}, {img}, true);
         backward({myops::upfirdn2d(img, f2, {1, 1}, {2, 2}, {1, 1, 1, 1}, true, 1.0)}, {img}, false);
       }},
      {"upfirdn2d_stacked", [&] {
         const auto x = at::stack({img, img * 2});  // differentiable in img
         backward({myops::upfirdn2d_stacked(x, two(f2), {2, 2}, {1, 1}, {2, 1, 2, 1}, false, 4.0)}, {img}, true);
       }},
      {"filtered_lrelu", [&] {
         backward({myops::filtered_lrelu(fl, fh, fh, fb, 2, 2, {3, 3, 3, 3}, 1.4, 0.2, 0.5, false)}, {fl, fb}, true);
       }},
      {"filtered_lrelu_backward", [&] {
         const auto y = myops::filtered_lrelu(fl.detach(), fh, fh, fb.detach(), 2, 2, {3, 3, 3, 3});
         myops::filtered_lrelu_backward(at::ones_like(y), fl.detach(), fh, fh, fb.detach(), 2, 2, {3, 3, 3, 3},
                                        1.4, 0.2, std::nullopt, false);
       }},
      {"lltm", [&] {
         const auto [h, c] = myops::lltm(lltm_in[0], lltm_in[1], lltm_in[2], lltm_in[3], lltm_in[4]);
         backward({h, c}, lltm_in, true);
       }},
      {"lltm_forward+lltm_backward", [&] {
         TensorList d;
         for (const auto& t : lltm_in) d.push_back(t.detach());
         const auto [h, c, gates, X] = myops::lltm_forward(d[0], d[1], d[2], d[3], d[4]);
         myops::lltm_backward(at::ones_like(h), at::ones_like(c), c, gates, X, d[1]);
       }},
      {"lltm_cell", [&] {
         const auto [h, c] = myops::lltm_cell(cell_in[2], cell_in[3]);
         backward({h, c}, {cell_in[2], cell_in[3]}, true);
       }},
      {"lltm_cell_backward", [&] {
         const auto [dg, dc] = myops::lltm_cell_backward(cell_in[0], cell_in[1], cell_in[2], cell_in[3]);
         backward({dg, dc}, cell_in, false);  // itself lltm's double backward: order 1 only
       }},
      {"lltm_cell_double_backward", [&] {
         TensorList d;
         for (const auto& t : cell_in) d.push_back(t.detach());
         myops::lltm_cell_double_backward(at::ones({B, 3 * S}), at::ones({B, S}), d[0], d[1], d[2], d[3]);
       }},
      {"vmap", [&] {
         under_vmap([&](auto batch) {
           (void)myops::bias_act(batch(two(x4)), b16.detach(), 1, "lrelu", 0.2, std::nullopt, 64.0);
           (void)myops::bias_act_backward(batch(two(x4)), x4.detach(), batch(two(b16)), 1, "elu", std::nullopt,
                                          std::nullopt, std::nullopt, 2);
           (void)myops::muladd(batch(two(a)), b.detach(), 0.5);
           (void)myops::mul(a.detach(), batch(two(b)));
           (void)myops::add(batch(two(a)), batch(two(b)));
           auto out = batch(at::empty({2, 4, 3, 33}));
           myops::add_out(batch(two(a)), b.detach(), out);
           (void)myops::upfirdn2d(batch(two(img)), f1, {2, 2}, {1, 1}, {2, 1, 2, 1}, false, 4.0);
           (void)myops::upfirdn2d(batch(two(img)), batch(two(f2)), {2, 2}, {1, 1}, {2, 1, 2, 1}, false, 4.0);
           const auto y = myops::filtered_lrelu(batch(two(fl)), fh, fh, fb.detach(), 2, 2, {3, 3, 3, 3}, 1.4, 0.2,
                                                0.5, false);
           (void)myops::filtered_lrelu_backward(at::ones_like(y), batch(two(fl)), fh, fh, fb.detach(), 2, 2,
                                                {3, 3, 3, 3}, 1.4, 0.2, std::nullopt, false);
           // Per-sample filters: the op's composition over the stack (upfirdn2d_stacked steps).
           const auto ys = myops::filtered_lrelu(batch(two(fl)), batch(two(fh)), fh, batch(two(fb)), 2, 2,
                                                 {3, 3, 3, 3}, 1.4, 0.2, 0.5, false);
           (void)myops::filtered_lrelu_backward(at::ones_like(ys), batch(two(fl)), fh, batch(two(fh)), fb.detach(), 2,
                                                2, {3, 3, 3, 3}, 1.4, 0.2, std::nullopt, false);
           (void)myops::lltm(batch(two(lltm_in[0])), lltm_in[1].detach(), lltm_in[2].detach(),
                             batch(two(lltm_in[3])), lltm_in[4].detach());
           (void)myops::lltm_cell(batch(two(cell_in[2])), cell_in[3].detach());
           (void)myops::lltm(lltm_in[0].detach(), batch(two(lltm_in[1])), lltm_in[2].detach(), lltm_in[3].detach(),
                             lltm_in[4].detach());  // batched weights: baddbmm + lltm_cell
           (void)myops::lltm_cell_backward(batch(two(cell_in[0])), cell_in[1].detach(), cell_in[2].detach(),
                                           cell_in[3].detach());
           (void)myops::lltm_cell_double_backward(at::ones({B, 3 * S}), batch(at::ones({2, B, S})),
                                                  batch(two(cell_in[0])), cell_in[1].detach(), cell_in[2].detach(),
                                                  cell_in[3].detach());
           const auto [h, c, gates, X] = myops::lltm_forward(batch(two(lltm_in[0])), lltm_in[1].detach(),
                                                             lltm_in[2].detach(), lltm_in[3].detach(),
                                                             lltm_in[4].detach());
           (void)myops::lltm_backward(at::ones_like(h), at::ones_like(c), c, gates, X, lltm_in[1].detach());
         });
       }},
      {"forward AD", [&] {
         under_dual_level([&](auto dual, auto read_tangents) {
           read_tangents({myops::bias_act(dual(x4.detach()), dual(b16.detach()), 1, "lrelu", 0.2, std::nullopt, 64.0),
                          myops::muladd(dual(a.detach()), dual(b.detach()), 0.5), myops::mul(dual(a.detach()), b.detach()),
                          myops::add(a.detach(), dual(b.detach())),
                          myops::upfirdn2d(dual(img.detach()), f1, {2, 2}, {1, 1}, {2, 1, 2, 1}, false, 4.0),
                          myops::filtered_lrelu(dual(fl.detach()), fh, fh, dual(fb.detach()), 2, 2, {3, 3, 3, 3})});
           const auto [h, c] = myops::lltm(dual(lltm_in[0].detach()), dual(lltm_in[1].detach()), dual(lltm_in[2].detach()),
                                           dual(lltm_in[3].detach()), dual(lltm_in[4].detach()));
           read_tangents({h, c});
         });
       }},
      {"forward AD over backward", [&] {  // hessian: the backward ops' tangents
         under_dual_level([&](auto dual, auto read_tangents) {
           const TensorList xb = {dual(x4), dual(b16)};
           const TensorList ba = grad({myops::bias_act(xb[0], xb[1], 1, "lrelu", 0.2, std::nullopt, 64.0)}, xb,
                                      {at::randn_like(x4)}, std::nullopt, true, true);
           const TensorList fx = {dual(fl), dual(fb)};
           const auto fy = myops::filtered_lrelu(fx[0], fh, fh, fx[1], 2, 2, {3, 3, 3, 3}, 1.4, 0.2, 0.5);
           const TensorList fg = grad({fy}, fx, {at::randn_like(fy)}, std::nullopt, true, true);
           TensorList li;
           for (const auto& t : lltm_in) li.push_back(dual(t));
           const auto [h, c] = myops::lltm(li[0], li[1], li[2], li[3], li[4]);
           const TensorList lg = grad({h, c}, li, {at::randn({B, S}), at::randn({B, S})}, std::nullopt, true, true);
           // (Read only: a gradient may have no tangent where the op's second derivative is zero.)
           read_tangents(ba, false);
           read_tangents(fg, false);
           read_tangents(lg, false);
         });
       }},
      {"errors", [&] {
         expect_error("bias_act act", [&] { myops::bias_act(x4, b16, 1, "nope"); });
         expect_error("mul shapes", [&] { myops::mul(at::ones({2, 3}), at::ones({4})); });
         expect_error("upfirdn2d rank", [&] { myops::upfirdn2d(at::ones({3, 4}), f1); });
         expect_error("filtered_lrelu padding", [&] { myops::filtered_lrelu(fl, fh, fh, fb, 2, 2, {1, 2, 3}); });
         expect_error("lltm shapes", [&] {
           myops::lltm(lltm_in[0], lltm_in[1], lltm_in[2], lltm_in[3], at::ones({B, S + 1}));
         });
       }},
  };
  for (const auto& [name, fn] : cases) {
    for (int i = 0; i < n; ++i) fn();
    std::printf("leak_check: %-28s %d calls\n", name.c_str(), n);
  }
  std::printf("leak_check: done\n");
  return 0;
}
