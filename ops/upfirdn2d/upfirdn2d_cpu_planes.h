// The plane-vectorized path of the upfirdn2d CPU loops (issue 13): small planes (StyleGAN2's
// 4x4 ... 32x32 feature maps with hundreds of channels) taken L at a time, L = Vec::size()
// (op-math floats: 16 on AVX-512, 8 on AVX2), with the L planes in the lanes of one vector.
// Why: a row of a 4..16-pixel plane fills a fraction of a vector, and the row path pays its
// per-row set-up for a handful of outputs; across planes every tap is one full-width FMA.
//
// A group of L planes is gathered into an interleaved op-math buffer [H][W][L] (register
// transposes of L x L blocks; a channels_last input already has its planes interleaved: plain
// vector loads), resampled there (the polyphase taps of upfirdn2d_math.h: only the taps that
// land on input pixels), and scattered back to the output's layout. A last group of fewer
// than L planes runs with its missing lanes zero and not stored.
//
// Every output sums its taps in the order the row path does (2-D: vertical tap, then
// horizontal tap, one FMA each from 0; 1-D: the horizontal pass of each input row, then the
// weighted sum of those rows), with the same at::vec::fmadd, so both paths give the same bits
// (up to the sign of a zero: the row path also adds the zero-padding taps) and the result
// does not depend on the path, the group, or the number of threads.
// Included only from files compiled once per ISA (upfirdn2d's and filtered_lrelu's
// *_cpu_kernel.cpp, upfirdn2d_cpu_channels_last.h); uses upfirdn2d_cpu_rows.h's load_row /
// store_row.
#pragma once

#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <tuple>
#include <type_traits>
#include <vector>

#include "ops/common/aligned_vector.h"
#include "ops/common/cpu_bf16.h"
#include "ops/common/cpu_partial_lanes.h"
#include "ops/upfirdn2d/upfirdn2d.h"
#include "ops/upfirdn2d/upfirdn2d_cpu_rows.h"
#include "ops/upfirdn2d/upfirdn2d_math.h"

