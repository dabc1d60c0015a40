// The row machinery of the upfirdn2d CPU loops, shared by every *_cpu_kernel.cpp that resamples
// images (upfirdn2d itself; filtered_lrelu's fused kernel, which chains several resamplings
// without materializing the images between them). Included only from *_cpu_kernel.cpp files,
// which are compiled once per ISA: everything sits in CPU_CAPABILITY and an unnamed namespace,
// so each ISA's copy is its own (see ops/common/scalar_ops.h).
//  - HorizontalPass: one row resampled along x (polyphase, vectorized, zero-padded prepared
//    rows: no border case, no scalar tail), planned once per call.
//  - weighted_row_sum: the vertical taps, a weighted sum of rows (vectorized).
//  - load_row / row_target / store_row: rows of any stride and dtype in and out of op-math.
#pragma once

#include <ATen/OpMathType.h>
#include <ATen/cpu/vec/functional.h>  // convert_to_float/convert_from_float for Half, BFloat16
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <type_traits>
#include <utility>
#include <vector>

#include "ops/common/cpu_strided_lanes.h"
#include "ops/upfirdn2d/upfirdn2d_math.h"

namespace myops::ops::upfirdn2d {
namespace CPU_CAPABILITY {
namespace {

using math::AxisTaps;
using math::axis_taps;

// The input rows [lo, hi] that the vertical taps of output rows [o0, o1) read; when they read
// none (rows of padding only), {none_lo, -1}: hi < lo.
inline std::pair<int64_t, int64_t> input_rows_read(const std::vector<AxisTaps>& vtaps, int64_t o0, int64_t o1,
                                                   int64_t none_lo) {
  int64_t lo = none_lo, hi = -1;
  for (int64_t o = o0; o < o1; ++o) {
    const AxisTaps& v = vtaps[o];
    if (v.t_end > v.t_begin) {
      lo = std::min(lo, v.i0 + v.t_begin);
      hi = std::max(hi, v.i0 + v.t_end - 1);
    }
  }
  return {lo, hi};
}

// How many of the output rows oy, oy + step, oy + 2·step, ... (before `end`) have oy's vertical
// taps, each reading input rows `in_step` further than the one before: they take one call (the
// taps' weights set up once).
inline int64_t rows_with_same_taps(const std::vector<AxisTaps>& vtaps, int64_t oy, int64_t end, int64_t step,
                                   int64_t in_step) {
  const AxisTaps& v = vtaps[oy];
  int64_t count = 1;
  while (oy + count * step < end) {
    const AxisTaps& u = vtaps[oy + count * step];
    if (u.k0 != v.k0 || u.t_begin != v.t_begin || u.t_end != v.t_end || u.i0 != v.i0 + count * in_step) break;
    ++count;
  }
  return count;
}

// Calls f(std::integral_constant<int, n>) for n in [1, 16], f(std::integral_constant<int, 0>)
// (meaning: count known only at run time) otherwise, so the common tap counts (4 taps, up or
// down 2, 2-D 4x4: 2, 4, 8, 12, 16) get fully unrolled loops with their weights in registers.
template <typename F>
C10_ALWAYS_INLINE void with_static_count(int64_t n, F&& f) {
  switch (n) {
#define MYOPS_UPFIRDN2D_CASE(k) \
  case k:                       \
    return f(std::integral_constant<int, k>{});
    MYOPS_UPFIRDN2D_CASE(1) MYOPS_UPFIRDN2D_CASE(2) MYOPS_UPFIRDN2D_CASE(3) MYOPS_UPFIRDN2D_CASE(4)
    MYOPS_UPFIRDN2D_CASE(5) MYOPS_UPFIRDN2D_CASE(6) MYOPS_UPFIRDN2D_CASE(7) MYOPS_UPFIRDN2D_CASE(8)
    MYOPS_UPFIRDN2D_CASE(9) MYOPS_UPFIRDN2D_CASE(10) MYOPS_UPFIRDN2D_CASE(11) MYOPS_UPFIRDN2D_CASE(12)
    MYOPS_UPFIRDN2D_CASE(13) MYOPS_UPFIRDN2D_CASE(14) MYOPS_UPFIRDN2D_CASE(15) MYOPS_UPFIRDN2D_CASE(16)
#undef MYOPS_UPFIRDN2D_CASE
    default:
      return f(std::integral_constant<int, 0>{});
  }
}

// The taps of one output phase, flattened over the rows summed: output m of the phase is
// sum_k w[k] * p[k][m], k in order (the order fixes the rounding).
template <typename acc_t>
struct TapList {
  const acc_t** p;
  acc_t* w;
  int64_t n;
};

// sum_k w[k] * p[k][m .. m + Vec::size()), NK taps (NK == 0: taps.n, a run-time count).
template <int NK, typename acc_t>
struct Dot {
  using Vec = at::vec::Vectorized<acc_t>;
  static constexpr int kMax = NK > 0 ? NK : 1;
  const acc_t* p[kMax];
  Vec w[kMax];
  const TapList<acc_t>* taps;
  explicit Dot(const TapList<acc_t>& t) : taps(&t) {
    if constexpr (NK > 0) {
      for (int k = 0; k < NK; ++k) {
        p[k] = t.p[k];
        w[k] = Vec(t.w[k]);
      }
    }
  }
  Vec operator()(int64_t m) const {
    Vec sum;
    many<1>(&m, &sum);
    return sum;
  }
  // K independent outputs at once, sum[j] at offset m[j]: each is the same chain of fmadds as
  // operator() (same order, same bits), but K chains interleaved keep the FMA units busy where
  // one chain would wait on its own latency (a 4x4 filter: 16 dependent fmadds per vector).
  template <int K>
  C10_ALWAYS_INLINE void many(const int64_t* m, Vec* sum) const {
    for (int j = 0; j < K; ++j) sum[j] = Vec(acc_t(0));
    if constexpr (NK > 0) {
      for (int k = 0; k < NK; ++k) {
        for (int j = 0; j < K; ++j) sum[j] = at::vec::fmadd(w[k], Vec::loadu(p[k] + m[j]), sum[j]);
      }
    } else {
      for (int64_t k = 0; k < taps->n; ++k) {
        const Vec wk(taps->w[k]);
        const acc_t* pk = taps->p[k];
        for (int j = 0; j < K; ++j) sum[j] = at::vec::fmadd(wk, Vec::loadu(pk + m[j]), sum[j]);
      }
    }
  }
  // many<K> at K consecutive vectors from m0: the offsets known to the compiler, which folds
  // them into the loads' addresses.
  template <int K>
  C10_ALWAYS_INLINE void consecutive(int64_t m0, Vec* sum) const {
    int64_t m[K];
    for (int j = 0; j < K; ++j) m[j] = m0 + j * Vec::size();
    many<K>(m, sum);
  }
  // consecutive<K>, stored whole at dst.
  template <int K>
  C10_ALWAYS_INLINE void store_consecutive(int64_t m0, acc_t* dst) const {
    Vec sum[K];
    consecutive<K>(m0, sum);
    for (int j = 0; j < K; ++j) sum[j].store(dst + j * Vec::size());
  }
  // many<q> for a count known only at run time (1 to 4): a partial batch computes only its own
  // items (padding it to 4 cost up to 4x the arithmetic on rows of 1-3 vectors, the small
  // planes of filtered_lrelu and of vmap-folded calls).
  void many_n(int q, const int64_t* m, Vec* sum) const {
    switch (q) {
      case 4: many<4>(m, sum); break;
      case 3: many<3>(m, sum); break;
      case 2: many<2>(m, sum); break;
      default: many<1>(m, sum); break;
    }
  }
};

// Work items of a row loop (a vector of outputs: where it reads, where it goes, how many lanes
// are kept), gathered kK at a time so that Dot::many computes them together.
template <typename acc_t>
struct Batch {
  static constexpr int kK = 4;
  int64_t in[kK];
  acc_t* dst[kK];
  int64_t n[kK];
  int q = 0;
  // Adds an item; calls flush(count) when kK are gathered.
  template <typename F>
  void add(int64_t in_, acc_t* dst_, int64_t n_, F&& flush) {
    in[q] = in_;
    dst[q] = dst_;
    n[q] = n_;
    if (++q == kK) {
      flush(kK);
      q = 0;
    }
  }
  // Flushes a partial batch (flush computes only its q items: Dot::many_n).
  template <typename F>
  void finish(F&& flush) {
    if (q == 0) return;
    flush(q);
    q = 0;
  }
};

// The vectors of outputs of one row, V values each from offset 0: whole runs of K vectors (of
// the first `whole` values) go to run(m), with consecutive offsets (Dot::consecutive: no batch
// bookkeeping), the row's last vectors (fewer than K, or partial) to item(m), for a Batch.
// Why: with every vector an item of a Batch, Dot::many_n was an out-of-line call (GCC does not
// inline it for 1-8 taps) with its offsets and sums passed through memory, per K vectors: the
// separable pixel-row blurs took longer than the 2-D ones with half their FMAs. Measured (A/B,
// AMD EPYC, AVX2, one thread, medians of 5 alternating rounds, time before / after):
// channels_last [4, 7, 128, 128] separable blur float32 469 / 209 us, bfloat16 952 / 293,
// float16 923 / 265; its 4x4 blur 444 / 304 (bfloat16 540 / 394); NCHW up 2 [2, 16, 64, 64]
// 329 / 170; nothing slower (docs/performance.md). The same bits: each output's fmadd chain is
// the same.
template <int K, int64_t V, typename Run, typename Item>
C10_ALWAYS_INLINE void row_vectors(int64_t whole, int64_t width, Run&& run, Item&& item) {
  int64_t m = 0;
  for (; m + K * V <= whole; m += K * V) run(m);
  for (; m < width; m += V) item(m);
}

// Stores the first n (<= Vec::size()) lanes of v at dst. Always inlined: it is called from the
// hot loops (RowRun's row stores, the row path's tails), where a call would send every live
// vector register (all caller-saved: RowRun's 16 weights and 8 open sums) to the stack and back.
// GCC decided by the size of the translation unit: once upfirdn2d's loops were split per dtype
// it made it a call, and the float32 pixel-row blurs got 7-11% slower (upfirdn2d_cpu_dtypes.h).
// AVX2 stores a partial vector masked: ATen's partial store (a copy on the stack and a memcpy)
// became a call in those loops in turn. (Not in pieces, store_first_lanes_avx2, as PartialLanes
// and cpu_kernel_vec store theirs, although AVX2's masked store is slow on AMD: here, where a
// row's last vector is one store among many, the pieces made NCHW blurs of 33- and 65-pixel
// rows 3-7% slower on an AMD EPYC, and those of 5- and 9-pixel rows no faster.)
template <typename Vec, typename acc_t>
C10_ALWAYS_INLINE void store_n(const Vec& v, acc_t* dst, int64_t n) {
  if (n >= Vec::size()) {
    v.store(dst);
  } else if (n > 0) {
#if defined(CPU_CAPABILITY_AVX2)
    if constexpr (std::is_same_v<acc_t, float>) {
      const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
      _mm256_maskstore_ps(dst, _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), lanes), v);
      return;
    } else if constexpr (std::is_same_v<acc_t, double>) {
      const __m256i lanes = _mm256_setr_epi64x(0, 1, 2, 3);
      _mm256_maskstore_pd(dst, _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), lanes), v);
      return;
    }
#endif
    v.store(dst, static_cast<int>(n));
  }
}

