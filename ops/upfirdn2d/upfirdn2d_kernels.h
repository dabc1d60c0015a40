// How the CPU and CUDA backends run upfirdn2d: the entry body (ops/common/entry.h) and the
// kernel each backend implements (CPU: upfirdn2d_cpu_kernel.cpp, once per ISA, its loops in one
// file per dtype; CUDA: upfirdn2d_cuda.cu).
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

// The entry body of every backend, for both ops (`form`: upfirdn2d, or upfirdn2d_stacked, whose
// checks, output and filters are stacked and whose whole stack goes to the kernel, so that what
// a per-sample call would pay again each time is paid once): checks, then the device guard, the
// output, the filter in correlation order, and the backend's kernel.
template <const Form& form, typename DeviceGuard, Kernel* kernel>
at::Tensor entry_body(const at::Tensor& x, const std::optional<at::Tensor>& f, c10::IntArrayRef up,
                      c10::IntArrayRef down, c10::IntArrayRef padding, bool flip_filter, double gain) {
  const Args a = check_args(form, x, f, up, down, padding, flip_filter, gain);
  const DeviceGuard guard(x.device());
  at::Tensor out = empty_output(form, x, a);
  if (out.numel() == 0) return out;
  kernel(x, correlation_filter(x, f, a, form), a, out);
  return out;
}

// upfirdn2d_stacked's schema takes `Tensor f` (not optional).
template <typename DeviceGuard, Kernel* kernel>
at::Tensor upfirdn2d_stacked_entry(const at::Tensor& x, const at::Tensor& f, c10::IntArrayRef up,
                                   c10::IntArrayRef down, c10::IntArrayRef padding, bool flip_filter,
                                   double gain) {
  return entry_body<kStacked, DeviceGuard, kernel>(x, f, up, down, padding, flip_filter, gain);
}

// The family's kernel table for one backend.
template <typename DeviceGuard, Kernel* kernel>
void register_backend(torch::Library& m) {
  m.impl("upfirdn2d", &entry_body<kSingle, DeviceGuard, kernel>);
  m.impl("upfirdn2d_stacked", &upfirdn2d_stacked_entry<DeviceGuard, kernel>);
}

}  // namespace myops::ops::upfirdn2d
