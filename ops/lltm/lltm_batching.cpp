// vmap batching rules of the lltm family (plumbing: ops/common/batching.h).
//
// The rows of input, old_h, old_cell (and of every [B, *] argument of the backward ops) are
// independent, so their vmap dim is folded into the batch B: one call on [V * B, *] rows.
//
// lltm and lltm_forward take ONE weights/bias pair for all rows. With a batched weights or
// bias (model ensembles) lltm's rule computes the gate pre-activations itself, one baddbmm over
// the samples (b_v + X_v @ W_v^T), and the cell with lltm_cell on the folded rows. (It used to
// call lltm_forward's fused gate pass with weights = I, an identity product that cost a third of
// the rule's time and turned an inf pre-activation into NaN in its row's other columns.)
//
// lltm_backward's weight and bias gradients are sums over the rows, which must stay per
// sample (per-sample gradients are the point of vmap over a backward). So the rule takes from
// the library only the gate pass, lltm_gates_backward (d_gates, the gate pre-activations'
// gradient, and grad_old_cell), called once on the folded rows, and computes the products of
// lltm_impl.h's gradients_from_d_gates (grad_weights = d_gates^T X, grad_bias = sum(d_gates),
// grad_X = d_gates @ weights) here on the physical tensors: per sample as one bmm / one sum over
// [V, B, *] where a sum must not mix samples, as one mm over the folded rows where it need not
// (an unbatched weights). Doing them on BatchedTensors through ATen's mm rules instead cost
// twice as much (its bmm path copies). (It used to call lltm_backward itself with weights = I
// and a zero X to get d_gates: three wasted identity products per call, a third of its time.)
#include <ATen/ops/add.h>
#include <ATen/ops/baddbmm.h>
#include <ATen/ops/bmm.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/sum.h>
#include <torch/library.h>

#include <optional>

#include "myops/lltm.h"
#include "ops/common/batching.h"
#include "ops/common/checks.h"

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
// `rows`: B, the rows of one sample (what unfold_from needs for an empty vmap batch).
template <typename Tuple>
Tuple unfold_rows(const batching::Level& level, const Tuple& out, int64_t batch, int64_t rows) {
  return batching::map_tuple(out, [&](const at::Tensor& t) {
    return level.wrap(batching::unfold_from(t, batch, 0, rows), 0);
  });
}

template <typename Tuple>
Tuple wrap_stacked(const batching::Level& level, const Tuple& out) {
  return batching::map_tuple(out, [&](const at::Tensor& t) { return level.wrap(t, 0); });
}

// Whether lltm's arguments are what the op accepts (per sample: input [B, F], weights
// [3S, S+F], bias [3S], old_h and old_cell [B, S], one floating dtype and device), so that the
// rule may compute the products itself; otherwise it calls the op per sample, for its errors.
bool products_ok(const Arg& in, const Arg& w, const Arg& b, const Arg& h, const Arg& c) {
  for (const Arg* a : {&w, &b, &h, &c}) {
    if (a->value.scalar_type() != in.value.scalar_type() || a->value.device() != in.value.device()) return false;
  }
  if (!at::isFloatingType(in.value.scalar_type()) || !all_2d({&in, &w, &h, &c}) || b.rank() != 1) return false;
  const auto x = in.logical_sizes(), hs = h.logical_sizes();
  const int64_t S = hs[1];
  return hs == c.logical_sizes() && hs[0] == x[0] && w.logical_sizes() == std::vector<int64_t>{3 * S, S + x[1]} &&
         b.logical_sizes() == std::vector<int64_t>{3 * S};
}

// The gate pre-activations of every sample, [V, B, 3S]: [old_h, input]_v @ W_v^T + b_v (one
// baddbmm for a batched weights), for a batched weights or bias.
at::Tensor pre_activations(const Arg& in, const Arg& w, const Arg& b, const Arg& h, int64_t batch) {
  const at::Tensor X = at::cat({h.front_or_expand(batch), in.front_or_expand(batch)}, 2);
  const at::Tensor bias = b.front_or_expand(batch).unsqueeze(1);  // [V, 1, 3S]
  return w.batched() ? at::baddbmm(bias, X, w.front().transpose(1, 2)) : at::add(bias, at::matmul(X, w.value.t()));
}