// A 2-D filter of NR x NT taps down a run of output rows whose input rows follow one another:
// output row i reads input rows i * VD + j (j < NR), S elements apart, tap t at offset off[t].
// The input rows are walked once, in order, for a column of K vectors: each vector loaded is
// used for every output row it feeds (NR / VD of them), whose sums are open in registers
// (L = NR / VD accumulators, reused in turn); an output row is stored when its last row is in.
// Why (issue 13): with 4 x 4 taps the row path (Dot) was bound by its loads, one per FMA and
// three of every four split across two cache lines (offsets 1-3 of a 64-byte vector): ~28
// load uops per 16 FMAs. Here it is NT * K loads per input row for (NR / VD) * NT * K FMAs.
// Each output's sum is the same fmadd chain as Dot's over the flattened tap list (filter row j,
// then tap t, from 0), so the same bits.
// kSeparable: a 1-D filter, NT taps along x and NR along y. Each input row's horizontal sum
// (the chain of Dot's horizontal pass) is made once in registers and fed to the open output
// rows with their vertical weights (the chain of weighted_row_sums): the separable row path's
// sums, the same bits, without its scratch rows (stored and loaded again: the separable blur
// was 1.4x the 2-D one) and with NT + NR / VD FMAs per input vector instead of NT * NR / VD.
// kCaller: a distinct instantiation per calling loop (0: the row path's, 1: the pixel rows'),
// so that each is inlined into its one caller: shared, GCC made its member functions out of
// line, and the row path's bfloat16 blurs of 2-3 channels 12-15% slower (A/B).
// src_t: the type of the input rows, acc_t or (rows of a bfloat16 tensor read where they lie)
// one widened to acc_t as each vector is loaded; exact, so the same sums as from widened copies
// of the rows.
template <int NR, int NT, int VD, typename acc_t, bool kSeparable = false, int kCaller = 0, typename src_t = acc_t>
struct RowRun {
  static_assert(NR % VD == 0, "every input row feeds NR / VD output rows");
  static constexpr int L = NR / VD;  // output rows open at a time
  static constexpr int U = L * VD;   // input rows per round: the accumulators' turn
  using Vec = at::vec::Vectorized<acc_t>;
  Vec w[NR][NT];  // 2-D: w[j][t]; separable: w[0][t] along x, vw[j] along y
  Vec vw[NR];
  int64_t off[NT];
  int64_t S;
  // list: the taps as Dot takes them, p[j * NT + t] = p[0] + j * S + off[t] (off[0] = 0).
  RowRun(const TapList<acc_t>& list, int64_t S_) : S(S_) {
    static_assert(!kSeparable);
    for (int t = 0; t < NT; ++t) off[t] = list.p[t] - list.p[0];
    for (int j = 0; j < NR; ++j) {
      for (int t = 0; t < NT; ++t) w[j][t] = Vec(list.w[j * NT + t]);
    }
  }
  // The same from the taps' pointers into rows of src_t (p[j * NT + t]) and their weights.
  RowRun(const src_t* const* p, const acc_t* wt, int64_t S_) : S(S_) {
    static_assert(!kSeparable);
    for (int t = 0; t < NT; ++t) off[t] = p[t] - p[0];
    for (int j = 0; j < NR; ++j) {
      for (int t = 0; t < NT; ++t) w[j][t] = Vec(wt[j * NT + t]);
    }
  }
  C10_ALWAYS_INLINE static Vec load(const src_t* p) {
    if constexpr (std::is_same_v<src_t, acc_t>) {
      return Vec::loadu(p);
    } else {
      Vec v;
      at::vec::load_to_float<src_t>(p, v);
      return v;
    }
  }
  // Separable: tap t along x at offset off_x[t] - off_x[0] with weight wx[t]; row j of a run
  // with weight wy[j].
  RowRun(const int64_t* off_x, const acc_t* wx, const acc_t* wy, int64_t S_) : S(S_) {
    static_assert(kSeparable);
    for (int t = 0; t < NT; ++t) {
      off[t] = off_x[t] - off_x[0];
      w[0][t] = Vec(wx[t]);
    }
    for (int j = 0; j < NR; ++j) vw[j] = Vec(wy[j]);
  }

