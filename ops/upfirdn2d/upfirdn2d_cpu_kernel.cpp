// CPU loops of upfirdn2d, compiled once per ISA (DEFAULT, AVX2, AVX512; ops/common/cpu_isa.h).
//
// Direct, polyphase computation: each output pixel sums only the filter taps that land on
// input pixels or on the padding, never the inserted zeros, so no upsampled copy of the image
// is ever made (and an inf pixel never meets a skipped zero). Work is split into tiles of
// output rows of one [H, W] plane (small planes: a group of channels); each tile reads its input
// rows once and its scratch stays in cache. Tiles are independent and every output is summed in
// one fixed order, whatever the tiling, so the result does not depend on the number of threads.
//  - 1-D filter (separable): horizontal pass of the tile's input rows into a scratch of
//    op-math rows, then each output row is a weighted sum of scratch rows (vectorized).
//  - 2-D filter: each output row sums, in registers, the horizontal passes of the input rows
//    its vertical taps reach (rows outside the image are skipped).
// Why it is fast (issue 13): each input row is copied once into a zero-padded, de-interleaved
// (stride `down` split into sub-rows) buffer, so along the row every output reads every tap
// from consecutive memory: no border case, no scalar tail (partial vector stores), tap counts
// up to 16 unrolled at compile time with their weights in registers, up = 2 interleaves its two
// phases in registers, and the taps are set up once for all the output rows (of all the planes
// of a group) that share them. (The old loops spent most of their time in scalar border and
// tail outputs and in per-row set-up: on 32-wide rows with 16-lane vectors most outputs were
// scalar.)
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <type_traits>
#include <utility>
#include <vector>

#include "ops/upfirdn2d/upfirdn2d_kernels.h"
#include "ops/upfirdn2d/upfirdn2d_math.h"

