// How the CPU and CUDA backends run filtered_lrelu and filtered_lrelu_backward: the entry
// bodies (ops/common/entry.h) and the kernels each backend plugs in.
//
// The composition (the CUDA kernels) is StyleGAN3's reference path on the library's own
// registered ops, called through the typed C++ API (each step runs on the input's backend with
// its own loop); the steps' geometry is in filtered_lrelu_math.h:
//   forward:  y  = D(act(U(x + b)))
//             U  = upfirdn2d(fu, up, padding, gain up^2), act = bias_act lrelu (slope, gain,
//             clamp), D = upfirdn2d(fd, down)
//   backward: dx = U^T(act'(m) * D^T(dy)), m = U(x + b) recomputed; U^T and D^T are upfirdn2d
//             transposed (up and down swapped, padding transformed, flip inverted, same gain),
//             act' = bias_act_backward (zero where clamped).
// For float16/bfloat16 the composition runs in float32 (in_opmath). The CPU backend runs the
// fused kernel instead (FusedForward/FusedBackward below, filtered_lrelu_cpu_kernel.cpp: no
// upsampled intermediate, the same values); the composition also serves the tests as an
// independent path (tests/test_filtered_lrelu.py composes the ops from Python), and the vmap
// rule for per-sample filters, with a stack's ops as the steps (filtered_lrelu_batching.cpp).
#pragma once

#include <ATen/OpMathType.h>
#include <ATen/core/Tensor.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/library.h>

#include "myops/bias_act.h"
#include "myops/upfirdn2d.h"
#include "ops/filtered_lrelu/filtered_lrelu.h"
#include "ops/filtered_lrelu/filtered_lrelu_math.h"

