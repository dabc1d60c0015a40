// Argument checks every op uses. Messages start with the op's Python name ("myops.mul") and
// name the argument, so a user sees which call and which tensor is wrong.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

namespace myops {

// float32, float64, float16, bfloat16: what every myops kernel is instantiated for.
inline bool is_supported_float(at::ScalarType t) {
  return t == at::kFloat || t == at::kDouble || t == at::kHalf || t == at::kBFloat16;
}

// TypeError (as PyTorch raises for an unsupported dtype) unless `t` has a supported float dtype.
inline void check_float_dtype(const char* op, const char* arg, const at::Tensor& t) {
  TORCH_CHECK_TYPE(is_supported_float(t.scalar_type()), op, ": ", arg,
                   " must be a floating-point tensor (float32, float64, float16 or bfloat16), got ",
                   t.scalar_type());
}

// A CPU 0-dim tensor may be combined with a tensor on any device, as in PyTorch's binary ops.
inline bool is_cpu_scalar(const at::Tensor& t) { return t.dim() == 0 && t.device().is_cpu(); }

// Checks that a and b can be used together and returns the device the op runs on: b's when a
// is a CPU 0-dim scalar, a's otherwise. RuntimeError naming both arguments when two tensors
// are on different devices. Entry points build their device guard from this result, after
// the check (ops/common/entry.h).
inline c10::Device check_same_device(const char* op, const char* arg_a, const at::Tensor& a,
                                     const char* arg_b, const at::Tensor& b) {
  if (is_cpu_scalar(a)) return b.device();
  if (is_cpu_scalar(b)) return a.device();
  TORCH_CHECK(a.device() == b.device(), op, ": expected all tensors on the same device, got ",
              arg_a, " on ", a.device(), " and ", arg_b, " on ", b.device());
  return a.device();
}

}  // namespace myops