  // Input row r (r % U == Q) into the open sums; stores output row (r - NR + 1) / VD when r is
  // its last row and it is one of the `count` output rows (at out + i * out_step).
  template <int Q, int K>
  void row(const src_t* rp, int64_t r, Vec (&acc)[L][K], acc_t* out, int64_t out_step, int64_t count,
           int64_t n_last) const {
    if constexpr (Q % VD == 0) {  // output row r / VD starts here
      for (int k = 0; k < K; ++k) acc[slot(Q, 0)][k] = Vec(acc_t(0));
    }
    if constexpr (kSeparable) {
#pragma GCC unroll 4
      for (int k = 0; k < K; ++k) {
        Vec h(acc_t(0));
#pragma GCC unroll 16
        for (int t = 0; t < NT; ++t) h = at::vec::fmadd(w[0][t], load(rp + off[t] + k * Vec::size()), h);
#pragma GCC unroll 16
        for (int j = 0; j < NR; ++j) {
          if ((Q - j) % VD != 0) continue;  // (j: the filter row by which input row r feeds an output)
          acc[slot(Q, j)][k] = at::vec::fmadd(vw[j], h, acc[slot(Q, j)][k]);
        }
      }
    } else {
#pragma GCC unroll 16
      for (int t = 0; t < NT; ++t) {
#pragma GCC unroll 4
        for (int k = 0; k < K; ++k) {
          const Vec v = load(rp + off[t] + k * Vec::size());
#pragma GCC unroll 16
          for (int j = 0; j < NR; ++j) {
            if ((Q - j) % VD != 0) continue;  // (j: the filter row by which input row r feeds an output)
            acc[slot(Q, j)][k] = at::vec::fmadd(w[j][t], v, acc[slot(Q, j)][k]);
          }
        }
      }
    }
    constexpr int kLast = NR - 1;
    if constexpr ((Q - kLast) % VD == 0) {
      const int64_t i = (r - kLast) / VD;
      if (r >= kLast && i < count) {
        acc_t* o = out + i * out_step;
        for (int k = 0; k + 1 < K; ++k) acc[slot(Q, kLast)][k].store(o + k * Vec::size());
        store_n(acc[slot(Q, kLast)][K - 1], o + (K - 1) * Vec::size(), n_last);
      }
    }
  }
  // The accumulator of the output row fed by filter row j from an input row of phase q:
  // output (r - j) / VD, taken modulo L.
  static constexpr int slot(int q, int j) { return (((q - j) / VD) % L + L) % L; }

