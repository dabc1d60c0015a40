// The kernel entry points of the elementwise family, implemented per backend:
// CPU in elementwise_cpu_kernel.cpp (once per ISA), CUDA in elementwise_cuda.cu.
#pragma once

#include <ATen/TensorIterator.h>

namespace myops::ops::elementwise {

// Each computes iter's output from its two inputs, all of dtype iter.common_dtype().
using MulAddKernel = void(at::TensorIteratorBase& iter, double c);
using BinaryKernel = void(at::TensorIteratorBase& iter);

}  // namespace myops::ops::elementwise
