// CUDA loops of muladd/mul/add and their registration with the shared entry bodies
// (elementwise.h). gpu_kernel (ATen's vectorized elementwise launcher: current stream, 4-wide
// loads, 64-bit splitting of huge tensors, on-the-fly casting of mixed dtypes, CPU scalars
// folded into the functor) runs the shared math in the op-math type.
#include <ATen/Dispatch.h>
#include <ATen/native/cuda/Loops.cuh>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "ops/elementwise/elementwise.h"
#include "ops/elementwise/elementwise_math.h"

namespace myops::ops::elementwise {
namespace {

// All three ops are symmetric in a and b, which halves the kernels built for CPU scalars.
// (nvcc allows no device lambda inside a generic lambda: one dispatch per op.)
void muladd_cuda(at::TensorIteratorBase& iter, double c) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, iter.common_dtype(), "myops.muladd", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const opmath_t c_op = static_cast<opmath_t>(c);
    at::native::opmath_symmetric_gpu_kernel_with_scalars<scalar_t>(
        iter, [c_op] GPU_LAMBDA(opmath_t x, opmath_t y) -> opmath_t { return math::muladd(x, y, c_op); });
  });
}

void mul_cuda(at::TensorIteratorBase& iter) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, iter.common_dtype(), "myops.mul", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    at::native::opmath_symmetric_gpu_kernel_with_scalars<scalar_t>(
        iter, [] GPU_LAMBDA(opmath_t x, opmath_t y) -> opmath_t { return math::mul(x, y); });
  });
}

void add_cuda(at::TensorIteratorBase& iter) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, iter.common_dtype(), "myops.add", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    at::native::opmath_symmetric_gpu_kernel_with_scalars<scalar_t>(
        iter, [] GPU_LAMBDA(opmath_t x, opmath_t y) -> opmath_t { return math::add(x, y); });
  });
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, CUDA, m) {
  register_backend<c10::cuda::CUDAGuard, muladd_cuda, mul_cuda, add_cuda>(m);
}

}  // namespace myops::ops::elementwise
