// The plumbing of myops' vmap batching rules (the FuncTorchBatched kernels in
// ops/<family>/<family>_batching.cpp), written once.
//
// A batching rule is what torch.vmap (functorch) calls instead of its slow per-sample fallback
// when an argument is a BatchedTensor at the current vmap level. The rule unwraps the
// arguments into plain ("physical") tensors whose vmap dimension sits at `bdim`, calls the op
// ONCE on tensors with that dimension folded into one the op already loops over (the batch
// N of a conv-like op, the channels, or plain broadcasting), and wraps the result again.
//
// Only public, exported functorch API is used (ATen/functorch/PlumbingHelper.h:
// maybeCurrentDynamicLayer, unwrapTensorAtLevel, makeBatched), so the rules live in
// libmyops.so and `torch.ops.load_library` alone gives every host batched ops. This follows
// ATen's generated plumbing (VmapGeneratedPlumbing.h): FuncTorchBatched is excluded while the
// rule calls ops on the physical tensors, which may still be batched at an outer vmap level
// (nested vmap): those calls then reach the outer level's rules.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/functorch/DynamicLayer.h>
#include <ATen/functorch/PlumbingHelper.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/stack.h>
#include <c10/core/impl/LocalDispatchKeySet.h>

#include <array>
#include <cstddef>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace myops::ops::batching {

// A tensor argument as a rule sees it: the physical tensor and where its vmap dim is (none
// when the argument is not batched at this level: the same value for every sample).
struct Arg {
  at::Tensor value;
  std::optional<int64_t> bdim;

  bool batched() const { return bdim.has_value(); }
  // The logical rank (what the user's per-sample function sees).
  int64_t rank() const { return value.dim() - (batched() ? 1 : 0); }
  int64_t batch_size() const { return value.size(*bdim); }
  // The logical sizes (what the user's per-sample function sees).
  std::vector<int64_t> logical_sizes() const {
    std::vector<int64_t> sizes(value.sizes().begin(), value.sizes().end());
    if (batched()) sizes.erase(sizes.begin() + *bdim);
    return sizes;
  }
  // The physical tensor with its vmap dim first: [B, *logical].
  at::Tensor front() const { return value.movedim(*bdim, 0); }
  // [B, *logical] also when not batched (expanded: no copy), for an op that needs every
  // sample's value side by side.
  at::Tensor front_or_expand(int64_t batch) const {
    if (batched()) return front();
    std::vector<int64_t> sizes{batch};
    sizes.insert(sizes.end(), value.sizes().begin(), value.sizes().end());
    return value.unsqueeze(0).expand(sizes);
  }
  // Sample i's value (a per-sample loop). For an empty batch, a stand-in with one sample's
  // shape, dtype and device (one uninitialized element, expanded): what the op's checks and its
  // result's shape need, for a rule that checks one sample or loops (stack_samples).
  at::Tensor sample(int64_t i) const {
    if (!batched()) return value;
    if (batch_size() == 0) return at::empty({}, value.options()).expand(logical_sizes());
    return value.select(*bdim, i);
  }
  // Sample 0's value (or the stand-in), for the op's own checks made once for the whole batch.
  at::Tensor first_sample() const { return sample(0); }
};

// An optional tensor argument (b, f, fu, fd): std::nullopt stays std::nullopt.
struct OptArg {
  std::optional<Arg> arg;

  bool batched() const { return arg && arg->batched(); }
  std::optional<at::Tensor> value() const {
    return arg ? std::optional<at::Tensor>(arg->value) : std::nullopt;
  }
  std::optional<at::Tensor> sample(int64_t i) const {
    return arg ? std::optional<at::Tensor>(arg->sample(i)) : std::nullopt;
  }
  std::optional<at::Tensor> first_sample() const {
    return arg ? std::optional<at::Tensor>(arg->first_sample()) : std::nullopt;
  }
};

// The current vmap level, as the dynamic layer stack says. Throws (naming the op) if a rule is
// ever called outside vmap, which functorch does not do.
class Level {
 public:
  explicit Level(const char* op) {
    const auto layer = at::functorch::maybeCurrentDynamicLayer();
    TORCH_CHECK(layer.has_value(), op, ": vmap batching rule called with no vmap level active");
    id_ = layer->layerId();
  }
  int64_t id() const { return id_; }

  bool batched(const at::Tensor& t) const { return at::functorch::isBatchedAtLevel(t, id_); }
  bool batched(const std::optional<at::Tensor>& t) const {
    return t.has_value() && at::functorch::isBatchedAtLevel(*t, id_);
  }
  template <typename... Ts>
  bool any_batched(const Ts&... ts) const {
    return (batched(ts) || ...);
  }

  Arg unwrap(const at::Tensor& t) const {
    auto [value, bdim] = at::functorch::unwrapTensorAtLevel(t, id_);
    return {std::move(value), bdim};
  }
  OptArg unwrap(const std::optional<at::Tensor>& t) const {
    return t.has_value() ? OptArg{unwrap(*t)} : OptArg{};
  }
  // A physical result with its vmap dim at `bdim` (none: the same for every sample), as the
  // BatchedTensor the caller at this level sees.
  at::Tensor wrap(at::Tensor t, std::optional<int64_t> bdim) const {
    return at::functorch::makeBatched(std::move(t), bdim, id_);
  }

