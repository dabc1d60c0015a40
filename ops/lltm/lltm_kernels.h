// The gate passes of the LLTM cell, implemented per backend: CPU in lltm_cpu_kernel.cpp (once
// per ISA), CUDA in lltm_cuda.cu. The matrix products around them are ATen calls (lltm.h).
#pragma once

#include <ATen/TensorIterator.h>
#include <ATen/core/Tensor.h>
#include <c10/macros/Macros.h>

namespace myops::ops::lltm {

// Forward, in place on `gates` ([B, 3S] contiguous: pre-activations in, activations out), reading
// old_cell ([B, S], any strides), writing new_h and new_cell ([B, S] contiguous).
using ForwardGatesKernel = void(const at::Tensor& gates, const at::Tensor& old_cell,
                                const at::Tensor& new_h, const at::Tensor& new_cell);

// Backward: d_gates ([B, 3S] contiguous, gradient w.r.t. the pre-activations) and grad_old_cell
// ([B, S] contiguous) from grad_h, grad_cell, new_cell ([B, S]) and gates ([B, 3S],
// activations), all read with any strides (autograd often passes expanded gradients).
using BackwardGatesKernel = void(const at::Tensor& grad_h, const at::Tensor& grad_cell,
                                 const at::Tensor& new_cell, const at::Tensor& gates,
                                 const at::Tensor& d_gates, const at::Tensor& grad_old_cell);

// lltm_cell / lltm_cell_backward / lltm_cell_double_backward's loops: elementwise over the
// [B, S] operands of a TensorIterator built by same_dtype_iter (ops/common/same_dtype_iter.h),
// the gates split in their three [B, S] columns (outputs first, in the op's order, then inputs).
using CellKernel = void(at::TensorIteratorBase& iter);

// A [rows, cols] view of a tensor's data with its two strides, for CPU and GPU loops.
template <typename T, typename index_t = int64_t>
struct Strided2d {
  T* data;
  index_t row_stride, col_stride;
  C10_HOST_DEVICE T& operator()(index_t row, index_t col) const {
    return data[row * row_stride + col * col_stride];
  }
};

template <typename T, typename index_t = int64_t>
Strided2d<T, index_t> strided_2d(const at::Tensor& t) {
  return {static_cast<T*>(t.data_ptr()), static_cast<index_t>(t.stride(0)),
          static_cast<index_t>(t.stride(1))};
}

}  // namespace myops::ops::lltm