// lltm and lltm_forward: the same rule around `op`. With a batched weights or bias, lltm takes the
// gate pre-activations from one baddbmm and the cell from lltm_cell, on the folded rows; so it is
// differentiable through both. lltm_forward (`with_x`: it also returns the activated gates and
// X, which lltm_cell does not compute; and it is not differentiable, which only its own kernel
// enforces) loops over the samples there: only a direct vmap over it reaches that path (vmap over
// lltm takes lltm's rule).
template <typename Tuple, bool with_x, typename Op>
Tuple forward_rule(const char* name, Op op, const at::Tensor& input, const at::Tensor& weights,
                   const at::Tensor& bias, const at::Tensor& old_h, const at::Tensor& old_cell) {
  auto guard = batching::exclude_batched();
  const batching::Level level(name);
  if (!level.any_batched(input, weights, bias, old_h, old_cell)) return op(input, weights, bias, old_h, old_cell);
  const Arg in = level.unwrap(input), w = level.unwrap(weights), b = level.unwrap(bias);
  const Arg h = level.unwrap(old_h), c = level.unwrap(old_cell);
  const int64_t batch = batching::batch_size_of(in, w, b, h, c);
  const int64_t B = in.logical_sizes().empty() ? 0 : in.logical_sizes()[0];  // rows of one sample
  if constexpr (!with_x) {
    if ((w.batched() || b.batched()) && products_ok(in, w, b, h, c)) {
      const at::Tensor pre = pre_activations(in, w, b, h, batch);
      return unfold_rows(level, myops::lltm_cell(pre.flatten(0, 1), batching::fold_into(c, batch, 0)), batch, B);
    }
  }
  // A batched weights or bias (lltm_forward), arguments the op rejects, or per-sample ranks it
  // rejects: one call per sample (for the op's own error, where there is one).
  if (w.batched() || b.batched() || !all_2d({&in, &h, &c})) {
    return wrap_stacked(level, batching::stack_sample_tuples<Tuple>(batch, [&](int64_t i) {
      return op(in.sample(i), w.sample(i), b.sample(i), h.sample(i), c.sample(i));
    }));
  }
  const Tuple out = op(batching::fold_into(in, batch, 0), w.value, b.value, batching::fold_into(h, batch, 0),
                       batching::fold_into(c, batch, 0));
  return unfold_rows(level, out, batch, B);
}

T2 lltm_batched(const at::Tensor& input, const at::Tensor& weights, const at::Tensor& bias, const at::Tensor& old_h,
                const at::Tensor& old_cell) {
  return forward_rule<T2, false>("myops.lltm", [](auto&&... a) { return myops::lltm(a...); }, input, weights, bias,
                                 old_h, old_cell);
}

T4 lltm_forward_batched(const at::Tensor& input, const at::Tensor& weights, const at::Tensor& bias,
                        const at::Tensor& old_h, const at::Tensor& old_cell) {
  return forward_rule<T4, true>("myops.lltm_forward", [](auto&&... a) { return myops::lltm_forward(a...); },
                                input, weights, bias, old_h, old_cell);
}

// Whether lltm_backward's arguments are what the op accepts (per sample: grad_h, grad_cell,
// new_cell [B, S], gates [B, 3S], X [B, S + F], weights [3S, S + F], one floating dtype and
// device), so that the rule may call the gate pass and compute the products itself; otherwise it
// calls the op per sample, for its errors (which then name lltm_backward and its arguments).
bool backward_args_ok(const Arg& gh, const Arg& gc, const Arg& nc, const Arg& g, const Arg& x, const Arg& w) {
  const at::ScalarType dtype = nc.value.scalar_type();
  for (const Arg* a : {&gh, &gc, &g, &x, &w}) {
    if (a->value.scalar_type() != dtype || a->value.device() != nc.value.device()) return false;
  }
  if (!is_supported_float(dtype) || !all_2d({&gh, &gc, &nc, &g, &x, &w})) return false;
  const auto cs = nc.logical_sizes(), gs = g.logical_sizes(), xs = x.logical_sizes();
  const int64_t B = cs[0], S = cs[1];
  return gh.logical_sizes() == cs && gc.logical_sizes() == cs && gs == std::vector<int64_t>{B, 3 * S} &&
         xs[0] == B && xs[1] >= S && w.logical_sizes() == std::vector<int64_t>{3 * S, xs[1]};
}

