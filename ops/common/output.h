// New output tensors of the backend kernels (not Meta: those keep symbolic sizes).
//
// On the CPU they come straight from the CPU allocator (at::detail::empty_cpu), as ATen's own
// CPU kernels allocate theirs (structured kernels' create_out): at::empty would first go
// through the dispatcher (aten::empty.memory_format, then its CPU kernel), a round trip that
// costs ~0.1 us, a tenth of a small mul's whole call. The tensor is the same either way (a
// dense CPU tensor of that dtype, format or strides; uninitialized, as every caller writes all
// of it). Other devices (CUDA) allocate through at::empty*.
#pragma once

#include <ATen/EmptyTensor.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_strided.h>

namespace myops {

// A dense tensor of `sizes` in `format` with options' dtype and device.
inline at::Tensor new_output(c10::IntArrayRef sizes, const at::TensorOptions& options,
                             at::MemoryFormat format = at::MemoryFormat::Contiguous) {
  if (options.device().is_cpu()) {
    return at::detail::empty_cpu(sizes, options.dtype().toScalarType(), /*pin_memory=*/false, format);
  }
  return at::empty(sizes, options, format);
}

// A tensor of `sizes` and `strides` with options' dtype and device.
inline at::Tensor new_strided_output(c10::IntArrayRef sizes, c10::IntArrayRef strides,
                                     const at::TensorOptions& options) {
  if (options.device().is_cpu()) {
    return at::detail::empty_strided_cpu(sizes, strides, options.dtype().toScalarType());
  }
  return at::empty_strided(sizes, strides, options);
}

}  // namespace myops