  // The `count` output rows of a column of K vectors (the last one n_last lanes wide), from
  // `at` (p[0] + the column's offset) to `out` (+ the column's offset).
  template <int K>
  void column(const src_t* at, acc_t* out, int64_t out_step, int64_t count, int64_t n_last) const {
    Vec acc[L][K];
    for (int s = 0; s < L; ++s) {
      for (int k = 0; k < K; ++k) acc[s][k] = Vec(acc_t(0));
    }
    const int64_t rows = (count - 1) * VD + NR;
    int64_t r = 0;
    const src_t* rp = at;
    for (; r + U <= rows; r += U, rp += U * S) rows_from<0, K>(rp, r, acc, out, out_step, count, n_last, U);
    if (r < rows) rows_from<0, K>(rp, r, acc, out, out_step, count, n_last, rows - r);
  }
  // Input rows r .. r + n - 1 (n <= U, r % U == 0), unrolled so that each has its static phase.
  template <int Q, int K>
  void rows_from(const src_t* rp, int64_t r, Vec (&acc)[L][K], acc_t* out, int64_t out_step, int64_t count,
                 int64_t n_last, int64_t n) const {
    if constexpr (Q < U) {
      if (Q >= n) return;
      row<Q, K>(rp + Q * S, r + Q, acc, out, out_step, count, n_last);
      rows_from<Q + 1, K>(rp, r, acc, out, out_step, count, n_last, n);
    }
  }
};

// f(input offset, output offset) for `count` rows of `planes` planes, plane by plane.
template <typename F>
inline void for_rows(int64_t count, int64_t in_step, int64_t out_step, int64_t planes,
                     int64_t plane_in_step, int64_t plane_out_step, F&& f) {
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t i = 0; i < count; ++i) f(p * plane_in_step + i * in_step, p * plane_out_step + i * out_step);
  }
}

// Scratch memory of one thread (one parallel_for chunk).
template <typename acc_t>
struct Workspace {
  std::vector<acc_t> in_row, prepared, out_row, scratch;
  std::vector<const acc_t*> tap_p;
  std::vector<acc_t> tap_w;
};

// The horizontal resampling of a row, planned once per call and shared by every row of every
// plane. `rows` filter rows: one for a 1-D filter; fh for a 2-D one (the vertical tap picks).
//
// Polyphase form: with g = gcd(up, down), P = up / g and D = down / g, the outputs
// o = r + m*P of phase r (0 <= r < P) all use the same taps: tap t < n_r of output m reads input
// i0_r + m*D + t, with the filter coefficient k0_r + t*up. A row is prepared once (prepare()):
// the pixels any output reads, zero-padded where they fall outside the row, split into D
// sub-rows (every D-th pixel) so that tap t of phase r reads prepared[tap_off + m] for
// consecutive m, with Vec::size() zeros of slack so the last vector may read past the end.
template <typename acc_t>
struct HorizontalPass {
  using Vec = at::vec::Vectorized<acc_t>;
  int64_t rows, in_w, out_w, P, D, T;
  int64_t m_count;          // outputs per phase, ceil(out_w / P) (the last may lie past out_w)
  int64_t x_lo;             // the first pixel of the prepared row (< 0: zero padding)
  int64_t x_begin, x_end;   // the input pixels copied into it: [x_begin, x_end)
  int64_t sub_len;          // the length of each of the D sub-rows
  std::vector<int64_t> n;        // [P]: taps of phase r (0: its outputs are zeros)
  std::vector<int64_t> tap_off;  // [P][T]: tap t of phase r, output m reads prepared[tap_off + m]
  std::vector<acc_t> w;          // [rows][P][T]: their weights per filter row
  // Everything with a division is done here, once per call: run() only adds and multiplies.
  HorizontalPass(const acc_t* coef, int64_t rows_, int64_t taps, int64_t in_w_, int64_t out_w_,
                 int64_t up, int64_t down, int64_t pad0)
      : rows(rows_), in_w(in_w_), out_w(out_w_) {
    const int64_t g = std::gcd(up, down);
    P = up / g;
    D = down / g;
    T = math::max_taps(taps, up);
    m_count = (out_w + P - 1) / P;
    n.assign(P, 0);
    std::vector<AxisTaps> phase(P);
    int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
    for (int64_t r = 0; r < P && r < out_w; ++r) {
      phase[r] = axis_taps(r, up, down, pad0, taps, in_w);
      n[r] = phase[r].k0 < taps ? (taps - phase[r].k0 + up - 1) / up : 0;
      if (n[r] == 0) continue;
      lo = std::min(lo, phase[r].i0);
      hi = std::max(hi, phase[r].i0 + (m_count - 1) * D + n[r] - 1);
    }
    if (hi < lo) lo = hi = 0;  // no tap anywhere: every output is 0
    x_begin = std::clamp<int64_t>(lo, 0, in_w);
    x_end = std::max(x_begin, std::clamp<int64_t>(hi + 1, 0, in_w));
    // One more zero in front when that makes the first pixel copied start every sub-row
    // ((x_begin - x_lo) % D == 0): prepare() then splits whole vectors from the row's first
    // pixel, with no scalar head, and no partial tail when in_w is a multiple of D vectors.
    if (x_begin >= lo) lo -= (x_begin - lo) % D;
    x_lo = lo;
    sub_len = (hi - lo + D) / D + Vec::size();
    w.assign(rows * P * T, acc_t(0));
    tap_off.assign(P * T, 0);
    for (int64_t r = 0; r < P; ++r) {
      for (int64_t t = 0; t < n[r]; ++t) {
        const int64_t pos = phase[r].i0 + t - x_lo;  // >= 0
        tap_off[r * T + t] = (pos % D) * sub_len + pos / D;
        for (int64_t row = 0; row < rows; ++row) w[(row * P + r) * T + t] = coef[row * taps + phase[r].k0 + t * up];
      }
    }
  }

