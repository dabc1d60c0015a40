// vmap batching rules of the elementwise family (plumbing: ops/common/batching.h).
//
// The ops broadcast, so a vmap dim is just one more broadcast dim: each batched argument gets
// its vmap dim moved to the front and size-1 dims after it up to the largest logical rank; an
// unbatched one is passed as is (it broadcasts from the right, as in each sample). One call.
//
// add_out writes each sample's result into that sample's `out`, so `out` must be batched
// whenever a or b is (the rule ATen's in-place ops follow under vmap); a batched `out` with
// unbatched a and b gets a + b in every sample.
#include <torch/library.h>

#include <algorithm>

#include "myops/elementwise.h"
#include "ops/common/batching.h"

namespace myops::ops::elementwise {
namespace {

using batching::Arg;

// The physical arguments of a broadcasting op, given the logical rank of the result.
at::Tensor broadcastable(const Arg& a, int64_t rank) {
  return a.batched() ? batching::pad_to_rank(a.front(), rank) : a.value;
}

template <typename Call>
at::Tensor binary_rule(const char* op, const at::Tensor& a, const at::Tensor& b, Call&& call) {
  auto guard = batching::exclude_batched();
  const batching::Level level(op);
  if (!level.any_batched(a, b)) return call(a, b);
  const Arg pa = level.unwrap(a), pb = level.unwrap(b);
  const int64_t rank = std::max(pa.rank(), pb.rank());
  return level.wrap(call(broadcastable(pa, rank), broadcastable(pb, rank)), 0);
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