namespace myops::ops::upfirdn2d {
namespace CPU_CAPABILITY {
namespace {

// When the plane path runs, in one place. Measured (AVX-512, one thread, StyleGAN2's 2-D 4x4
// calls, each .so timed against the depthwise conv in the same run, load ~17): down 2 of
// 4x512x32x32 is 2.7x the conv by planes vs 1.8-2.2x by rows; up 2 of 4x512x16x16 (32x32 out)
// about even forward (2.0-2.3x vs 2.4-2.6x) and better forward + backward (1.6-1.8x vs
// 1.4-1.5x: its backward is the 32x32 down); smaller planes are far better by planes. So planes
// up to 32x32 in and out (a group's buffers, 64 KiB each at 16 lanes, stay in L2); from 64x64
// the rows fill vectors. Fewer planes than lanes would leave lanes empty.
inline bool use_plane_path(int64_t planes, int64_t lanes, int64_t in_h, int64_t in_w, int64_t out_h,
                           int64_t out_w) {
  constexpr int64_t kMaxPlane = 32 * 32;
  return planes >= lanes && in_h * in_w <= kMaxPlane && out_h * out_w <= kMaxPlane;
}

// The most multiply-adds of one output (a separable filter: its two passes), for the work
// estimates that set the CPU loops' parallel grains.
inline int64_t taps_per_output(const Args& a) {
  return a.kind == FilterKind::Separable ? math::max_taps(a.fw, a.up_x) + math::max_taps(a.fh, a.up_y)
                                         : math::max_taps(a.fw, a.up_x) * math::max_taps(a.fh, a.up_y);
}

// Whether a separable filter of `taps` taps is cheaper as its 2-D outer product in a step
// resampled by up_x, up_y, down_y: a few taps per output along each axis (StyleGAN2's
// [1, 3, 3, 1] resampled by 2), where the separable form's saving in multiply-adds is less than
// what its horizontally filtered rows cost to store and read back (one of each per value,
// down_y / up_y of them per output). Per output: 2-D tx * ty multiply-adds, separable
// tx * down_y / up_y + ty plus that scratch traffic. Decided by the step's geometry alone, never
// by the layout or the path, so that every layout and path still gets the same bits (upfirdn2d's
// kernel and filtered_lrelu's fused steps both ask; the composition filtered_lrelu's vmap rule
// runs is then the fused kernel's sums). Measured (one thread, AVX-512, [1, 3, 3, 1], separable
// / 2-D time): up 2 1.03-1.36x in NCHW, 1.06-1.28x in channels_last (2-D faster everywhere);
// down 2 0.92-1.02x NCHW, 1.15-1.33x channels_last (the channels_last bands of two output rows
// filter six input rows separably); a blur 0.83-0.96x NCHW, 1.12-1.32x channels_last (stays
// separable: by this count 16 against 10).
inline bool separable_runs_as_2d(int64_t taps, int64_t up_x, int64_t up_y, int64_t down_y) {
  const int64_t tx = math::max_taps(taps, up_x), ty = math::max_taps(taps, up_y);
  return tx * ty * up_y <= (tx + 2) * down_y + ty * up_y;  // (both sides times up_y: whole numbers)
}

// Transposes the L x L block v[0..L) in registers (L = Vec::size(), a power of 2): log2(L)
// rounds of pairing row i with row i + L/2 by interleave2 (a perfect shuffle of the index
// bits; after log2(L) rounds row and column bits have swapped). Rounds alternate between v and
// `t`, unrolled at compile time, so that both stay in registers (no copy between rounds); always
// inlined, because GCC kept the recursion out of line, which put both blocks in memory (a
// quarter of the plane path's time went to that call; inlined: 1.1-1.3x faster small planes).
template <int Half, typename Vec>
C10_ALWAYS_INLINE void transpose_rounds(Vec* v, Vec* t) {
  constexpr int L = Vec::size();
  if constexpr (Half < L) {
#pragma GCC unroll 64
    for (int i = 0; i < L / 2; ++i) {
      const auto [lo, hi] = at::vec::interleave2(v[i], v[i + L / 2]);
      t[2 * i] = lo;
      t[2 * i + 1] = hi;
    }
    transpose_rounds<Half * 2>(t, v);
  } else if constexpr (__builtin_ctz(L) % 2 == 1) {  // an odd number of rounds: the result is in t
#pragma GCC unroll 64
    for (int i = 0; i < L; ++i) t[i] = v[i];
  }
}

template <typename Vec>
C10_ALWAYS_INLINE void transpose_block(Vec* v) {
  Vec t[Vec::size()];
  transpose_rounds<1>(v, t);
}

// Where the L planes of a group live: lane l's plane starts at base[l] (valid lanes only), its
// pixels are `rows` rows of `row_len` pixels, rows row_stride apart, pixels col_stride apart
// (a plane contiguous in memory is one row of H*W pixels).
template <typename T>
struct Lanes {
  T* base[64];
  int valid;            // lanes [valid, L) have no plane (the last group)
  bool interleaved;     // base[l] == base[0] + l for every lane: channels_last
  bool consecutive;     // one row per plane, planes back to back: the group is one span of memory
  int64_t rows, row_len, row_stride, col_stride;
};

template <typename T>
void lanes_of(Lanes<T>& g, T* data, int64_t p0, int64_t count, int64_t C, int64_t s0, int64_t s1, int64_t h,
              int64_t w, int64_t s2, int64_t s3, int L) {
  g.valid = static_cast<int>(count);
  int64_t n = p0 / C, c = p0 % C;  // (one division per group, not per lane)
  for (int64_t l = 0; l < count; ++l) {
    g.base[l] = data + n * s0 + c * s1;
    if (++c == C) c = 0, ++n;
  }
  g.interleaved = count == L;
  for (int64_t l = 1; l < count && g.interleaved; ++l) g.interleaved = g.base[l] == g.base[0] + l;
  const bool flat = s2 == w * s3 || h == 1;  // the plane's rows follow each other
  g.rows = flat ? 1 : h;
  g.row_len = flat ? h * w : w;
  g.row_stride = flat ? 0 : s2;
  g.col_stride = s3;
  g.consecutive = flat && s3 == 1;
  for (int64_t l = 1; l < count && g.consecutive; ++l) g.consecutive = g.base[l] == g.base[0] + l * g.row_len;
}

// The lanes of group `grp` of tensor t ([N, C, H, W], any strides; `data` its data pointer):
// planes grp * L ... (the last group may have fewer).
template <typename T>
void group_lanes(Lanes<T>& g, T* data, const at::Tensor& t, int64_t grp, int L) {
  const int64_t planes = t.size(0) * t.size(1), p0 = grp * L;
  lanes_of(g, data, p0, std::min<int64_t>(L, planes - p0), t.size(1), t.stride(0), t.stride(1), t.size(2), t.size(3),
           t.stride(2), t.stride(3), L);
}

// L op-math values (one vector) from L values of T, and back: float16/bfloat16 are widened
// exactly as loaded and rounded once as stored (as store_row rounds: a NaN may get other
// payload bits); op-math values are a plain load or store.
template <typename acc_t, typename T>
C10_ALWAYS_INLINE at::vec::Vectorized<acc_t> load_lanes(const T* p) {
  if constexpr (std::is_same_v<T, acc_t>) {
    return at::vec::Vectorized<acc_t>::loadu(p);
  } else {
    at::vec::Vectorized<float> v;
    if constexpr (std::is_same_v<T, c10::BFloat16>) {
      at::vec::load_fp32_from_bf16(p, v);
    } else {
      static_assert(std::is_same_v<T, c10::Half>, "load_lanes: op-math, float16 or bfloat16 values");
      at::vec::load_fp32_from_fp16(p, v);
    }
    return v;
  }
}

// (AVX2 / AVX-512: one vector rounded, the same bits as convert_from_float, which rounds two
// vectors and which GCC called out of line, once per store, in TapRuns' loops. bfloat16 by
// ops/common/cpu_bf16.h's always-inlined copies of ATen's cvtfp32_bf16 (AVX-512 through
// cpu_partial_lanes.h's narrow_to_16bit_lanes), which GCC also called out of line once the loops
// of each dtype had a unit of their own; float16 by cvtps_ph.)
template <typename acc_t, typename T>
C10_ALWAYS_INLINE void store_lanes(const at::vec::Vectorized<acc_t>& v, T* p) {
  if constexpr (std::is_same_v<T, acc_t>) {
    v.store(p);
  } else {
#if defined(CPU_CAPABILITY_AVX512)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), narrow_to_16bit_lanes<T>(v));
#elif defined(CPU_CAPABILITY_AVX2)
    const __m128i rounded = std::is_same_v<T, c10::BFloat16> ? round_to_bf16_avx2(v) : at::vec::cvtfp32_fp16(v);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), rounded);
#else
    at::vec::convert_from_float<T>(v, v).store(p, at::vec::Vectorized<acc_t>::size());
#endif
  }
}

// buf[j][l] (op-math, j over the group's pixels in row-major order) = lane l's pixel j.
// `tmp` holds L rows of row_len op-math values, `zeros` row_len zeros (the empty lanes).
template <typename scalar_t, typename acc_t>
void gather(const Lanes<const scalar_t>& g, acc_t* buf, acc_t* tmp, const acc_t* zeros) {
  using Vec = at::vec::Vectorized<acc_t>;
  constexpr int L = Vec::size();
  if (g.interleaved) {  // channels_last: the L planes' pixel is L consecutive values
    for (int64_t r = 0; r < g.rows; ++r) {
      for (int64_t j = 0; j < g.row_len; ++j) {
        load_lanes<acc_t>(g.base[0] + r * g.row_stride + j * g.col_stride).store(buf + (r * g.row_len + j) * L);
      }
    }
    return;
  }
  const acc_t* row[L];
  for (int64_t r = 0; r < g.rows; ++r) {
    for (int l = 0; l < L; ++l) {
      row[l] = l < g.valid ? load_row(g.base[l] + r * g.row_stride, g.col_stride, g.row_len, tmp + l * g.row_len) : zeros;
    }
    acc_t* dst = buf + r * g.row_len * L;
    for (int64_t j = 0; j < g.row_len; j += L) {
      const int64_t n = std::min<int64_t>(L, g.row_len - j);
      Vec v[L];
      if (n == L) {  // (fixed trip counts: the block stays in registers)
        for (int l = 0; l < L; ++l) v[l] = Vec::loadu(row[l] + j);
        transpose_block(v);
        for (int i = 0; i < L; ++i) v[i].store(dst + (j + i) * L);
        continue;
      }
      for (int l = 0; l < L; ++l) v[l] = Vec::loadu(row[l] + j, n);
      transpose_block(v);
      for (int64_t i = 0; i < n; ++i) v[i].store(dst + (j + i) * L);
    }
  }
}

// Asks for the cache lines of a group's planes (contiguous ones) while the previous group is
// computed: the gather reads L planes side by side, L streams, more than the hardware
// prefetchers follow (the loads stalled on memory before).
template <typename scalar_t>
inline void prefetch_planes(const Lanes<const scalar_t>& g) {
  if (g.rows != 1 || g.col_stride != 1) return;
  constexpr int64_t kLine = 64 / sizeof(scalar_t);
  for (int l = 0; l < g.valid; ++l) {
    for (int64_t j = 0; j < g.row_len; j += kLine) __builtin_prefetch(g.base[l] + j);
  }
}

// The length of gather's and scatter's `tmp` for planes (rows) of at most row_max values: L of
// them, each rounded up to whole vectors (scatter's staged planes may start on whole vectors).
template <typename acc_t>
int64_t lanes_tmp_len(int64_t row_max) {
  constexpr int64_t L = at::vec::Vectorized<acc_t>::size();
  return (row_max + L) * L;
}

// The inverse of gather: lane l's pixel j = buf[j][l], rounded once to scalar_t; empty lanes
// are not stored. With 16 lanes (AVX-512), when the group's planes are one span of memory
// (contiguous NCHW), the transposed blocks go to `tmp` (in L1) and the span is written with
// one memcpy: stored straight to the output, 16 interleaved store streams missed the cache and
// stalled on their reads-for-ownership (perf: most of a small blur's time), while a long
// memcpy streams whole lines (A/B, one thread: blur [8, 512, 8, 8] 377 -> 291 us,
// [4, 256, 8, 8] 83 -> 71, [4, 512, 16, 16] 826 -> 757; down/up of small planes 3-5% faster).
// AVX2's 8 streams do not stall so: there the extra copy made the same calls 3-15% slower, so
// it stores straight. Same values, same bits, either way. Planes of 256 values or more that
// are not a whole number of vectors (a 16 x 16 blur's 17 x 17 outputs) each start on a whole
// vector of tmp and are copied one by one: packed back to back, the transposed blocks' stores
// were split across cache lines (A/B, one thread, AVX-512: blur [4, 512, 16, 16] 685-744 ->
// 578-604 us, [4, 128, 16, 16] 175 -> 143-152 us); below 256 values (an 8 x 8 blur's 11 x 11)
// one copy per plane cost more than the splits (282-292 -> 325-333 us on [8, 512, 8, 8]), so
// those stay one span.
template <typename scalar_t, typename acc_t>
void scatter(const acc_t* buf, const Lanes<scalar_t>& g, acc_t* tmp) {
  using Vec = at::vec::Vectorized<acc_t>;
  constexpr int L = Vec::size();
  if (g.interleaved) {
    for (int64_t r = 0; r < g.rows; ++r) {
      for (int64_t j = 0; j < g.row_len; ++j) {
        store_lanes(Vec::loadu(buf + (r * g.row_len + j) * L), g.base[0] + r * g.row_stride + j * g.col_stride);
      }
    }
    return;
  }
  const bool staged = L > 8 && g.consecutive;
  // (padded: each staged plane starts on a whole vector, and is copied on its own)
  const bool padded = staged && g.row_len % L != 0 && g.row_len >= 256;
  const int64_t staged_len = padded ? (g.row_len + L - 1) / L * L : g.row_len;
  for (int64_t r = 0; r < g.rows; ++r) {
    acc_t* out[L];
    for (int l = 0; l < g.valid; ++l) {
      out[l] = staged ? tmp + l * staged_len : row_target(g.base[l] + r * g.row_stride, g.col_stride, tmp + l * g.row_len);
    }
    const acc_t* src = buf + r * g.row_len * L;
    for (int64_t j = 0; j < g.row_len; j += L) {
      const int64_t n = std::min<int64_t>(L, g.row_len - j);
      Vec v[L];
      if (n == L && g.valid == L) {  // (fixed trip counts: the block stays in registers)
        for (int i = 0; i < L; ++i) v[i] = Vec::loadu(src + (j + i) * L);
        transpose_block(v);
        for (int l = 0; l < L; ++l) v[l].store(out[l] + j);
        continue;
      }
      for (int i = 0; i < L; ++i) v[i] = i < n ? Vec::loadu(src + (j + i) * L) : Vec(acc_t(0));
      transpose_block(v);
      for (int l = 0; l < g.valid; ++l) store_n(v[l], out[l] + j, n);
    }
    if (staged) {
      // (memcpy for op-math outputs: store_row's loop takes a runtime stride and is no memcpy)
      const int64_t n = padded ? g.row_len : g.valid * g.row_len;  // values per copy
      for (int l = 0; l < (padded ? g.valid : 1); ++l) {
        if constexpr (std::is_same_v<scalar_t, acc_t>) {
          std::memcpy(g.base[0] + l * g.row_len, tmp + l * staged_len, n * sizeof(acc_t));
        } else {
          store_row(tmp + l * staged_len, g.base[0] + l * g.row_len, 1, n);
        }
      }
      continue;
    }
    for (int l = 0; l < g.valid; ++l) store_row(out[l], g.base[l] + r * g.row_stride, g.col_stride, g.row_len);
  }
}

// The taps of one output along an axis that land on input pixels: input `first` + t reads
// coefficient `k` + t*up, t < n.
struct Span {
  int64_t first, k, n;
};

// (outputs first, first + 1, ..., first + outs - 1)
inline std::vector<Span> spans(int64_t outs, int64_t up, int64_t down, int64_t pad0, int64_t taps, int64_t in,
                               int64_t first = 0) {
  std::vector<Span> s(outs);
  for (int64_t o = 0; o < outs; ++o) {
    const AxisTaps t = axis_taps(first + o, up, down, pad0, taps, in);
    s[o] = {t.i0 + t.t_begin, t.k0 + t.t_begin * up, t.t_end - t.t_begin};
  }
  return s;
}

// One resampling step on interleaved buffers, planned once per call: out[j] = sum_k w[k] *
// in[base_j + off[k]] (vectors of L planes, k in order, one FMA each from 0). Outputs whose taps
// are the same (weights and offsets relative to their base: the outputs of one polyphase
// class) form a run, so a run's tap count is unrolled at compile time with its weights in
// registers (with_static_count), and each output costs only its FMAs, its loads and a store.
// An upsampling step's classes alternate along its rows (up 2: every other pixel of every other
// row), so a run per class would sweep the whole output up * up times, each sweep writing part
// of every cache line; its caller may cut the outputs into chunks of whole phase periods of rows
// (end_rows; PixelLayout::chunk_rows) and the runs go chunk by chunk, so a line is completed
// while it is in L1.
template <typename acc_t>
struct TapRuns {
  struct Run {
    int64_t tap0, n, item0, items;  // taps [tap0, tap0 + n) of w/off; items [item0, item0 + items)
  };
  std::vector<Run> runs;
  std::vector<acc_t> w;
  std::vector<int64_t> off;
  std::vector<std::array<int64_t, 2>> item;  // {input base, output offset}, in values
  int64_t since_cut_ = 0;                       // items added since the last end_rows() cut
  std::vector<std::vector<int64_t>> cuts_;      // per cut: each run's item count so far

