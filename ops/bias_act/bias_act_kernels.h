// How the CPU and CUDA backends run bias_act: one TensorIterator over x (and grad), with b
// viewed along `dim`, and the kernel entry points each backend implements.
#pragma once

#include <ATen/TensorIterator.h>

#include "ops/bias_act/bias_act.h"

namespace myops::bias_act {

// Computes iter's output (y) from its inputs (x, bias) with the math in bias_act_math.h.
using ForwardKernel = void(at::TensorIteratorBase& iter, const Args& args, bool has_bias);
// Computes iter's output (grad_x) from its inputs (grad, x, bias); order 1, 2 or 3.
using BackwardKernel = void(at::TensorIteratorBase& iter, const Args& args, bool has_bias, int order);

// b as a tensor of x's shape: its own stride along `dim`, 0 elsewhere, so TensorIterator
// broadcasts it with no copy and coalesces it with x (NCHW: a scalar per inner row, which the
// vector loops handle; NHWC: contiguous along the inner dimension).
// Without b, x itself stands in for it (has_bias = false tells the math to ignore it): the
// kernels then need no second variant, and the extra read of x hits the cache.
inline at::Tensor bias_along_dim(const at::Tensor& x, const std::optional<at::Tensor>& b, const Args& args) {
  if (!b.has_value() || !b->defined()) return x;
  std::vector<int64_t> strides(x.dim(), 0);
  strides[args.dim] = b->stride(0);
  return b->as_strided(x.sizes(), strides, b->storage_offset());
}

inline bool has_bias(const std::optional<at::Tensor>& b) { return b.has_value() && b->defined(); }

// out = f(inputs...), all of x's dtype; out is freshly allocated (empty_output), so no overlap.
inline at::TensorIterator make_iter(const at::Tensor& out, std::initializer_list<at::Tensor> inputs) {
  at::TensorIteratorConfig config;
  config.set_check_mem_overlap(false).check_all_same_dtype(true).add_output(out);
  for (const at::Tensor& input : inputs) config.add_const_input(input);
  return config.build();
}

}  // namespace myops::bias_act
