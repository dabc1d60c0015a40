// Blurs, upsamplings and downsamplings of channels_last images of a few channels (blurs: up to
// one and a half vectors' worth, 2-D ones up to five; ups: half a vector's and one; downs: fewer
// than a vector's, at most 32 bytes a pixel) on the upfirdn2d CPU loops: the same up, or the
// same down, on both axes (a blur: neither), a 2-D or a separable filter.
//
// Why: a row of a channels_last image is one contiguous run of W·C values (pixel by pixel, a
// pixel's C channels together), and without resampling, output value m of a row (pixel m / C,
// channel m % C) sums the input values at m + tx·C of the rows it reads: the same taps for
// every value, C values apart. So vectors run along the whole row, across pixels and channels,
// every lane useful, with nothing to transpose: no strided channel loads, no whole-pixel
// stores (the row path's way for few channels, cpu_strided_lanes.h / cpu_interleaved_rows.h,
// which took 1.3-2x NCHW's time for these calls and fell below oneDNN's depthwise conv from 5
// float32 channels), and no masked vectors (the in-place channels_last route's way, a pixel's
// channels in the lanes: 12 channels fill 12 of 16). oneDNN pads a pixel's channels to a whole
// vector (its time barely moves from 2 to 7 channels). An upsampling by U runs each of a row's
// U phases (the output pixels ox with the same ox % U, which share their taps) as such a row of
// its own, then merges the phase rows pixel by pixel into the output row (merge_phase_rows); a
// downsampling by D splits each input row into D phase rows of its pixels (split_into_phases),
// and each tap then reads one of them, shifted by whole pixels. The taps read prepared rows
// (zero padding around the image's pixels, float16/bfloat16 widened), except where float32 or
// float64 blurs and ups read x's rows in place (away from the edges: run_pixel_rows).
//
// Every output sums the same taps in the same order as the row path, so the two give the same
// bits (up to the sign of a zero): 2-D, vertical tap then horizontal tap, one fmadd each from
// 0, the horizontal padding as zeros, vertical taps outside the image skipped; separable, each
// input row filtered horizontally (one chain from 0), then the rows summed vertically.
// Included only from upfirdn2d_cpu_run.h (compiled once per ISA and dtype).
#pragma once

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <vector>

#include "ops/common/aligned_vector.h"
#include "ops/common/cpu_partial_lanes.h"
#include "ops/common/cpu_strided_lanes.h"
#include "ops/upfirdn2d/upfirdn2d.h"
#include "ops/upfirdn2d/upfirdn2d_cpu_rows.h"
#include "ops/upfirdn2d/upfirdn2d_math.h"

