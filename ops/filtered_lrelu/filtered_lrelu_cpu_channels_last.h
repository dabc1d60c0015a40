// filtered_lrelu's fused CPU kernels on channels_last tensors whose channels fill whole vectors
// (C a multiple of L, the op-math vector's lanes), planes past the plane path's 32 x 32: in
// place, by bands of rows, without planar copies.
//
// In channels_last the L channels c0 .. c0 + L - 1 of a pixel are one vector: the layout of the
// plane path's interleaved buffers, with a pixel stride of C instead of L. So a band of the
// result's rows runs the plane path's chain of PlaneSteps (upfirdn2d_cpu_planes.h) for each
// block of L channels in turn:
//   forward:  the band's x rows (+ b) -> U -> m rows -> act -> D -> the band's output rows
//   backward: x rows (+ b) -> U -> m rows; dy rows -> D^T -> dm rows; act'(m) * dm -> U^T -> dx
// The x and dy rows of a block are first loaded into an interleaved float buffer (b added,
// float16/bfloat16 widened: the values the other paths start from); the last step writes the
// output's pixels in place (float32/float64) or into a float buffer that is rounded once into
// them. Bands of output rows keep each block's intermediate rows in L2 (kBandElements per
// buffer); neighbouring bands compute their shared m rows twice, as the row path's tiles do.
// Every value is the plane path's sum in the plane path's order: the same bits as the plane
// path, the row path and the planar copies (tests/test_filtered_lrelu.py). Why: past 32 x 32
// channels_last went through planar copies of x (and dy) and of the output, transposed in
// blocks: about a third of the call's time ([1, 32, 128, 128] up 2 down 2: 2.1 ms against
// 1.7 ms contiguous).
// Included only from filtered_lrelu_cpu_kernel.cpp (compiled once per ISA).
#pragma once

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <map>
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

// The op-math values of one intermediate buffer of a block's band (128 KiB of float), unless
// the filter's rows need more (band_rows). Measured (AVX-512, one thread, [1, C, H, H] up 2
// down 2, 6-tap filters, C 16..256, H 64 and 128): 2^15 and 2^14 level, 2^16 up to 1.5x slower
// for 16-32 channels, 2^18 2-3x slower (larger plans, buffers out of L2).
constexpr int64_t kBandElements = int64_t{1} << 15;

// When the route pays (measured against the planar copies, AVX-512, one thread, StyleGAN3's
// up 2 / down 2 with 6- and 12-tap filters, 36² to 148² images): with at least kMinPlanes
// images x channels, which share the bands' plans (with 32 or 64 the plans made it 1.2-1.5x
// slower, with 128 it was 1.1-1.3x faster, with 1,024 2-4x), and while one thread's buffers for
// a block's band stay within kMaxBandBytes, in L2 (148² with 12 taps: ~2 MiB for the backward,
// which then took 1.2x the planar copies' time).
constexpr int64_t kMinPlanes = 128;
constexpr int64_t kMaxBandBytes = int64_t{3} << 19;  // 1.5 MiB

// Whether the tensors (x and the forward's output, or x, dy and dx) are laid out for the route:
// channels_last, C a multiple of the op-math lanes, more than one pixel (where channels_last and
// contiguous differ).
template <typename scalar_t>
bool channels_last_blocks(std::initializer_list<const at::Tensor*> tensors) {
  constexpr int64_t L = at::vec::Vectorized<at::opmath_type<scalar_t>>::size();
  for (const at::Tensor* t : tensors) {
    if (t->dim() != 4 || t->size(1) % L != 0 || !t->is_contiguous(at::MemoryFormat::ChannelsLast) ||
        t->is_contiguous()) {
      return false;
    }
  }
  return true;
}

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
// row, plus taps - 1) within kBandElements of a block, and at least 3 x the filter's rows (a
// band's own m rows at least twice those it shares with the next band, which both compute:
// 12-tap filters were 10-20% slower with 2 x, and no faster with 4 x); a multiple of `phase`
// (so that every band starts at the same phase of the filters, and the bands away from the
// edges share one plan: BandSteps).
inline int64_t band_rows(int64_t out_h, int64_t m_w, int64_t lanes, int64_t ratio, int64_t taps, int64_t phase) {
  const int64_t m_rows = std::max<int64_t>(kBandElements / std::max<int64_t>(m_w * lanes, 1), 3 * taps);
  const int64_t rows = std::max<int64_t>((m_rows - taps) / ratio + 1, 1);
  return std::min(std::max(rows / phase, int64_t{1}) * phase, out_h);
}