  // The size of a prepared row. Its buffer must be zeroed once; prepare() writes only the
  // pixels of the row, always at the same places, so the zero padding stays.
  int64_t prepared_len() const { return D * sub_len; }

  void reserve(Workspace<acc_t>& ws, int64_t max_rows) const {
    ws.tap_p.resize(P * max_rows * T);
    ws.tap_w.resize(P * max_rows * T);
  }

  // Writes pixels [x_begin, x_end) of the op-math row `src` into the prepared row `buf`.
  void prepare(const acc_t* src, acc_t* buf) const {
    int64_t x = x_begin;
    if (D == 1) {
      std::copy(src + x_begin, src + x_end, buf + (x_begin - x_lo));
      return;
    }
    if (D == 2) {  // the common downsampling by 2: split even and odd pixels a vector at a time
      if (((x - x_lo) & 1) && x < x_end) {
        buf[sub_len + (x - x_lo) / 2] = src[x];
        ++x;
      }
      acc_t* even = buf + (x - x_lo) / 2;
      acc_t* odd = buf + sub_len + (x - x_lo) / 2;
      for (; x < x_end; x += 2 * Vec::size()) {
        const int64_t count = std::min<int64_t>(2 * Vec::size(), x_end - x);
        const Vec lo = count >= Vec::size() ? Vec::loadu(src + x) : Vec::loadu(src + x, count);
        const Vec hi = count >= 2 * Vec::size() ? Vec::loadu(src + x + Vec::size())
                                                : Vec::loadu(src + x + Vec::size(), std::max<int64_t>(count - Vec::size(), 0));
        const auto [e, o] = at::vec::deinterleave2(lo, hi);
        store_n(e, even, (count + 1) / 2);
        store_n(o, odd, count / 2);
        even += Vec::size();
        odd += Vec::size();
      }
      return;
    }
    for (; x < x_end; ++x) {
      const int64_t pos = x - x_lo;
      buf[(pos % D) * sub_len + pos / D] = src[x];
    }
  }

  // run() for a 4 x 4 filter (StyleGAN's [1, 3, 3, 1]) on a run of output rows whose input rows
  // follow one another, S apart, and move by S (a blur) or 2 S (down 2) from one output row to
  // the next: RowRun, a column of two vectors at a time. False (nothing done) for any other call
  // and for short runs (fewer than 4 rows: the border rows, where Dot's batches do as well).
  bool run_with_row_run(const TapList<acc_t>& list, const acc_t* const* rows_in, int64_t n_rows, acc_t* dst,
                        int64_t count, int64_t in_step, int64_t out_step, int64_t planes, int64_t plane_in_step,
                        int64_t plane_out_step) const {
    constexpr int64_t V = Vec::size();
    if (n_rows != 4 || n[0] != 4 || count < 4) return false;
    const int64_t S = rows_in[1] - rows_in[0];
    if (S <= 0 || rows_in[2] - rows_in[1] != S || rows_in[3] - rows_in[2] != S || (in_step != S && in_step != 2 * S)) {
      return false;
    }
    const auto columns = [&](auto vd) {
      const RowRun<4, 4, decltype(vd)::value, acc_t> run_down(list, S);
      for (int64_t p = 0; p < planes; ++p) {
        const acc_t* at = list.p[0] + p * plane_in_step;
        acc_t* out = dst + p * plane_out_step;
        int64_t m = 0;
        for (; m + V < out_w; m += 2 * V) run_down.template column<2>(at + m, out + m, out_step, count, out_w - m - V);
        if (m < out_w) run_down.template column<1>(at + m, out + m, out_step, count, out_w - m);
      }
    };
    if (in_step == S) {
      columns(std::integral_constant<int, 1>{});
    } else {
      columns(std::integral_constant<int, 2>{});
    }
    return true;
  }

