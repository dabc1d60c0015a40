// vmap batching rules of the lltm family (plumbing: ops/common/batching.h).
//
// The rows of input, old_h, old_cell (and of every [B, *] argument of the backward ops) are
// independent, so their vmap dim is folded into the batch B: one call on [V * B, *] rows.
//
// lltm and lltm_forward take ONE weights/bias pair for all rows: a batched weights or bias
// (model ensembles) cannot be folded, and the rule loops over the samples (one op call each,
// the op's own kernels, no fallback warning).
//
// lltm_backward's weight and bias gradients are sums over the rows, which must stay per
// sample (per-sample gradients are the point of vmap over a backward). So the rule takes from
// the op only the gate pass: called on the folded rows with weights = I (3S x 3S) and a zero X
// of width 3S, its grad_old_h | grad_input columns are exactly d_gates (the gate
// pre-activations' gradient, d_gates @ I). The products (grad_weights = d_gates^T X, ...) are
// then lltm_impl.h's gradients_from_d_gates, called on BatchedTensors: ATen's own batching
// rules of mm/sum make them per sample (and handle a batched weights too). The wasted work is
// two [V*B, 3S] x [3S, 3S] products, far less than a per-sample loop.
#include <ATen/ops/cat.h>
#include <ATen/ops/eye.h>
#include <ATen/ops/zeros.h>
#include <torch/library.h>

#include "myops/lltm.h"
#include "ops/common/batching.h"
#include "ops/lltm/lltm_impl.h"  // gradients_from_d_gates

