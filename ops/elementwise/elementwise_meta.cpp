// Meta kernels: the same checks and output metadata as the real kernels, no data. With these
// in the library, torch.ops.load_library alone makes the ops work under torch.compile/export.
#include <torch/library.h>

#include "ops/elementwise/elementwise.h"

namespace myops::ops::elementwise {
namespace {

template <const char* op>
at::Tensor binary_meta(const at::Tensor& a, const at::Tensor& b) {
  return empty_output(op, a, b, check_inputs(op, a, b));
}
at::Tensor muladd_meta(const at::Tensor& a, const at::Tensor& b, double c) {
  return binary_meta<kMulAdd>(a, b);
}
void add_out_meta(const at::Tensor& a, const at::Tensor& b, at::Tensor& out) {
  check_out(kAddOut, a, b, out);
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, Meta, m) {
  m.impl("muladd", &muladd_meta);
  m.impl("mul", &binary_meta<kMul>);
  m.impl("add", &binary_meta<kAdd>);
  m.impl("add_out", &add_out_meta);
}

}  // namespace myops::ops::elementwise
