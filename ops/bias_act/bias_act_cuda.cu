// CUDA entry points and kernels of bias_act and bias_act_backward. gpu_kernel (ATen's
// elementwise launcher: current stream, vectorized loads when every operand is contiguous,
// 64-bit-safe splitting of huge tensors, offset calculators for strided and broadcast operands)
// runs the shared math of bias_act_math.h in the op-math type. The activation is a run-time
// switch, the same for every thread (no divergence): one kernel per dtype, not nine.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/native/cuda/Loops.cuh>
#include <torch/library.h>

#include "ops/bias_act/bias_act_kernels.h"
#include "ops/common/cuda_utils.h"

namespace myops::bias_act {
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

at::Tensor bias_act_cuda(const at::Tensor& x, const std::optional<at::Tensor>& b, int64_t dim,
                         c10::string_view act, std::optional<double> alpha, std::optional<double> gain,
                         std::optional<double> clamp) {
  const Args args = check_args("myops.bias_act", x, b, dim, act, alpha, gain, clamp);
  MYOPS_CUDA_DEVICE_GUARD(x.device());
  at::Tensor y = empty_output(x);
  auto iter = make_iter(y, {x, bias_along_dim(x, b, args)});
  forward_kernel_cuda(iter, args, has_bias(b));
  return y;
}

at::Tensor bias_act_backward_cuda(const at::Tensor& grad, const at::Tensor& x, const std::optional<at::Tensor>& b,
                                  int64_t dim, c10::string_view act, std::optional<double> alpha,
                                  std::optional<double> gain, std::optional<double> clamp, int64_t order) {
  const char* op = "myops.bias_act_backward";
  const Args args = check_args(op, x, b, dim, act, alpha, gain, clamp);
  check_backward_args(op, grad, x, order);
  MYOPS_CUDA_DEVICE_GUARD(x.device());
  at::Tensor grad_x = empty_output(x);
  auto iter = make_iter(grad_x, {grad, x, bias_along_dim(x, b, args)});
  backward_kernel_cuda(iter, args, has_bias(b), static_cast<int>(order));
  return grad_x;
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, CUDA, m) {
  m.impl("bias_act", &bias_act_cuda);
  m.impl("bias_act_backward", &bias_act_backward_cuda);
}

}  // namespace myops::bias_act