  // Whether run_separable_rows takes runs of this call's output rows (n_rows vertical taps, the
  // input rows moving by vd from one output row to the next). Blurs only: a separable 4-tap
  // down 2 runs as its 2-D filter (separable_runs_as_2d, upfirdn2d_cpu_planes.h).
  bool has_separable_runs(int64_t n_rows, int64_t vd) const { return P == 1 && n[0] == 4 && n_rows == 4 && vd == 1; }

  // The separable row path's run: output row i (i < count) of every one of `planes` planes is
  // the sum over j < 4 of wy[j] times the horizontal pass of prepared row rows_in + (i * vd + j)
  // * S, stored at dst + i * out_step (planes moved by plane_in_step / plane_out_step), for
  // StyleGAN's 4-tap filters (P == 1, vd == 1: a blur). The same bits as the horizontal pass into
  // scratch rows followed by weighted_row_sums. False (nothing done) for any other call.
  // (Its only caller passes one plane. The loop over planes stays: without it, or with this
  // column walk shared with run_with_row_run, GCC's code for one of the two ran 5-15% slower,
  // e.g. the separable blur [4, 32, 64, 64] 391-403 -> 428-455 us, alternating, one thread.)
  // Never inlined, and on AVX2 a column of one vector: once upfirdn2d's loops were split per
  // dtype, GCC inlined it into the row loop, where AVX2's 16 registers could not hold the two-
  // vector column's 8 weights and 8 sums; the separable blurs were 6-12% slower on AVX2 (one-
  // vector columns: 8 weights, 4 sums, the same bits). A/B in docs/performance.md (2026-12-07).
  C10_NOINLINE bool run_separable_rows(const acc_t* rows_in, const acc_t* wy, int64_t n_rows, acc_t* dst,
                                       int64_t count, int64_t S, int64_t vd, int64_t out_step, int64_t planes = 1,
                                       int64_t plane_in_step = 0, int64_t plane_out_step = 0) const {
    constexpr int64_t V = Vec::size();
    if (!has_separable_runs(n_rows, vd) || count < 4) return false;
    const RowRun<4, 4, 1, acc_t, true> run_blur(tap_off.data(), w.data(), wy, S);
    for (int64_t p = 0; p < planes; ++p) {
      const acc_t* at = rows_in + tap_off[0] + p * plane_in_step;
      acc_t* out = dst + p * plane_out_step;
      int64_t m = 0;
#if defined(CPU_CAPABILITY_AVX2)
      for (; m + V < out_w; m += V) run_blur.template column<1>(at + m, out + m, out_step, count, V);
#else
      for (; m + V < out_w; m += 2 * V) run_blur.template column<2>(at + m, out + m, out_step, count, out_w - m - V);
#endif
      if (m < out_w) run_blur.template column<1>(at + m, out + m, out_step, count, out_w - m);
    }
    return true;
  }

