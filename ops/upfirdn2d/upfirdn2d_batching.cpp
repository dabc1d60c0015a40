// vmap batching rules of upfirdn2d and upfirdn2d_stacked (plumbing: ops/common/batching.h).
//
// Every image of x [N, C, H, W] is filtered alike, so a batched x has its vmap dim folded into
// N: one call on [B * N, C, H, W]. The op takes ONE filter for the whole tensor, so a batched
// filter f cannot be folded into it: then the rule stacks the samples instead, one call of
// upfirdn2d_stacked (x [B, N, C, H, W], f [B, ...]: the checks, the output and the filters
// prepared once, the whole stack handed to the backend's kernel). An x whose per-sample shape
// is not 4-D goes through a per-sample loop, so that the op reports its own error.
// upfirdn2d_stacked's own rule (nested vmap over a batched filter) folds the vmap dim into S.
#include <torch/library.h>

#include "myops/upfirdn2d.h"
#include "ops/common/batching.h"
#include "ops/upfirdn2d/upfirdn2d.h"

namespace myops::ops::upfirdn2d {
namespace {

at::Tensor upfirdn2d_batched(const at::Tensor& x, const std::optional<at::Tensor>& f, c10::IntArrayRef up,
                             c10::IntArrayRef down, c10::IntArrayRef padding, bool flip_filter, double gain) {
  auto guard = batching::exclude_batched();
  const batching::Level level("myops.upfirdn2d");
  if (!level.any_batched(x, f)) return myops::upfirdn2d(x, f, up, down, padding, flip_filter, gain);
  const batching::Arg px = level.unwrap(x);
  const batching::OptArg pf = level.unwrap(f);
  const int64_t batch = batching::batch_size_of(px, pf);
  if (px.rank() != 4) {
    return level.wrap(batching::stack_samples(batch, [&](int64_t i) {
      return myops::upfirdn2d(px.sample(i), pf.sample(i), up, down, padding, flip_filter, gain);
    }), 0);
  }
  if (pf.batched()) {
    // upfirdn2d's own checks and messages first (on one sample: every sample has its shapes),
    // where upfirdn2d_stacked's would name an op the caller did not call.
    check_filter_not_requiring_grad(kSingle, pf.value());
    const at::Tensor x0 = px.first_sample();
    const Args a = check_args(x0, pf.first_sample(), up, down, padding, flip_filter, gain);
    output_shape<c10::SymInt>(x0.sym_sizes(), a);  // the output-size checks
    return level.wrap(myops::upfirdn2d_stacked(px.front_or_expand(batch), pf.arg->front(), up, down, padding,
                                               flip_filter, gain), 0);
  }
  const at::Tensor out = myops::upfirdn2d(batching::fold_into(px, batch, 0), pf.value(), up, down, padding,
                                          flip_filter, gain);
  return level.wrap(batching::unfold_from(out, batch, 0, px.logical_sizes()[0]), 0);
}

at::Tensor upfirdn2d_stacked_batched(const at::Tensor& x, const at::Tensor& f, c10::IntArrayRef up,
                                     c10::IntArrayRef down, c10::IntArrayRef padding, bool flip_filter, double gain) {
  auto guard = batching::exclude_batched();
  const batching::Level level("myops.upfirdn2d_stacked");
  if (!level.any_batched(x, f)) return myops::upfirdn2d_stacked(x, f, up, down, padding, flip_filter, gain);
  const batching::Arg px = level.unwrap(x);
  const batching::Arg pf = level.unwrap(f);
  const int64_t batch = batching::batch_size_of(px, pf);
  if (px.rank() != 5 || (pf.rank() != 2 && pf.rank() != 3)) {  // the op's own error, from a sample
    return level.wrap(batching::stack_samples(batch, [&](int64_t i) {
      return myops::upfirdn2d_stacked(px.sample(i), pf.sample(i), up, down, padding, flip_filter, gain);
    }), 0);
  }
  // The vmap dim merged into the stack dim S of both: [B * S, ...].
  const at::Tensor out = myops::upfirdn2d_stacked(batching::fold_into(px, batch, 0), batching::fold_into(pf, batch, 0),
                                                  up, down, padding, flip_filter, gain);
  return level.wrap(batching::unfold_from(out, batch, 0, px.logical_sizes()[0]), 0);
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, FuncTorchBatched, m) {
  m.impl("upfirdn2d", &upfirdn2d_batched);
  m.impl("upfirdn2d_stacked", &upfirdn2d_stacked_batched);
}

}  // namespace myops::ops::upfirdn2d