// The PlaneSteps of a call's bands, one plan per distinct vertical geometry: the bands whose
// output rows read their source rows at the same positions relative to the band, with the same
// taps (every band away from the image's edges), share one. Why: a plan costs about as much as
// the arithmetic of one to three blocks of L channels (~25 ns an output pixel); built for every
// band, it made calls with 16 or 32 channels 2-4x slower than their planar copies.
template <typename acc_t>
class BandSteps {
 public:
  // The next band's step: plane_step(f, reversed, src_h, src_w, rows, dst_w, ry, rx, layout),
  // layout.out_y0 and in_y0 the band's first output row and first source row.
  void add(const FusedFilter& f, bool reversed, int64_t src_h, int64_t src_w, int64_t rows, int64_t dst_w,
           const math::Resample& ry, const math::Resample& rx, const PixelLayout& layout) {
    std::vector<int64_t> key;
    key.reserve(3 * rows);
    for (const auto& v : upfirdn2d::CPU_CAPABILITY::spans(rows, ry.up, ry.down, ry.pad0, f.h, src_h, layout.out_y0)) {
      key.insert(key.end(), {v.n > 0 ? v.first - layout.in_y0 : 0, v.n > 0 ? v.k : 0, v.n});  // (no tap: no rows)
    }
    const auto [at, fresh] = index_.try_emplace(std::move(key), static_cast<int64_t>(steps_.size()));
    if (fresh) {
      steps_.push_back(plane_step<acc_t>(f, reversed, src_h, src_w, rows, dst_w, ry, rx, layout));
      scratch_len_ = std::max(scratch_len_, steps_.back().scratch_len());
    }
    of_band_.push_back(at->second);
  }
  const PlaneStep<acc_t>& operator[](int64_t band) const { return steps_[of_band_[band]]; }
  int64_t scratch_len() const { return scratch_len_; }

 private:
  std::vector<PlaneStep<acc_t>> steps_;
  std::map<std::vector<int64_t>, int64_t> index_;
  std::vector<int64_t> of_band_;
  int64_t scratch_len_ = 0;
};

// One band's rows of every tensor of the chain: output rows [o0, o0 + rows), m rows [m0, m1),
// x rows [x0, x1), dy rows [g0, g1) (backward).
struct BandRows {
  int64_t o0, rows, m0 = 0, m1 = 0, x0 = 0, x1 = 0, g0 = 0, g1 = 0;
};

// The bands of a call (rows only: cheap, made before the route is decided; BandSteps plans
// them), the most rows of each buffer, and the op-math values of one thread's buffers.
struct ChainBands {
  int64_t bh = 1;
  std::vector<BandRows> rows;
  int64_t x_rows = 1, g_rows = 1, m_rows = 1;
  int64_t buffer_values = 0;
  int64_t count() const { return static_cast<int64_t>(rows.size()); }
};

// forward: bands of the output's rows; buffers: x rows, m rows, the separable steps' scratch
// (source rows x output width), and (float16/bfloat16) the output rows.
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

// backward: bands of dx's rows; buffers: x rows, dy rows, m and dm rows, the separable steps'
// scratch, and (float16/bfloat16) dx's rows.
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
  b.buffer_values = L * (b.x_rows * W + b.g_rows * out_w + 2 * b.m_rows * sx.m + scratch + b.bh * W);
  return b;
}

// Whether the route pays for a call with `planes` images x channels and these bands.
template <typename acc_t>
bool worth_it(int64_t planes, const ChainBands& bands) {
  return planes >= kMinPlanes && bands.buffer_values * static_cast<int64_t>(sizeof(acc_t)) <= kMaxBandBytes;
}

