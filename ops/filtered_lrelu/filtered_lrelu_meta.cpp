// Meta kernels of filtered_lrelu and filtered_lrelu_backward: the same checks and output
// metadata (sizes, possibly symbolic, and strides) as the real kernels, no data.
#include <torch/library.h>

#include "ops/filtered_lrelu/filtered_lrelu.h"

namespace myops::ops::filtered_lrelu {
namespace {

using OptTensor = std::optional<at::Tensor>;

at::Tensor filtered_lrelu_meta(const at::Tensor& x, const OptTensor& fu, const OptTensor& fd, const OptTensor& b,
                               int64_t up, int64_t down, c10::IntArrayRef padding, double gain, double slope,
                               std::optional<double> clamp, bool flip_filter) {
  return empty_output(x, check_args(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter));
}

at::Tensor filtered_lrelu_backward_meta(const at::Tensor& grad, const at::Tensor& x, const OptTensor& fu,
                                        const OptTensor& fd, const OptTensor& b, int64_t up, int64_t down,
                                        c10::IntArrayRef padding, double gain, double slope,
                                        std::optional<double> clamp, bool flip_filter) {
  check_backward_args(grad, x, check_args(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter));
  return empty_grad_input(x);
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, Meta, m) {
  m.impl("filtered_lrelu", &filtered_lrelu_meta);
  m.impl("filtered_lrelu_backward", &filtered_lrelu_backward_meta);
}

}  // namespace myops::ops::filtered_lrelu
