// filtered_lrelu's fused CPU kernels on planes past the plane path's 32 x 32, L planes at a
// time (L: the op-math vector's lanes) and by bands of rows: the band path.
//
// The plane path (filtered_lrelu_cpu_kernel.cpp) puts L planes in the lanes of a vector and
// runs the chain of PlaneSteps (upfirdn2d_cpu_planes.h) on whole planes, which fits L2 only up
// to 32 x 32. Here a group of L planes goes through the same chain one band of the result's
// rows at a time, each step on just the rows the band needs:
//   forward:  the band's x rows (+ b) -> U -> m rows -> act -> D -> the band's output rows
//   backward: x rows (+ b) -> U -> m rows; dy rows -> D^T -> dm rows; act'(m) * dm -> U^T -> dx
// The x and dy rows of the L planes are gathered into an interleaved op-math buffer (b added,
// float16/bfloat16 widened: the values the other paths start from), the result's rows are
// scattered back (rounded once): transposes for NCHW, plain vector loads and stores for
// channels_last with whole vectors of channels (a pixel's L channels are one vector there).
// Bands keep a group's intermediate rows in L2 (kBandElements per buffer); neighbouring bands
// compute their shared m rows twice, as the row path's tiles do. Every value is the plane
// path's sum in the plane path's order: the same bits as the plane path and the row path
// (tests/test_filtered_lrelu.py). Why: per plane, the row path's rows of 36..148 pixels pay
// a polyphase set-up per row and pass for a few vectors of work, and channels_last went
// through planar copies; across planes every tap is a full-width FMA ([4, 256, 36, 36], up 2,
// down 2, 12 taps: 10-11 ms by rows, ~4 ms by bands).
// Included only from filtered_lrelu_cpu_kernel.cpp (compiled once per ISA).
#pragma once

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "ops/common/aligned_vector.h"
#include "ops/filtered_lrelu/filtered_lrelu_cpu_steps.h"
#include "ops/filtered_lrelu/filtered_lrelu_kernels.h"
#include "ops/filtered_lrelu/filtered_lrelu_math.h"
#include "ops/upfirdn2d/upfirdn2d_cpu_planes.h"
#include "ops/upfirdn2d/upfirdn2d_cpu_rows.h"
#include "ops/upfirdn2d/upfirdn2d_math.h"

