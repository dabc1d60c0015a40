// CUDA loops of bias_act and bias_act_backward, registered with the shared entry bodies
// (bias_act_kernels.h). gpu_kernel (ATen's elementwise launcher: current stream, vectorized loads
// when every operand is contiguous, 64-bit-safe splitting of huge tensors, offset calculators for
// strided and broadcast operands) runs the shared math of bias_act_math.h in the op-math type. The
// activation is a run-time switch, the same for every thread (no divergence): one kernel per
// dtype, not nine.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/native/cuda/Loops.cuh>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "ops/bias_act/bias_act_kernels.h"

namespace myops::ops::bias_act {
namespace {

void forward_kernel_cuda(at::TensorIteratorBase& iter, const Args& args, bool has_bias) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, iter.dtype(), "myops.bias_act", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const Params<opmath_t> p = make_params<opmath_t>(args, has_bias);
    at::native::gpu_kernel(iter, [p] GPU_LAMBDA(scalar_t x, scalar_t b) -> scalar_t {
      return static_cast<scalar_t>(math::forward<ScalarOps>(p, p.act, static_cast<opmath_t>(x), static_cast<opmath_t>(b)));
    });
  });
}

void backward_kernel_cuda(at::TensorIteratorBase& iter, const Args& args, bool has_bias, int order) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, iter.dtype(), "myops.bias_act_backward", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const Params<opmath_t> p = make_params<opmath_t>(args, has_bias);
    at::native::gpu_kernel(iter, [p, order] GPU_LAMBDA(scalar_t grad, scalar_t x, scalar_t b) -> scalar_t {
      return static_cast<scalar_t>(math::backward<ScalarOps>(p, p.act, order, static_cast<opmath_t>(grad),
                                                             static_cast<opmath_t>(x), static_cast<opmath_t>(b)));
    });
  });
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, CUDA, m) {
  register_backend<c10::cuda::CUDAGuard, forward_kernel_cuda, backward_kernel_cuda>(m);
}

}  // namespace myops::ops::bias_act