  // Adds output `out_at` reading in[base + offs[k]] with weights ws[k], k < n, to the run `key`
  // names (one run per key; the caller's key fixes the weights and offsets). The taps are made
  // only for a key's first output: taps(ws, offs) appends them. (Made for every output, they
  // cost small plane-path calls 5-20% of their time: [1, 16, 32, 32] down 25 -> 19.5 us.)
  template <typename Taps>
  void add(std::vector<std::vector<std::array<int64_t, 2>>>& pending, int64_t key, int64_t n, const Taps& taps,
           int64_t base, int64_t out_at) {
    if (key >= static_cast<int64_t>(pending.size())) pending.resize(key + 1);
    if (pending[key].empty()) {
      runs.push_back({static_cast<int64_t>(w.size()), n, key, 0});  // item0: the key for now
      taps(w, off);
    }
    pending[key].push_back({base, out_at});
    ++since_cut_;
  }
  // The outputs added so far end a chunk, if it holds at least kChunkItems of them: finish()
  // lays out every run's items of one chunk before those of the next. The same sums (only the
  // order of the outputs changes), so the same bits. Measured (A/B, one thread, AVX-512, up 2
  // of channels_last float32 [4, C, 128, 128], bands of 8 output rows): C = 12 1.56 -> 1.51 ms,
  // 24 2.28 -> 2.18, 72 9.1 -> 8.0, 40 level; with bands of the whole image (before
  // kBandMaxRows) about 5% at 8-24 channels.
  static constexpr int64_t kChunkItems = 256;
  void end_rows(const std::vector<std::vector<std::array<int64_t, 2>>>& pending) {
    if (since_cut_ < kChunkItems) return;
    since_cut_ = 0;
    std::vector<int64_t>& sizes = cuts_.emplace_back();
    for (const Run& r : runs) sizes.push_back(static_cast<int64_t>(pending[r.item0].size()));
  }
  // After the last add(): the items laid out chunk by chunk, run by run within a chunk (each
  // run's items in a chunk: a Run of their own, with the run's taps).
  void finish(std::vector<std::vector<std::array<int64_t, 2>>>& pending) {
    const std::vector<Run> keyed = std::move(runs);  // (item0: the key)
    runs.clear();
    std::vector<int64_t>& last = cuts_.emplace_back();
    for (const Run& r : keyed) last.push_back(static_cast<int64_t>(pending[r.item0].size()));
    std::vector<int64_t> from(keyed.size(), 0);
    for (const std::vector<int64_t>& sizes : cuts_) {
      for (size_t r = 0; r < sizes.size(); ++r) {
        if (sizes[r] == from[r]) continue;
        const auto& items = pending[keyed[r].item0];
        runs.push_back({keyed[r].tap0, keyed[r].n, static_cast<int64_t>(item.size()), sizes[r] - from[r]});
        item.insert(item.end(), items.begin() + from[r], items.begin() + sizes[r]);
        from[r] = sizes[r];
      }
    }
    cuts_.clear();
  }

