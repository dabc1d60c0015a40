// vmap batching rules of filtered_lrelu and filtered_lrelu_backward (plumbing:
// ops/common/batching.h).
//
// Images and channels of x [N, C, H, W] (and of grad, for the backward) are processed
// independently, with the bias b [C] per channel, so one call does all samples:
// - b unbatched: the vmap dim is folded into N ([B * N, C, H, W]);
// - b batched: into C ([N, B * C, H, W], b flattened to [B * C]: sample i's channels are the
//   i-th block of C), x expanded when it is not batched itself.
// The op takes ONE pair of filters fu/fd for the whole tensor, so batched filters cannot be
// folded: then the rule loops over the samples (one op call each, the op's own kernels, no
// fallback warning). So does an x whose per-sample shape is not 4-D (the op's own error).
#include <torch/library.h>

#include "myops/filtered_lrelu.h"
#include "ops/common/batching.h"

namespace myops::ops::filtered_lrelu {
namespace {

using batching::Arg;
using batching::OptArg;
using OptTensor = std::optional<at::Tensor>;

// The dim of [N, C, H, W] the vmap dim goes into: channels with a batched bias, else images.
int64_t fold_dim(const OptArg& b) { return b.batched() ? 1 : 0; }

OptTensor fold_bias(const OptArg& b) {
  return b.batched() ? OptTensor(b.arg->front().flatten()) : b.value();
}

at::Tensor filtered_lrelu_batched(const at::Tensor& x, const OptTensor& fu, const OptTensor& fd, const OptTensor& b,
                                  int64_t up, int64_t down, c10::IntArrayRef padding, double gain, double slope,
                                  std::optional<double> clamp, bool flip_filter) {
  auto guard = batching::exclude_batched();
  const batching::Level level("myops.filtered_lrelu");
  if (!level.any_batched(x, fu, fd, b)) {
    return myops::filtered_lrelu(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter);
  }
  const Arg px = level.unwrap(x);
  const OptArg pfu = level.unwrap(fu), pfd = level.unwrap(fd), pb = level.unwrap(b);
  const int64_t batch = batching::batch_size_of(px, pfu, pfd, pb);
  if (pfu.batched() || pfd.batched() || px.rank() != 4) {
    return level.wrap(batching::stack_samples(batch, [&](int64_t i) {
      return myops::filtered_lrelu(px.sample(i), pfu.sample(i), pfd.sample(i), pb.sample(i), up, down, padding,
                                   gain, slope, clamp, flip_filter);
    }), 0);
  }
  const int64_t dim = fold_dim(pb);
  const at::Tensor out = myops::filtered_lrelu(batching::fold_into(px, batch, dim), pfu.value(), pfd.value(),
                                               fold_bias(pb), up, down, padding, gain, slope, clamp, flip_filter);
  return level.wrap(batching::unfold_from(out, batch, dim, px.logical_sizes()[dim]), dim);
}

at::Tensor filtered_lrelu_backward_batched(const at::Tensor& grad, const at::Tensor& x, const OptTensor& fu,
                                           const OptTensor& fd, const OptTensor& b, int64_t up, int64_t down,
                                           c10::IntArrayRef padding, double gain, double slope,
                                           std::optional<double> clamp, bool flip_filter) {
  auto guard = batching::exclude_batched();
  const batching::Level level("myops.filtered_lrelu_backward");
  if (!level.any_batched(grad, x, fu, fd, b)) {
    return myops::filtered_lrelu_backward(grad, x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter);
  }
  const Arg pgrad = level.unwrap(grad), px = level.unwrap(x);
  const OptArg pfu = level.unwrap(fu), pfd = level.unwrap(fd), pb = level.unwrap(b);
  const int64_t batch = batching::batch_size_of(pgrad, px, pfu, pfd, pb);
  if (pfu.batched() || pfd.batched() || px.rank() != 4 || pgrad.rank() != 4) {
    return level.wrap(batching::stack_samples(batch, [&](int64_t i) {
      return myops::filtered_lrelu_backward(pgrad.sample(i), px.sample(i), pfu.sample(i), pfd.sample(i),
                                            pb.sample(i), up, down, padding, gain, slope, clamp, flip_filter);
    }), 0);
  }
  const int64_t dim = fold_dim(pb);
  const at::Tensor out = myops::filtered_lrelu_backward(
      batching::fold_into(pgrad, batch, dim), batching::fold_into(px, batch, dim), pfu.value(), pfd.value(),
      fold_bias(pb), up, down, padding, gain, slope, clamp, flip_filter);
  return level.wrap(batching::unfold_from(out, batch, dim, px.logical_sizes()[dim]), dim);
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, FuncTorchBatched, m) {
  m.impl("filtered_lrelu", &filtered_lrelu_batched);
  m.impl("filtered_lrelu_backward", &filtered_lrelu_backward_batched);
}

}  // namespace myops::ops::filtered_lrelu