namespace myops::ops::upfirdn2d {
namespace CPU_CAPABILITY {
namespace {

// Whether the call runs on pixel rows: one image (not a stack), the same upsampling U on both
// axes and no downsampling (a blur: U = 1), or the same downsampling D > 1 on both axes and no
// upsampling, a 2-D or separable filter, x and out channels_last with 2 or more channels and
// fewer than one and a half vectors' lanes (blurs; 2-D filters: up to five, AVX2 float32 fewer
// than two, below), from 3 to half a vector's lanes and one
// (U > 1), or from 3 (AVX2: 2) to fewer than a vector's lanes, pixels of at most 32 bytes (D > 1).
// Blurs, measured (A/B, one thread, [4, C, 128, 128], 4x4 and separable blurs, float32 and
// bfloat16, time before over time here): AVX-512, against the strided rows of the row path,
// C = 2-7, 1.1-1.8x; against run_in_channels_last (a pixel's channels in the lanes, masked),
// C = 8-20, 1.1-2.8x; level at 24; from 28 channels slower (0.64-0.92x: the in-place route
// needs no row copies). AVX2: C = 5-7 float32 (masked in place before) 1.7-2.4x, float16 /
// bfloat16 2-7 (strided rows) 1.7-2.3x, C = 8-12 1.1-1.9x, float32 from 16 slower (0.65-0.89x).
// Except float16/bfloat16 of 2 or 3 channels where the ISA moves their strided rows a vector at
// a time (AVX-512): the row path was 2-8% faster there.
// 2-D blurs (not separable) of more channels, measured the same way since the pixel rows' 4x4
// blurs run through RowRun (AVX-512): float32 up to two vectors' lanes (AVX-512 C = 24-31:
// 1.0-1.28x against run_in_channels_last, whose last block overlaps the one before it and loads
// taps across cache lines; AVX2 C = 12 1.17x, 14-15 level); and since they read x's rows in
// place (no row copies, bands of 8 rows), AVX-512 float32 up to five vectors' lanes too:
// C = 40 1.2-1.5x, 72 1.0-1.45x against run_in_channels_last on 8x8 to 128x128 images, but
// [4, 512, 8, 8] 0.55x, [4, 256, 16, 16] 0.8x, [4, 128, 64, 64] 0.9x (so not past five); AVX2
// float32 C = 16-40 0.74-0.88x (its weighted_row_sums, no RowRun: so two there);
// float16/bfloat16 up to five vectors' lanes (the in-place route widens every tap as it loads
// it, the pixel rows each row once: AVX-512 C = 24-72 1.06-1.65x, float16 32-64 1.04-1.17x;
// AVX2 bfloat16 12-40 1.2-1.75x), except where AVX-512 takes bfloat16 pixels two blocks at a time
// (C a multiple of 32: 0.55-0.99x) and float16 from 128 (0.93x). Separable blurs of 24-72
// channels were slower on pixel rows (float32 0.77-0.95x, bfloat16 40 and 72 0.86x, 0.71x).
// Ups (StyleGAN2's upsample2d, 4x4 filter, up 2; same A/B): AVX-512 float32 C = 4-9 1.1-1.6x
// faster (C = 7: 1.55x, 0.66 -> 1.0x oneDNN's depthwise conv_transpose2d), float16 5 and 8
// 1.3-1.5x, bfloat16 7-8 1.15-1.4x; slower from 10 float32 channels (12: 0.9x, 16: 0.7x: each
// output pixel is one more store, of a pixel's channels, than in place) and at 2 (0.75x), level
// at 3, bfloat16 5 0.95x (its strided rows), so AVX-512 bfloat16 from 7. AVX2 float32 C = 3-5
// 1.2-1.3x, 6 level, 7-11 slower (0.7-0.9x; 6-7 on pixel rows since 2026-12-07, below);
// bfloat16 3 and 5 1.7-1.8x, 8 0.8x, float16 and bfloat16 6-7 2.1-2.2x (through the planar
// copies before: AVX2 masks neither). (Those AVX2 figures are an Intel Xeon's, whose merge then
// stored each pixel masked; on an AMD EPYC that masked store was most of an up's time:
// merge_phase_rows.)
// Downs (StyleGAN2's downsample2d, 4x4 filter, down 2; same A/B): AVX-512 float32 C = 3-8
// 1.1-2.2x faster (C = 7: 411 -> 184 us, 0.50 -> 1.11x oneDNN's strided depthwise conv2d),
// float16/bfloat16 C = 4-8 1.4-1.8x, C = 3 1.1x; slower at 2 (0.73x: the strided rows, a
// vector at a time), level or slower from 9 (0.84-1.0x: pixels of 36 bytes and more copied in
// 64-byte pieces). AVX2 C = 2-7 1.1-2.9x (float16/bfloat16 5-7: 2.7-2.9x), slower at 8
// (0.8-0.9x: whole vectors in place). Separable [1, 3, 3, 1] down 2, the same channel counts:
// 1.1-2.7x faster.
template <typename scalar_t>
bool runs_on_pixel_rows(const at::Tensor& x, const Args& a, const at::Tensor& out) {
  using acc_t = at::opmath_type<scalar_t>;
  constexpr int64_t L = at::vec::Vectorized<acc_t>::size();
  if (x.dim() != 4 || a.up_x != a.up_y || a.down_x != a.down_y || (a.up_x > 1 && a.down_x > 1)) return false;
  const int64_t C = x.size(1);
  constexpr bool reduced_strided_lanes = !std::is_same_v<scalar_t, acc_t> && has_strided_lanes<acc_t, scalar_t>();
#if defined(CPU_CAPABILITY_AVX512)
  constexpr bool kBFloat16Pairs = std::is_same_v<scalar_t, c10::BFloat16>;  // (TapRuns::apply_bfloat16_pairs)
#else
  constexpr bool kBFloat16Pairs = false;
#endif
  const bool in_place_pairs = kBFloat16Pairs && C % (2 * L) == 0;
  const int64_t blur_limit =  // (channels below it; float64 not measured past 3 L / 2)
      a.kind == FilterKind::Separable || std::is_same_v<scalar_t, double> ? 3 * L / 2
      : std::is_same_v<scalar_t, float> && L < 16                        ? 2 * L
                                                                         : 5 * L + 1;
  const bool blur_channels = C >= 2 && C < blur_limit && !(reduced_strided_lanes && C <= 3) && !in_place_pairs;
  // (ups: also up to L - 1 channels where the ISA cannot mask them, which would take the planar
  // copies: AVX2 float16/bfloat16 6-7; or has no cheap partial store, which
  // run_in_channels_last would make for every pixel: AVX2 float32 6-7, A/B on an AMD EPYC,
  // [4, 7, 128, 128] up 2: 2.2 -> 0.72 ms with its masked stores, and still 0.74x pixel rows'
  // speed once it stored in pieces, store_first_lanes_avx2)
  const bool up_channels = C >= 3 && (C <= L / 2 + 1 || (C < L && !has_cheap_partial_stores<acc_t, scalar_t>())) &&
                           !(reduced_strided_lanes && std::is_same_v<scalar_t, c10::BFloat16> && C < 7);
  const bool down_channels = C >= (L > 8 ? 3 : 2) && C < L && C * int64_t{sizeof(acc_t)} <= 32;
  const bool channels = a.down_x > 1 ? down_channels : a.up_x == 1 ? blur_channels : up_channels;
  return channels && x.stride(1) == 1 && x.stride(3) == C && out.stride(1) == 1 && out.stride(3) == C;
}

// Upsampling by U (U > 1, the same on both axes): output pixel ox of a row is of phase
// r = ox % U, and the pixels of one phase, ox = r + U·j, read input pixels i0_r + j + t with the
// same taps: so each phase is a row of its own, computed as a blur's (vectors along its pixels
// and channels), and the U phase rows are then merged into the output row pixel by pixel.
struct PhaseTaps {
  int64_t k, i0, n, m;  // taps k + t·U (t < n) read input pixel i0 + j·D + t for the phase's pixel j < m
};

// (D > 1 only with U = 1: one phase, every tap)
inline std::vector<PhaseTaps> phase_taps(int64_t U, int64_t D, int64_t pad0, int64_t taps, int64_t in, int64_t out) {
  if (D > 1) return {{0, -pad0, taps, out}};
  std::vector<PhaseTaps> ph;
  for (int64_t r = 0; r < std::min(U, out); ++r) {
    const AxisTaps t = axis_taps(r, U, 1, pad0, taps, in);
    ph.push_back({t.k0, t.i0, t.k0 < taps ? (taps - t.k0 + U - 1) / U : 0, (out - r + U - 1) / U});
  }
  return ph;
}

// dst's pixel ox (C <= a vector's lanes of values) = pixel ox / U of phase row ox % U (rows
// phase_len apart, each with a vector of slack); dst may be the output tensor's row. AVX-512:
// one masked store a pixel (cpu_partial_lanes.h), rounded as stored. Else (AVX2: float32, or
// float16/bfloat16's op-math rows) one whole vector a pixel, in order, each store running past
// its pixel into the next one, which the next pixel's store then overwrites; the last pixels,
// whose vector would pass the row's end, move a value at a time. Why not AVX2's masked store
// for float32 (until 2026-12-07): vmaskmovps is microcoded on AMD's Zen cores; on an AMD EPYC
// (Zen 3) `perf annotate` put 87% of a float32 channels_last up's time on that one
// instruction, 0.54-0.85x oneDNN's depthwise conv_transpose2d (docs/performance.md).
template <typename acc_t, typename out_t>
void merge_phase_rows(const acc_t* phases, int64_t phase_len, int64_t U, int64_t C, int64_t out_w, out_t* dst) {
  using Vec = at::vec::Vectorized<acc_t>;
  constexpr int64_t V = Vec::size();
  if constexpr (has_cheap_partial_stores<acc_t, out_t>()) {
    const PartialLanes<acc_t, out_t> pixel(static_cast<int>(C));
    for (int64_t j = 0, ox = 0; ox < out_w; ++j) {
      for (int64_t r = 0; r < U && ox < out_w; ++r, ++ox) pixel.store(Vec::loadu(phases + r * phase_len + j * C), dst + ox * C);
    }
  } else {
    static_assert(std::is_same_v<out_t, acc_t>, "without masked stores, merge into op-math rows");
    int64_t ox = 0;
    for (int64_t j = 0; ox * C + V <= out_w * C; ++j) {
      for (int64_t r = 0; r < U && ox * C + V <= out_w * C; ++r, ++ox) {
        Vec::loadu(phases + r * phase_len + j * C).store(dst + ox * C);
      }
    }
    for (; ox < out_w; ++ox) std::copy_n(phases + ox % U * phase_len + ox / U * C, C, dst + ox * C);
  }
}

// A downsampling by D (D > 1, the same on both axes, U = 1) is the merge's inverse: output
// pixel ox's tap tx reads prepared pixel i = ox·D + tx, which is pixel ox + tx / D of phase row
// tx % D when a prepared row is kept as D phase rows (its pixels i with the same i % D, in
// order). So each tap is a phase row shifted by whole pixels, summed along whole vectors like a
// blur's. split_into_phases puts pixel p of a row of n (C values each, at src) at place
// (i0 + p) / D of phase row (i0 + p) % D (phase rows phase_len apart, at dst, each with 64 bytes
// of slack at least). A pixel moves in pieces of 16, 32 or 64 bytes (the smallest that holds
// it; 64-byte pieces for every pixel crossed more cache lines: 1.25x the time at 7
// float channels), where src has them (its first `readable` values), the last piece running
// past the pixel into the next places of its phase row, which the next pixels of that phase
// then overwrite; the run past each phase row's last such pixel is zeroed again (what lies there
// is padding, which must stay zero, or pixels then copied a value at a time).
template <int kBytes, typename acc_t>
void split_pixels(const acc_t* src, int64_t n, int64_t readable, int64_t C, int64_t D, int64_t i0, acc_t* dst,
                  int64_t phase_len) {
  constexpr int64_t kValues = kBytes / static_cast<int64_t>(sizeof(acc_t));  // (a piece's)
  const int64_t span = (C + kValues - 1) / kValues * kValues;                // (a pixel's pieces)
  const int64_t whole = readable >= span ? std::min(n, (readable - span) / C + 1) : 0;
  for (int64_t p0 = 0; p0 < std::min(D, n); ++p0) {  // the pixels p0, p0 + D, ... of one phase row
    acc_t* d = dst + (i0 + p0) % D * phase_len + (i0 + p0) / D * C;
    int64_t p = p0;
    for (; p < whole; p += D, d += C) {
      for (int64_t k = 0; k < span; k += kValues) std::memcpy(d + k, src + p * C + k, kBytes);
    }
    if (p > p0) std::fill(d, std::min(d + kValues, dst + ((i0 + p0) % D + 1) * phase_len), acc_t(0));
    for (; p < n; p += D, d += C) std::copy_n(src + p * C, C, d);  // (after the zeros: they may lie there)
  }
}

template <typename acc_t>
void split_into_phases(const acc_t* src, int64_t n, int64_t readable, int64_t C, int64_t D, int64_t i0, acc_t* dst,
                       int64_t phase_len) {
  const int64_t pixel_bytes = C * static_cast<int64_t>(sizeof(acc_t));
  if (pixel_bytes <= 16) {
    split_pixels<16>(src, n, readable, C, D, i0, dst, phase_len);
  } else if (pixel_bytes <= 32) {
    split_pixels<32>(src, n, readable, C, D, i0, dst, phase_len);
  } else {
    split_pixels<64>(src, n, readable, C, D, i0, dst, phase_len);
  }
}

// A blur's 4 x 4 filter on `count` >= 4 output rows whose 4 input rows are S apart and move by
// S from one output row to the next (rows[j * 4 + t]: row j's tap t, at the same offsets in
// every row): RowRun (upfirdn2d_cpu_rows.h), which walks the input rows once, each vector loaded
// feeding the 4 output rows it belongs to (4 loads per 16 FMAs instead of 16, three of four
// split across cache lines), the same fmadd chain per output as weighted_row_sums, so the same
// bits. AVX-512 only: AVX2's 16 vector registers do not hold RowRun's 16 weights and 8 sums.
// Measured (A/B, one thread, [4, C, 128, 128], 4x4 blur, time before / after): AVX-512 float32
// C = 3 161-168 / 132-138 us, 5 277-285 / 240-242, 12 609-633 / 520-537, 20
// 1019-1027 / 842-920; bfloat16 5 328 / 249, 12 699 / 582, 20 1169 / 999; AVX2 float32 0.55-0.8x
// (spills). Downs 2 (the 4 input rows moving by 2 S) were 3-10% slower, and so were blurs of half
// a vector's channels (AVX-512 float32 C = 8: 386 / 414-432 us; its taps' loads are half of
// them within a cache line): weighted_row_sums there.
// src_t: acc_t, or bfloat16 (a bfloat16 tensor's rows read where they lie, each vector widened
// as it is loaded: the same sums, widening is exact, without a widened copy of every row).
// False (nothing done) for any other call.
template <typename acc_t, typename src_t>
bool four_by_four_rows(const src_t* const* rows, const acc_t* weights, int64_t nt, int64_t width, acc_t* dst,
                       int64_t count, int64_t S, int64_t out_step) {
#if defined(CPU_CAPABILITY_AVX512)
  constexpr int64_t V = at::vec::Vectorized<acc_t>::size();
  if (nt != 16 || count < 4) return false;
  for (int j = 1; j < 4; ++j) {
    if (rows[j * 4] - rows[0] != j * S) return false;
  }
  const RowRun<4, 4, 1, acc_t, false, /*kCaller=*/1, src_t> run(rows, weights, S);
  int64_t m = 0;
  for (; m + V < width; m += 2 * V) run.template column<2>(rows[0] + m, dst + m, out_step, count, width - m - V);
  if (m < width) run.template column<1>(rows[0] + m, dst + m, out_step, count, width - m);
  return true;
#else
  (void)rows, (void)weights, (void)nt, (void)width, (void)dst, (void)count, (void)S, (void)out_step;
  return false;
#endif
}

// x's values at `offset` as op-math values (only where they are: float32, float64).
template <typename acc_t, typename scalar_t>
const acc_t* x_row_values(const scalar_t* x, int64_t offset) {
  if constexpr (std::is_same_v<scalar_t, acc_t>) {
    return x + offset;
  } else {
    (void)x, (void)offset;
    return nullptr;
  }
}

template <typename scalar_t>
void run_pixel_rows(const at::Tensor& x, const at::Tensor& coef_t, const Args& a, const at::Tensor& out) {
  using acc_t = at::opmath_type<scalar_t>;
  constexpr int64_t V = at::vec::Vectorized<acc_t>::size();
  const bool separable = a.kind == FilterKind::Separable;
  const int64_t N = x.size(0), C = x.size(1), in_h = x.size(2), in_w = x.size(3);
  const int64_t out_h = out.size(2), out_w = out.size(3), fh = a.fh, fw = a.fw, U = a.up_x, D = a.down_x;
  const acc_t* const coef = coef_t.const_data_ptr<acc_t>();  // 2-D [fh][fw]; separable [fw], both axes
  // A prepared row holds input pixels [xl, xr), zero outside the image, + a vector of slack
  // (whole vectors are loaded): every tap of every phase (U = 1: output pixel ox, tap tx reads
  // pixel xl + ox·D + tx). D > 1: as D phase rows of in_phase_len values (split_into_phases).
  const std::vector<PhaseTaps> phases = phase_taps(U, D, a.pad_x0, fw, in_w, out_w);
  int64_t xl = phases[0].i0, xr = xl;
  for (const PhaseTaps& p : phases) xl = std::min(xl, p.i0), xr = std::max(xr, p.i0 + (p.m - 1) * D + p.n);
  const int64_t x_begin = std::clamp<int64_t>(xl, 0, in_w), x_end = std::clamp<int64_t>(xr, x_begin, in_w);
  // (+ slack: whole vectors loaded, the split's pieces of up to 64 bytes stored)
  const int64_t in_phase_len = (xr - xl + D - 1) / D * C + std::max<int64_t>(V, 64 / int64_t{sizeof(acc_t)});
  const int64_t out_len = out_w * C, prep_len = D > 1 ? D * in_phase_len : (xr - xl) * C + V;
  // where prepared pixel i (input pixel xl + i) lies in its row
  const auto prepared_pixel = [&](int64_t i) { return D > 1 ? i % D * in_phase_len + i / D * C : i * C; };
  // U > 1: each output row's phase rows (a phase's pixels, + slack: the merge's whole vectors;
  // runs_on_pixel_rows keeps C within a vector's lanes)
  const int64_t phase_len = U > 1 ? phases[0].m * C + V : 0;
  // Direct reading (op-math values, no downsampling): the values [m0, m1) of a phase's row (a
  // blur's: the output row; separable: its horizontal pass) whose taps read only image pixels
  // read x's rows where they lie. m0 and m1 are whole vectors into the row, so those values'
  // loads (whole vectors from m0) end at m1, within x's rows, and no store splits a vector
  // there. The prepared rows then hold only the pixels the values outside read,
  // [x_begin, copy_left_end) and [copy_right_begin, x_end).
  // Why: the row copies (x from memory, into rows kept in L2) were half of a pixel-row blur's
  // time at 32 float channels, and not overlapped with the sums. Reading x in place, bands of
  // 8 output rows (more rows in flight than the hardware prefetcher follows: 1.3x slower at 12
  // channels with the 64K-value bands); separable 16 (its horizontal pass computes each band's
  // rows and the filter's overlap). Measured (A/B, one thread, [4, C, 128, 128] float32, 4x4
  // filter, time before / after): AVX-512 blurs C = 3 134-136 / 113-116 us, 5 301-351 / 185,
  // 12 565-574 / 431-526, 24 1045-1060 / 816-902, 40 (in place before) 1728-1810 / 1347-1367,
  // 72 2692-2890 / 2385; ups by 2 of 3-7 channels 1.07-1.15x; AVX2 blurs of 3-12 1.05-1.2x, ups
  // level; float64 blurs 1.0-1.6x; separable blurs (a 4-tap 1-D filter) of 8-20 channels
  // 1.05-1.15x, of 3-5 level. The same bits: each output sums the same values in the same order.
  struct DirectColumns {
    int64_t m0, m1;
  };
  // AVX-512 bfloat16 2-D 4x4 blurs (RowRun's case) read x in place too, each vector widened as
  // it is loaded (four_by_four_rows on x's rows); the direct calls RowRun does not take (rows
  // whose vertical taps leave the image, runs of fewer than 4 rows) widen the values they read
  // into `widened_rows` first. Why: the copies widened every row before RowRun read it; the bfloat16
  // channel sweep had blurs of 12, 40 and 72 channels at 0.78-0.86x oneDNN. A/B [4, C, 128, 128]:
  // C = 5 / 12 / 24 / 40 / 72 1.11 / 1.06 / 1.09 / 1.12 / 1.13x (docs/performance.md). (float16:
  // 0.86-1.03x in the first try, so not.)
  std::vector<DirectColumns> direct_columns(phases.size());
#if defined(CPU_CAPABILITY_AVX512)
  constexpr bool kWidenedInPlace = std::is_same_v<scalar_t, c10::BFloat16>;
#else
  constexpr bool kWidenedInPlace = false;
#endif
  const bool widened_in_place = kWidenedInPlace && !separable && U == 1 && D == 1 && 2 * C != V && fh == 4 && fw == 4;
  bool direct = (std::is_same_v<scalar_t, acc_t> || widened_in_place) && D == 1;
  int64_t copy_left_end = x_begin, copy_right_begin = x_end;
  for (size_t r = 0; r < phases.size() && direct; ++r) {
    const PhaseTaps& p = phases[r];  // (its pixels [j0, j1) read image pixels only)
    const int64_t j0 = std::max<int64_t>(0, -p.i0), j1 = std::min(p.m, in_w - p.i0 - p.n + 1);
    direct_columns[r] = {(j0 * C + V - 1) / V * V, j1 * C / V * V};
    direct = p.n > 0 && direct_columns[r].m1 - direct_columns[r].m0 >= V;
    copy_left_end = std::max(copy_left_end, p.i0 + (direct_columns[r].m0 + C - 1) / C + p.n - 1);
    copy_right_begin = std::min(copy_right_begin, p.i0 + direct_columns[r].m1 / C);
  }
  // Bands of output rows, ~64K outputs each (their prepared rows stay in L2), blurs at most 16
  // rows (bfloat16 [4, C, 128, 128], A/B: C = 5 273-306 -> 231-254 us, AVX2 C = 6-7 1.04-1.1x,
  // C = 12 level: 100 rows a band at 5 channels were more than the prefetchers follow);
  // reading x in place, 8 rows, separable 16 (above). D > 1: ~16K input values (prepared and
  // zeroed per chunk of work; measured 4-10% faster than 64K at 4-7 channels, AVX-512).
  const int64_t band_rows = direct ? (separable ? 16 : 8)
                            : D > 1 ? 16384 / std::max<int64_t>(out_len * D * D, 1)
                            : std::min<int64_t>(U == 1 ? 16 : out_h, 65536 / std::max<int64_t>(out_len, 1));
  const int64_t band_h = std::clamp<int64_t>(band_rows, 1, std::max<int64_t>(out_h, 1));
  const int64_t bands = (out_h + band_h - 1) / band_h;
  const int64_t max_rows = std::min(in_h, (band_h - 1) * D / U + fh);  // input rows a band reads (at most)
  std::vector<AxisTaps> vtaps(out_h);
  for (int64_t oy = 0; oy < out_h; ++oy) vtaps[oy] = axis_taps(oy, U, D, a.pad_y0, fh, in_h);
  const int64_t taps_per_value = separable ? (fh + fw * D) / U : fh * fw / (U * U);
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(band_h * out_len * taps_per_value, 1));
  const scalar_t* const x_data = x.const_data_ptr<scalar_t>();
  scalar_t* const out_data = out.data_ptr<scalar_t>();
  const int64_t xs0 = x.stride(0), xs2 = x.stride(2), os0 = out.stride(0), os2 = out.stride(2);