  // blocks > 1: each item is `blocks` vectors L values apart in `in` and in `out` (a
  // channels_last pixel's blocks of L channels), each summed with the same taps in turn, so that
  // the taps' pixels are read as runs of whole cache lines (one block at a time over a band, the
  // 1 KiB-apart vectors of 256 channels missed every cache and the prefetchers). in_back /
  // out_back: how many values before its place the last block is in `in` / in `out` (a pixel
  // whose C channels are not whole vectors: its last block ends on its last channel, overlapping
  // the one before; upfirdn2d_cpu_channels_last.h). in_t / out_t: op-math values, or a
  // float16/bfloat16 tensor's (load_lanes / store_lanes).
  template <typename in_t, typename out_t>
  void apply(const in_t* in, out_t* out, int64_t blocks = 1, int64_t in_back = 0, int64_t out_back = 0) const {
#if defined(CPU_CAPABILITY_AVX512)
    if constexpr (std::is_same_v<in_t, c10::BFloat16> && std::is_same_v<out_t, c10::BFloat16>) {
      if (blocks % 2 == 0 && in_back == 0 && out_back == 0) return apply_bfloat16_pairs(in, out, blocks);
    }
#endif
    const auto load = [](const in_t* p) C10_ALWAYS_INLINE_ATTRIBUTE { return load_lanes<acc_t>(p); };
    const auto store = [](const at::vec::Vectorized<acc_t>& v, out_t* q) C10_ALWAYS_INLINE_ATTRIBUTE {
      store_lanes(v, q);
    };
    if (in_back == 0 && out_back == 0) return walk<false>(in, out, blocks, 0, 0, load, store);
    walk<true>(in, out, blocks, in_back, out_back, load, store);
  }