namespace myops::ops::filtered_lrelu {
namespace CPU_CAPABILITY {
namespace {

using upfirdn2d::CPU_CAPABILITY::lanes_tmp_len;

// The op-math values of one intermediate buffer of a group's band (128 KiB of float), unless
// the filter's rows need more (band_rows). Measured (AVX-512, one thread, [1, C, H, H] up 2
// down 2, 6-tap filters, C 16..256, H 64 and 128): 2^15 and 2^14 level, 2^16 up to 1.5x slower
// for 16-32 channels, 2^18 2-3x slower (larger plans, buffers out of L2).
constexpr int64_t kBandElements = int64_t{1} << 15;

// When the band path pays (measured against the row path and channels_last's planar copies,
// AVX-512, one thread, StyleGAN3's up 2 / down 2 with 6- and 12-tap filters, 36² to 148²
// images): with at least kMinPlanes images x channels (kMinPlanesBackward for the backward's
// three plans), which share the bands' plans (with 32 or 64 the plans made it 1.2-1.5x slower
// than the planar copies; with 128 the forward was 1.1-1.3x faster than either other path and
// the backward ~5% slower than the row path, with 256 15% faster; with 1,024 2-4x faster), and
// while one thread's buffers for a group's band stay within kMaxBandBytes, in L2 (the 148²
// forward with 12 taps, ~1.5 MiB, was 10% slower than the row path; its backward, ~2 MiB, 1.2x
// slower than the planar copies).
constexpr int64_t kMinPlanes = 128, kMinPlanesBackward = 256;
constexpr int64_t kMaxBandBytes = int64_t{1434} << 10;  // 1.4 MiB

// The source rows [lo, hi) of a step (resampling r along y, `taps` filter rows, `in` source
// rows) that its output rows [o0, o1) read.
inline std::pair<int64_t, int64_t> source_rows(const math::Resample& r, int64_t taps, int64_t in, int64_t o0,
                                               int64_t o1) {
  using upfirdn2d::math::axis_taps;
  const auto first = axis_taps(o0, r.up, r.down, r.pad0, taps, in);
  const auto last = axis_taps(o1 - 1, r.up, r.down, r.pad0, taps, in);
  const int64_t lo = std::clamp<int64_t>(first.i0 + first.t_begin, 0, in);
  return {lo, std::clamp<int64_t>(last.i0 + last.t_end, lo, in)};
}

// The output rows of a band: as many as keep the m rows they need (ratio m rows per output
// row, plus taps - 1) within kBandElements of a group, and at least 3 x the filter's rows (a
// band's own m rows at least twice those it shares with the next band, which both compute:
// 12-tap filters were 10-20% slower with 2 x, and no faster with 4 x); a multiple of `phase`
// (so that every band starts at the same phase of the filters, and the bands away from the
// edges share one plan: FilterBandSteps).
inline int64_t band_rows(int64_t out_h, int64_t m_w, int64_t lanes, int64_t ratio, int64_t taps, int64_t phase) {
  const int64_t m_rows = std::max<int64_t>(kBandElements / std::max<int64_t>(m_w * lanes, 1), 3 * taps);
  const int64_t rows = std::max<int64_t>((m_rows - taps) / ratio + 1, 1);
  return std::min(std::max(rows / phase, int64_t{1}) * phase, out_h);
}

// The PlaneSteps of a call's bands, one plan per distinct vertical geometry (upfirdn2d's
// BandSteps): add(f, reversed, src_h, src_w, rows, dst_w, ry, rx, layout) is the next band's
// plane_step(...), layout.out_y0 and in_y0 the band's first output row and first source row.
template <typename acc_t>
class FilterBandSteps : public upfirdn2d::CPU_CAPABILITY::BandSteps<acc_t> {
 public:
  void add(const FusedFilter& f, bool reversed, int64_t src_h, int64_t src_w, int64_t rows, int64_t dst_w,
           const math::Resample& ry, const math::Resample& rx, const PixelLayout& layout) {
    upfirdn2d::CPU_CAPABILITY::BandSteps<acc_t>::add(rows, {ry.up, ry.down, ry.pad0}, f.h, src_h, layout, [&] {
      return plane_step<acc_t>(f, reversed, src_h, src_w, rows, dst_w, ry, rx, layout);
    });
  }
};

// One band's rows of every tensor of the chain: output rows [o0, o0 + rows), m rows [m0, m1),
// x rows [x0, x1), dy rows [g0, g1) (backward).
struct BandRows {
  int64_t o0, rows, m0 = 0, m1 = 0, x0 = 0, x1 = 0, g0 = 0, g1 = 0;
};

// The bands of a call (rows only: cheap, made before the route is decided; FilterBandSteps plans
// them), the most rows of each buffer, and the op-math values of one thread's buffers.
struct ChainBands {
  int64_t bh = 1;
  std::vector<BandRows> rows;
  int64_t x_rows = 1, g_rows = 1, m_rows = 1;
  int64_t buffer_values = 0;
  int64_t count() const { return static_cast<int64_t>(rows.size()); }
};

// forward: bands of the output's rows; buffers: x rows, m rows, the separable steps' scratch
// (source rows x output width), and the output rows.
inline ChainBands forward_bands(const Args& a, const FusedFilter& fu, const FusedFilter& fd, int64_t H, int64_t W,
                                int64_t out_h, int64_t out_w, const math::AxisSteps& sy, const math::AxisSteps& sx,
                                int64_t L) {
  ChainBands b;
  b.bh = band_rows(out_h, sx.m, L, a.down, fd.h, a.up / std::gcd(a.up, a.down));
  for (int64_t o0 = 0; o0 < out_h; o0 += b.bh) {
    BandRows r{o0, std::min(b.bh, out_h - o0)};
    std::tie(r.m0, r.m1) = source_rows(sy.d, fd.h, sy.m, r.o0, r.o0 + r.rows);
    if (r.m1 > r.m0) std::tie(r.x0, r.x1) = source_rows(sy.u, fu.h, H, r.m0, r.m1);
    b.x_rows = std::max(b.x_rows, r.x1 - r.x0), b.m_rows = std::max(b.m_rows, r.m1 - r.m0);
    b.rows.push_back(r);
  }
  const int64_t scratch = std::max(fu.separable ? b.x_rows * sx.m : 0, fd.separable ? b.m_rows * out_w : 0);
  b.buffer_values = L * (b.x_rows * W + b.m_rows * sx.m + scratch + b.bh * out_w);
  return b;
}

// backward: bands of dx's rows; buffers: x rows (reused for dx's), dy rows, m and dm rows, and the
// separable steps' scratch.
inline ChainBands backward_bands(const Args& a, const FusedFilter& fu, const FusedFilter& fd, int64_t H, int64_t W,
                                 int64_t out_h, int64_t out_w, const math::AxisSteps& sy, const math::AxisSteps& sx,
                                 int64_t L) {
  ChainBands b;
  b.bh = band_rows(H, sx.m, L, a.up, fu.h, a.down / std::gcd(a.up, a.down));
  for (int64_t o0 = 0; o0 < H; o0 += b.bh) {
    BandRows r{o0, std::min(b.bh, H - o0)};
    std::tie(r.m0, r.m1) = source_rows(sy.ut, fu.h, sy.m, r.o0, r.o0 + r.rows);
    if (r.m1 > r.m0) {
      std::tie(r.x0, r.x1) = source_rows(sy.u, fu.h, H, r.m0, r.m1);
      std::tie(r.g0, r.g1) = source_rows(sy.dt, fd.h, out_h, r.m0, r.m1);
    }
    b.x_rows = std::max(b.x_rows, r.x1 - r.x0), b.g_rows = std::max(b.g_rows, r.g1 - r.g0);
    b.m_rows = std::max(b.m_rows, r.m1 - r.m0);
    b.rows.push_back(r);
  }
  const int64_t scratch = std::max(fu.separable ? std::max(b.x_rows * sx.m, b.m_rows * W) : 0,
                                   fd.separable ? b.g_rows * sx.m : 0);
  b.buffer_values = L * (std::max(b.x_rows, b.bh) * W + b.g_rows * out_w + 2 * b.m_rows * sx.m + scratch);
  return b;
}

// Whether the band path pays for a call with `planes` images x channels and these bands
// (`min_planes`: kMinPlanes, or kMinPlanesBackward for its three plans).
template <typename acc_t>
bool worth_it(int64_t planes, int64_t min_planes, const ChainBands& bands) {
  return planes >= min_planes && bands.buffer_values * static_cast<int64_t>(sizeof(acc_t)) <= kMaxBandBytes;
}

// The units of a call: (group of L planes, band). For channels_last with whole vectors of
// channels, (n, band, block of channels), the block fastest: a band's input is read from memory
// once, its cache lines whole, for all of its C / L blocks (one group over the whole image at a
// time would fetch every line C / L times). Otherwise (group, band), the band fastest: a
// group's planes stay in cache across its bands.
struct Units {
  int64_t bands, blocks;  // blocks: C / L when band-major, else 0
  std::pair<int64_t, int64_t> operator()(int64_t unit) const {  // {group, band}
    if (blocks == 0) return {unit / bands, unit % bands};
    return {unit / (bands * blocks) * blocks + unit % blocks, unit / blocks % bands};
  }
};

inline Units units_of(const at::Tensor& x, int64_t bands, int64_t L) {
  const bool band_major = x.size(1) % L == 0 && x.is_contiguous(at::MemoryFormat::ChannelsLast);
  return {bands, band_major ? x.size(1) / L : 0};
}

// The lanes of group `group` of t ([N, C, H, W], any strides; `data` its data pointer), rows
// [r0, r0 + rows) of each plane.
template <typename T>
void band_lanes(Lanes<T>& g, T* data, const at::Tensor& t, int64_t group, int64_t r0, int64_t rows, int L) {
  const int64_t planes = t.size(0) * t.size(1), p0 = group * L;
  upfirdn2d::CPU_CAPABILITY::lanes_of(g, data + r0 * t.stride(2), p0, std::min<int64_t>(L, planes - p0), t.size(1),
                                      t.stride(0), t.stride(1), rows, t.size(3), t.stride(2), t.stride(3), L);
}

// Whether the last step writes the result's pixels itself: channels_last with whole vectors of
// channels (band-major units: every group is one pixel's L channels) in the op-math dtype, so
// that a group's pixel is a vector of the tensor (a gather and a scatter less than the planar
// layouts need; the backward was ~12% slower with them).
template <typename scalar_t>
bool writes_in_place(const Units& units, const at::Tensor& result) {
  return std::is_same_v<scalar_t, at::opmath_type<scalar_t>> && units.blocks > 0 &&
         result.is_contiguous(at::MemoryFormat::ChannelsLast);
}

// The last step's pixels: the result's own (in place: a pixel's channels C apart, rows W * C)
// or an interleaved band buffer; rows from the band's first (o0), source rows from m0.
inline PixelLayout result_layout(bool in_place, const at::Tensor& result, int64_t L, int64_t in_row, int64_t o0,
                                 int64_t m0) {
  const int64_t C = result.size(1), w = result.size(3);
  return in_place ? PixelLayout{L, in_row, C, w * C, o0, m0} : PixelLayout{L, in_row, L, w * L, o0, m0};
}

// Where group `group`'s first channel of row r0 is in a result written in place.
template <typename T>
T* band_pixels(T* data, const at::Tensor& t, int64_t group, int64_t r0, int64_t L) {
  const int64_t p0 = group * L, n = p0 / t.size(1), c0 = p0 % t.size(1);
  return data + n * t.stride(0) + c0 * t.stride(1) + r0 * t.stride(2);
}

// The forward by the band path: false (nothing done) where it does not pay (worth_it).
template <typename scalar_t>
bool try_forward_by_bands(const at::Tensor& x, const FusedFilter& fu, const FusedFilter& fd, const OptTensor& b,
                          const Args& a, const at::Tensor& out) {
  using acc_t = at::opmath_type<scalar_t>;
  constexpr int L = at::vec::Vectorized<acc_t>::size();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), out_h = out.size(2), out_w = out.size(3);
  const math::AxisSteps sy = steps_y(a, H, out_h), sx = steps_x(a, W, out_w);
  const ChainBands bands = forward_bands(a, fu, fd, H, W, out_h, out_w, sy, sx, L);
  if (!worth_it<acc_t>(N * C, kMinPlanes, bands)) return false;
  const int64_t bh = bands.bh, nb = bands.count(), x_rows = bands.x_rows, m_rows = bands.m_rows;

