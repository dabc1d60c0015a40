// vmap batching rules of the elementwise family (plumbing: ops/common/batching.h).
//
// The ops broadcast, so a vmap dim is just one more broadcast dim: each batched argument gets
// its vmap dim moved to the front and size-1 dims after it up to the largest logical rank; an
// unbatched one is passed as is (it broadcasts from the right, as in each sample). One call.
//
// Type promotion looks at which arguments are 0-dim, and a batched 0-dim sample is a
// dimensioned physical tensor ([B]); an unbatched 0-dim argument next to a batched 0-dim one
// is the reverse case. There the physical promotion can differ from each sample's (float16 [4]
// with a batched float32 scalar is float16 per sample, float32 physically). The rule then
// computes in the op-math type of each sample's dtype and rounds once to that dtype: what the
// op does per sample (a float32 scalar next to float16 is read in float32, not rounded first).
//
// add_out writes each sample's result into that sample's `out`, so `out` must be batched
// whenever a or b is (the rule ATen's in-place ops follow under vmap); a batched `out` with
// unbatched a and b gets a + b in every sample.
#include <ATen/OpMathType.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/result_type.h>
#include <torch/library.h>

#include <algorithm>
#include <optional>

#include "myops/elementwise.h"
#include "ops/common/batching.h"
#include "ops/elementwise/elementwise.h"

namespace myops::ops::elementwise {
namespace {

using batching::Arg;

// The physical arguments of a broadcasting op, given the logical rank of the result.
at::Tensor broadcastable(const Arg& a, int64_t rank) {
  return a.batched() ? batching::pad_to_rank(a.front(), rank) : a.value;
}

// Each sample's result dtype when the physical call would promote to another one (see the
// top of the file); std::nullopt when the physical promotion is each sample's.
std::optional<at::ScalarType> per_sample_dtype(const Arg& a, const Arg& b, const at::Tensor& phys_a,
                                               const at::Tensor& phys_b) {
  const at::ScalarType ta = a.value.scalar_type(), tb = b.value.scalar_type();
  // (Not float: the op's own check raises its error in the physical call.)
  if (ta == tb || !at::isFloatingType(ta) || !at::isFloatingType(tb)) return std::nullopt;
  // Promotion sees only dtypes and which tensors are 0-dim: stand-ins with the logical rank's
  // zero-ness say what each sample's promotion is.
  auto stand_in = [](const Arg& x) {
    const auto meta = x.value.options().device(at::kMeta);
    return x.rank() == 0 ? at::empty({}, meta) : at::empty({0}, meta);
  };
  const at::ScalarType logical = at::result_type(stand_in(a), stand_in(b));
  if (logical == at::result_type(phys_a, phys_b)) return std::nullopt;
  return logical;
}

// `t` in the op-math type of `dtype` unless it already has `dtype` (the rule's physical inputs
// when their promotion differs from each sample's).
at::Tensor in_opmath_of(const at::Tensor& t, at::ScalarType dtype) {
  return t.scalar_type() == dtype ? t : t.to(at::toOpMathType(dtype));
}

template <typename Call>
at::Tensor binary_rule(const char* op, const at::Tensor& a, const at::Tensor& b, Call&& call) {
  auto guard = batching::exclude_batched();
  const batching::Level level(op);
  if (!level.any_batched(a, b)) return call(a, b);
  const Arg pa = level.unwrap(a), pb = level.unwrap(b);
  const int64_t rank = std::max(pa.rank(), pb.rank());
  const at::Tensor phys_a = broadcastable(pa, rank), phys_b = broadcastable(pb, rank);
  if (const auto dtype = per_sample_dtype(pa, pb, phys_a, phys_b)) {
    return level.wrap(call(in_opmath_of(phys_a, *dtype), in_opmath_of(phys_b, *dtype)).to(*dtype), 0);
  }
  return level.wrap(call(phys_a, phys_b), 0);
}

at::Tensor muladd_batched(const at::Tensor& a, const at::Tensor& b, double c) {
  return binary_rule("myops.muladd", a, b, [c](const at::Tensor& x, const at::Tensor& y) {
    return myops::muladd(x, y, c);
  });
}

at::Tensor mul_batched(const at::Tensor& a, const at::Tensor& b) {
  return binary_rule("myops.mul", a, b, [](const at::Tensor& x, const at::Tensor& y) { return myops::mul(x, y); });
}

at::Tensor add_batched(const at::Tensor& a, const at::Tensor& b) {
  return binary_rule("myops.add", a, b, [](const at::Tensor& x, const at::Tensor& y) { return myops::add(x, y); });
}

void add_out_batched(const at::Tensor& a, const at::Tensor& b, at::Tensor& out) {
  auto guard = batching::exclude_batched();
  const batching::Level level("myops.add_out");
  if (!level.any_batched(a, b, out)) {
    myops::add_out(a, b, out);
    return;
  }
  const Arg pa = level.unwrap(a), pb = level.unwrap(b), pout = level.unwrap(out);
  TORCH_CHECK(pout.batched(), "myops.add_out: under vmap, out must be batched when a or b is (each sample "
              "writes its own result; a shared out would be written once per sample)");
  const int64_t batch = pout.batch_size();
  const int64_t rank = std::max({pa.rank(), pb.rank(), pout.rank()});
  at::Tensor phys_out = batching::pad_to_rank(pout.front(), rank);  // a view: writes reach `out`
  at::Tensor phys_a = broadcastable(pa, rank), phys_b = broadcastable(pb, rank);
  if (!pa.batched() && !pb.batched()) {
    // The same a + b for every sample: a gets a (0-stride) vmap dim so that the broadcast
    // shape is out's physical one.
    phys_a = batching::pad_to_rank(pa.front_or_expand(batch), rank);
  }
  at::Tensor result = phys_out;
  if (const auto dtype = per_sample_dtype(pa, pb, phys_a, phys_b)) {
    // out's checks as each sample's call makes them (dtype here; shape, device and overlap by
    // add_out into an op-math copy shaped like out), then one rounding into out.
    TORCH_CHECK_TYPE(out.scalar_type() == *dtype, "myops.add_out: out must have the result dtype ", *dtype,
                     " (the promotion of a: ", a.scalar_type(), " and b: ", b.scalar_type(), "), got ",
                     out.scalar_type());
    at::Tensor wide = at::empty_like(phys_out, phys_out.options().dtype(at::toOpMathType(*dtype)));
    check_out_overlap(kAddOut, phys_a, phys_b, phys_out);
    myops::add_out(in_opmath_of(phys_a, *dtype), in_opmath_of(phys_b, *dtype), wide);
    result.copy_(wide);
    return;
  }
  myops::add_out(phys_a, phys_b, result);
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, FuncTorchBatched, m) {
  m.impl("muladd", &muladd_batched);
  m.impl("mul", &mul_batched);
  m.impl("add", &add_batched);
  m.impl("add_out", &add_out_batched);
}

}  // namespace myops::ops::elementwise