  // apply()'s sums, each vector loaded by load(p) and stored by store(v, q) (PlaneStep's
  // partial lanes: masked where in or out is a tensor's). kLastMoved: in_back or out_back may
  // be nonzero; its loop is a separate instantiation, so that the loop every other call runs
  // stays the one it was (every block L values on).
  template <bool kLastMoved, typename in_t, typename out_t, typename Load, typename Store>
  C10_ALWAYS_INLINE void walk(const in_t* in, out_t* out, int64_t blocks, int64_t in_back, int64_t out_back,
                              const Load& load, const Store& store) const {
    using Vec = at::vec::Vectorized<acc_t>;
    constexpr int64_t L = Vec::size();
    const int64_t in_last = (blocks - 1) * L - in_back, out_last = (blocks - 1) * L - out_back;
    for (const Run& r : runs) {
      const std::array<int64_t, 2>* it = item.data() + r.item0;
      const acc_t* wr = w.data() + r.tap0;
      const int64_t* o = off.data() + r.tap0;
      const int64_t items = r.items;
      // Every block of each item: L values apart, the last one at in_last / out_last.
      // (Its bounds and pointers, and load's and store's masks, are copied into locals of the
      // loop: reached through the lambdas' references, GCC reloaded them from memory after
      // every store, which may alias them; 1.1-1.36x on masked float32 ups and downs.)
      const auto each_block = [&](const auto& block) C10_ALWAYS_INLINE_ATTRIBUTE {
        const std::array<int64_t, 2>* const it_here = it;
        const in_t* const in_here = in;
        out_t* const out_here = out;
        const int64_t items_here = items, blocks_here = blocks, in_last_here = in_last, out_last_here = out_last;
        for (int64_t i = 0; i < items_here; ++i) {
          const in_t* p = in_here + it_here[i][0];
          out_t* q = out_here + it_here[i][1];
          if constexpr (kLastMoved) {
            for (int64_t b = 1; b < blocks_here; ++b, p += L, q += L) block(p, q);
            block(in_here + it_here[i][0] + in_last_here, out_here + it_here[i][1] + out_last_here);
          } else {
            for (int64_t b = 0; b < blocks_here; ++b, p += L, q += L) block(p, q);
          }
        }
      };
      // (Always inlined, the loops of every tap count: left to GCC, the NK = 16 loop of the
      // masked float32 downs went out of line, its 16 offsets then spilled in the inner loop,
      // once upfirdn2d's units were split per dtype: 0.85x; upfirdn2d_cpu_dtypes.h.)
      with_static_count(r.n, [&](auto nk) C10_ALWAYS_INLINE_ATTRIBUTE {
        constexpr int NK = decltype(nk)::value;
        if constexpr (NK > 0) {
          Vec wv[NK];
          int64_t ov[NK];
          for (int k = 0; k < NK; ++k) wv[k] = Vec(wr[k]), ov[k] = o[k];
          const Load load_here = load;
          const Store store_here = store;
          each_block([&](const in_t* p, out_t* q) C10_ALWAYS_INLINE_ATTRIBUTE {
            Vec sum(acc_t(0));
            for (int k = 0; k < NK; ++k) sum = at::vec::fmadd(wv[k], load_here(p + ov[k]), sum);
            store_here(sum, q);
          });
        } else {
          each_block([&](const in_t* p, out_t* q) C10_ALWAYS_INLINE_ATTRIBUTE {
            Vec sum(acc_t(0));
            for (int64_t k = 0; k < r.n; ++k) sum = at::vec::fmadd(Vec(wr[k]), load(p + o[k]), sum);
            store(sum, q);
          });
        }
      });
    }
  }

#if defined(CPU_CAPABILITY_AVX512)
  // bfloat16 in and out (a 2-D step on a channels_last bfloat16 tensor), two blocks of 16
  // channels at a time: each tap is one 64-byte load, widened by interleaving its 16-bit values
  // with zeros (unpacklo / unpackhi: one shuffle per 16 floats, where load_lanes' zero-extension
  // and shift take two operations, both on the FMA ports), which puts channels {0-3, 8-11, 16-19,
  // 24-27} of the pair in one float vector and {4-7, 12-15, ...} in the other; packus puts the
  // rounded halves back in channel order (it pairs them per 128-bit lane the same way). Every
  // channel gets the same products, sums and rounding as through load_lanes / store_lanes, so
  // the same bits.
  void apply_bfloat16_pairs(const c10::BFloat16* in, c10::BFloat16* out, int64_t blocks) const {
    static_assert(std::is_same_v<acc_t, float>);
    constexpr int64_t L = 16;
    const __m512i zero = _mm512_setzero_si512();
    for (const Run& r : runs) {
      const std::array<int64_t, 2>* it = item.data() + r.item0;
      const float* wr = w.data() + r.tap0;
      const int64_t* o = off.data() + r.tap0;
      const int64_t items = r.items;
      with_static_count(r.n, [&](auto nk) {
        constexpr int NK = decltype(nk)::value;
        const auto pairs = [&](auto tap_count, const auto& weight, const auto& offset) C10_ALWAYS_INLINE_ATTRIBUTE {
          for (int64_t i = 0; i < items; ++i) {
            const c10::BFloat16* p = in + it[i][0];
            c10::BFloat16* q = out + it[i][1];
            for (int64_t b = 0; b < blocks; b += 2, p += 2 * L, q += 2 * L) {
              __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
              for (int64_t k = 0; k < tap_count; ++k) {
                const __m512i v = _mm512_loadu_si512(p + offset(k));
                lo = _mm512_fmadd_ps(weight(k), _mm512_castsi512_ps(_mm512_unpacklo_epi16(zero, v)), lo);
                hi = _mm512_fmadd_ps(weight(k), _mm512_castsi512_ps(_mm512_unpackhi_epi16(zero, v)), hi);
              }
              _mm512_storeu_si512(q, _mm512_packus_epi32(round_to_bf16_lanes(lo), round_to_bf16_lanes(hi)));
            }
          }
        };
        if constexpr (NK > 0) {  // (weights and offsets in registers, as apply's)
          __m512 wv[NK];
          int64_t ov[NK];
          for (int k = 0; k < NK; ++k) wv[k] = _mm512_set1_ps(wr[k]), ov[k] = o[k];
          pairs(std::integral_constant<int64_t, NK>{}, [&](int64_t k) { return wv[k]; }, [&](int64_t k) { return ov[k]; });
        } else {
          pairs(r.n, [&](int64_t k) { return _mm512_set1_ps(wr[k]); }, [&](int64_t k) { return o[k]; });
        }
      });
    }
  }
#endif
};

// The resampling along one axis: upsample by `up`, pad by `pad0` before, keep every `down`-th.
struct AxisStep {
  int64_t up, down, pad0;
};

// Where a step's pixels are, in values: input pixel (y, x) at (y - in_y0) * in_row + x * in_px,
// output pixel likewise; a pixel's L lanes are consecutive. Strides zero (the default): the
// interleaved buffers, L values a pixel, rows of in_w (out_w) pixels. A channels_last tensor
// is such a layout already (pixel stride C, row stride W * C; lanes: L consecutive channels),
// so the step runs on it in place (upfirdn2d_cpu_channels_last.h), a band of its output rows
// at a time: the step's out_h rows are then rows out_y0, out_y0 + 1, ... of the image (row
// out_y0 at the output pointer), and its input may be a band of rows from in_y0 on. `blocks`
// vectors of a pixel (L values apart: channels_last's C / L blocks of channels, rounded up, the
// last one then moved back onto the pixel's last L channels by PlaneStep::apply's `back`) go
// through the step together, with the same taps (TapRuns::apply); a separable step's scratch
// then holds every block of its pixels.
struct PixelLayout {
  int64_t in_px = 0, in_row = 0, out_px = 0, out_row = 0;
  int64_t out_y0 = 0, in_y0 = 0;
  int64_t blocks = 1;
  // An upsampling step's runs laid out chunk by chunk of rows (TapRuns::end_rows). Only where it
  // was measured: upfirdn2d's channels_last bands (the plane path's buffers and filtered_lrelu's
  // steps keep one run per class).
  bool chunk_rows = false;
};

// One upfirdn2d step on interleaved buffers ([H][W][L] op-math vectors of L planes, or the
// pixels of `layout`), planned once per call: in_h x in_w -> out_h x out_w with the
// correlation-order coefficients `coef` ([fw] for a separable filter, used along both axes
// unless `coef_y` gives the vertical ones, or [fh][fw]). upfirdn2d's plane path is one step;
// filtered_lrelu's fused kernel chains them (filtered_lrelu_cpu_kernel.cpp; its separable
// filters carry their gain vertically). A separable step's horizontally filtered rows are
// always an interleaved scratch buffer.
template <typename acc_t>
struct PlaneStep {
  bool separable;
  int64_t out_w, blocks;
  int64_t lo = 0, h_rows = 0;   // 1-D: the input rows [lo, lo + h_rows) the vertical taps reach
  TapRuns<acc_t> step1, step2;  // 2-D: step1 only; 1-D: horizontal, then vertical

