// Meta kernels: the same checks and output metadata as the real kernels, no data. With these
// in the library, torch.ops.load_library alone makes the ops work under torch.compile/export.
#include <torch/library.h>

#include "ops/elementwise/elementwise.h"

namespace myops::elementwise {
namespace {

at::Tensor muladd_meta(const at::Tensor& a, const at::Tensor& b, double c) {
  return empty_output("myops.muladd", a, b);
}
at::Tensor mul_meta(const at::Tensor& a, const at::Tensor& b) {
  return empty_output("myops.mul", a, b);
}
at::Tensor add_meta(const at::Tensor& a, const at::Tensor& b) {
  return empty_output("myops.add", a, b);
}
void add_out_meta(const at::Tensor& a, const at::Tensor& b, at::Tensor& out) {
  check_out("myops.add_out", a, b, out);
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, Meta, m) {
  m.impl("muladd", &muladd_meta);
  m.impl("mul", &mul_meta);
  m.impl("add", &add_meta);
  m.impl("add_out", &add_out_meta);
}

}  // namespace myops::elementwise
