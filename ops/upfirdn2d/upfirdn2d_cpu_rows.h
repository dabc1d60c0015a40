// The row machinery of the upfirdn2d CPU loops, shared by every *_cpu_kernel.cpp that resamples
// images (upfirdn2d itself; filtered_lrelu's fused kernel, which chains several resamplings
// without materializing the images between them). Included only from *_cpu_kernel.cpp files,
// which are compiled once per ISA: everything sits in CPU_CAPABILITY and an unnamed namespace,
// so each ISA's copy is its own (see ops/common/scalar_ops.h).
//  - HorizontalPass: one row resampled along x (polyphase, vectorized), planned once per call.
//  - weighted_row_sum: the vertical taps, a weighted sum of rows (vectorized).
//  - load_row / row_target / store_row: rows of any stride and dtype in and out of op-math.
#pragma once

#include <ATen/OpMathType.h>
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <numeric>
#include <type_traits>
#include <utility>
#include <vector>

#include "ops/upfirdn2d/upfirdn2d_math.h"

namespace myops::ops::upfirdn2d {
namespace CPU_CAPABILITY {
namespace {

using math::AxisTaps;
using math::axis_taps;

// Scratch memory of one thread (one parallel_for chunk).
template <typename acc_t>
struct Workspace {
  std::vector<acc_t> in_row, prepared, out_row, phase_out, scratch;
  std::vector<const acc_t*> taps;
  std::vector<acc_t> tap_w;
};

// The horizontal resampling of a row, planned once per call and shared by every row of every
// plane. `rows` filter rows: one for a 1-D filter; fh for a 2-D one (the vertical tap picks).
//
// Polyphase form: with g = gcd(up, down), P = up / g and D = down / g, the outputs
// o = r + m*P of phase r (0 <= r < P) all use the same taps: tap t < n_r of output m reads input
// i0_r + m*D + t, with the filter coefficient k0_r + t*up. In the interior (all n_r taps inside
// the row) a phase is computed a vector of outputs at a time; when D > 1 the row is first split
// into D sub-rows (every D-th pixel) so that each tap reads consecutive elements. The few
// outputs at the borders, whose taps partly fall outside the row, sum just the taps inside.
template <typename acc_t>
struct HorizontalPass {
  struct Phase {
    int64_t n;             // taps per output
    int64_t m_count;       // outputs in the phase
    int64_t m_lo, m_hi;    // the interior: m in [m_lo, m_hi)
  };
  struct Border {          // an output whose taps partly fall outside the row
    int64_t o, begin, end; // its taps: entries [begin, end) of border_off / border_k
  };
  int64_t rows, taps, in_w, out_w, P, D, T, sub_len;
  std::vector<Phase> phases;
  std::vector<acc_t> w;              // [rows][P][T]: interior weights
  std::vector<int64_t> tap_off;      // [P][T]: tap t of output m reads prepared[tap_off + m]
  std::vector<Border> borders;       // all phases' border outputs
  std::vector<int64_t> border_off;   // prepared-row offset of each border tap
  std::vector<acc_t> border_w;       // [rows][border taps]
  // Everything with a division is done here, once per call: run() only adds and multiplies.
  HorizontalPass(const acc_t* coef, int64_t rows_, int64_t taps_, int64_t in_w_, int64_t out_w_,
                 int64_t up, int64_t down, int64_t pad0)
      : rows(rows_), taps(taps_), in_w(in_w_), out_w(out_w_) {
    const int64_t g = std::gcd(up, down);
    P = up / g;
    D = down / g;
    T = math::max_taps(taps, up);
    sub_len = (in_w + D - 1) / D;
    const auto prepared_offset = [&](int64_t x) {  // where pixel x (may be < 0) sits, m = 0
      const int64_t b = math::floor_div(x, D);
      return (x - b * D) * sub_len + b;
    };
    w.assign(rows * P * T, acc_t(0));
    tap_off.assign(P * T, 0);
    std::vector<std::pair<int64_t, int64_t>> border_taps;  // (offset, coefficient index)
    for (int64_t r = 0; r < P; ++r) {
      const AxisTaps a = axis_taps(r, up, down, pad0, taps, in_w);
      Phase ph{};
      ph.n = a.k0 < taps ? (taps - a.k0 + up - 1) / up : 0;
      ph.m_count = r < out_w ? (out_w - r + P - 1) / P : 0;
      // i0 + m*D >= 0 and i0 + m*D + n - 1 <= in_w - 1
      ph.m_lo = std::min(std::max<int64_t>(math::ceil_div(-a.i0, D), 0), ph.m_count);
      ph.m_hi = std::max(std::min(math::floor_div(in_w - ph.n - a.i0, D) + 1, ph.m_count), ph.m_lo);
      if (ph.n == 0) ph.m_lo = ph.m_hi = ph.m_count;  // no tap: all "border" (zeros)
      for (int64_t t = 0; t < ph.n; ++t) {
        tap_off[r * T + t] = prepared_offset(a.i0 + t);
        for (int64_t row = 0; row < rows; ++row) w[(row * P + r) * T + t] = coef[row * taps + a.k0 + t * up];
      }
      phases.push_back(ph);
      for (int64_t m = 0; m < ph.m_count; ++m) {
        if (m == ph.m_lo) m = ph.m_hi;
        if (m >= ph.m_count) break;
        const int64_t o = r + m * P;
        const AxisTaps b = axis_taps(o, up, down, pad0, taps, in_w);
        const int64_t begin = static_cast<int64_t>(border_taps.size());
        for (int64_t t = b.t_begin; t < b.t_end; ++t) {
          border_taps.emplace_back(prepared_offset(b.i0 + t), b.k0 + t * up);
        }
        borders.push_back({o, begin, static_cast<int64_t>(border_taps.size())});
      }
    }
    const int64_t nb = static_cast<int64_t>(border_taps.size());
    border_off.resize(nb);
    border_w.resize(rows * nb);
    for (int64_t i = 0; i < nb; ++i) {
      border_off[i] = border_taps[i].first;
      for (int64_t row = 0; row < rows; ++row) border_w[row * nb + i] = coef[row * taps + border_taps[i].second];
    }
  }

