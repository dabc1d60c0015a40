// CUDA entry points and kernels of muladd/mul/add/add_out. gpu_kernel (ATen's vectorized
// elementwise launcher: current stream, 4-wide loads, 64-bit splitting of huge tensors,
// on-the-fly casting of mixed dtypes, CPU scalars folded into the functor) runs the shared
// math in the op-math type.
#include <ATen/Dispatch.h>
#include <ATen/native/cuda/Loops.cuh>
#include <torch/library.h>

#include "ops/common/cuda_utils.h"
#include "ops/elementwise/elementwise.h"
#include "ops/elementwise/elementwise_math.h"

namespace myops::elementwise {
namespace {

// All three ops are symmetric in a and b, which halves the kernels built for CPU scalars.
void muladd_kernel_cuda(at::TensorIteratorBase& iter, double c) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, iter.common_dtype(), "myops.muladd", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const opmath_t c_op = static_cast<opmath_t>(c);
    at::native::opmath_symmetric_gpu_kernel_with_scalars<scalar_t>(
        iter, [c_op] GPU_LAMBDA(opmath_t x, opmath_t y) -> opmath_t { return math::muladd(x, y, c_op); });
  });
}

void mul_kernel_cuda(at::TensorIteratorBase& iter) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, iter.common_dtype(), "myops.mul", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    at::native::opmath_symmetric_gpu_kernel_with_scalars<scalar_t>(
        iter, [] GPU_LAMBDA(opmath_t x, opmath_t y) -> opmath_t { return math::mul(x, y); });
  });
}

void add_kernel_cuda(at::TensorIteratorBase& iter) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, iter.common_dtype(), "myops.add", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    at::native::opmath_symmetric_gpu_kernel_with_scalars<scalar_t>(
        iter, [] GPU_LAMBDA(opmath_t x, opmath_t y) -> opmath_t { return math::add(x, y); });
  });
}

// The device guard covers the launch and any temporaries of the iterator.
at::Tensor muladd_cuda(const at::Tensor& a, const at::Tensor& b, double c) {
  MYOPS_CUDA_DEVICE_GUARD(op_device(a, b));
  return run_binary("myops.muladd", a, b, [c](at::TensorIteratorBase& iter) { muladd_kernel_cuda(iter, c); });
}

at::Tensor mul_cuda(const at::Tensor& a, const at::Tensor& b) {
  MYOPS_CUDA_DEVICE_GUARD(op_device(a, b));
  return run_binary("myops.mul", a, b, mul_kernel_cuda);
}

at::Tensor add_cuda(const at::Tensor& a, const at::Tensor& b) {
  MYOPS_CUDA_DEVICE_GUARD(op_device(a, b));
  return run_binary("myops.add", a, b, add_kernel_cuda);
}

void add_out_cuda(const at::Tensor& a, const at::Tensor& b, at::Tensor& out) {
  MYOPS_CUDA_DEVICE_GUARD(out.device());
  run_binary_out("myops.add_out", a, b, out, add_kernel_cuda);
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, CUDA, m) {
  m.impl("muladd", &muladd_cuda);
  m.impl("mul", &mul_cuda);
  m.impl("add", &add_cuda);
  m.impl("add_out", &add_out_cuda);
}

}  // namespace myops::elementwise
