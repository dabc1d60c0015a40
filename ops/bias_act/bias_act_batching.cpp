// vmap batching rules of the bias_act family (plumbing: ops/common/batching.h).
//
// bias_act is elementwise in x with b broadcast along x's dimension `dim`, so:
// - b absent or unbatched: x's vmap dim goes to the front and `dim` moves one up. One call.
// - b batched ([B, C] physically): x (expanded when unbatched) gets its vmap dim right before
//   `dim` and the two are merged into one of B * C "channels", along which b, flattened to
//   [B * C], runs. One call; the result is split again and its vmap dim is at `dim`.
// bias_act_backward is the same with grad and x (same shape) treated alike.
#include <torch/library.h>

#include "myops/bias_act.h"
#include "ops/bias_act/bias_act.h"  // wrap_dim
#include "ops/common/batching.h"

namespace myops::ops::bias_act {
namespace {

using batching::Arg;
using batching::OptArg;
using OptTensor = std::optional<at::Tensor>;
using OptDouble = std::optional<double>;

// The physical tensors of one call and where the result's vmap dim is.
struct Folded {
  std::vector<at::Tensor> xs;  // x (and grad): the same layout
  OptTensor b;
  int64_t dim;   // the physical `dim` to call the op with
  int64_t bdim;  // the result's vmap dim
  int64_t batch;
  bool merged;   // vmap dim merged into `dim` (unflatten the result)
  int64_t channels;  // x's logical size at `dim` when merged (each sample's share of it)
};

// xs: arguments with x's shape (x; grad and x for the backward), at least one batched or b
// batched.
Folded fold(const char* op, const std::vector<Arg>& xs, const OptArg& b, int64_t dim) {
  const int64_t rank = xs[0].rank();
  int64_t batch = b.batched() ? b.arg->batch_size() : -1;
  for (const Arg& a : xs) {
    if (batch < 0 && a.batched()) batch = a.batch_size();
  }
  Folded f{{}, b.value(), dim, 0, batch, false, 0};
  if (!b.batched()) {
    for (const Arg& a : xs) f.xs.push_back(a.front_or_expand(batch));
    // With no b, dim is ignored (even out of range) by the op: pass it on unchanged.
    if (b.arg) f.dim = wrap_dim(op, dim, rank) + 1;
    return f;
  }
  const int64_t d = wrap_dim(op, dim, rank);  // x's logical `dim` (b needs x.dim() >= 1)
  for (const Arg& a : xs) f.xs.push_back(batching::fold_into(a, batch, d));
  f.b = b.arg->front().flatten();  // [B * C]: sample i's bias is the i-th block of C
  f.dim = d;
  f.bdim = d;
  f.merged = true;
  f.channels = xs[0].logical_sizes()[d];
  return f;
}

// Whether fold() can place b along x's logical `dim`. When not, the rules first call the op on
// one sample (Arg::first_sample), which raises the op's own error in the op's order of checks
// (an invalid clamp before an invalid dim, as without vmap); fold() raises if it did not.
bool dim_in_range(const OptArg& b, int64_t dim, int64_t rank) {
  return !b.arg || (rank > 0 && dim >= -rank && dim < rank);
}

at::Tensor unfold(const Folded& f, const at::Tensor& out) {
  return f.merged ? batching::unfold_from(out, f.batch, f.dim, f.channels) : out;
}

at::Tensor bias_act_batched(const at::Tensor& x, const OptTensor& b, int64_t dim, c10::string_view act,
                            OptDouble alpha, OptDouble gain, OptDouble clamp) {
  auto guard = batching::exclude_batched();
  const batching::Level level("myops.bias_act");
  if (!level.any_batched(x, b)) return myops::bias_act(x, b, dim, act, alpha, gain, clamp);
  const Arg px = level.unwrap(x);
  const OptArg pb = level.unwrap(b);
  if (!dim_in_range(pb, dim, px.rank())) {
    myops::bias_act(px.first_sample(), pb.first_sample(), dim, act, alpha, gain, clamp);
  }
  const Folded f = fold("myops.bias_act", {px}, pb, dim);
  return level.wrap(unfold(f, myops::bias_act(f.xs[0], f.b, f.dim, act, alpha, gain, clamp)), f.bdim);
}

at::Tensor bias_act_backward_batched(const at::Tensor& grad, const at::Tensor& x, const OptTensor& b, int64_t dim,
                                     c10::string_view act, OptDouble alpha, OptDouble gain, OptDouble clamp,
                                     int64_t order) {
  auto guard = batching::exclude_batched();
  const batching::Level level("myops.bias_act_backward");
  if (!level.any_batched(grad, x, b)) {
    return myops::bias_act_backward(grad, x, b, dim, act, alpha, gain, clamp, order);
  }
  const Arg px = level.unwrap(x), pgrad = level.unwrap(grad);
  const OptArg pb = level.unwrap(b);
  if (!dim_in_range(pb, dim, px.rank())) {
    myops::bias_act_backward(pgrad.first_sample(), px.first_sample(), pb.first_sample(), dim, act, alpha, gain, clamp,
                             order);
  }
  const Folded f = fold("myops.bias_act_backward", {px, pgrad}, pb, dim);
  return level.wrap(unfold(f, myops::bias_act_backward(f.xs[1], f.xs[0], f.b, f.dim, act, alpha, gain, clamp, order)),
                    f.bdim);
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, FuncTorchBatched, m) {
  m.impl("bias_act", &bias_act_batched);
  m.impl("bias_act_backward", &bias_act_backward_batched);
}

}  // namespace myops::ops::bias_act