  PlaneStep(const acc_t* coef, bool separable_, int64_t fh, int64_t fw, int64_t in_h, int64_t in_w, int64_t out_h,
            int64_t out_w_, AxisStep y, AxisStep x, const acc_t* coef_y = nullptr, PixelLayout layout = {})
      : separable(separable_), out_w(out_w_), blocks(layout.blocks) {
    if (coef_y == nullptr) coef_y = coef;
    constexpr int L = at::vec::Vectorized<acc_t>::size();
    const int64_t scratch_px = L * blocks;  // (a separable step's scratch: every block of a pixel)
    const int64_t in_px = layout.in_px ? layout.in_px : L, in_row = layout.in_row ? layout.in_row : in_w * L;
    const int64_t out_px = layout.out_px ? layout.out_px : L, out_row = layout.out_row ? layout.out_row : out_w * L;
    const std::vector<Span> hs = spans(out_w, x.up, x.down, x.pad0, fw, in_w);
    const std::vector<Span> vs = spans(out_h, y.up, y.down, y.pad0, fh, in_h, layout.out_y0);
    // 1-D: the input rows the vertical taps reach, each filtered horizontally once.
    int64_t hi = -1;
    lo = in_h;
    for (const Span& s : vs) {
      if (s.n > 0) lo = std::min(lo, s.first), hi = std::max(hi, s.first + s.n - 1);
    }
    h_rows = std::max<int64_t>(hi - lo + 1, 0);
    // The taps in the row path's order. A class key numbers the distinct tap sets (a span
    // along an axis is fixed by its first coefficient k and count n).
    const int64_t max_nx = math::max_taps(fw, x.up) + 1, max_ny = math::max_taps(fh, y.up) + 1;
    // (no tap: k may lie anywhere, and every such span is the same empty sum: key 0)
    const auto key_x = [&](const Span& s) { return s.n > 0 ? s.k * max_nx + s.n : 0; };
    const auto key_y = [&](const Span& s) { return s.n > 0 ? s.k * max_ny + s.n : 0; };
    std::vector<std::vector<std::array<int64_t, 2>>> pending;
    using Weights = std::vector<acc_t>;
    using Offsets = std::vector<int64_t>;
    if (separable) {
      for (int64_t iy = lo; iy <= hi; ++iy) {
        for (int64_t ox = 0; ox < out_w; ++ox) {
          const Span& h = hs[ox];
          const auto taps = [&](Weights& ws, Offsets& offs) {
            for (int64_t t = 0; t < h.n; ++t) ws.push_back(coef[h.k + t * x.up]), offs.push_back(t * in_px);
          };
          step1.add(pending, key_x(h), h.n, taps, (iy - layout.in_y0) * in_row + h.first * in_px,
                    ((iy - lo) * out_w + ox) * scratch_px);
        }
        if (layout.chunk_rows && x.up > 1) step1.end_rows(pending);
      }
      step1.finish(pending);
      pending.clear();
      for (int64_t oy = 0; oy < out_h; ++oy) {
        const Span& v = vs[oy];
        const auto taps = [&](Weights& ws, Offsets& offs) {
          for (int64_t t = 0; t < v.n; ++t) ws.push_back(coef_y[v.k + t * y.up]), offs.push_back(t * out_w * scratch_px);
        };
        for (int64_t ox = 0; ox < out_w; ++ox) {
          step2.add(pending, key_y(v), v.n, taps, ((v.first - lo) * out_w + ox) * scratch_px, oy * out_row + ox * out_px);
        }
        if (layout.chunk_rows && y.up > 1 && (oy + 1) % y.up == 0) step2.end_rows(pending);  // (whole periods of phases)
      }
      step2.finish(pending);
    } else {
      const int64_t keys_x = fw * max_nx;
      for (int64_t oy = 0; oy < out_h; ++oy) {
        const Span& v = vs[oy];
        for (int64_t ox = 0; ox < out_w; ++ox) {
          const Span& h = hs[ox];
          const auto taps = [&](Weights& ws, Offsets& offs) {
            for (int64_t ty = 0; ty < v.n; ++ty) {  // vertical tap, then horizontal tap
              for (int64_t tx = 0; tx < h.n; ++tx) {
                ws.push_back(coef[(v.k + ty * y.up) * fw + h.k + tx * x.up]);
                offs.push_back(ty * in_row + tx * in_px);
              }
            }
          };
          step1.add(pending, key_y(v) * keys_x + key_x(h), v.n * h.n, taps,
                    (v.first - layout.in_y0) * in_row + h.first * in_px, oy * out_row + ox * out_px);
        }
        if (layout.chunk_rows && (y.up > 1 || x.up > 1) && (oy + 1) % y.up == 0) step1.end_rows(pending);
      }
      step1.finish(pending);
    }
  }