  // dst[o] = sum over j < n_rows of the resampling of prepared row rows_in[j] with filter row
  // filter_rows[j], for o in [0, out_w). Zeros when n_rows == 0. (A 2-D filter sums the input
  // rows its vertical taps reach in one pass, in registers.) Then the same for `count` output
  // rows: output row i reads every input row moved by i * in_step and is written at
  // dst + i * out_step, and again for `planes` planes moved by plane_in_step / plane_out_step,
  // so the taps are set up once for many rows (small images: once for many planes).
  void run(const acc_t* const* rows_in, const int64_t* filter_rows, int64_t n_rows, acc_t* dst,
           Workspace<acc_t>& ws, int64_t count = 1, int64_t in_step = 0, int64_t out_step = 0,
           int64_t planes = 1, int64_t plane_in_step = 0, int64_t plane_out_step = 0) const {
    constexpr int64_t V = Vec::size();
    // Each phase's taps, flattened over the rows, in a fixed order (row j, then tap t).
    TapList<acc_t> lists[2];
    std::vector<TapList<acc_t>> more;  // P > 2 (rare)
    TapList<acc_t>* list = P <= 2 ? lists : (more.resize(P), more.data());
    for (int64_t r = 0; r < P; ++r) {
      TapList<acc_t>& l = list[r];
      l.p = ws.tap_p.data() + r * n_rows * T;
      l.w = ws.tap_w.data() + r * n_rows * T;
      l.n = n_rows * n[r];
      for (int64_t j = 0; j < n_rows; ++j) {
        const acc_t* wr = w.data() + (filter_rows[j] * P + r) * T;
        for (int64_t t = 0; t < n[r]; ++t) {
          l.p[j * n[r] + t] = rows_in[j] + tap_off[r * T + t];
          l.w[j * n[r] + t] = wr[t];
        }
      }
    }
    // Every vector of outputs of every row is an item of a Batch: computed kK at a time (also
    // across rows and planes when a row holds fewer than kK vectors). A call with fewer items
    // than that (filtered_lrelu's row by row calls on small planes) computes them one by one,
    // without the batch's bookkeeping, which cost its small planes ~15%.
    Batch<acc_t> batch;
    constexpr int K = Batch<acc_t>::kK;
    const bool few = count * planes * ((P == 1 ? out_w : m_count) + V - 1) / V < K;
    if (P == 1) {
      if (run_with_row_run(list[0], rows_in, n_rows, dst, count, in_step, out_step, planes, plane_in_step,
                           plane_out_step)) {
        return;
      }
      with_static_count(list[0].n, [&](auto nk) {
        const Dot<decltype(nk)::value, acc_t> dot(list[0]);
        if (few) {
          for_rows(count, in_step, out_step, planes, plane_in_step, plane_out_step, [&](int64_t in, int64_t out) {
            for (int64_t m = 0; m < out_w; m += V) store_n(dot(m + in), dst + out + m, out_w - m);
          });
          return;
        }
        const auto flush = [&](int q) {
          Vec s[K];
          dot.many_n(q, batch.in, s);
          for (int j = 0; j < q; ++j) store_n(s[j], batch.dst[j], batch.n[j]);
        };
        for_rows(count, in_step, out_step, planes, plane_in_step, plane_out_step, [&](int64_t in, int64_t out) {
          row_vectors<K, V>(
              out_w, out_w, [&](int64_t m) { dot.template store_consecutive<K>(in + m, dst + out + m); },
              [&](int64_t m) { batch.add(m + in, dst + out + m, out_w - m, flush); });
        });
        batch.finish(flush);
      });
    } else if (P == 2) {  // up 2: both phases at once, interleaved in registers
      const auto both = [&](const auto& dot0, const auto& dot1) {
        if (few) {
          for_rows(count, in_step, out_step, planes, plane_in_step, plane_out_step, [&](int64_t in, int64_t out) {
            for (int64_t m = 0; m < m_count; m += V) {
              const auto [a, b] = at::vec::interleave2(dot0(m + in), dot1(m + in));
              store_n(a, dst + out + 2 * m, out_w - 2 * m);
              store_n(b, dst + out + 2 * m + V, out_w - 2 * m - V);
            }
          });
          return;
        }
        const auto flush = [&](int q) {
          Vec s0[K], s1[K];
          dot0.many_n(q, batch.in, s0);
          dot1.many_n(q, batch.in, s1);
          for (int j = 0; j < q; ++j) {
            const auto [a, b] = at::vec::interleave2(s0[j], s1[j]);
            store_n(a, batch.dst[j], batch.n[j]);
            store_n(b, batch.dst[j] + V, batch.n[j] - V);
          }
        };
        for_rows(count, in_step, out_step, planes, plane_in_step, plane_out_step, [&](int64_t in, int64_t out) {
          row_vectors<K, V>(  // (whole runs: both phases' vectors whole, 2 V outputs each)
              out_w / 2, m_count,
              [&](int64_t m) {
                Vec s0[K], s1[K];
                dot0.template consecutive<K>(in + m, s0);
                dot1.template consecutive<K>(in + m, s1);
                for (int j = 0; j < K; ++j) {
                  const auto [a, b] = at::vec::interleave2(s0[j], s1[j]);
                  a.store(dst + out + 2 * (m + j * V));
                  b.store(dst + out + 2 * (m + j * V) + V);
                }
              },
              [&](int64_t m) { batch.add(m + in, dst + out + 2 * m, out_w - 2 * m, flush); });
        });
        batch.finish(flush);
      };
      if (list[0].n == list[1].n) {
        with_static_count(list[0].n, [&](auto nk) {
          both(Dot<decltype(nk)::value, acc_t>(list[0]), Dot<decltype(nk)::value, acc_t>(list[1]));
        });
      } else {
        both(Dot<0, acc_t>(list[0]), Dot<0, acc_t>(list[1]));
      }
    } else {
      acc_t lanes[V];
      for (int64_t r = 0; r < P; ++r) {
        const Dot<0, acc_t> dot(list[r]);
        for_rows(count, in_step, out_step, planes, plane_in_step, plane_out_step, [&](int64_t in, int64_t out) {
          for (int64_t m = 0; m < m_count; m += V) {
            dot(m + in).store(lanes);
            for (int64_t l = 0; l < V && r + (m + l) * P < out_w; ++l) dst[out + r + (m + l) * P] = lanes[l];
          }
        });
      }
    }
  }
};

// B full vectors of weighted_row_sum at dst + o: B independent fmadd chains (each output's in
// the same order whatever B), so the FMA units do not wait on one chain's latency.
template <int B, typename acc_t>
inline void weighted_row_sum_block(const acc_t* const* rows, const acc_t* weight, int64_t n, int64_t o,
                                   acc_t* dst) {
  using Vec = at::vec::Vectorized<acc_t>;
  Vec s[B];
  for (int b = 0; b < B; ++b) s[b] = Vec(acc_t(0));
  for (int64_t j = 0; j < n; ++j) {
    const Vec wj(weight[j]);
    const acc_t* r = rows[j] + o;
    for (int b = 0; b < B; ++b) s[b] = at::vec::fmadd(wj, Vec::loadu(r + b * Vec::size()), s[b]);
  }
  for (int b = 0; b < B; ++b) s[b].store(dst + o + b * Vec::size());
}

// dst[o] = sum_j weight[j] * rows[j][o], vectorized over o; zeros when n == 0.
template <typename acc_t>
void weighted_row_sum(const acc_t* const* rows, const acc_t* weight, int64_t n, int64_t width,
                      acc_t* dst) {
  using Vec = at::vec::Vectorized<acc_t>;
  constexpr int64_t V = Vec::size();
  int64_t o = 0;
  for (; o + 4 * V <= width; o += 4 * V) weighted_row_sum_block<4>(rows, weight, n, o, dst);
  if (o + 2 * V <= width) {
    weighted_row_sum_block<2>(rows, weight, n, o, dst);
    o += 2 * V;
  }
  for (; o < width; o += V) {
    const int64_t count = std::min<int64_t>(V, width - o);
    Vec sum(acc_t(0));
    for (int64_t j = 0; j < n; ++j) {
      sum = at::vec::fmadd(Vec(weight[j]), count == V ? Vec::loadu(rows[j] + o) : Vec::loadu(rows[j] + o, count), sum);
    }
    store_n(sum, dst + o, count);
  }
}

