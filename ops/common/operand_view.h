// Views that a backend kernel makes of its own inputs, to hand them to a loop (a TensorIterator
// operand, a strided 2-D walk): bias_act's b seen with x's shape, lltm's gate columns.
//
// They exist only while the kernel runs: never returned, never differentiated, never written
// through by anyone else. Tensor::as_strided / narrow would make them through the dispatcher
// (aten::as_strided and its autograd and view-tracking layers): a nested op call of ~0.1 us
// inside a call of a few us, and a nested record in the profiler. Here the view TensorImpl is
// made directly, as ATen's own view kernels make theirs (alias_with_sizes_and_strides,
// aten/src/ATen/native/TensorShape.cpp): the base's storage, dtype, device and dispatch keys,
// the given sizes, strides and storage offset.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/TensorImpl.h>
#include <c10/util/intrusive_ptr.h>

namespace myops {

// A view of base's storage; the caller has checked that it stays inside the base's elements.
inline at::Tensor operand_view(const at::Tensor& base, c10::IntArrayRef sizes,
                               c10::IntArrayRef strides, int64_t storage_offset) {
  auto impl = c10::make_intrusive<c10::TensorImpl>(c10::TensorImpl::VIEW, c10::Storage(base.storage()),
                                                   base.key_set(), base.dtype());
  impl->set_sizes_and_strides(sizes, strides, storage_offset);
  return at::Tensor(std::move(impl));
}

// Columns [start, start + width) of a 2-D tensor.
inline at::Tensor operand_columns(const at::Tensor& matrix, int64_t start, int64_t width) {
  return operand_view(matrix, {matrix.size(0), width}, matrix.strides(),
                      matrix.storage_offset() + start * matrix.stride(1));
}

}  // namespace myops
