// Meta kernels of upfirdn2d and upfirdn2d_stacked: the same checks and output metadata (sizes, possibly symbolic, and
// strides) as the real kernels, no data.
#include <torch/library.h>

#include "ops/upfirdn2d/upfirdn2d.h"

namespace myops::ops::upfirdn2d {
namespace {

at::Tensor upfirdn2d_meta(const at::Tensor& x, const std::optional<at::Tensor>& f,
                          c10::IntArrayRef up, c10::IntArrayRef down, c10::IntArrayRef padding,
                          bool flip_filter, double gain) {
  return empty_output(x, check_args(x, f, up, down, padding, flip_filter, gain));
}

at::Tensor upfirdn2d_stacked_meta(const at::Tensor& x, const at::Tensor& f, c10::IntArrayRef up,
                                  c10::IntArrayRef down, c10::IntArrayRef padding, bool flip_filter, double gain) {
  return empty_output(kStacked, x, check_args(kStacked, x, f, up, down, padding, flip_filter, gain));
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, Meta, m) {
  m.impl("upfirdn2d", &upfirdn2d_meta);
  m.impl("upfirdn2d_stacked", &upfirdn2d_stacked_meta);
}

}  // namespace myops::ops::upfirdn2d