  const Units units = units_of(x, nb, L);
  const bool in_place = writes_in_place<scalar_t>(units, out);
  FilterBandSteps<acc_t> U, D;
  for (const BandRows& r : bands.rows) {
    U.add(fu, false, H, W, r.m1 - r.m0, sx.m, sy.u, sx.u, {L, W * L, L, sx.m * L, r.m0, r.x0});
    D.add(fd, false, sy.m, sx.m, r.rows, out_w, sy.d, sx.d, result_layout(in_place, out, L, sx.m * L, r.o0, r.m0));
  }
  const int64_t scratch_len = std::max(U.scratch_len(), D.scratch_len());
  const bias_act::Params<acc_t> p = act_params<acc_t>(a);
  const ChannelBias<scalar_t> bias(b);
  const int64_t row_max = std::max(x_rows * W, bh * out_w);  // (a band's rows may be one flat row)
  const int64_t u_taps = upfirdn2d::math::max_taps(fu.w, a.up) * upfirdn2d::math::max_taps(fu.h, a.up);
  const int64_t work = m_rows * sx.m * (u_taps + 1) + bh * out_w * (fd.w * fd.h + 4) + x_rows * W * 4;
  const scalar_t* const x_data = x.const_data_ptr<scalar_t>();
  scalar_t* const out_data = out.data_ptr<scalar_t>();

