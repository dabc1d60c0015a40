// The index math of upfirdn2d, written once for the CPU and CUDA kernels.
//
// Along one axis, output o looks at the upsampled (zeros inserted), padded signal at positions
// u = o*down - pad0 + k for the filter taps k in [0, taps) (correlation order). Only positions
// that are multiples of `up` and land inside the input carry data. Rather than testing every
// tap, axis_taps() finds the ones that do: k = k0 + t*up reads input i0 + t, t in
// [t_begin, t_end). Looping over exactly those taps skips the inserted zeros and the padding
// (so an inf in the input never meets a zero weight and turns into NaN).
// The unnamed namespace gives each translation unit its own copy: the CPU kernel file is
// compiled once per ISA (DEFAULT, AVX2, AVX512), and one shared (COMDAT) copy compiled with
// -mavx512f could otherwise be picked by the linker for the DEFAULT kernels too.
#pragma once

#include <c10/macros/Macros.h>
#include <cstdint>

namespace myops::ops::upfirdn2d::math {
namespace {

// Floor division for b > 0 (C++ '/' truncates towards zero; padding makes a negative).
C10_HOST_DEVICE inline int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

C10_HOST_DEVICE inline int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

struct AxisTaps {
  int64_t k0;       // first tap (in [0, up)) that falls on a multiple of `up`
  int64_t i0;       // the input index tap k0 reads (may lie outside [0, in))
  int64_t t_begin;  // taps t in [t_begin, t_end) read inputs inside [0, in)
  int64_t t_end;
};

C10_HOST_DEVICE inline AxisTaps axis_taps(int64_t o, int64_t up, int64_t down, int64_t pad0,
                                          int64_t taps, int64_t in) {
  const int64_t u0 = o * down - pad0;      // where tap 0 lands
  const int64_t i0 = ceil_div(u0, up);     // first input pixel at or after it
  const int64_t k0 = i0 * up - u0;         // the tap that reaches it
  const int64_t n = k0 < taps ? (taps - k0 + up - 1) / up : 0;  // taps k0, k0+up, ... < taps
  const int64_t t_begin = i0 < 0 ? -i0 : 0;
  int64_t t_end = in - i0 < n ? in - i0 : n;
  if (t_end < t_begin) t_end = t_begin;
  return {k0, i0, t_begin, t_end};
}

// The most taps any output can use along an axis: ceil(taps / up).
C10_HOST_DEVICE inline int64_t max_taps(int64_t taps, int64_t up) { return (taps + up - 1) / up; }

}  // namespace
}  // namespace myops::ops::upfirdn2d::math
