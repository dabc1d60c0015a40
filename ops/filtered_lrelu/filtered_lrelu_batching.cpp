// vmap batching rules of filtered_lrelu and filtered_lrelu_backward (plumbing:
// ops/common/batching.h).
//
// Images and channels of x [N, C, H, W] (and of grad, for the backward) are processed
// independently, with the bias b [C] per channel, so one call does all samples:
// - b unbatched: the vmap dim is folded into N ([B * N, C, H, W]);
// - b batched: into C ([N, B * C, H, W], b flattened to [B * C]: sample i's channels are the
//   i-th block of C), x expanded when it is not batched itself.
// The op takes ONE pair of filters fu/fd for the whole tensor, so batched filters cannot be
// folded: then the rule runs the op's composition (filtered_lrelu_kernels.h, what the CUDA
// backend runs) on the stack of samples [B, N, C, H, W], its resampling steps one
// upfirdn2d_stacked call each (every sample with its own filters), the activation one
// bias_act(_backward) call: a handful of calls for the whole batch, whose values are the fused
// kernel's (the same sums in the same order). An x whose per-sample shape is not 4-D goes
// through a per-sample loop, so that the op reports its own error.
#include <ATen/ops/add.h>
#include <ATen/ops/ones.h>
#include <torch/library.h>

#include "myops/filtered_lrelu.h"
#include "myops/upfirdn2d.h"
#include "ops/common/batching.h"
#include "ops/filtered_lrelu/filtered_lrelu_kernels.h"

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

// The composition's ops (PlainSteps' counterparts) on a stack of B samples: x [B, N, C, H, W],
// filters [B, taps] or [B, fh, fw] (stacked_filter), b [C] or [B, C].
struct StackedSteps {
  int64_t batch;

  at::Tensor add_bias(const at::Tensor& x, const OptTensor& b) const {
    if (!b.has_value() || !b->defined()) return x;
    // One addition per element, as bias_act's linear activation does it.
    return at::add(x, b->view({b->dim() == 1 ? 1 : batch, 1, b->size(-1), 1, 1}));
  }
  at::Tensor resample(const at::Tensor& x, const OptTensor& f, int64_t up_x, int64_t up_y, int64_t down_x,
                      int64_t down_y, c10::IntArrayRef padding, bool flip_filter, double gain) const {
    return myops::upfirdn2d_stacked(x, *f, {up_x, up_y}, {down_x, down_y}, padding, flip_filter, gain);
  }
};

// A filter as a stack of B: its samples, a shared one expanded (no copy), None as B one-tap
// filters of ones (what upfirdn2d does for None: the step's gain, nothing else).
at::Tensor stacked_filter(const OptArg& f, int64_t batch, const at::Tensor& x) {
  if (f.arg) return f.arg->front_or_expand(batch);
  return at::ones({batch, 1}, x.options().dtype(at::toOpMathType(x.scalar_type())));
}

// What the per-sample-filter path of both rules works from: the op's checks made on one sample
// x0 (its own messages; every sample has its shapes), x as [B, N, C, H, W], the filters as
// stacks and b as [C] or [B, C].
struct Stack {
  Args a;
  at::Tensor x0, x, fu, fd;
  OptTensor b;
};

Stack stacked_inputs(const Arg& px, const OptArg& pfu, const OptArg& pfd, const OptArg& pb, int64_t batch, int64_t up,
                     int64_t down, c10::IntArrayRef padding, double gain, double slope, std::optional<double> clamp,
                     bool flip_filter) {
  check_filters_not_requiring_grad(pfu.value(), pfd.value());
  const at::Tensor x0 = px.first_sample();
  const Args a = check_args(x0, pfu.first_sample(), pfd.first_sample(), pb.first_sample(), up, down, padding, gain,
                            slope, clamp, flip_filter);
  const at::Tensor xs = px.front_or_expand(batch);
  return {a, x0, xs, stacked_filter(pfu, batch, xs), stacked_filter(pfd, batch, xs),
          pb.batched() ? OptTensor(pb.arg->front()) : pb.value()};
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
  if (px.rank() != 4) {
    return level.wrap(batching::stack_samples(batch, [&](int64_t i) {
      return myops::filtered_lrelu(px.sample(i), pfu.sample(i), pfd.sample(i), pb.sample(i), up, down, padding,
                                   gain, slope, clamp, flip_filter);
    }), 0);
  }
  if (pfu.batched() || pfd.batched()) {
    const Stack st = stacked_inputs(px, pfu, pfd, pb, batch, up, down, padding, gain, slope, clamp, flip_filter);
    output_shape<c10::SymInt>(st.x0.sym_sizes(), st.a);  // the output-size checks
    const at::Tensor y = compose_forward(StackedSteps{batch}, st.x, st.fu, st.fd, st.b, st.a);
    return level.wrap(y.to(st.x.scalar_type()), 0);
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
  if (px.rank() != 4 || pgrad.rank() != 4) {
    return level.wrap(batching::stack_samples(batch, [&](int64_t i) {
      return myops::filtered_lrelu_backward(pgrad.sample(i), px.sample(i), pfu.sample(i), pfd.sample(i),
                                            pb.sample(i), up, down, padding, gain, slope, clamp, flip_filter);
    }), 0);
  }
  if (pfu.batched() || pfd.batched()) {
    const Stack st = stacked_inputs(px, pfu, pfd, pb, batch, up, down, padding, gain, slope, clamp, flip_filter);
    check_backward_args(pgrad.first_sample(), st.x0, st.a);
    const at::Tensor dx =
        compose_backward(StackedSteps{batch}, pgrad.front_or_expand(batch), st.x, st.fu, st.fd, st.b, st.a);
    return level.wrap(dx.to(st.x.scalar_type()), 0);
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