namespace myops::ops::upfirdn2d {
namespace CPU_CAPABILITY {
namespace {

using math::AxisTaps;
using math::axis_taps;

// Calls f(std::integral_constant<int, n>) for n in [1, 16], f(std::integral_constant<int, 0>)
// (meaning: count known only at run time) otherwise, so the common tap counts (4 taps, up or
// down 2, 2-D 4x4: 2, 4, 8, 12, 16) get fully unrolled loops with their weights in registers.
template <typename F>
void with_static_count(int64_t n, F&& f) {
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
    Vec sum(acc_t(0));
    if constexpr (NK > 0) {
      for (int k = 0; k < NK; ++k) sum = at::vec::fmadd(w[k], Vec::loadu(p[k] + m), sum);
    } else {
      for (int64_t k = 0; k < taps->n; ++k) sum = at::vec::fmadd(Vec(taps->w[k]), Vec::loadu(taps->p[k] + m), sum);
    }
    return sum;
  }
};

// Stores the first n (<= Vec::size()) lanes of v at dst.
template <typename Vec, typename acc_t>
inline void store_n(const Vec& v, acc_t* dst, int64_t n) {
  if (n >= Vec::size()) {
    v.store(dst);
  } else if (n > 0) {
    v.store(dst, static_cast<int>(n));
  }
}

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
    x_lo = lo;
    x_begin = std::clamp<int64_t>(lo, 0, in_w);
    x_end = std::max(x_begin, std::clamp<int64_t>(hi + 1, 0, in_w));
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
    if (P == 1) {
      with_static_count(list[0].n, [&](auto nk) {
        const Dot<decltype(nk)::value, acc_t> dot(list[0]);
        for_rows(count, in_step, out_step, planes, plane_in_step, plane_out_step, [&](int64_t in, int64_t out) {
          for (int64_t m = 0; m < out_w; m += V) store_n(dot(m + in), dst + out + m, out_w - m);
        });
      });
    } else if (P == 2) {  // up 2: both phases at once, interleaved in registers
      const auto both = [&](const auto& dot0, const auto& dot1) {
        for_rows(count, in_step, out_step, planes, plane_in_step, plane_out_step, [&](int64_t in, int64_t out) {
          acc_t* d = dst + out;
          for (int64_t m = 0; m < m_count; m += V) {
            const auto [a, b] = at::vec::interleave2(dot0(m + in), dot1(m + in));
            const int64_t left = out_w - 2 * m;
            store_n(a, d + 2 * m, left);
            store_n(b, d + 2 * m + V, left - V);
          }
        });
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

// dst[o] = sum_j weight[j] * rows[j][o], vectorized over o; zeros when n == 0.
template <typename acc_t>
void weighted_row_sum(const acc_t* const* rows, const acc_t* weight, int64_t n, int64_t width,
                      acc_t* dst) {
  using Vec = at::vec::Vectorized<acc_t>;
  for (int64_t o = 0; o < width; o += Vec::size()) {
    const int64_t count = std::min<int64_t>(Vec::size(), width - o);
    Vec sum(acc_t(0));
    for (int64_t j = 0; j < n; ++j) {
      sum = at::vec::fmadd(Vec(weight[j]), count == Vec::size() ? Vec::loadu(rows[j] + o) : Vec::loadu(rows[j] + o, count), sum);
    }
    store_n(sum, dst + o, count);
  }
}

// A row of the input in op-math type, contiguous: x itself when it already is, else `buf`.
template <typename scalar_t, typename acc_t>
const acc_t* load_row(const scalar_t* p, int64_t stride, int64_t n, acc_t* buf) {
  if constexpr (std::is_same_v<scalar_t, acc_t>) {
    if (stride == 1) return p;
  }
  for (int64_t i = 0; i < n; ++i) buf[i] = static_cast<acc_t>(p[i * stride]);
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

template <typename scalar_t, typename acc_t>
void store_row(const acc_t* src, scalar_t* p, int64_t stride, int64_t n) {
  if (static_cast<const void*>(src) == static_cast<const void*>(p)) return;  // computed in place
  for (int64_t i = 0; i < n; ++i) p[i * stride] = static_cast<scalar_t>(src[i]);
}

template <typename scalar_t>
void run(const at::Tensor& x, const at::Tensor& coef_t, const Args& a, const at::Tensor& out) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t C = x.size(1), in_h = x.size(2), in_w = x.size(3);
  const int64_t out_h = out.size(2), out_w = out.size(3);
  const bool separable = a.kind == FilterKind::Separable;
  const int64_t fh = a.fh, fw = a.fw;
  const acc_t* coef = coef_t.const_data_ptr<acc_t>();

  // 1-D: one filter row, also used vertically. 2-D: fh rows, the vertical tap picks the row.
  const HorizontalPass<acc_t> hpass(coef, separable ? 1 : fh, fw, in_w, out_w, a.up_x, a.down_x, a.pad_x0);

  // Tiles of output rows: ~64K outputs each (the scratch rows stay in L2), at least 8 rows so
  // that the input rows shared by neighbouring tiles are rarely computed twice. Small planes
  // (one tile) are taken `group` channels at a time, ~64K outputs per group, so that the
  // per-row set-up is paid once per group rather than once per plane.
  const int64_t tile_h = std::max<int64_t>(
      std::min<int64_t>(std::max<int64_t>(65536 / out_w, 8), out_h), 1);
  const int64_t tiles = (out_h + tile_h - 1) / tile_h;
  const int64_t max_rows_in_tile = std::min(in_h, ((tile_h - 1) * a.down_y + fh) / a.up_y + 2);
  const int64_t plane_len = max_rows_in_tile * hpass.prepared_len();  // a tile's prepared rows
  // (and at most ~2 MB of prepared rows: a tiny output of a large input takes one plane)
  const int64_t group = tiles > 1 ? 1 : std::clamp<int64_t>(std::min(65536 / (out_h * out_w), (int64_t{1} << 19) / std::max<int64_t>(plane_len, 1)), 1, C);
  const int64_t groups = (C + group - 1) / group;  // per sample
  const int64_t taps_per_output = separable
      ? math::max_taps(fw, a.up_x) + math::max_taps(fh, a.up_y)
      : math::max_taps(fw, a.up_x) * math::max_taps(fh, a.up_y);
  // Work of a unit (a tile of a group of planes) in multiply-adds, plus a share for each row
  // it reads and writes (a tiny plane costs more than its arithmetic).
  const int64_t work_per_unit = std::max<int64_t>(group * tile_h * (out_w * taps_per_output + 64), 1);
  // at::parallel_for's grain: enough work per chunk (~32K multiply-adds, ATen's GRAIN_SIZE)
  // that tiny images are not spread over threads for nothing.
  const int64_t grain = std::max<int64_t>(1, 32768 / work_per_unit);
  const scalar_t* x_data = x.const_data_ptr<scalar_t>();
  scalar_t* out_data = out.data_ptr<scalar_t>();
  const int64_t xs0 = x.stride(0), xs1 = x.stride(1), xs2 = x.stride(2), xs3 = x.stride(3);
  const int64_t os0 = out.stride(0), os1 = out.stride(1), os2 = out.stride(2), os3 = out.stride(3);

  const int64_t prep_len = hpass.prepared_len();
  const int64_t gy = std::gcd(a.up_y, a.down_y), vP = a.up_y / gy, vD = a.down_y / gy;  // vertical phases
  std::vector<AxisTaps> vtaps(out_h);  // the vertical taps of every output row
  for (int64_t oy = 0; oy < out_h; ++oy) vtaps[oy] = axis_taps(oy, a.up_y, a.down_y, a.pad_y0, fh, in_h);

  at::parallel_for(0, x.size(0) * groups * tiles, grain, [&](int64_t begin, int64_t end) {
    Workspace<acc_t> ws;
    const int64_t max_vtaps = math::max_taps(fh, a.up_y);
    hpass.reserve(ws, separable ? 1 : max_vtaps);
    ws.in_row.resize(in_w);
    ws.out_row.resize(out_w);
    // The tile's input rows, prepared once (zeroed here once: the padding), then used by every
    // output row and filter row. 1-D: `scratch` holds them after the horizontal pass.
    ws.prepared.resize(group * plane_len);
    ws.scratch.resize(separable ? max_rows_in_tile * out_w : 0);
    std::vector<char> done(tile_h);  // 2-D: the tile's output rows already computed
    std::vector<const acc_t*> rows(max_vtaps);
    std::vector<acc_t> weights(max_vtaps);
    std::vector<int64_t> filter_rows(max_vtaps);
    const int64_t zero = 0;
    acc_t* const out_buf = ws.out_row.data();
    acc_t* const scratch = ws.scratch.data();
    acc_t* const prepared = ws.prepared.data();

    // Input row iy, prepared (op-math, zero-padded, split into sub-rows) into `slot`.
    const auto prepare_row = [&](const scalar_t* xp, int64_t iy, acc_t* slot) {
      hpass.prepare(load_row(xp + iy * xs2, xs3, in_w, ws.in_row.data()), slot);
    };

    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t tile = unit % tiles, n = unit / tiles / groups;
      const int64_t c0 = unit / tiles % groups * group, nc = std::min(group, C - c0);
      const int64_t oy0 = tile * tile_h, oy1 = std::min(oy0 + tile_h, out_h);

      // The input rows [lo, hi] this tile reads.
      int64_t lo = in_h, hi = -1;
      for (int64_t oy = oy0; oy < oy1; ++oy) {
        const AxisTaps& v = vtaps[oy];
        if (v.t_end > v.t_begin) {
          lo = std::min(lo, v.i0 + v.t_begin);
          hi = std::max(hi, v.i0 + v.t_end - 1);
        }
      }

      if (separable) {
        for (int64_t c = c0; c < c0 + nc; ++c) {
          const scalar_t* xp = x_data + n * xs0 + c * xs1;
          scalar_t* op = out_data + n * os0 + c * os1;
          // Each input row filtered horizontally once, into the tile's scratch rows.
          for (int64_t iy = lo; iy <= hi; ++iy) prepare_row(xp, iy, prepared + (iy - lo) * prep_len);
          if (hi >= lo) hpass.run(&prepared, &zero, 1, scratch, ws, hi - lo + 1, prep_len, out_w);
          for (int64_t oy = oy0; oy < oy1; ++oy) {
            const AxisTaps& v = vtaps[oy];
            const int64_t nt = v.t_end - v.t_begin;
            for (int64_t t = v.t_begin; t < v.t_end; ++t) {
              rows[t - v.t_begin] = scratch + (v.i0 + t - lo) * out_w;
              weights[t - v.t_begin] = coef[v.k0 + t * a.up_y];
            }
            acc_t* dst = row_target(op + oy * os2, os3, out_buf);
            weighted_row_sum(rows.data(), weights.data(), nt, out_w, dst);
            store_row(dst, op + oy * os2, os3, out_w);
          }
        }
        continue;
      }

      // 2-D: the rows of the group's planes, prepared once.
      for (int64_t i = 0; i < nc; ++i) {
        const scalar_t* xp = x_data + n * xs0 + (c0 + i) * xs1;
        for (int64_t iy = lo; iy <= hi; ++iy) prepare_row(xp, iy, prepared + i * plane_len + (iy - lo) * prep_len);
      }
      scalar_t* const op0 = out_data + n * os0 + c0 * os1;
      const bool in_place = row_target(op0, os3, out_buf) != out_buf;
      std::fill(done.begin(), done.end(), 0);
      for (int64_t oy = oy0; oy < oy1; ++oy) {
        if (done[oy - oy0]) continue;
        const AxisTaps& v = vtaps[oy];
        for (int64_t t = v.t_begin; t < v.t_end; ++t) {  // one filter row per input row
          rows[t - v.t_begin] = prepared + (v.i0 + t - lo) * prep_len;
          filter_rows[t - v.t_begin] = v.k0 + t * a.up_y;
        }
        // The rows oy + i*Py (same vertical phase) that use the same filter rows, read input
        // rows moved by i*Dy: one call for all of them and all planes (the taps set up once).
        int64_t count = 1;
        while (oy + count * vP < oy1) {
          const AxisTaps& u = vtaps[oy + count * vP];
          if (u.k0 != v.k0 || u.t_begin != v.t_begin || u.t_end != v.t_end || u.i0 != v.i0 + count * vD) break;
          ++count;
        }
        for (int64_t i = 0; i < count; ++i) done[oy + i * vP - oy0] = 1;
        const int64_t nt = v.t_end - v.t_begin;
        if (in_place) {
          // (in_place: scalar_t is acc_t, the cast is the identity)
          hpass.run(rows.data(), filter_rows.data(), nt, reinterpret_cast<acc_t*>(op0 + oy * os2), ws, count,
                    vD * prep_len, vP * os2, nc, plane_len, os1);
          continue;
        }
        for (int64_t i = 0; i < nc; ++i) {  // computed in out_buf, then rounded / scattered
          for (int64_t r = 0; r < count; ++r) {
            scalar_t* orow = op0 + i * os1 + (oy + r * vP) * os2;
            hpass.run(rows.data(), filter_rows.data(), nt, out_buf, ws, 1, 0, 0, 1, 0, 0);
            store_row(out_buf, orow, os3, out_w);
            for (int64_t t = 0; t < nt; ++t) rows[t] += vD * prep_len;  // next row of the run
          }
          for (int64_t t = 0; t < nt; ++t) rows[t] += plane_len - count * vD * prep_len;  // next plane
        }
      }
    }
  });
}

}  // namespace

void upfirdn2d_kernel(const at::Tensor& x, const at::Tensor& coef, const Args& a,
                      const at::Tensor& out) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "myops_upfirdn2d_cpu", [&] {
    run<scalar_t>(x, coef, a, out);
  });
}

}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::upfirdn2d
