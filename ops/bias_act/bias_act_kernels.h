// How the CPU and CUDA backends run bias_act: the entry bodies (ops/common/entry.h), one
// TensorIterator over x (and grad) with b viewed along `dim`, and the loops each backend
// implements.
#pragma once

#include <ATen/TensorIterator.h>
#include <torch/library.h>

#include "ops/bias_act/bias_act.h"
#include "ops/common/operand_view.h"
#include "ops/common/same_dtype_iter.h"

namespace myops::ops::bias_act {

// Computes iter's output (y) from its inputs (x, bias) with the math in bias_act_math.h.
using ForwardKernel = void(at::TensorIteratorBase& iter, const Args& args, bool has_bias);
// Computes iter's output (grad_x) from its inputs (grad, x, bias); order 1, 2 or 3.
using BackwardKernel = void(at::TensorIteratorBase& iter, const Args& args, bool has_bias, int order);

inline bool has_bias(const std::optional<at::Tensor>& b) { return b.has_value() && b->defined(); }

// b as a tensor of x's shape: its own stride along `dim`, 0 elsewhere, so TensorIterator
// broadcasts it with no copy and coalesces it with x (NCHW: a scalar per inner row, which the
// vector loops handle; NHWC: contiguous along the inner dimension). A view made without the
// dispatcher (ops/common/operand_view.h); check_args has checked b's length against x's `dim`.
// Without b, x itself stands in for it (has_bias = false tells the math to ignore it): the
// kernels then need no second variant, and the extra read of x hits the cache.
inline at::Tensor bias_along_dim(const at::Tensor& x, const std::optional<at::Tensor>& b, const Args& args) {
  if (!has_bias(b)) return x;
  c10::SmallVector<int64_t, 5> strides(x.dim(), 0);
  strides[args.dim] = b->stride(0);
  return operand_view(*b, x.sizes(), strides, b->storage_offset());
}

// The entry bodies of bias_act and bias_act_backward for every backend: checks, then the device
// guard, the output (x's layout), the iterator and the backend's loop.
template <typename DeviceGuard, ForwardKernel* kernel>
at::Tensor forward_entry(const at::Tensor& x, const std::optional<at::Tensor>& b, int64_t dim,
                         c10::string_view act, std::optional<double> alpha, std::optional<double> gain,
                         std::optional<double> clamp) {
  const Args args = check_args("myops.bias_act", x, b, dim, act, alpha, gain, clamp);
  const DeviceGuard guard(x.device());
  at::Tensor y = empty_output(x);
  const at::Tensor bias = bias_along_dim(x, b, args);
  auto iter = same_dtype_iter({y}, {x, bias});
  kernel(iter, args, has_bias(b));
  return y;
}

template <typename DeviceGuard, BackwardKernel* kernel>
at::Tensor backward_entry(const at::Tensor& grad, const at::Tensor& x, const std::optional<at::Tensor>& b,
                          int64_t dim, c10::string_view act, std::optional<double> alpha,
                          std::optional<double> gain, std::optional<double> clamp, int64_t order) {
  const char* op = "myops.bias_act_backward";
  const Args args = check_args(op, x, b, dim, act, alpha, gain, clamp);
  check_backward_args(op, grad, x, order);
  const DeviceGuard guard(x.device());
  at::Tensor grad_x = empty_output(x);
  const at::Tensor bias = bias_along_dim(x, b, args);
  auto iter = same_dtype_iter({grad_x}, {grad, x, bias});
  kernel(iter, args, has_bias(b), static_cast<int>(order));
  return grad_x;
}

// The family's kernel table for one backend: the list of op names lives here once.
template <typename DeviceGuard, ForwardKernel* forward, BackwardKernel* backward>
void register_backend(torch::Library& m) {
  m.impl("bias_act", &forward_entry<DeviceGuard, forward>);
  m.impl("bias_act_backward", &backward_entry<DeviceGuard, backward>);
}

}  // namespace myops::ops::bias_act