T5 lltm_backward_batched(const at::Tensor& grad_h, const at::Tensor& grad_cell, const at::Tensor& new_cell,
                         const at::Tensor& gates, const at::Tensor& X, const at::Tensor& weights) {
  auto guard = batching::exclude_batched();
  const batching::Level level("myops.lltm_backward");
  if (!level.any_batched(grad_h, grad_cell, new_cell, gates, X, weights)) {
    return myops::lltm_backward(grad_h, grad_cell, new_cell, gates, X, weights);
  }
  const Arg gh = level.unwrap(grad_h), gc = level.unwrap(grad_cell), nc = level.unwrap(new_cell);
  const Arg g = level.unwrap(gates), x = level.unwrap(X), w = level.unwrap(weights);
  const int64_t batch = batching::batch_size_of(gh, gc, nc, g, x, w);
  if (!backward_args_ok(gh, gc, nc, g, x, w)) {
    return wrap_stacked(level, batching::stack_sample_tuples<T5>(batch, [&](int64_t i) {
      return myops::lltm_backward(gh.sample(i), gc.sample(i), nc.sample(i), g.sample(i), x.sample(i), w.sample(i));
    }));
  }
  // The gate pass on the folded rows (rows: some [B, *] argument is batched), else on the B rows
  // every sample shares.
  const bool rows = gh.batched() || gc.batched() || nc.batched() || g.batched();
  auto phys = [&](const Arg& a) { return rows ? batching::fold_into(a, batch, 0) : a.value; };
  const auto [d_flat, grad_old_cell] = myops::lltm_gates_backward(phys(gh), phys(gc), phys(nc), phys(g));
  const auto xs = x.logical_sizes();
  const int64_t B = xs[0], state = nc.logical_sizes()[1];
  // The products of lltm_impl.h's gradients_from_d_gates, per sample. d: [V, B, 3S].
  const std::optional<int64_t> rows_bdim = rows ? std::optional<int64_t>(0) : std::nullopt;
  const at::Tensor d =
      rows ? batching::unfold_from(d_flat, batch, 0, B) : d_flat.unsqueeze(0).expand({batch, B, 3 * state});
  const int64_t features = xs[1] - state;
  // grad_X = d_gates @ weights, its two column blocks as two products (outputs that are views of
  // one buffer would alias each other): one mm over the folded rows for an unbatched weights.
  auto grad_x_block = [&](int64_t start, int64_t width) -> std::pair<at::Tensor, std::optional<int64_t>> {
    if (w.batched()) return {at::bmm(d, w.front().narrow(2, start, width)), 0};
    const at::Tensor out = at::mm(d_flat, w.value.narrow(1, start, width));
    return {rows ? batching::unfold_from(out, batch, 0, B) : out, rows_bdim};
  };
  const auto [grad_input, input_bdim] = grad_x_block(state, features);
  const auto [grad_old_h, old_h_bdim] = grad_x_block(0, state);
  // grad_weights = d_gates^T X and grad_bias = sum(d_gates): sums over each sample's rows only.
  at::Tensor grad_weights;
  std::optional<int64_t> weights_bdim = 0;
  if (rows || x.batched()) {
    grad_weights = at::bmm(d.transpose(1, 2), x.front_or_expand(batch));
  } else {
    grad_weights = at::mm(d_flat.t(), x.value);
    weights_bdim = std::nullopt;
  }
  const at::Tensor grad_bias = rows ? d.sum(1) : d_flat.sum(0);
  return {level.wrap(grad_input, input_bdim), level.wrap(grad_weights, weights_bdim), level.wrap(grad_bias, rows_bdim),
          level.wrap(grad_old_h, old_h_bdim),
          level.wrap(rows ? batching::unfold_from(grad_old_cell, batch, 0, B) : grad_old_cell, rows_bdim)};
}

// The cell ops and lltm_gates_backward: every argument is [B, *] rows.
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
  return unfold_rows(level, call([batch](const Arg& a) { return batching::fold_into(a, batch, 0); }), batch,
                     p.back().logical_sizes()[0]);  // the last argument's rows (the op checked them)
}

T2 lltm_gates_backward_batched(const at::Tensor& grad_h, const at::Tensor& grad_cell, const at::Tensor& new_cell,
                               const at::Tensor& gates) {
  return rows_rule<T2>("myops.lltm_gates_backward", [](auto&&... a) { return myops::lltm_gates_backward(a...); },
                       grad_h, grad_cell, new_cell, gates);
}

T2 lltm_cell_batched(const at::Tensor& pre_gates, const at::Tensor& old_cell) {
  return rows_rule<T2>("myops.lltm_cell", [](auto&&... a) { return myops::lltm_cell(a...); }, pre_gates, old_cell);
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
  m.impl("lltm_gates_backward", &lltm_gates_backward_batched);
  m.impl("lltm_cell", &lltm_cell_batched);
  m.impl("lltm_cell_backward", &lltm_cell_backward_batched);
  m.impl("lltm_cell_double_backward", &lltm_cell_double_backward_batched);
}

}  // namespace myops::ops::lltm
