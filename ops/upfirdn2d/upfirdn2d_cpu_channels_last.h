// channels_last inputs on the upfirdn2d CPU row and flat paths (planes past the plane path's
// 32 x 32) and on filtered_lrelu's row path. Those paths read and write a plane's rows, and in
// channels_last a row's pixels are C values apart, so each pixel loaded or stored is a cache
// line of its own, touched again for every channel (perf: the strided row loads and stores
// took ~95% of the time; a [4, 256, 64, 64] blur took 46 ms in channels_last against 3.2 ms
// contiguous). Here the input is transposed once to planes ([N, C, H*W], in blocks: every cache
// line read and written whole), the planar kernel runs, and its output is transposed back into
// `out`. The same sums: the same bits as a contiguous input. Costs a planar copy of x and of
// the output. upfirdn2d mostly needs neither: it runs in place (run_in_channels_last, at the
// end), and with few channels on the strided rows (strided_rows_max_channels: up to 4, on
// AVX-512 up to 6 float32 / 7 float16 or bfloat16 channels; float32 outputs of the channel counts
// the ISA interleaves are stored a whole pixel at a time, stores_interleaved_channels, AVX-512's
// 7 included); the copies remain for the channel counts between those and half a vector's lanes
// (AVX2 float16/bfloat16 5-7, which it cannot mask: calls whose up or down differs between the
// axes), and where a separable step's scratch would not fit. Blurs of up to one and a half
// vectors' worth of channels (2-D filters: up to five, AVX2 float32 fewer than two, not AVX-512
// bfloat16 multiples of 32), ups of 3 channels up to half a vector's and one (and AVX2
// float16/bfloat16's 6-7), and downs (the same on both axes) of 3 channels (AVX2: 2) up to fewer
// than a vector's, take none of these: they run along whole rows of pixels and channels
// (upfirdn2d_cpu_pixel_rows.h). filtered_lrelu's
// row path takes the strided rows up to 7 channels (filtered_lrelu_cpu_kernel.cpp). Included
// only from *_cpu_kernel.cpp files (compiled once per ISA).
#pragma once

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/cpu/vec/vec.h>
#include <ATen/ops/empty.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "ops/common/aligned_vector.h"
#include "ops/common/cpu_interleaved_rows.h"
#include "ops/common/cpu_strided_lanes.h"
#include "ops/upfirdn2d/upfirdn2d.h"
#include "ops/upfirdn2d/upfirdn2d_cpu_planes.h"
#include "ops/upfirdn2d/upfirdn2d_cpu_rows.h"
#include "ops/upfirdn2d/upfirdn2d_math.h"