namespace myops::ops::lltm {
namespace {

using batching::Arg;
using T2 = std::tuple<at::Tensor, at::Tensor>;
using T4 = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>;
using T5 = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

bool all_2d(std::initializer_list<const Arg*> args) {
  for (const Arg* a : args) {
    if (a->rank() != 2) return false;
  }
  return true;
}

// The results of one call on rows folded into the batch, as BatchedTensors with vmap dim 0.
template <typename Tuple>
Tuple unfold_rows(const batching::Level& level, const Tuple& out, int64_t batch) {
  return batching::map_tuple(out, [&](const at::Tensor& t) {
    return level.wrap(batching::unfold_from(t, batch, 0), 0);
  });
}

template <typename Tuple>
Tuple wrap_stacked(const batching::Level& level, const Tuple& out) {
  return batching::map_tuple(out, [&](const at::Tensor& t) { return level.wrap(t, 0); });
}

// lltm and lltm_forward: the same rule around `op`.
template <typename Tuple, typename Op>
Tuple forward_rule(const char* name, Op op, const at::Tensor& input, const at::Tensor& weights,
                   const at::Tensor& bias, const at::Tensor& old_h, const at::Tensor& old_cell) {
  auto guard = batching::exclude_batched();
  const batching::Level level(name);
  if (!level.any_batched(input, weights, bias, old_h, old_cell)) return op(input, weights, bias, old_h, old_cell);
  const Arg in = level.unwrap(input), w = level.unwrap(weights), b = level.unwrap(bias);
  const Arg h = level.unwrap(old_h), c = level.unwrap(old_cell);
  const int64_t batch = batching::batch_size_of(in, w, b, h, c);
  if (w.batched() || b.batched() || !all_2d({&in, &h, &c})) {
    return wrap_stacked(level, batching::stack_sample_tuples<Tuple>(batch, [&](int64_t i) {
      return op(in.sample(i), w.sample(i), b.sample(i), h.sample(i), c.sample(i));
    }));
  }
  const Tuple out = op(batching::fold_into(in, batch, 0), w.value, b.value, batching::fold_into(h, batch, 0),
                       batching::fold_into(c, batch, 0));
  return unfold_rows(level, out, batch);
}

T2 lltm_batched(const at::Tensor& input, const at::Tensor& weights, const at::Tensor& bias, const at::Tensor& old_h,
                const at::Tensor& old_cell) {
  return forward_rule<T2>("myops.lltm", [](auto&&... a) { return myops::lltm(a...); }, input, weights, bias, old_h,
                          old_cell);
}

T4 lltm_forward_batched(const at::Tensor& input, const at::Tensor& weights, const at::Tensor& bias,
                        const at::Tensor& old_h, const at::Tensor& old_cell) {
  return forward_rule<T4>("myops.lltm_forward", [](auto&&... a) { return myops::lltm_forward(a...); }, input,
                          weights, bias, old_h, old_cell);
}

T5 lltm_backward_batched(const at::Tensor& grad_h, const at::Tensor& grad_cell, const at::Tensor& new_cell,
                         const at::Tensor& gates, const at::Tensor& X, const at::Tensor& weights) {
  const batching::Level level("myops.lltm_backward");
  at::Tensor d_gates, grad_old_cell;  // as the caller at this level sees them (batched or not)
  {
    auto guard = batching::exclude_batched();
    if (!level.any_batched(grad_h, grad_cell, new_cell, gates, X, weights)) {
      return myops::lltm_backward(grad_h, grad_cell, new_cell, gates, X, weights);
    }
    const Arg gh = level.unwrap(grad_h), gc = level.unwrap(grad_cell), nc = level.unwrap(new_cell);
    const Arg g = level.unwrap(gates), x = level.unwrap(X), w = level.unwrap(weights);
    const int64_t batch = batching::batch_size_of(gh, gc, nc, g, x, w);
    if (!all_2d({&gh, &gc, &nc, &g, &x, &w})) {  // the op's own shape errors
      return wrap_stacked(level, batching::stack_sample_tuples<T5>(batch, [&](int64_t i) {
        return myops::lltm_backward(gh.sample(i), gc.sample(i), nc.sample(i), g.sample(i), x.sample(i), w.sample(i));
      }));
    }
    const bool rows = gh.batched() || gc.batched() || nc.batched() || g.batched();
    auto phys = [&](const Arg& a) { return rows ? batching::fold_into(a, batch, 0) : a.value; };
    const at::Tensor p_new_cell = phys(nc), p_gates = phys(g);
    const int64_t n = p_new_cell.size(0), state3 = p_gates.size(1);
    const auto [cols_input, unused_w, unused_b, cols_old_h, p_grad_old_cell] = myops::lltm_backward(
        phys(gh), phys(gc), p_new_cell, p_gates, at::zeros({n, state3}, p_gates.options()),
        at::eye(state3, p_gates.options()));
    const at::Tensor p_d_gates = at::cat({cols_old_h, cols_input}, 1);
    const std::optional<int64_t> bdim = rows ? std::optional<int64_t>(0) : std::nullopt;
    d_gates = level.wrap(rows ? batching::unfold_from(p_d_gates, batch, 0) : p_d_gates, bdim);
    grad_old_cell = level.wrap(rows ? batching::unfold_from(p_grad_old_cell, batch, 0) : p_grad_old_cell, bdim);
  }
  // Outside the guard: the products on BatchedTensors go through ATen's batching rules.
  const ProductGradients p = gradients_from_d_gates(d_gates, X, weights);
  return {p.grad_input, p.grad_weights, p.grad_bias, p.grad_old_h, grad_old_cell};
}

// The cell ops: every argument is [B, *] rows.
template <typename Tuple, typename Op, typename... Ts>
Tuple rows_rule(const char* name, Op op, const Ts&... args) {
  auto guard = batching::exclude_batched();
  const batching::Level level(name);
  if (!level.any_batched(args...)) return op(args...);
  const std::array<Arg, sizeof...(Ts)> p{level.unwrap(args)...};
  int64_t batch = -1;
  bool two_d = true;
  for (const Arg& a : p) {
    if (batch < 0 && a.batched()) batch = a.batch_size();
    two_d = two_d && a.rank() == 2;
  }
  auto call = [&](auto&& prepare) {
    return std::apply([&](const auto&... a) { return op(prepare(a)...); }, p);
  };
  if (!two_d) {
    return wrap_stacked(level, batching::stack_sample_tuples<Tuple>(batch, [&](int64_t i) {
      return call([i](const Arg& a) { return a.sample(i); });
    }));
  }
  return unfold_rows(level, call([batch](const Arg& a) { return batching::fold_into(a, batch, 0); }), batch);
}

T2 lltm_cell_backward_batched(const at::Tensor& grad_h, const at::Tensor& grad_cell, const at::Tensor& pre_gates,
                              const at::Tensor& old_cell) {
  return rows_rule<T2>("myops.lltm_cell_backward", [](auto&&... a) { return myops::lltm_cell_backward(a...); },
                       grad_h, grad_cell, pre_gates, old_cell);
}

T4 lltm_cell_double_backward_batched(const at::Tensor& gg_gates, const at::Tensor& gg_old_cell,
                                     const at::Tensor& grad_h, const at::Tensor& grad_cell,
                                     const at::Tensor& pre_gates, const at::Tensor& old_cell) {
  return rows_rule<T4>("myops.lltm_cell_double_backward",
                       [](auto&&... a) { return myops::lltm_cell_double_backward(a...); }, gg_gates, gg_old_cell,
                       grad_h, grad_cell, pre_gates, old_cell);
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, FuncTorchBatched, m) {
  m.impl("lltm", &lltm_batched);
  m.impl("lltm_forward", &lltm_forward_batched);
  m.impl("lltm_backward", &lltm_backward_batched);
  m.impl("lltm_cell_backward", &lltm_cell_backward_batched);
  m.impl("lltm_cell_double_backward", &lltm_cell_double_backward_batched);
}

}  // namespace myops::ops::lltm