namespace myops::ops::filtered_lrelu {

using OptTensor = std::optional<at::Tensor>;

// y for the checked arguments (any strides; the entry gives it the output's memory format).
using ForwardKernel = at::Tensor(const at::Tensor& x, const OptTensor& fu, const OptTensor& fd,
                                 const OptTensor& b, const Args& a);
// dL/dx for dL/dy = grad.
using BackwardKernel = at::Tensor(const at::Tensor& grad, const at::Tensor& x, const OptTensor& fu,
                                  const OptTensor& fd, const OptTensor& b, const Args& a);

// ------------------------------------------------------------ the composition of registered ops

// The registered ops the composition is made of, for the op's own tensors: x [N, C, H, W], b
// [C] and one filter each for the whole tensor.
struct PlainSteps {
  // x + b per channel: bias_act's linear activation, one rounding, as the fused kernel adds it.
  at::Tensor add_bias(const at::Tensor& x, const OptTensor& b) const {
    return b.has_value() && b->defined() ? myops::bias_act(x, b) : x;
  }
  at::Tensor resample(const at::Tensor& x, const OptTensor& f, int64_t up_x, int64_t up_y, int64_t down_x,
                      int64_t down_y, c10::IntArrayRef padding, bool flip_filter, double gain) const {
    return myops::upfirdn2d(x, f, {up_x, up_y}, {down_x, down_y}, padding, flip_filter, gain);
  }
};

// m = U(x + b): the upsampled, padded, fu-filtered input, before the activation.
template <typename Steps = PlainSteps>
at::Tensor composed_upsample(const at::Tensor& x, const OptTensor& fu, const OptTensor& b, const Args& a,
                             const Steps& steps = {}) {
  return steps.resample(steps.add_bias(x, b), fu, a.up, a.up, 1, 1, {a.pad_x0, a.pad_x1, a.pad_y0, a.pad_y1},
                        a.flip_filter, double(a.up * a.up));
}

// The composition runs in x's op-math type (float32 for float16/bfloat16): the intermediates
// are not rounded to a half type, only the result is (by the entry), as a fused kernel would.
inline OptTensor in_opmath(const OptTensor& t, at::ScalarType opmath) {
  return t.has_value() && t->defined() ? OptTensor(t->to(opmath)) : std::nullopt;
}

// The steps along y (height) and x (width) for x's size `in` and the output's size `out`.
inline math::AxisSteps steps_y(const Args& a, int64_t in, int64_t out) {
  return math::axis_steps(in, out, a.up, a.down, a.pad_y0, a.pad_y1, a.fu.h, a.fd.h);
}
inline math::AxisSteps steps_x(const Args& a, int64_t in, int64_t out) {
  return math::axis_steps(in, out, a.up, a.down, a.pad_x0, a.pad_x1, a.fu.w, a.fd.w);
}

// y in op-math (the caller rounds it to x's dtype), with `steps`' ops. Height and width are x's
// last two dims.
template <typename Steps>
at::Tensor compose_forward(const Steps& steps, const at::Tensor& x, const OptTensor& fu, const OptTensor& fd,
                           const OptTensor& b, const Args& a) {
  const auto opmath = at::toOpMathType(x.scalar_type());
  const at::Tensor act =
      myops::bias_act(composed_upsample(x.to(opmath), in_opmath(fu, opmath), in_opmath(b, opmath), a, steps),
                      std::nullopt, 1, "lrelu", a.slope, a.gain, a.clamp);
  return steps.resample(act, in_opmath(fd, opmath), 1, 1, a.down, a.down, {0, 0, 0, 0}, a.flip_filter, 1.0);
}

// dL/dx in op-math for dL/dy = grad_in, with `steps`' ops.
template <typename Steps>
at::Tensor compose_backward(const Steps& steps, const at::Tensor& grad_in, const at::Tensor& x,
                            const OptTensor& fu_in, const OptTensor& fd_in, const OptTensor& b, const Args& a) {
  const auto opmath = at::toOpMathType(x.scalar_type());
  const at::Tensor grad = grad_in.to(opmath);
  const OptTensor fu = in_opmath(fu_in, opmath), fd = in_opmath(fd_in, opmath);
  const at::Tensor m = composed_upsample(x.to(opmath), fu, in_opmath(b, opmath), a, steps);
  const math::AxisSteps sy = steps_y(a, x.size(-2), grad.size(-2)), sx = steps_x(a, x.size(-1), grad.size(-1));
  const at::Tensor dm = steps.resample(grad, fd, sx.dt.up, sy.dt.up, 1, 1,
                                       {sx.dt.pad0, sx.dt.pad1, sy.dt.pad0, sy.dt.pad1}, !a.flip_filter, 1.0);
  const at::Tensor dpre = myops::bias_act_backward(dm, m, std::nullopt, 1, "lrelu", a.slope, a.gain, a.clamp, 1);
  return steps.resample(dpre, fu, 1, 1, sx.ut.down, sy.ut.down, {sx.ut.pad0, sx.ut.pad1, sy.ut.pad0, sy.ut.pad1},
                        !a.flip_filter, double(a.up * a.up));
}

// The CUDA backend's kernels: the composition of the op's own tensors.
inline at::Tensor composed_forward(const at::Tensor& x, const OptTensor& fu, const OptTensor& fd, const OptTensor& b,
                                   const Args& a) {
  return compose_forward(PlainSteps{}, x, fu, fd, b, a);
}
inline at::Tensor composed_backward(const at::Tensor& grad, const at::Tensor& x, const OptTensor& fu,
                                    const OptTensor& fd, const OptTensor& b, const Args& a) {
  return compose_backward(PlainSteps{}, grad, x, fu, fd, b, a);
}

// -------------------------------------------------------------------- the fused CPU kernel

// A filter as the fused kernel reads it: upfirdn2d's correlation_filter (correlation order,
// op-math dtype, contiguous). A 2-D filter is scaled by the step's gain; a 1-D one is not, and
// its vertical taps get the whole gain (`vertical_gain`): split as sqrt(gain) per pass, the
// horizontal pass overflowed for inputs near the float maximum where the true result (and the
// reference's single 2-D product) is finite (fuzz: x = 1.7e38, up 4: -inf for -6.1e36). For a
// power-of-two up the two splits give the same bits otherwise (power-of-two scaling is exact).
// None is a 1-tap 1-D filter. The transposed steps (D^T, U^T) read the same coefficients
// reversed.
struct FusedFilter {
  at::Tensor coef;  // [w] (separable) or [h, w]
  bool separable;
  int64_t w, h;
  double vertical_gain = 1.0;  // separable: the factor of the vertical taps
};

// out (allocated, non-empty, any strides) = filtered_lrelu(x); fu/fd with gains up^2 and 1.
using FusedForward = void(const at::Tensor& x, const FusedFilter& fu, const FusedFilter& fd, const OptTensor& b,
                          const Args& a, const at::Tensor& out);
// dx (allocated, non-empty, any strides) = filtered_lrelu_backward(grad, x).
using FusedBackward = void(const at::Tensor& grad, const at::Tensor& x, const FusedFilter& fu, const FusedFilter& fd,
                           const OptTensor& b, const Args& a, const at::Tensor& dx);

// ------------------------------------------------------------------------------ entry bodies

// `result` when it already has `out`'s dtype and strides (the usual case for float32/float64:
// every step keeps x's memory format), else `out` (allocated, unused so far) filled with it.
inline at::Tensor in_layout_of(const at::Tensor& out, const at::Tensor& result) {
  const bool same = result.scalar_type() == out.scalar_type() && result.strides() == out.strides();
  return same ? result : at::Tensor(out).copy_(result);
}

// The entry bodies of every backend: checks, then the device guard from the checked device,
// then the backend's kernel, its result in the output's memory format (what the Meta kernel
// describes: x's suggested one).
template <typename DeviceGuard, ForwardKernel* kernel>
at::Tensor forward_entry(const at::Tensor& x, const OptTensor& fu, const OptTensor& fd, const OptTensor& b,
                         int64_t up, int64_t down, c10::IntArrayRef padding, double gain, double slope,
                         std::optional<double> clamp, bool flip_filter) {
  const Args a = check_args(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter);
  const DeviceGuard guard(x.device());
  const at::Tensor out = empty_output(x, a);
  return out.numel() == 0 ? out : in_layout_of(out, kernel(x, fu, fd, b, a));
}

template <typename DeviceGuard, BackwardKernel* kernel>
at::Tensor backward_entry(const at::Tensor& grad, const at::Tensor& x, const OptTensor& fu, const OptTensor& fd,
                          const OptTensor& b, int64_t up, int64_t down, c10::IntArrayRef padding, double gain,
                          double slope, std::optional<double> clamp, bool flip_filter) {
  const Args a = check_args(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter);
  check_backward_args(grad, x, a);
  const DeviceGuard guard(x.device());
  const at::Tensor dx = empty_grad_input(x);
  return dx.numel() == 0 ? dx : in_layout_of(dx, kernel(grad, x, fu, fd, b, a));
}

// The family's kernel table for one backend: the list of op names lives here once.
template <typename DeviceGuard, ForwardKernel* forward, BackwardKernel* backward>
void register_backend(torch::Library& m) {
  m.impl("filtered_lrelu", &forward_entry<DeviceGuard, forward>);
  m.impl("filtered_lrelu_backward", &backward_entry<DeviceGuard, backward>);
}

}  // namespace myops::ops::filtered_lrelu
