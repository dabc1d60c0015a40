// Autocast kernels of the filtered_lrelu family (policy: README, "Works with"): like bias_act and
// upfirdn2d, filtered_lrelu runs in x's dtype (a convolution's bf16/fp16 output), b (a float32
// parameter) cast to it; the filters are cast only when neither float32 nor x's dtype
// (Autocast::cast_filter). filtered_lrelu_backward (what autograd calls, also when backward()
// runs inside the autocast region) casts grad and b the same way.
#include <torch/library.h>

#include "myops/filtered_lrelu.h"
#include "ops/common/autocast.h"

namespace myops::ops::filtered_lrelu {
namespace {

using OptTensor = std::optional<at::Tensor>;

template <c10::DispatchKey key>
at::Tensor filtered_lrelu_autocast(const at::Tensor& x, const OptTensor& fu, const OptTensor& fd, const OptTensor& b,
                                   int64_t up, int64_t down, c10::IntArrayRef padding, double gain, double slope,
                                   std::optional<double> clamp, bool flip_filter) {
  using A = autocast::Autocast<key>;
  const at::ScalarType dtype = x.scalar_type();
  return A::call(myops::filtered_lrelu, x, A::cast_filter(dtype, fu), A::cast_filter(dtype, fd), A::cast(dtype, b),
                 up, down, padding, gain, slope, clamp, flip_filter);
}

template <c10::DispatchKey key>
at::Tensor filtered_lrelu_backward_autocast(const at::Tensor& grad, const at::Tensor& x, const OptTensor& fu,
                                            const OptTensor& fd, const OptTensor& b, int64_t up, int64_t down,
                                            c10::IntArrayRef padding, double gain, double slope,
                                            std::optional<double> clamp, bool flip_filter) {
  using A = autocast::Autocast<key>;
  const at::ScalarType dtype = x.scalar_type();
  return A::call(myops::filtered_lrelu_backward, A::cast(dtype, grad), x, A::cast_filter(dtype, fu),
                 A::cast_filter(dtype, fd), A::cast(dtype, b), up, down, padding, gain, slope, clamp, flip_filter);
}

template <c10::DispatchKey key>
void register_autocast(torch::Library& m) {
  m.impl("filtered_lrelu", &filtered_lrelu_autocast<key>);
  m.impl("filtered_lrelu_backward", &filtered_lrelu_backward_autocast<key>);
}

}  // namespace

MYOPS_AUTOCAST_IMPL(register_autocast)

}  // namespace myops::ops::filtered_lrelu