// The L channels of a pixel (L consecutive values) in op-math: float16/bfloat16 widened (exact).
template <typename acc_t, typename scalar_t>
at::vec::Vectorized<acc_t> load_lanes(const scalar_t* p) {
  using Vec = at::vec::Vectorized<acc_t>;
  if constexpr (std::is_same_v<scalar_t, acc_t>) {
    return Vec::loadu(p);
  } else {
    return std::get<0>(at::vec::convert_to_float<scalar_t>(at::vec::Vectorized<scalar_t>::loadu(p, Vec::size())));
  }
}

// v into the L channels of a pixel, rounded once (float16/bfloat16: to nearest even, as
// store_row; a NaN may come out with other payload bits).
template <typename acc_t, typename scalar_t>
void store_lanes(const at::vec::Vectorized<acc_t>& v, scalar_t* p) {
  if constexpr (std::is_same_v<scalar_t, acc_t>) {
    v.store(p);
  } else {
    at::vec::convert_from_float<scalar_t>(v, v).store(p, at::vec::Vectorized<acc_t>::size());
  }
}

// Rows [r0, r1) of one block of L channels of a channels_last image (`src`: the image at the
// block's first channel; C channels a pixel, w pixels a row) into `buf` ([rows][w][L] op-math),
// plus the block's `bias` lanes when given: the values the other paths start from.
template <typename scalar_t, typename acc_t>
void load_block(const scalar_t* src, int64_t row_stride, int64_t w, int64_t r0, int64_t r1, int64_t C,
                const acc_t* bias, acc_t* buf) {
  using Vec = at::vec::Vectorized<acc_t>;
  constexpr int64_t L = Vec::size();
  const Vec b = bias ? Vec::loadu(bias) : Vec(acc_t(0));
  for (int64_t r = r0; r < r1; ++r) {
    const scalar_t* row = src + r * row_stride;
    acc_t* dst = buf + (r - r0) * w * L;
    for (int64_t j = 0; j < w; ++j) {
      const Vec v = load_lanes<acc_t>(row + j * C);
      (bias ? v + b : v).store(dst + j * L);
    }
  }
}

// `buf` ([rows][w][L] op-math) rounded once into rows [0, rows) of one block of a channels_last
// image (`dst`: its row 0 at the block's first channel).
template <typename scalar_t, typename acc_t>
void store_block(const acc_t* buf, scalar_t* dst, int64_t row_stride, int64_t w, int64_t rows, int64_t C) {
  using Vec = at::vec::Vectorized<acc_t>;
  constexpr int64_t L = Vec::size();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < w; ++j) store_lanes(Vec::loadu(buf + (r * w + j) * L), dst + r * row_stride + j * C);
  }
}

// The bias of channels c0 .. c0 + L - 1 in `lanes`; nullptr without a bias.
template <typename scalar_t, typename acc_t>
const acc_t* block_bias(const ChannelBias<scalar_t>& bias, int64_t c0, acc_t* lanes) {
  if (!bias.present()) return nullptr;
  for (int64_t l = 0; l < at::vec::Vectorized<acc_t>::size(); ++l) lanes[l] = bias.template of<acc_t>(c0 + l);
  return lanes;
}

