// vmap batching rule of upfirdn2d (plumbing: ops/common/batching.h).
//
// Every image of x [N, C, H, W] is filtered alike, so a batched x has its vmap dim folded into
// N: one call on [B * N, C, H, W]. The op takes ONE filter for the whole tensor, so a batched
// filter f cannot be folded: then the rule loops over the samples (one op call each, still
// the op's own kernels, and no fallback warning). So does an x whose per-sample shape is not
// 4-D, so that the op reports its own error.
#include <torch/library.h>

#include "myops/upfirdn2d.h"
#include "ops/common/batching.h"

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
  if (pf.batched() || px.rank() != 4) {
    return level.wrap(batching::stack_samples(batch, [&](int64_t i) {
      return myops::upfirdn2d(px.sample(i), pf.sample(i), up, down, padding, flip_filter, gain);
    }), 0);
  }
  const at::Tensor out = myops::upfirdn2d(batching::fold_into(px, batch, 0), pf.value(), up, down, padding,
                                          flip_filter, gain);
  return level.wrap(batching::unfold_from(out, batch, 0, px.logical_sizes()[0]), 0);
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, FuncTorchBatched, m) { m.impl("upfirdn2d", &upfirdn2d_batched); }

}  // namespace myops::ops::upfirdn2d