namespace myops::ops::upfirdn2d {
namespace CPU_CAPABILITY {
namespace {

// Whether x and out are channels_last with more than one channel and more than one pixel (where
// channels_last and contiguous differ), so that the kernel runs through planar copies.
inline bool runs_through_planes(const at::Tensor& x, const at::Tensor& out) {
  return x.dim() == 4 && x.is_contiguous(at::MemoryFormat::ChannelsLast) && !x.is_contiguous() &&
         out.is_contiguous(at::MemoryFormat::ChannelsLast) && !out.is_contiguous();
}

// channels_last with at most this many channels runs upfirdn2d's row and flat paths on the
// strided rows themselves: neither in place (masks_channels) nor through the planar copies
// (upfirdn2d_uses_planar_copies). Up to 4 channels a row's pixels share their cache lines (4
// float pixels a line at 4 channels), which the row path reads again for the next channel from
// cache, while the copies' transposes (of partial blocks, a value at a time), buffers and extra
// passes, or masked vectors with 4 of 8 or 16 lanes used, cost more. Measured (A/B, one thread,
// [4, C, 128, 128], up 2 / down 2 / 4x4 blur / separable blur, time over NCHW's): C = 3, copies
// -> strided rows: float32 AVX-512 3.65 -> 2.36, 2.58 -> 1.72, 3.30 -> 2.12, 3.57 -> 2.02, AVX2
// 3.25 -> 2.14, 2.53 -> 1.59, 2.80 -> 1.97, 2.86 -> 1.65; bfloat16 AVX-512 2.91 -> 3.35 (the
// up: slower), 2.81 -> 1.98, 3.00 -> 2.69, 3.02 -> 2.73, AVX2 2.82 -> 2.71, 2.97 -> 1.81, 2.80 ->
// 2.19, 3.32 -> 2.15. C = 4, AVX2 float32, masked -> strided rows: 2.73 -> 2.15, 1.14 -> 1.52,
// 2.38 -> 1.78, 3.93 -> 1.78. From 5 channels the ups went either way against the copies
// (float32 AVX-512 C = 7: 2.72 -> 3.70), and at 8 of 16 lanes masked was faster (float32
// AVX-512: 2.52 / 0.95 / 2.42 / 2.65 against 4.49 / 1.86 / 2.51 / 2.83 strided).
// (These measurements moved the strided rows a value at a time.)
constexpr int64_t kStridedRowsMaxChannels = 4;

// ... and more channels where the ISA moves those rows a vector at a time (has_strided_lanes:
// cpu_strided_lanes.h), pixels of up to 24 bytes and kMaxLaneStride channels: AVX-512 float32 6,
// float16/bfloat16 7 (from 8 they are masked in place). Measured (A/B, AVX-512, one thread,
// [4, C, 128, 128], up 2 / down 2 / 4x4 blur / separable blur, time over NCHW's, copies ->
// strided rows): bfloat16 C = 5-7 2.5-3.3 -> 1.3-1.9, float16 2.6-3.4 -> 1.4-1.8; float32 C = 5
// 3.2 / 3.1 / 3.4 / 3.4 -> 2.7 / 1.8 / 2.2 / 2.3, C = 6 3.0 / 3.0 / 3.1 / 3.2 -> 3.1 / 2.1 /
// 2.3 / 2.6, but C = 7 2.9 / 2.8 / 3.0 / 3.1 -> 3.7-4.0 / 2.1 / 2.8-3.1 / 2.7-3.1 (the up slower).
template <typename scalar_t>
constexpr int64_t strided_rows_max_channels() {
  using acc_t = at::opmath_type<scalar_t>;
  if constexpr (has_strided_lanes<acc_t, scalar_t>()) {
    constexpr int64_t fitting = std::min<int64_t>(kMaxLaneStride, 24 / static_cast<int64_t>(sizeof(scalar_t)));
    return std::max(kStridedRowsMaxChannels, fitting);
  }
  return kStridedRowsMaxChannels;
}

// Whether upfirdn2d's row and flat paths take the planar copies for channels_last x and out
// (runs_through_planes): past strided_rows_max_channels (those not run in place).
template <typename scalar_t>
bool upfirdn2d_uses_planar_copies(const at::Tensor& x, const at::Tensor& out) {
  return runs_through_planes(x, out) && x.size(1) > strided_rows_max_channels<scalar_t>();
}

// Whether the row path stores a channels_last output of a few channels a pixel at a time
// (store_interleaved_rows; each unit then computes all the channels of its tile): a pixel's
// channels contiguous, as many as the ISA interleaves (cpu_interleaved_rows.h). Those calls
// never take the planar copies: measured (AVX-512, one thread, float32 [4, C, 128, 128], up 2 /
// down 2 / 4x4 blur / separable blur), strided channel stores -> whole pixels: C = 2-6 ups
// 1.28-1.84x faster, the rest 1.05-1.35x; C = 7, planar copies -> whole pixels, 1.45-1.54x.
template <typename scalar_t>
bool stores_interleaved_channels(const at::Tensor& out) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t C = out.size(1);
  return has_interleaved_rows<acc_t, scalar_t>() && interleaves_channels(C) && out.dim() == 4 &&
         out.stride(1) == 1 && out.stride(3) == C;
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

// channels_last x and out: the plane path's step (upfirdn2d_cpu_planes.h) runs on the tensors
// themselves, a vector being L consecutive channels of a pixel (PixelLayout; L op-math lanes,
// the float lanes for float16/bfloat16): no copy, no transpose, any plane size. The same sums
// as every other path (the plane path's order), so the same bits. Channels that do not fill
// whole vectors: past L, the pixel's last block sits on its last L channels (in the same loop,
// `back` values before its place: it overlaps the block before, whose last channels get the
// same bits again); below L, one block with masked loads and stores of its first C lanes
// (cpu_partial_lanes.h) where at least half the lanes are used (masks_channels), and the
// planar copies or strided rows below that. Why: through the copies (which transpose a partial
// block a value at a time), float [4, 24, 128, 128] took 3.4x (up 2), 3.9x (down 2) and 1.9x
// (blur) the time in place (one thread, AVX-512); [4, 12, ...] masked 1.4x, 2.8x, 1.6x. (As a
// separate pass after the whole blocks, the overlapping block made [4, 20 or 24, 128, 128] up
// 1.6x slower: its pixels read and written again from L2, not L1.)
// Work goes by bands of output rows whose input rows fit in L2 (~512 KiB); each output pixel
// computes all its C / L blocks of channels in turn with the same taps (PixelLayout::blocks), so
// a tap's pixel is read as C contiguous values, whole cache lines in order. (Until 2026-12-06
// the blocks went one after another over a band: each block read one line of every pixel,
// 1 KiB apart at 256 channels, which the prefetchers did not follow; 1.5-2.3x slower, below
// oneDNN's channels_last depthwise convs in most StyleGAN2 cells.)
// Why: through planar copies (above) a channels_last blur of [4, 256, 64, 64] took 2.6x its
// contiguous time and 3.9x oneDNN's channels_last depthwise conv, and the plane path's copies
// into and out of its buffers made the small planes 1.4-1.7x slower than that conv. A
// separable filter's horizontally filtered rows need a scratch of (band input rows) x out_w
// pixels of the blocks a step computes: all C / L of them where that fits in kMaxScratch,
// else a divisor of them at a time (blocks_per_step); where not even one block fits, the
// planar copies are used instead.
constexpr int64_t kBandInputBytes = 512 << 10;
// ... and at most 8 output rows. Why: a band's plan (a PlaneStep: ~10 ns an output pixel) is
// shared by the bands of the same geometry (BandSteps), those away from the image's edges, and
// an image of a few channels has rows so short that a band of 512 KiB took nearly all its rows:
// every band an edge band, the whole image planned again on every call (perf: up 2 of
// [4, 8, 128, 128] spent a third of its time in Bands' constructor). Measured (A/B, one thread,
// AVX-512 float32 [4, C, 128, 128], time with no cap / with 8 rows): up 2 C = 8 1.78 / 1.22 ms,
// 12 2.17 / 1.51, 24 2.57 / 2.18, 40 4.7 / 4.2, 72 9.4 / 8.0; down 2 and the blurs level or
// 1-10% faster (C = 12-72); 16 rows was as good or 0-10% slower.
constexpr int64_t kBandMaxRows = 8;
constexpr int64_t kMaxScratch = int64_t{1} << 20;  // op-math values (4 MiB of float)

// The output rows of a band: its input rows (bh * down / up + fh of them) within
// kBandInputBytes, at most kBandMaxRows, at least one.
inline int64_t band_rows(const at::Tensor& x, const Args& a, int64_t out_h) {
  const int64_t row_bytes = x.size(3) * x.size(1) * x.element_size();
  const int64_t rows_in = std::max<int64_t>(kBandInputBytes / std::max<int64_t>(row_bytes, 1) - a.fh, 1);
  return std::clamp<int64_t>(std::min(rows_in * a.up_y / a.down_y, kBandMaxRows), 1, out_h);
}

// How many of a pixel's blocks of L channels (C / L rounded up) one step computes: all of them,
// or for a separable filter the most (a divisor of them) whose scratch fits kMaxScratch; 0 when
// not even one block's does.
inline int64_t blocks_per_step(const at::Tensor& x, const Args& a, const at::Tensor& out, int64_t L) {
  const int64_t blocks = (x.size(1) + L - 1) / L;
  if (a.kind != FilterKind::Separable) return blocks;
  const int64_t bh = band_rows(x, a, out.size(2));
  const int64_t band_in = std::min<int64_t>(x.size(2), ((bh - 1) * a.down_y + a.fh) / a.up_y + 2);
  for (int64_t d = blocks; d >= 1; --d) {
    if (blocks % d == 0 && band_in * out.size(3) * L * d <= kMaxScratch) return d;
  }
  return 0;
}

// Whether C channels fewer than L run in place, in the first C lanes of masked vectors: at least
// half the lanes and more than kStridedRowsMaxChannels, where the ISA has masked loads and
// stores of scalar_t (has_partial_lanes: AVX2 masks float32 only). Measured (float
// [4, C, 128, 128], one thread, time through the planar copies / in place; up 2, down 2, 4x4
// blur, separable blur, 6-tap separable down 2): AVX-512 C = 8: 1.18, 2.90, 1.19, 0.90, 1.36.
// With fewer lanes used the masked taps cost more than the copies' transposes (AVX-512 C = 4:
// 0.85, 1.74, 0.73, 0.61, 0.84; C = 2: 0.57, 1.11, 0.48, 0.40, 0.53), and at AVX2's C = 4 (half
// its lanes) more than the strided rows (strided_rows_max_channels).
template <typename scalar_t>
constexpr bool masks_channels(int64_t C) {
  using acc_t = at::opmath_type<scalar_t>;
  return has_partial_lanes<acc_t, scalar_t>() && 2 * C >= at::vec::Vectorized<acc_t>::size() &&
         C > strided_rows_max_channels<scalar_t>();
}

// (scalar_t: x's dtype) L channels or more, or fewer where masks_channels, if the step fits
// (blocks_per_step).
template <typename scalar_t>
bool runs_in_channels_last(const at::Tensor& x, const Args& a, const at::Tensor& out) {
  using acc_t = at::opmath_type<scalar_t>;
  constexpr int64_t L = at::vec::Vectorized<acc_t>::size();
  if (x.dim() != 4 || x.scalar_type() != c10::CppTypeToScalarType<scalar_t>::value ||
      (x.size(1) < L && !masks_channels<scalar_t>(x.size(1))) || !x.is_contiguous(at::MemoryFormat::ChannelsLast) ||
      !out.is_contiguous(at::MemoryFormat::ChannelsLast)) {
    return false;
  }
  return blocks_per_step(x, a, out, L) > 0;
}

// The bands of a call: bh output rows each (the last fewer) and the first input row `lo` each
// reads; their steps (BandSteps: the bands away from the image's edges share one plan) read
// input rows relative to lo and write output rows relative to the band's first.
template <typename acc_t>
struct Bands {
  int64_t bh = 1, count = 0;
  std::vector<int64_t> lo;
  BandSteps<acc_t> steps;
  int64_t grain = 1;  // of at::parallel_for over units of one band and `per_unit` blocks