// The forward on channels_last tensors in place: false (nothing done) where the route does not
// apply (channels_last_blocks) or does not pay (worth_it).
template <typename scalar_t>
bool try_forward_in_channels_last(const at::Tensor& x, const FusedFilter& fu, const FusedFilter& fd,
                                  const OptTensor& b, const Args& a, const at::Tensor& out) {
  using acc_t = at::opmath_type<scalar_t>;
  constexpr int64_t L = at::vec::Vectorized<acc_t>::size();
  constexpr bool kInPlace = std::is_same_v<scalar_t, acc_t>;
  if (!channels_last_blocks<scalar_t>({&x, &out})) return false;
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), out_h = out.size(2), out_w = out.size(3);
  const math::AxisSteps sy = steps_y(a, H, out_h), sx = steps_x(a, W, out_w);
  const ChainBands bands = forward_bands(a, fu, fd, H, W, out_h, out_w, sy, sx, L);
  if (!worth_it<acc_t>(N * C, bands)) return false;
  const int64_t bh = bands.bh, nb = bands.count(), blocks = C / L, x_rows = bands.x_rows, m_rows = bands.m_rows;

  // Output pixels: out's own (in place) or a float band of them.
  const PixelLayout out_px = kInPlace ? PixelLayout{0, 0, C, out_w * C} : PixelLayout{};
  BandSteps<acc_t> U, D;
  for (const BandRows& r : bands.rows) {
    U.add(fu, false, H, W, r.m1 - r.m0, sx.m, sy.u, sx.u, {L, W * L, L, sx.m * L, r.m0, r.x0});
    PixelLayout d_px = out_px;
    d_px.in_px = L, d_px.in_row = sx.m * L, d_px.out_y0 = r.o0, d_px.in_y0 = r.m0;
    D.add(fd, false, sy.m, sx.m, r.rows, out_w, sy.d, sx.d, d_px);
  }
  const int64_t scratch_len = std::max(U.scratch_len(), D.scratch_len());
  const bias_act::Params<acc_t> p = act_params<acc_t>(a);
  const ChannelBias<scalar_t> bias(b);
  const int64_t u_taps = upfirdn2d::math::max_taps(fu.w, a.up) * upfirdn2d::math::max_taps(fu.h, a.up);
  const int64_t work = m_rows * sx.m * (u_taps + 1) + bh * out_w * (fd.w * fd.h + 1) + x_rows * W;
  const scalar_t* const x_data = x.const_data_ptr<scalar_t>();
  scalar_t* const out_data = out.data_ptr<scalar_t>();

  at::parallel_for(0, N * nb * blocks, grain_for(work), [&](int64_t begin, int64_t end) {
    AlignedVector<acc_t> x_buf(x_rows * W * L), m_buf(m_rows * sx.m * L), scratch(scratch_len);
    AlignedVector<acc_t> out_buf(kInPlace ? 0 : bh * out_w * L);
    acc_t lanes[L];
    for (int64_t unit = begin; unit < end; ++unit) {  // (n, band, block), the block fastest
      const int64_t n = unit / (nb * blocks), band = unit / blocks % nb, c0 = unit % blocks * L;
      const BandRows& r = bands.rows[band];
      load_block(x_data + n * x.stride(0) + c0, x.stride(2), W, r.x0, r.x1, C, block_bias(bias, c0, lanes),
                 x_buf.data());
      U[band].apply(x_buf.data(), m_buf.data(), scratch.data());
      activate(m_buf.data(), (r.m1 - r.m0) * sx.m * L, p);
      scalar_t* const dst = out_data + n * out.stride(0) + r.o0 * out.stride(2) + c0;
      if constexpr (kInPlace) {
        D[band].apply(m_buf.data(), dst, scratch.data());
      } else {
        D[band].apply(m_buf.data(), out_buf.data(), scratch.data());
        store_block(out_buf.data(), dst, out.stride(2), out_w, r.rows, C);
      }
    }
  });
  return true;
}

