// How the CPU and CUDA backends run upfirdn2d: the entry body (ops/common/entry.h) and the
// kernel each backend implements (CPU: upfirdn2d_cpu_kernel.cpp, once per ISA; CUDA:
// upfirdn2d_cuda.cu).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/library.h>

#include "ops/upfirdn2d/upfirdn2d.h"

namespace myops::ops::upfirdn2d {

// out (allocated, non-empty, any strides) = upfirdn2d(x) for x of any strides. `coef` is
// correlation_filter(): op-math dtype, contiguous, [taps] (separable) or [fh, fw]. Or a stack
// (upfirdn2d_stacked): x and out [S, N, C, H, W], coef [S, ...], out[s] = upfirdn2d(x[s]) with
// coef[s]; a backend with no stack path of its own runs each entry (run_each_entry).
using Kernel = void(const at::Tensor& x, const at::Tensor& coef, const Args& a, const at::Tensor& out);

// A kernel's stack, one entry at a time (views: out[s] written in place).
inline void run_each_entry(Kernel* kernel, const at::Tensor& x, const at::Tensor& coef, const Args& a,
                           const at::Tensor& out) {
  for (int64_t s = 0; s < x.size(0); ++s) kernel(x.select(0, s), coef.select(0, s), a, out.select(0, s));
}

// The entry body of every backend: checks, then the device guard, the output, the filter in
// correlation order, and the backend's kernel.
template <typename DeviceGuard, Kernel* kernel>
at::Tensor upfirdn2d_entry(const at::Tensor& x, const std::optional<at::Tensor>& f, c10::IntArrayRef up,
                           c10::IntArrayRef down, c10::IntArrayRef padding, bool flip_filter, double gain) {
  const Args a = check_args(x, f, up, down, padding, flip_filter, gain);
  const DeviceGuard guard(x.device());
  at::Tensor out = empty_output(x, a);
  if (out.numel() == 0) return out;
  kernel(x, correlation_filter(x, f, a), a, out);
  return out;
}

// upfirdn2d_stacked: the same body with the checks, output and filters stacked, then the
// backend's kernel on the whole stack: out[s] = upfirdn2d(x[s], f[s]). What a per-sample call
// would pay again each time (the dispatcher, autograd, checks, allocations) is paid once.
template <typename DeviceGuard, Kernel* kernel>
at::Tensor upfirdn2d_stacked_entry(const at::Tensor& x, const at::Tensor& f, c10::IntArrayRef up,
                                   c10::IntArrayRef down, c10::IntArrayRef padding, bool flip_filter,
                                   double gain) {
  const Args a = check_args(kStacked, x, f, up, down, padding, flip_filter, gain);
  const DeviceGuard guard(x.device());
  at::Tensor out = empty_output(kStacked, x, a);
  if (out.numel() == 0) return out;
  kernel(x, correlation_filter(x, f, a, kStacked), a, out);
  return out;
}

// The family's kernel table for one backend.
template <typename DeviceGuard, Kernel* kernel>
void register_backend(torch::Library& m) {
  m.impl("upfirdn2d", &upfirdn2d_entry<DeviceGuard, kernel>);
  m.impl("upfirdn2d_stacked", &upfirdn2d_stacked_entry<DeviceGuard, kernel>);
}

}  // namespace myops::ops::upfirdn2d