  at::parallel_for(0, N * bands, grain, [&](int64_t begin, int64_t end) {
    // Prepared rows (zeroed once: only the image's values are ever written, at the same
    // places); separable: the rows filtered horizontally (+ slack: whole vectors loaded).
    AlignedVector<acc_t> prepared(max_rows * prep_len), filtered(separable ? max_rows * out_len + V : 0);
    AlignedVector<acc_t> widened(D > 1 && !std::is_same_v<scalar_t, acc_t> ? in_w * C + V : 0);  // (D > 1)
    AlignedVector<acc_t> out_rows(std::is_same_v<scalar_t, acc_t> ? out_len : band_h * out_len);
    // U > 1: phase rows of every row a call computes (separable: the band's input rows; 2-D: a
    // run of output rows with the same vertical taps)
    AlignedVector<acc_t> phase_rows(U > 1 ? (separable ? max_rows : band_h / U + 1) * U * phase_len : 0);
    std::vector<const acc_t*> rows(fh * fw);
    std::vector<acc_t> weights(fh * fw);
    // bfloat16 direct columns (widened_columns): x's rows, and the values of those RowRun does
    // not take, widened (a band's rows of a row's width and the filter's overlap)
    std::vector<const scalar_t*> x_rows(widened_in_place ? fh * fw : 0);
    AlignedVector<acc_t> widened_rows(widened_in_place ? max_rows * (out_len + fw * C) : 0);
    std::vector<char> done(band_h);
    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t n = unit / bands, oy0 = unit % bands * band_h, oy1 = std::min(oy0 + band_h, out_h);
      int64_t lo, hi;  // the input rows [lo, hi] the band reads (the lambda below captures lo)
      std::tie(lo, hi) = input_rows_read(vtaps, oy0, oy1, in_h);
      const scalar_t* const xp = x_data + n * xs0;
      const int64_t width = x_end - x_begin;  // (image pixels a row reads)
      for (int64_t iy = lo; iy <= hi && width > 0; ++iy) {
        acc_t* const row = prepared.data() + (iy - lo) * prep_len;
        if (direct) {  // the edge columns' pixels only (the rest of a reused row slot keeps an
                       // earlier row's pixels, which no sum reads)
          const auto copy_pixels = [&](int64_t p0, int64_t p1) {
            if (p0 < p1) std::copy_n(xp + iy * xs2 + p0 * C, (p1 - p0) * C, row + (p0 - xl) * C);
          };
          copy_pixels(x_begin, std::min(x_end, copy_left_end));
          copy_pixels(std::max(x_begin, copy_right_begin), x_end);
        } else if (D == 1) {  // (float16/bfloat16 widened in place)
          acc_t* const dst = row + (x_begin - xl) * C;
          const acc_t* src = load_row(xp + iy * xs2 + x_begin * C, 1, width * C, dst);
          if (src != dst) std::copy(src, src + width * C, dst);
        } else {  // (float32: split straight from the tensor's row, no further than its end)
          const acc_t* src = load_row(xp + iy * xs2 + x_begin * C, 1, width * C, widened.data());
          const int64_t readable = src == widened.data() ? int64_t(widened.size()) : width * C;
          split_into_phases(src, width, readable, C, D, x_begin - xl, row, in_phase_len);
        }
      }
      // Values [m0, m1) of phase p's rows (a blur's: the output rows) for `count` rows into out
      // (rows out_step apart), row i from input rows iy0 + i·step + j, j < nfy (2-D: the
      // vertical taps inside the image, step D; the separable horizontal pass: each input row,
      // nfy 1, step 1), tap (j, tx) of weight weight(j, tx) read from x's rows (from_x) or from
      // the prepared ones.
      // bfloat16 direct columns: RowRun on x's rows, else the values read, widened (their taps
      // at the same offsets), summed by weighted_row_sums.
      const auto widened_columns = [&](const PhaseTaps& p, int64_t iy0, int64_t nfy, int64_t step,
                                       const auto& weight, int64_t m0, int64_t m1, acc_t* out, int64_t count,
                                       int64_t out_step) {
        int64_t nt = 0;
        for (int64_t j = 0; j < nfy; ++j) {
          for (int64_t tx = 0; tx < p.n; ++tx) {
            x_rows[nt] = xp + (iy0 + j) * xs2 + (p.i0 + tx) * C + m0;
            weights[nt++] = weight(j, tx);
          }
        }
        if (four_by_four_rows(x_rows.data(), weights.data(), nt, m1 - m0, out + m0, count, xs2, out_step)) {
          return;
        }
        // (nt 0, rows reading no image row, e.g. below a bottom padding of fh or more: nothing to
        // load, the sums are zeros; x_rows then holds an earlier call's pointers, and loading
        // count - 1 rows from them read past x's end: found by ASan, 2026-12-07)
        const int64_t n_rows = nt == 0 ? 0 : (count - 1) * step + nfy, len = m1 - m0 + (p.n - 1) * C;
        for (int64_t i = 0; i < n_rows; ++i) load_row(x_rows[0] + i * xs2, 1, len, widened_rows.data() + i * len);
        for (int64_t t = 0; t < nt; ++t) rows[t] = widened_rows.data() + t / p.n * len + t % p.n * C;
        weighted_row_sums(rows.data(), weights.data(), nt, m1 - m0, out + m0, count, step * len, out_step);
      };
      const auto phase_columns = [&](const PhaseTaps& p, int64_t iy0, int64_t nfy, int64_t step, const auto& weight,
                                     int64_t m0, int64_t m1, bool from_x, acc_t* out, int64_t count, int64_t out_step) {
        if (m0 >= m1) return;
        if constexpr (kWidenedInPlace) {  // (from_x: widened_in_place)
          if (from_x) return widened_columns(p, iy0, nfy, step, weight, m0, m1, out, count, out_step);
        }
        int64_t nt = 0;
        for (int64_t j = 0; j < nfy; ++j) {
          for (int64_t tx = 0; tx < p.n; ++tx) {
            rows[nt] = from_x ? x_row_values<acc_t>(xp, (iy0 + j) * xs2 + (p.i0 + tx) * C + m0)
                              : prepared.data() + (iy0 + j - lo) * prep_len + prepared_pixel(p.i0 - xl + tx) + m0;
            weights[nt++] = weight(j, tx);
          }
        }
        const int64_t S = from_x ? xs2 : prep_len;
        // (four_by_four_rows: 2-D blurs, not at half a vector's channels)
        const bool row_run = !separable && U == 1 && D == 1 && 2 * C != V;
        if (!row_run ||
            !four_by_four_rows(rows.data(), weights.data(), nt, m1 - m0, out + m0, count, S, out_step)) {
          weighted_row_sums(rows.data(), weights.data(), nt, m1 - m0, out + m0, count, step * S, out_step);
        }
      };
      // A whole phase row: its direct columns from x's rows, the rest from the prepared ones.
      const auto phase_row = [&](size_t r, int64_t iy0, int64_t nfy, int64_t step, const auto& weight, acc_t* out,
                                 int64_t count, int64_t out_step) {
        const int64_t width = phases[r].m * C;
        const DirectColumns d = direct ? direct_columns[r] : DirectColumns{width, width};
        phase_columns(phases[r], iy0, nfy, step, weight, 0, d.m0, false, out, count, out_step);
        phase_columns(phases[r], iy0, nfy, step, weight, d.m0, d.m1, true, out, count, out_step);
        phase_columns(phases[r], iy0, nfy, step, weight, d.m1, width, false, out, count, out_step);
      };
      if (separable && hi >= lo) {  // each input row filtered horizontally, taps C values apart
        const int64_t count = hi - lo + 1;
        for (size_t r = 0; r < phases.size(); ++r) {
          const auto weight = [&](int64_t, int64_t tx) { return coef[phases[r].k + tx * U]; };
          // (D > 1: output pixel ox reads prepared pixel ox·D + tx, place ox + tx / D of its phase row)
          if (U == 1) {
            phase_row(r, lo, 1, 1, weight, filtered.data(), count, out_len);
          } else {
            phase_row(r, lo, 1, 1, weight, phase_rows.data() + r * phase_len, count, U * phase_len);
          }
        }
        for (int64_t i = 0; i < count && U > 1; ++i) {
          merge_phase_rows(phase_rows.data() + i * U * phase_len, phase_len, U, C, out_w,
                           filtered.data() + i * out_len);
        }
      }
      std::fill(done.begin(), done.end(), 0);
      for (int64_t oy = oy0; oy < oy1; ++oy) {
        if (done[oy - oy0]) continue;
        const AxisTaps& v = vtaps[oy];
        // (the rows oy + i·U with the same taps, each reading D input rows further, in one call)
        const int64_t count = rows_with_same_taps(vtaps, oy, oy1, U, D);
        for (int64_t i = 0; i < count; ++i) done[oy + i * U - oy0] = 1;
        scalar_t* const op = out_data + n * os0 + oy * os2;
        acc_t* const dst = row_target(op, 1, out_rows.data());  // (in place: rows U·os2 apart)
        const bool in_place = dst != out_rows.data();
        const int64_t dst_step = in_place ? U * os2 : out_len;
        // 2-D: phase r's tap (j, tx), j counted from the first vertical tap inside the image
        const auto weight_2d = [&](size_t r) {
          return [&, r](int64_t j, int64_t tx) {
            return coef[(v.k0 + (v.t_begin + j) * U) * fw + phases[r].k + tx * U];
          };
        };
        if (separable) {
          int64_t nt = 0;
          for (int64_t ty = v.t_begin; ty < v.t_end; ++ty) {
            rows[nt] = filtered.data() + (v.i0 + ty - lo) * out_len;
            weights[nt++] = coef[v.k0 + ty * U];
          }
          weighted_row_sums(rows.data(), weights.data(), nt, out_len, dst, count, D * out_len, dst_step);  // (nt 0: zeros)
        } else if (U == 1) {
          phase_row(0, v.i0 + v.t_begin, v.t_end - v.t_begin, D, weight_2d(0), dst, count, dst_step);
        } else {  // each phase's rows, then merged into the output rows
          for (size_t r = 0; r < phases.size(); ++r) {
            phase_row(r, v.i0 + v.t_begin, v.t_end - v.t_begin, D, weight_2d(r), phase_rows.data() + r * phase_len,
                      count, U * phase_len);
          }
          // (straight into the output where the merge writes out's values: op-math ones, or
          // rounded by masked stores)
          for (int64_t i = 0; i < count; ++i) {
            const acc_t* const ph = phase_rows.data() + i * U * phase_len;
            if constexpr (std::is_same_v<scalar_t, acc_t> || has_partial_lanes<acc_t, scalar_t>()) {
              merge_phase_rows(ph, phase_len, U, C, out_w, op + i * U * os2);
            } else {
              merge_phase_rows(ph, phase_len, U, C, out_w, dst + i * dst_step);
              store_row(dst + i * dst_step, op + i * U * os2, 1, out_len);
            }
          }
          continue;
        }
        for (int64_t i = 0; i < count; ++i) store_row(dst + i * dst_step, op + i * U * os2, 1, out_len);
      }
    }
  });
}

}  // namespace
}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::upfirdn2d