// The backward (dx) on channels_last tensors in place: false (nothing done) where the route
// does not apply or does not pay.
template <typename scalar_t>
bool try_backward_in_channels_last(const at::Tensor& grad, const at::Tensor& x, const FusedFilter& fu,
                                   const FusedFilter& fd, const OptTensor& b, const Args& a, const at::Tensor& dx) {
  using acc_t = at::opmath_type<scalar_t>;
  constexpr int64_t L = at::vec::Vectorized<acc_t>::size();
  constexpr bool kInPlace = std::is_same_v<scalar_t, acc_t>;
  if (!channels_last_blocks<scalar_t>({&x, &grad, &dx})) return false;
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), out_h = grad.size(2), out_w = grad.size(3);
  const math::AxisSteps sy = steps_y(a, H, out_h), sx = steps_x(a, W, out_w);
  const ChainBands bands = backward_bands(a, fu, fd, H, W, out_h, out_w, sy, sx, L);
  if (!worth_it<acc_t>(N * C, bands)) return false;
  const int64_t bh = bands.bh, nb = bands.count(), blocks = C / L;
  const int64_t x_rows = bands.x_rows, g_rows = bands.g_rows, m_rows = bands.m_rows;

  const PixelLayout dx_px = kInPlace ? PixelLayout{0, 0, C, W * C} : PixelLayout{};
  BandSteps<acc_t> U, DT, UT;
  for (const BandRows& r : bands.rows) {
    U.add(fu, false, H, W, r.m1 - r.m0, sx.m, sy.u, sx.u, {L, W * L, L, sx.m * L, r.m0, r.x0});
    DT.add(fd, true, out_h, out_w, r.m1 - r.m0, sx.m, sy.dt, sx.dt, {L, out_w * L, L, sx.m * L, r.m0, r.g0});
    PixelLayout ut_px = dx_px;
    ut_px.in_px = L, ut_px.in_row = sx.m * L, ut_px.out_y0 = r.o0, ut_px.in_y0 = r.m0;
    UT.add(fu, true, sy.m, sx.m, r.rows, W, sy.ut, sx.ut, ut_px);
  }
  const int64_t scratch_len = std::max({U.scratch_len(), DT.scratch_len(), UT.scratch_len()});
  const bias_act::Params<acc_t> p = act_params<acc_t>(a);
  const ChannelBias<scalar_t> bias(b);
  const int64_t u_taps = upfirdn2d::math::max_taps(fu.w, a.up) * upfirdn2d::math::max_taps(fu.h, a.up);
  const int64_t work = m_rows * sx.m * (u_taps + fd.w * fd.h + 2) + bh * W * u_taps + (x_rows * W + g_rows * out_w);
  const scalar_t* const x_data = x.const_data_ptr<scalar_t>();
  const scalar_t* const g_data = grad.const_data_ptr<scalar_t>();
  scalar_t* const dx_data = dx.data_ptr<scalar_t>();

  at::parallel_for(0, N * nb * blocks, grain_for(work), [&](int64_t begin, int64_t end) {
    AlignedVector<acc_t> x_buf(x_rows * W * L), g_buf(g_rows * out_w * L), m_buf(m_rows * sx.m * L);
    AlignedVector<acc_t> dm_buf(m_rows * sx.m * L), scratch(scratch_len), dx_buf(kInPlace ? 0 : bh * W * L);
    acc_t lanes[L];
    for (int64_t unit = begin; unit < end; ++unit) {  // (n, band, block), the block fastest
      const int64_t n = unit / (nb * blocks), band = unit / blocks % nb, c0 = unit % blocks * L;
      const BandRows& r = bands.rows[band];
      load_block(x_data + n * x.stride(0) + c0, x.stride(2), W, r.x0, r.x1, C, block_bias(bias, c0, lanes),
                 x_buf.data());
      U[band].apply(x_buf.data(), m_buf.data(), scratch.data());
      load_block<scalar_t, acc_t>(g_data + n * grad.stride(0) + c0, grad.stride(2), out_w, r.g0, r.g1, C, nullptr,
                                  g_buf.data());
      DT[band].apply(g_buf.data(), dm_buf.data(), scratch.data());
      activate_backward(dm_buf.data(), m_buf.data(), (r.m1 - r.m0) * sx.m * L, p);
      scalar_t* const dst = dx_data + n * dx.stride(0) + r.o0 * dx.stride(2) + c0;
      if constexpr (kInPlace) {
        UT[band].apply(dm_buf.data(), dst, scratch.data());
      } else {
        UT[band].apply(dm_buf.data(), dx_buf.data(), scratch.data());
        store_block(dx_buf.data(), dst, dx.stride(2), W, r.rows, C);
      }
    }
  });
  return true;
}

}  // namespace
}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::filtered_lrelu