  at::parallel_for(0, (N * C + L - 1) / L * nb, grain_for(work), [&](int64_t begin, int64_t end) {
    AlignedVector<acc_t> x_buf(x_rows * W * L), m_buf(m_rows * sx.m * L), out_buf(bh * out_w * L);
    AlignedVector<acc_t> scratch(scratch_len), tmp(lanes_tmp_len<acc_t>(row_max)), zeros(row_max);
    Lanes<const scalar_t> src;
    Lanes<scalar_t> dst;
    for (int64_t unit = begin; unit < end; ++unit) {
      const auto [group, band] = units(unit);
      const BandRows& r = bands.rows[band];
      band_lanes(src, x_data, x, group, r.x0, r.x1 - r.x0, L);
      gather_biased(src, group * L, C, bias, (r.x1 - r.x0) * W, x_buf.data(), tmp.data(), zeros.data());
      U[band].apply(x_buf.data(), m_buf.data(), scratch.data());
      activate(m_buf.data(), (r.m1 - r.m0) * sx.m * L, p);
      if (in_place) {
        D[band].apply(m_buf.data(), reinterpret_cast<acc_t*>(band_pixels(out_data, out, group, r.o0, L)), scratch.data());
      } else {
        D[band].apply(m_buf.data(), out_buf.data(), scratch.data());
        band_lanes(dst, out_data, out, group, r.o0, r.rows, L);
        upfirdn2d::CPU_CAPABILITY::scatter(out_buf.data(), dst, tmp.data());
      }
    }
  });
  return true;
}

// The backward (dx) by the band path: false (nothing done) where it does not pay.
template <typename scalar_t>
bool try_backward_by_bands(const at::Tensor& grad, const at::Tensor& x, const FusedFilter& fu, const FusedFilter& fd,
                           const OptTensor& b, const Args& a, const at::Tensor& dx) {
  using acc_t = at::opmath_type<scalar_t>;
  constexpr int L = at::vec::Vectorized<acc_t>::size();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), out_h = grad.size(2), out_w = grad.size(3);
  const math::AxisSteps sy = steps_y(a, H, out_h), sx = steps_x(a, W, out_w);
  const ChainBands bands = backward_bands(a, fu, fd, H, W, out_h, out_w, sy, sx, L);
  if (!worth_it<acc_t>(N * C, kMinPlanesBackward, bands)) return false;
  const int64_t bh = bands.bh, nb = bands.count();
  const int64_t x_rows = bands.x_rows, g_rows = bands.g_rows, m_rows = bands.m_rows;

