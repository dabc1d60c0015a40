// vmap batching rules of the lltm family (plumbing: ops/common/batching.h).
//
// The rows of input, old_h, old_cell (and of every [B, *] argument of the backward ops) are
// independent, so their vmap dim is folded into the batch B: one call on [V * B, *] rows.
//
// lltm and lltm_forward take ONE weights/bias pair for all rows. With a batched weights or
// bias (model ensembles) the rule computes the gate pre-activations itself, one baddbmm over
// the samples (b_v + X_v @ W_v^T), and takes from the op only the fused gate pass: called on the
// folded rows with weights = I (3S x 3S), zero bias, and the pre-activations split as old_h
// (first S columns) | input (the other 2S), its gates are exactly b_v + X_v @ W_v^T (a product
// with I is exact). The wasted work is one [V*B, 3S] x [3S, 3S] product (less on regrouped
// rows, below), far less than a per-sample loop of small calls.
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
//
// The identity products of lltm / lltm_forward's rule turn an inf into NaN in the row's other
// columns (inf * 0): with inf pre-activations the batched results differ from the per-sample
// op there.
#include <ATen/ops/add.h>
#include <ATen/ops/baddbmm.h>
#include <ATen/ops/bmm.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/eye.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/sum.h>
#include <ATen/ops/zeros.h>
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

// The gate pre-activations of every sample, [V, B, 3S] (X_v @ W_v^T + b_v, one bmm), and
// X_v = [old_h, input] [V, B, S + F], for a batched weights or bias.
std::pair<at::Tensor, at::Tensor> pre_activations(const Arg& in, const Arg& w, const Arg& b, const Arg& h,
                                                  int64_t batch) {
  const at::Tensor X = at::cat({h.front_or_expand(batch), in.front_or_expand(batch)}, 2);
  const at::Tensor bias = b.front_or_expand(batch).unsqueeze(1);  // [V, 1, 3S]
  return {X, w.batched() ? at::baddbmm(bias, X, w.front().transpose(1, 2)) : at::add(bias, at::matmul(X, w.value.t()))};
}

// The identity products of gate_pass_forward cost n * 3S * 3S for n rows. The gate pass works
// element by element (gates columns j, S + j, 2S + j with state column j of one row) and
// vectorizes along the state, so it may run on the rows regrouped as [n * k, S / k] (the gates' three blocks
// split alike): the same values, k times less identity work. k keeps S / k a multiple of an
// AVX-512 vector (64 bytes), the widest the CPU kernels use, so that no element moves from
// their vector body to their scalar tail; 1 when S has no such divisor.
int64_t regroup_factor(int64_t state, at::ScalarType dtype) {
  const int64_t lanes = 64 / static_cast<int64_t>(c10::elementSize(dtype));
  for (int64_t width = lanes; width < state; width += lanes) {
    if (state % width == 0) return state / width;
  }
  return 1;
}
at::Tensor split_rows(const at::Tensor& t, int64_t k) {  // [n, S] -> [n * k, S / k]
  return k == 1 ? t : t.reshape({t.size(0) * k, t.size(1) / k});
}
at::Tensor merge_rows(const at::Tensor& t, int64_t k) {  // the inverse
  return k == 1 ? t : t.reshape({t.size(0) / k, t.size(1) * k});
}
at::Tensor split_gate_rows(const at::Tensor& g, int64_t k) {  // [n, 3S] -> [n * k, 3S / k]
  if (k == 1) return g;
  const int64_t n = g.size(0), width = g.size(1) / (3 * k);
  return g.reshape({n, 3, k, width}).permute({0, 2, 1, 3}).reshape({n * k, 3 * width});
}
at::Tensor merge_gate_rows(const at::Tensor& g, int64_t k) {  // the inverse
  if (k == 1) return g;
  const int64_t n = g.size(0) / k, width = g.size(1) / 3;
  return g.reshape({n, k, 3, width}).permute({0, 2, 1, 3}).reshape({n, 3 * k * width});
}

// lltm_forward's gate pass on n rows of pre-activations [n, 3S] and old_cell [n, S] (see the top
// of the file): new_h, new_cell, and the gates when `with_gates` (else undefined: lltm needs none).
std::tuple<at::Tensor, at::Tensor, at::Tensor> gate_pass_forward(const at::Tensor& pre, const at::Tensor& old_cell,
                                                                 bool with_gates) {
  const int64_t k = regroup_factor(old_cell.size(1), pre.scalar_type());
  const at::Tensor p = split_gate_rows(pre, k), c = split_rows(old_cell, k);
  const int64_t state = c.size(1);
  const auto [new_h, new_cell, gates, unused_x] =
      myops::lltm_forward(p.narrow(1, state, 2 * state), at::eye(3 * state, pre.options()),
                          at::zeros({3 * state}, pre.options()), p.narrow(1, 0, state), c);
  return {merge_rows(new_h, k), merge_rows(new_cell, k), with_gates ? merge_gate_rows(gates, k) : at::Tensor()};
}

// lltm and lltm_forward: the same rule around `op`; `with_x`: the op returns X too (last).
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
  if ((w.batched() || b.batched()) && products_ok(in, w, b, h, c)) {
    const auto [X, pre] = pre_activations(in, w, b, h, batch);
    const auto out = gate_pass_forward(pre.flatten(0, 1), batching::fold_into(c, batch, 0), with_x);
    if constexpr (with_x) {
      const auto& [new_h, new_cell, gates] = out;
      return {level.wrap(batching::unfold_from(new_h, batch, 0, B), 0),
              level.wrap(batching::unfold_from(new_cell, batch, 0, B), 0),
              level.wrap(batching::unfold_from(gates, batch, 0, B), 0), level.wrap(X, 0)};
    } else {
      return unfold_rows(level, Tuple(std::get<0>(out), std::get<1>(out)), batch, B);
    }
  }
  // Arguments the op rejects (with a batched weights or bias), or per-sample ranks it rejects:
  // one call per sample, for the op's own error.
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
  m.impl("lltm_cell_backward", &lltm_cell_backward_batched);
  m.impl("lltm_cell_double_backward", &lltm_cell_double_backward_batched);
}

}  // namespace myops::ops::lltm