// weighted_row_sum for `count` rows at once: output row i, at dst + i * out_step, sums the rows
// moved by i * in_step, with the same weights (a run of output rows of one vertical phase), the
// weights in registers and the vectors of several rows computed together (Dot::many). The same
// fmadd chain per output as weighted_row_sum, so the same bits; but every vector is loaded
// whole: each row must be readable up to Vec::size() - 1 elements past `width`.
template <typename acc_t>
void weighted_row_sums(const acc_t** rows, acc_t* weight, int64_t n, int64_t width, acc_t* dst,
                       int64_t count, int64_t in_step, int64_t out_step) {
  using Vec = at::vec::Vectorized<acc_t>;
  const TapList<acc_t> list{rows, weight, n};
  with_static_count(n, [&](auto nk) {
    const Dot<decltype(nk)::value, acc_t> dot(list);
    Batch<acc_t> batch;
    constexpr int K = Batch<acc_t>::kK;
    const auto flush = [&](int q) {
      Vec s[K];
      dot.many_n(q, batch.in, s);
      for (int j = 0; j < q; ++j) store_n(s[j], batch.dst[j], batch.n[j]);
    };
    constexpr int64_t V = Vec::size();
    for (int64_t i = 0; i < count; ++i) {
      const int64_t in = i * in_step;
      acc_t* const out = dst + i * out_step;
      row_vectors<K, V>(
          width, width, [&](int64_t m) { dot.template store_consecutive<K>(in + m, out + m); },
          [&](int64_t m) { batch.add(in + m, out + m, width - m, flush); });
    }
    batch.finish(flush);
  });
}

// Asks for the cache lines of a contiguous input row (n pixels at p) a while before it is read:
// the kernels read a plane's rows in a burst and then compute from cache, and without this the
// burst waits on memory (the hardware prefetcher alone kept [4, 256, 64, 64] at ~8 GB/s). The
// address is only computed, never dereferenced here (a prefetch does not fault), hence the
// integer arithmetic: base + offset may lie past the tensor (a guess of what comes next).
template <typename scalar_t>
inline void prefetch_row(const scalar_t* base, int64_t offset, int64_t stride, int64_t n) {
  if (stride != 1) return;  // strided rows: one pixel per line, not worth it
  const uintptr_t a = reinterpret_cast<uintptr_t>(base) + static_cast<uintptr_t>(offset * static_cast<int64_t>(sizeof(scalar_t)));
  for (int64_t b = 0; b < n * static_cast<int64_t>(sizeof(scalar_t)); b += 64) {
    __builtin_prefetch(reinterpret_cast<const void*>(a + static_cast<uintptr_t>(b)), 0, 3);
  }
}

// A row of the input in op-math type, contiguous: x itself when it already is, else `buf`.
// Contiguous float16/bfloat16 rows are widened a vector at a time (exact, as the scalar cast:
// float16's scalar conversion, one F16C instruction per pixel, kept a float16 blur at 2.5x
// bfloat16's time). Rows of stride 2..kMaxLaneStride (a channel of a channels_last image of a
// few channels) move a vector at a time too where the ISA can (cpu_strided_lanes.h): one value
// at a time, their loads and stores took about half of a channels_last RGB upsample's time.
template <typename scalar_t, typename acc_t>
const acc_t* load_row(const scalar_t* p, int64_t stride, int64_t n, acc_t* buf) {
  int64_t i = load_strided_lanes(p, stride, n, buf);
  if constexpr (std::is_same_v<scalar_t, acc_t>) {
    if (stride == 1) return p;
  } else if constexpr (c10::is_reduced_floating_point_v<scalar_t>) {
    using Vec = at::vec::Vectorized<scalar_t>;
    constexpr int64_t V = Vec::size(), half = V / 2;  // (two float vectors)
    if (stride == 1) {
      for (; i + V <= n; i += V) {
        const auto [lo, hi] = at::vec::convert_to_float<scalar_t>(Vec::loadu(p + i));
        lo.store(buf + i);
        hi.store(buf + i + half);
      }
    }
  }
  for (; i < n; ++i) buf[i] = static_cast<acc_t>(p[i * stride]);
  return buf;
}

// Where an output row is computed: in place when the output row is op-math and contiguous,
// else in `buf`, then stored (rounded once) by store_row.
template <typename scalar_t, typename acc_t>
acc_t* row_target(scalar_t* p, int64_t stride, acc_t* buf) {
  if constexpr (std::is_same_v<scalar_t, acc_t>) {
    if (stride == 1) return p;
  }
  return buf;
}

// Contiguous float16/bfloat16 rows are rounded a vector at a time (to nearest even, as the
// scalar cast; a NaN may come out with other payload bits).
template <typename scalar_t, typename acc_t>
void store_row(const acc_t* src, scalar_t* p, int64_t stride, int64_t n) {
  if (static_cast<const void*>(src) == static_cast<const void*>(p)) return;  // computed in place
  int64_t i = store_strided_lanes(src, p, stride, n);
  if constexpr (c10::is_reduced_floating_point_v<scalar_t>) {
    using Vec = at::vec::Vectorized<scalar_t>;
    using FVec = at::vec::Vectorized<float>;
    constexpr int64_t V = Vec::size(), half = V / 2;
    if (stride == 1) {
      for (; i + V <= n; i += V) {
        at::vec::convert_from_float<scalar_t>(FVec::loadu(src + i), FVec::loadu(src + i + half)).store(p + i);
      }
    }
  }
  for (; i < n; ++i) p[i * stride] = static_cast<scalar_t>(src[i]);
}

}  // namespace
}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::upfirdn2d