  const Units units = units_of(x, nb, L);
  const bool in_place = writes_in_place<scalar_t>(units, dx);
  FilterBandSteps<acc_t> U, DT, UT;
  for (const BandRows& r : bands.rows) {
    U.add(fu, false, H, W, r.m1 - r.m0, sx.m, sy.u, sx.u, {L, W * L, L, sx.m * L, r.m0, r.x0});
    DT.add(fd, true, out_h, out_w, r.m1 - r.m0, sx.m, sy.dt, sx.dt, {L, out_w * L, L, sx.m * L, r.m0, r.g0});
    UT.add(fu, true, sy.m, sx.m, r.rows, W, sy.ut, sx.ut, result_layout(in_place, dx, L, sx.m * L, r.o0, r.m0));
  }
  const int64_t scratch_len = std::max({U.scratch_len(), DT.scratch_len(), UT.scratch_len()});
  const bias_act::Params<acc_t> p = act_params<acc_t>(a);
  const ChannelBias<scalar_t> bias(b);
  const int64_t row_max = std::max({x_rows * W, g_rows * out_w, bh * W});
  const int64_t u_taps = upfirdn2d::math::max_taps(fu.w, a.up) * upfirdn2d::math::max_taps(fu.h, a.up);
  const int64_t work = m_rows * sx.m * (u_taps + fd.w * fd.h + 2) + bh * W * (u_taps + 4) + (x_rows * W + g_rows * out_w) * 4;
  const scalar_t* const x_data = x.const_data_ptr<scalar_t>();
  const scalar_t* const g_data = grad.const_data_ptr<scalar_t>();
  scalar_t* const dx_data = dx.data_ptr<scalar_t>();

  at::parallel_for(0, (N * C + L - 1) / L * nb, grain_for(work), [&](int64_t begin, int64_t end) {
    AlignedVector<acc_t> x_buf(std::max(x_rows, bh) * W * L), g_buf(g_rows * out_w * L), m_buf(m_rows * sx.m * L);
    AlignedVector<acc_t> dm_buf(m_rows * sx.m * L), scratch(scratch_len), tmp(lanes_tmp_len<acc_t>(row_max));
    AlignedVector<acc_t> zeros(row_max);
    Lanes<const scalar_t> xs, gs;
    Lanes<scalar_t> dst;
    for (int64_t unit = begin; unit < end; ++unit) {
      const auto [group, band] = units(unit);
      const BandRows& r = bands.rows[band];
      band_lanes(xs, x_data, x, group, r.x0, r.x1 - r.x0, L);
      gather_biased(xs, group * L, C, bias, (r.x1 - r.x0) * W, x_buf.data(), tmp.data(), zeros.data());
      U[band].apply(x_buf.data(), m_buf.data(), scratch.data());
      band_lanes(gs, g_data, grad, group, r.g0, r.g1 - r.g0, L);
      upfirdn2d::CPU_CAPABILITY::gather(gs, g_buf.data(), tmp.data(), zeros.data());
      DT[band].apply(g_buf.data(), dm_buf.data(), scratch.data());
      activate_backward(dm_buf.data(), m_buf.data(), (r.m1 - r.m0) * sx.m * L, p);
      if (in_place) {
        UT[band].apply(dm_buf.data(), reinterpret_cast<acc_t*>(band_pixels(dx_data, dx, group, r.o0, L)), scratch.data());
      } else {
        UT[band].apply(dm_buf.data(), x_buf.data(), scratch.data());  // (the band's x rows are no longer needed)
        band_lanes(dst, dx_data, dx, group, r.o0, r.rows, L);
        upfirdn2d::CPU_CAPABILITY::scatter(x_buf.data(), dst, tmp.data());
      }
    }
  });
  return true;
}

}  // namespace
}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::filtered_lrelu
