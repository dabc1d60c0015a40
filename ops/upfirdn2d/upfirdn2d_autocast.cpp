// Autocast kernels of upfirdn2d and upfirdn2d_stacked (policy: README, "Works with"): runs in x's dtype; the filter is
// cast to it only when it is neither float32 nor x's dtype (Autocast::cast_filter).
#include <torch/library.h>

#include "myops/upfirdn2d.h"
#include "ops/common/autocast.h"

namespace myops::ops::upfirdn2d {
namespace {

template <c10::DispatchKey key>
at::Tensor upfirdn2d_autocast(const at::Tensor& x, const std::optional<at::Tensor>& f, c10::IntArrayRef up,
                              c10::IntArrayRef down, c10::IntArrayRef padding, bool flip_filter, double gain) {
  using A = autocast::Autocast<key>;
  return A::call(myops::upfirdn2d, x, A::cast_filter(x.scalar_type(), f), up, down, padding, flip_filter, gain);
}

template <c10::DispatchKey key>
at::Tensor upfirdn2d_stacked_autocast(const at::Tensor& x, const at::Tensor& f, c10::IntArrayRef up,
                                      c10::IntArrayRef down, c10::IntArrayRef padding, bool flip_filter, double gain) {
  using A = autocast::Autocast<key>;
  return A::call(myops::upfirdn2d_stacked, x, *A::cast_filter(x.scalar_type(), f), up, down, padding, flip_filter,
                 gain);
}

template <c10::DispatchKey key>
void register_autocast(torch::Library& m) {
  m.impl("upfirdn2d", &upfirdn2d_autocast<key>);
  m.impl("upfirdn2d_stacked", &upfirdn2d_stacked_autocast<key>);
}

}  // namespace

MYOPS_AUTOCAST_IMPL(register_autocast)

}  // namespace myops::ops::upfirdn2d
