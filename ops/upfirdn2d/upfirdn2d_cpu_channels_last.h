// channels_last inputs on the upfirdn2d CPU row and flat paths (planes past the plane path's
// 32 x 32) and on filtered_lrelu's row path. Those paths read and write a plane's rows, and in
// channels_last a row's pixels are C values apart, so each pixel loaded or stored is a cache
// line of its own, touched again for every channel (perf: the strided row loads and stores
// took ~95% of the time; a [4, 256, 64, 64] blur took 46 ms in channels_last against 3.2 ms
// contiguous). Here the input is transposed once to planes ([N, C, H*W], in blocks: every cache
// line read and written whole), the planar kernel runs, and its output is transposed back into
// `out`. The same sums: the same bits as a contiguous input. Costs a planar copy of x and of
// the output. Included only from *_cpu_kernel.cpp files (compiled once per ISA).
#pragma once

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/cpu/vec/vec.h>
#include <ATen/ops/empty.h>

#include <algorithm>
#include <type_traits>

#include "ops/upfirdn2d/upfirdn2d_cpu_planes.h"

namespace myops::ops::upfirdn2d {
namespace CPU_CAPABILITY {
namespace {

// Whether x and out are channels_last with more than one channel and more than one pixel (where
// channels_last and contiguous differ), so that the kernel runs through planar copies.
inline bool runs_through_planes(const at::Tensor& x, const at::Tensor& out) {
  return x.dim() == 4 && x.is_contiguous(at::MemoryFormat::ChannelsLast) && !x.is_contiguous() &&
         out.is_contiguous(at::MemoryFormat::ChannelsLast) && !out.is_contiguous();
}

// An L x L block of floats (L = a float vector's lanes) transposed in registers: row i of the
// block at s + i * s_stride becomes column i of the block at d (rows d_stride apart).
inline void transpose_float_block(const float* s, int64_t s_stride, float* d, int64_t d_stride) {
  using Vec = at::vec::Vectorized<float>;
  constexpr int L = Vec::size();
  Vec v[L];
  for (int i = 0; i < L; ++i) v[i] = Vec::loadu(s + i * s_stride);
  transpose_block(v);  // (upfirdn2d_cpu_planes.h)
  for (int i = 0; i < L; ++i) v[i].store(d + i * d_stride);
}

// dst[n][c][p] = src[n][p][c] (to_planes) or dst[n][p][c] = src[n][c][p] (back), for N images
// of P pixels and C channels, in blocks of B pixels x B channels (each a few cache lines read
// and written whole), in parallel over blocks. float: whole blocks transposed in registers
// (the scalar loop moved ~3 GB/s).
template <typename T>
void transpose_images(const T* src, T* dst, int64_t N, int64_t P, int64_t C, bool to_planes) {
  constexpr int64_t B = std::is_same_v<T, float> ? at::vec::Vectorized<float>::size() : 16;
  const int64_t pb = (P + B - 1) / B, cb = (C + B - 1) / B;
  // (rows: pixels when going to planes, channels when going back)
  const int64_t s_stride = to_planes ? C : P, d_stride = to_planes ? P : C;
  at::parallel_for(0, N * pb * cb, std::max<int64_t>(1, 32768 / (B * B)), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t n = i / (pb * cb), p0 = i / cb % pb * B, c0 = i % cb * B;
      const int64_t p1 = std::min(p0 + B, P), c1 = std::min(c0 + B, C);
      const T* s = src + n * P * C + (to_planes ? p0 * C + c0 : c0 * P + p0);
      T* d = dst + n * P * C + (to_planes ? c0 * P + p0 : p0 * C + c0);
      const int64_t rows = to_planes ? p1 - p0 : c1 - c0, cols = to_planes ? c1 - c0 : p1 - p0;
      if constexpr (std::is_same_v<T, float>) {
        if (rows == B && cols == B) {
          transpose_float_block(s, s_stride, d, d_stride);
          continue;
        }
      }
      for (int64_t k = 0; k < cols; ++k) {  // (stores in order: measured 2x loads in order)
        for (int64_t r = 0; r < rows; ++r) d[k * d_stride + r] = s[r * s_stride + k];
      }
    }
  });
}

// A planar (contiguous NCHW) copy of a channels_last tensor.
template <typename scalar_t>
at::Tensor planar_copy(const at::Tensor& t) {
  at::Tensor planes = at::empty(t.sizes(), t.options());
  transpose_images(t.const_data_ptr<scalar_t>(), planes.data_ptr<scalar_t>(), t.size(0), t.size(2) * t.size(3),
                   t.size(1), true);
  return planes;
}

// out (channels_last) = planes (contiguous, out's sizes).
template <typename scalar_t>
void store_planes(const at::Tensor& planes, const at::Tensor& out) {
  transpose_images(planes.const_data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), out.size(0), out.size(2) * out.size(3),
                   out.size(1), false);
}

// The kernel on planar copies: planar_kernel(out_planes, planar copies of inputs...) writes
// out_planes (contiguous, out's sizes), which then goes into out. For channels_last inputs and
// out (runs_through_planes).
template <typename scalar_t, typename PlanarKernel, typename... Inputs>
void run_through_planes(const at::Tensor& out, const PlanarKernel& planar_kernel, const Inputs&... inputs) {
  const at::Tensor out_planes = at::empty(out.sizes(), out.options());
  planar_kernel(out_planes, planar_copy<scalar_t>(inputs)...);
  store_planes<scalar_t>(out_planes, out);
}

}  // namespace
}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::upfirdn2d