  void reserve(Workspace<acc_t>& ws, int64_t max_rows) const {
    ws.phase_out.resize(out_w);
    ws.taps.resize(max_rows * T);
    ws.tap_w.resize(max_rows * T);
  }

  // A row as run() reads it: the row itself (D == 1), or its D sub-rows (every D-th pixel,
  // sub_len each) written to `buf` (prepared_len() elements).
  int64_t prepared_len() const { return D > 1 ? D * sub_len : in_w; }
  const acc_t* prepare(const acc_t* src, acc_t* buf) const {
    if (D == 1) return src;
    if (D == 2) {  // the common downsampling by 2: split even and odd pixels a vector at a time
      using Vec = at::vec::Vectorized<acc_t>;
      int64_t i = 0;
      for (; 2 * (i + Vec::size()) <= in_w; i += Vec::size()) {
        const auto [even, odd] = at::vec::deinterleave2(Vec::loadu(src + 2 * i), Vec::loadu(src + 2 * i + Vec::size()));
        even.store(buf + i);
        odd.store(buf + sub_len + i);
      }
      for (; i < sub_len; ++i) {
        buf[i] = src[2 * i];
        buf[sub_len + i] = 2 * i + 1 < in_w ? src[2 * i + 1] : acc_t(0);
      }
      return buf;
    }
    for (int64_t q = 0; q < D; ++q) {
      for (int64_t i = 0; i < sub_len; ++i) {
        const int64_t x = q + i * D;
        buf[q * sub_len + i] = x < in_w ? src[x] : acc_t(0);
      }
    }
    return buf;
  }

  // dst[o] = sum over j < n_rows of the resampling of prepared row rows[j] with filter row
  // filter_rows[j], for o in [0, out_w). Zeros when n_rows == 0. (A 2-D filter sums the input
  // rows its vertical taps reach in one pass, in registers.)
  void run(const acc_t* const* rows_in, const int64_t* filter_rows, int64_t n_rows, acc_t* dst,
           Workspace<acc_t>& ws) const {
    using Vec = at::vec::Vectorized<acc_t>;
    if (n_rows == 0) {
      std::fill(dst, dst + out_w, acc_t(0));
      return;
    }
    for (int64_t r = 0; r < P; ++r) {
      const Phase& ph = phases[r];
      // Tap k of output m reads tp[k][m] with weight tw[k], over all rows.
      const acc_t** tp = ws.taps.data();
      acc_t* tw = ws.tap_w.data();
      const int64_t nk = n_rows * ph.n;
      for (int64_t j = 0; j < n_rows; ++j) {
        const acc_t* wr = w.data() + (filter_rows[j] * P + r) * T;
        for (int64_t t = 0; t < ph.n; ++t) {
          tp[j * ph.n + t] = rows_in[j] + tap_off[r * T + t];
          tw[j * ph.n + t] = wr[t];
        }
      }
      // The interior, vectorized; written straight into dst when the phase is contiguous.
      acc_t* out = P == 1 ? dst : ws.phase_out.data();  // output m goes to out[m - off]
      const int64_t off = P == 1 ? 0 : ph.m_lo;
      int64_t m = ph.m_lo;
      for (; m + Vec::size() <= ph.m_hi; m += Vec::size()) {
        Vec sum(acc_t(0));
        for (int64_t k = 0; k < nk; ++k) sum = at::vec::fmadd(Vec(tw[k]), Vec::loadu(tp[k] + m), sum);
        sum.store(out + (m - off));
      }
      for (; m < ph.m_hi; ++m) {
        acc_t sum(0);
        for (int64_t k = 0; k < nk; ++k) sum += tw[k] * tp[k][m];
        out[m - off] = sum;
      }
      if (P > 1) {  // interleave the phase into the row
        for (m = ph.m_lo; m < ph.m_hi; ++m) dst[r + m * P] = out[m - off];
      }
    }
    // The borders: only the taps inside the row.
    const int64_t nb = static_cast<int64_t>(border_off.size());
    for (const Border& b : borders) {
      acc_t sum(0);
      for (int64_t j = 0; j < n_rows; ++j) {
        const acc_t* bw = border_w.data() + filter_rows[j] * nb;
        for (int64_t i = b.begin; i < b.end; ++i) sum += bw[i] * rows_in[j][border_off[i]];
      }
      dst[b.o] = sum;
    }
  }
};

// dst[o] = sum_j weight[j] * rows[j][o], vectorized over o; zeros when n == 0.
template <typename acc_t>
void weighted_row_sum(const acc_t* const* rows, const acc_t* weight, int64_t n, int64_t width,
                      acc_t* dst) {
  using Vec = at::vec::Vectorized<acc_t>;
  int64_t o = 0;
  for (; o + Vec::size() <= width; o += Vec::size()) {
    Vec sum(acc_t(0));
    for (int64_t j = 0; j < n; ++j) sum = at::vec::fmadd(Vec(weight[j]), Vec::loadu(rows[j] + o), sum);
    sum.store(dst + o);
  }
  for (; o < width; ++o) {
    acc_t sum(0);
    for (int64_t j = 0; j < n; ++j) sum += weight[j] * rows[j][o];
    dst[o] = sum;
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

}  // namespace
}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::upfirdn2d