  // The values of the scratch apply() needs (1-D: the horizontally filtered rows).
  int64_t scratch_len() const { return separable ? h_rows * out_w * at::vec::Vectorized<acc_t>::size() * blocks : 0; }

  // (in_t / out_t: as TapRuns::apply's; the scratch is op-math.) back: how many values before
  // its place the last of the layout's blocks is in `in` and `out` (a channels_last pixel's last
  // block, on its last channels; upfirdn2d_cpu_channels_last.h); in the scratch every block
  // keeps its place.
  template <typename in_t, typename out_t>
  void apply(const in_t* in, out_t* out, acc_t* scratch, int64_t back = 0) const {
    if (separable) {
      step1.apply(in, scratch, blocks, back, 0);
      step2.apply(scratch, out, blocks, 0, back);
    } else {
      step1.apply(in, out, blocks, back, back);
    }
  }

  // One block of which only the first lanes are a tensor's (channels_last pixels of fewer
  // channels than lanes): in and out loaded and stored by `lanes` (masked); the scratch, whole.
  template <typename scalar_t>
  void apply_partial(const scalar_t* in, scalar_t* out, acc_t* scratch,
                     const PartialLanes<acc_t, scalar_t>& lanes) const {
    using Vec = at::vec::Vectorized<acc_t>;
    const auto load = [lanes](const scalar_t* p) C10_ALWAYS_INLINE_ATTRIBUTE { return lanes.load(p); };
    const auto store = [lanes](const Vec& v, scalar_t* q) C10_ALWAYS_INLINE_ATTRIBUTE { lanes.store(v, q); };
    const auto load_whole = [](const acc_t* p) C10_ALWAYS_INLINE_ATTRIBUTE { return Vec::loadu(p); };
    const auto store_whole = [](const Vec& v, acc_t* q) C10_ALWAYS_INLINE_ATTRIBUTE { v.store(q); };
    if (separable) {
      step1.template walk<false>(in, scratch, 1, 0, 0, load, store_whole);
      step2.template walk<false>(scratch, out, 1, 0, 0, load_whole, store);
    } else {
      step1.template walk<false>(in, out, 1, 0, 0, load, store);
    }
  }
};

// The PlaneSteps of a call's bands of output rows, one plan per distinct vertical geometry: the
// bands whose output rows read their source rows at the same positions relative to the band's
// first source row (layout.in_y0), with the same taps, share one (every band away from the
// image's edges, when the bands keep the filter's phase). Why: a plan costs about as much as
// the arithmetic of one to three groups of L planes (~25 ns an output pixel); built for every
// band, it made filtered_lrelu's calls with 16 or 32 channels 2-4x slower than their planar
// copies, and upfirdn2d's channels_last calls with 64 KiB rows (two output rows a band) spent
// a fifth to a quarter of their time planning. The horizontal geometry, the strides and the
// filter are the same for every band of one BandSteps (the caller's).
template <typename acc_t>
class BandSteps {
 public:
  // The next band: `rows` output rows from layout.out_y0 on, whose vertical taps (`taps` of
  // them, resampled by y) read `src_h` source rows; make() builds its step when no band before
  // it has the same geometry.
  template <typename MakeStep>
  void add(int64_t rows, const AxisStep& y, int64_t taps, int64_t src_h, const PixelLayout& layout,
           const MakeStep& make) {
    std::vector<int64_t> key;
    key.reserve(3 * rows);
    for (const Span& v : spans(rows, y.up, y.down, y.pad0, taps, src_h, layout.out_y0)) {
      key.insert(key.end(), {v.n > 0 ? v.first - layout.in_y0 : 0, v.n > 0 ? v.k : 0, v.n});  // (no tap: no rows)
    }
    const auto [at, fresh] = index_.try_emplace(std::move(key), static_cast<int64_t>(steps_.size()));
    if (fresh) {
      steps_.push_back(make());
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

// upfirdn2d of x into out (both [N, C, H, W], any strides) by the plane path.
template <typename scalar_t>
void run_planes(const at::Tensor& x, const at::Tensor& coef_t, const Args& a, const at::Tensor& out) {
  using acc_t = at::opmath_type<scalar_t>;
  using Vec = at::vec::Vectorized<acc_t>;
  constexpr int L = Vec::size();
  static_assert(L <= 64, "Lanes holds at most 64 planes");
  const int64_t in_h = x.size(2), in_w = x.size(3), out_h = out.size(2), out_w = out.size(3);
  const int64_t groups = (x.size(0) * x.size(1) + L - 1) / L;
  const bool separable = a.kind == FilterKind::Separable;
  const PlaneStep<acc_t> step(coef_t.const_data_ptr<acc_t>(), separable, a.fh, a.fw, in_h, in_w, out_h, out_w,
                              {a.up_y, a.down_y, a.pad_y0}, {a.up_x, a.down_x, a.pad_x0});
  // A group's work in vector multiply-adds plus its transposes; ~32K (ATen's GRAIN_SIZE) of
  // them per parallel chunk.
  const int64_t work = out_h * out_w * (taps_per_output(a) + 4) + in_h * in_w * 4;
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(work, 1));
  const scalar_t* x_data = x.const_data_ptr<scalar_t>();
  scalar_t* out_data = out.data_ptr<scalar_t>();

  at::parallel_for(0, groups, grain, [&](int64_t begin, int64_t end) {
    const int64_t row_max = std::max(in_h * in_w, out_h * out_w);
    // (cache-line aligned: every access to them is a whole vector of L planes, aligned_vector.h)
    AlignedVector<acc_t> in_buf(in_h * in_w * L), out_buf(out_h * out_w * L), scratch(step.scratch_len());
    AlignedVector<acc_t> tmp(lanes_tmp_len<acc_t>(row_max)), zeros(row_max, acc_t(0));
    Lanes<const scalar_t> src, next;
    Lanes<scalar_t> dst;
    group_lanes(next, x_data, x, begin, L);
    for (int64_t grp = begin; grp < end; ++grp) {
      src = next;
      if (grp + 1 < end) {
        group_lanes(next, x_data, x, grp + 1, L);
        prefetch_planes(next);
      }
      group_lanes(dst, out_data, out, grp, L);
      gather(src, in_buf.data(), tmp.data(), zeros.data());
      step.apply(in_buf.data(), out_buf.data(), scratch.data());
      scatter(out_buf.data(), dst, tmp.data());
    }
  });
}

}  // namespace
}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::upfirdn2d