 private:
  int64_t id_ = 0;
};

// What ATen's plumbing holds while a rule works on physical tensors.
using ExcludeBatched = c10::impl::ExcludeDispatchKeyGuard;
inline ExcludeBatched exclude_batched() { return ExcludeBatched(c10::DispatchKey::FuncTorchBatched); }

// The batch size of the batched arguments among `args` (all of them have the same one:
// functorch checks that when it wraps the inputs).
template <typename... As>
int64_t batch_size_of(const As&... args) {
  int64_t size = -1;
  auto take = [&](const auto& a) {
    if constexpr (std::is_same_v<std::decay_t<decltype(a)>, OptArg>) {
      if (size < 0 && a.batched()) size = a.arg->batch_size();
    } else {
      if (size < 0 && a.batched()) size = a.batch_size();
    }
  };
  (take(args), ...);
  TORCH_INTERNAL_ASSERT(size >= 0, "batch_size_of: no batched argument");
  return size;
}

// `t` ([B, *logical], from Arg::front) with size-1 dims inserted after the batch dim up to
// `rank` logical dims, so that it broadcasts against other samples' logical shapes from the
// right, as the per-sample op would.
inline at::Tensor pad_to_rank(const at::Tensor& t, int64_t rank) {
  std::vector<int64_t> sizes(t.sizes().begin(), t.sizes().end());
  sizes.insert(sizes.begin() + 1, rank + 1 - t.dim(), 1);
  return t.view(sizes);
}

// The vmap dim merged into the logical dim `dim` of a [*, D, *] argument: [*, B * D, *], sample
// i's block being [i * D, (i + 1) * D). For ops that loop over a dim independently (the batch
// N of a conv-like op; channels with a per-channel bias). An unbatched argument is expanded
// first. A copy when the layout does not allow a view.
inline at::Tensor fold_into(const Arg& a, int64_t batch, int64_t dim) {
  return a.front_or_expand(batch).movedim(0, dim).flatten(dim, dim + 1);
}

// The inverse for an op's result: [*, B * D', *] -> [*, B, D', *] (vmap dim at `dim`), with
// D' = `per_sample`, each sample's size there, which the rule knows from its arguments. (Not
// from out.size(dim) / B: with B = 0, a vmap over an empty batch as jacrev/jacfwd of a
// zero-element output make, that divides by zero; not -1: D' may be 0.)
inline at::Tensor unfold_from(const at::Tensor& out, int64_t batch, int64_t dim, int64_t per_sample) {
  return out.unflatten(dim, {batch, per_sample});
}

// An empty stack of `sample`'s shape and dtype: [0, *sample's shape].
inline at::Tensor empty_stack_like(const at::Tensor& sample) { return sample.unsqueeze(0).narrow(0, 0, 0); }

// The per-sample loop, for a per-sample shape the op rejects (its own error comes out). Still no
// fallback warning, and still the op's own kernels, one call per sample; results stacked along
// dim 0. An empty batch calls the op once on the stand-ins (Arg::sample), for its error or its
// result's shape: [0, *per-sample shape].
template <typename PerSample>
at::Tensor stack_samples(int64_t batch, PerSample&& per_sample) {
  if (batch == 0) return empty_stack_like(per_sample(0));
  std::vector<at::Tensor> outs;
  outs.reserve(batch);
  for (int64_t i = 0; i < batch; ++i) outs.push_back(per_sample(i));
  return at::stack(outs);
}

// fn applied to every tensor of a tuple of tensors (a multi-output op's result).
template <typename Tuple, typename Fn>
Tuple map_tuple(const Tuple& t, Fn&& fn) {
  return std::apply([&](const auto&... xs) { return Tuple(fn(xs)...); }, t);
}

template <typename Tuple, size_t... I>
Tuple stack_parts(std::array<std::vector<at::Tensor>, sizeof...(I)>& parts, std::index_sequence<I...>) {
  return Tuple(at::stack(parts[I])...);
}

// stack_samples for an op with several outputs: each output stacked along dim 0.
template <typename Tuple, typename PerSample>
Tuple stack_sample_tuples(int64_t batch, PerSample&& per_sample) {
  if (batch == 0) {
    return map_tuple(Tuple(per_sample(0)), empty_stack_like);
  }
  constexpr size_t n = std::tuple_size_v<Tuple>;
  std::array<std::vector<at::Tensor>, n> parts;
  for (int64_t i = 0; i < batch; ++i) {
    std::apply([&](const auto&... xs) {
      size_t k = 0;
      (parts[k++].push_back(xs), ...);
    }, Tuple(per_sample(i)));
  }
  return stack_parts<Tuple>(parts, std::make_index_sequence<n>{});
}

}  // namespace myops::ops::batching