  Bands(const at::Tensor& x, const at::Tensor& coef_t, const Args& a, int64_t out_h, int64_t out_w,
        PixelLayout strides, int64_t per_unit)
      : bh(band_rows(x, a, out_h)), count((out_h + bh - 1) / bh), lo(count) {
    const int64_t in_h = x.size(2), in_w = x.size(3);
    const AxisStep y{a.up_y, a.down_y, a.pad_y0}, x_step{a.up_x, a.down_x, a.pad_x0};
    for (int64_t band = 0; band < count; ++band) {
      const int64_t oy0 = band * bh, rows = std::min(bh, out_h - oy0);
      const AxisTaps first = axis_taps(oy0, a.up_y, a.down_y, a.pad_y0, a.fh, in_h);
      lo[band] = std::clamp<int64_t>(first.i0 + first.t_begin, 0, in_h);
      PixelLayout layout = strides;
      layout.out_y0 = oy0;
      layout.in_y0 = lo[band];
      steps.add(rows, y, a.fh, in_h, layout, [&] {
        return PlaneStep<acc_t>(coef_t.const_data_ptr<acc_t>(), a.kind == FilterKind::Separable, a.fh, a.fw, in_h,
                                in_w, rows, out_w, y, x_step, nullptr, layout);
      });
    }
    // ~32K vector multiply-adds (ATen's GRAIN_SIZE) per parallel chunk at least
    grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(bh * out_w * (taps_per_output(a) + 1) * per_unit, 1));
  }
};

// float16/bfloat16 go the same way, widened as the taps load them and rounded once as the
// outputs are stored (load_lanes / store_lanes): the same sums on the same values, rounded
// once, so the same bits as the row path's float16/bfloat16 output. Why: through planar copies
// (transposed one value at a time for these dtypes) a bfloat16 channels_last blur of
// [4, 256, 64, 64] took 20.8 ms, 5.8x its NCHW time and 3.7x oneDNN's channels_last depthwise
// conv; through float buffers of each band's rows (until 2026-12-06: a pass to widen the
// input and one to round the output) the downsamples stayed at 0.6-0.9x that conv.
template <typename scalar_t>
void run_in_channels_last(const at::Tensor& x, const at::Tensor& coef_t, const Args& a, const at::Tensor& out) {
  using acc_t = at::opmath_type<scalar_t>;
  constexpr int64_t L = at::vec::Vectorized<acc_t>::size();
  const int64_t N = x.size(0), C = x.size(1);
  PixelLayout layout{x.stride(3), x.stride(2), out.stride(3), out.stride(2)};
  layout.blocks = blocks_per_step(x, a, out, L);
  layout.chunk_rows = true;  // (an up's runs chunk by chunk of rows: TapRuns::end_rows)
  const int64_t chunk = layout.blocks * L;  // channels per step
  // (channels past the whole blocks: the last block sits `back` values before its place, on
  // the pixel's last L channels; below L channels, only where masks_channels)
  const int64_t back = C % L == 0 || C < L ? 0 : L - C % L;
  const Bands<acc_t> bands(x, coef_t, a, out.size(2), out.size(3), layout, (C + L - 1) / L);
  const scalar_t* const x_data = x.const_data_ptr<scalar_t>();
  scalar_t* const out_data = out.data_ptr<scalar_t>();
  const int64_t bh = bands.bh, nb = bands.count;
  at::parallel_for(0, N * nb, bands.grain, [&](int64_t begin, int64_t end) {
    AlignedVector<acc_t> scratch(bands.steps.scratch_len());
    for (int64_t unit = begin; unit < end; ++unit) {  // (n, band)
      const int64_t n = unit / nb, band = unit % nb;
      const scalar_t* in = x_data + n * x.stride(0) + bands.lo[band] * x.stride(2);
      scalar_t* band_out = out_data + n * out.stride(0) + band * bh * out.stride(2);
      const PlaneStep<acc_t>& step = bands.steps[band];
      if constexpr (has_partial_lanes<acc_t, scalar_t>()) {
        if (C < L) {  // the first C lanes of one block, masked (cpu_partial_lanes.h)
          step.apply_partial(in, band_out, scratch.data(), PartialLanes<acc_t, scalar_t>(static_cast<int>(C)));
          continue;
        }
      }
      for (int64_t c0 = 0; c0 < C; c0 += chunk) {
        step.apply(in + c0, band_out + c0, scratch.data(), c0 + chunk >= C ? back : 0);
      }
    }
  });
}

}  // namespace
}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::upfirdn2d
