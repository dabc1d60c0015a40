// CPU loops of upfirdn2d, compiled once per ISA (DEFAULT, AVX2, AVX512; ops/common/cpu_isa.h).
//
// Direct computation: each output pixel sums only the filter taps that land on real input
// pixels (math::axis_taps), never the inserted zeros or the padding, so no upsampled or padded
// copy of the image is ever made. Work is split into tiles of output rows of one [H, W] plane;
// each tile reads its input rows once and its scratch stays in cache. Tiles are independent, so
// the result does not depend on the number of threads.
//  - 1-D filter (separable): horizontal pass of the tile's input rows into a scratch of
//    op-math rows, then each output row is a weighted sum of scratch rows (vectorized).
//  - 2-D filter: each output row accumulates horizontal passes of its input rows, one per
//    filter row that lands on the image.
// Horizontal passes use a per-call table (first input, tap count and weights per output
// column), shared by every row of every plane.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "ops/upfirdn2d/upfirdn2d_kernels.h"
#include "ops/upfirdn2d/upfirdn2d_math.h"

namespace myops::upfirdn2d {
namespace CPU_CAPABILITY {
namespace {

using math::AxisTaps;
using math::axis_taps;

// The horizontal resampling of one row as a table: output column o sums count[o] taps,
// weights w[row][o][j] times input first[o] + j (j < count[o] <= T). `row` selects a filter
// row (one for a 1-D filter, fh for a 2-D one).
template <typename acc_t>
struct RowTable {
  int64_t out_w = 0, T = 0;
  std::vector<int64_t> first, count;
  std::vector<acc_t> w;

  RowTable(const acc_t* coef, int64_t rows, int64_t taps, int64_t in_w, int64_t out_w_,
           int64_t up, int64_t down, int64_t pad0)
      : out_w(out_w_), T(math::max_taps(taps, up)), first(out_w_), count(out_w_),
        w(rows * out_w_ * T, acc_t(0)) {
    for (int64_t o = 0; o < out_w; ++o) {
      const AxisTaps a = axis_taps(o, up, down, pad0, taps, in_w);
      count[o] = a.t_end - a.t_begin;
      first[o] = count[o] > 0 ? a.i0 + a.t_begin : 0;  // never points outside the row
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t t = a.t_begin; t < a.t_end; ++t) {
          w[(r * out_w + o) * T + (t - a.t_begin)] = coef[r * taps + a.k0 + t * up];
        }
      }
    }
  }

  // dst[o] (+)= sum_j w[row][o][j] * src[first[o] + j]
  template <int kT, bool kAccumulate>
  void run_fixed(const acc_t* src, int64_t row, acc_t* dst) const {
    const acc_t* wr = w.data() + row * out_w * T;
    for (int64_t o = 0; o < out_w; ++o) {
      const acc_t* s = src + first[o];
      const acc_t* ww = wr + o * T;
      acc_t sum(0);
      if (count[o] == kT) {  // the interior: every tap lands on the image
        for (int j = 0; j < kT; ++j) sum += ww[j] * s[j];
      } else {
        for (int64_t j = 0; j < count[o]; ++j) sum += ww[j] * s[j];
      }
      dst[o] = kAccumulate ? dst[o] + sum : sum;
    }
  }

  template <bool kAccumulate>
  void run(const acc_t* src, int64_t row, acc_t* dst) const {
    switch (T) {  // small tap counts unrolled: the common filters after upsampling
      case 1: return run_fixed<1, kAccumulate>(src, row, dst);
      case 2: return run_fixed<2, kAccumulate>(src, row, dst);
      case 3: return run_fixed<3, kAccumulate>(src, row, dst);
      case 4: return run_fixed<4, kAccumulate>(src, row, dst);
      case 6: return run_fixed<6, kAccumulate>(src, row, dst);
      case 8: return run_fixed<8, kAccumulate>(src, row, dst);
      default: return run_fixed<0, kAccumulate>(src, row, dst);  // the generic loop only
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

template <typename scalar_t>
void run(const at::Tensor& x, const at::Tensor& coef_t, const Args& a, const at::Tensor& out) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t C = x.size(1), in_h = x.size(2), in_w = x.size(3);
  const int64_t out_h = out.size(2), out_w = out.size(3);
  const int64_t planes = x.size(0) * C;
  const bool separable = a.kind == FilterKind::Separable;
  const int64_t fh = a.fh, fw = a.fw;
  const acc_t* coef = coef_t.const_data_ptr<acc_t>();

  // 1-D: one filter row, also used vertically. 2-D: fh rows, the vertical tap picks the row.
  const RowTable<acc_t> table(coef, separable ? 1 : fh, fw, in_w, out_w, a.up_x, a.down_x, a.pad_x0);

  // Tiles of output rows: ~64K outputs each (the scratch rows stay in L2), at least 8 rows so
  // that the input rows shared by neighbouring tiles are rarely computed twice.
  const int64_t tile_h = std::max<int64_t>(
      std::min<int64_t>(std::max<int64_t>(65536 / out_w, 8), out_h), 1);
  const int64_t tiles = (out_h + tile_h - 1) / tile_h;
  const int64_t taps_per_output = separable
      ? math::max_taps(fw, a.up_x) + math::max_taps(fh, a.up_y)
      : math::max_taps(fw, a.up_x) * math::max_taps(fh, a.up_y);
  const int64_t work_per_tile = std::max<int64_t>(tile_h * out_w * taps_per_output, 1);
  // at::parallel_for's grain: enough multiply-adds per chunk (~32K, ATen's GRAIN_SIZE) that
  // tiny images are not spread over threads for nothing.
  const int64_t grain = std::max<int64_t>(1, 32768 / work_per_tile);
  const int64_t max_rows_in_tile = std::min(in_h, ((tile_h - 1) * a.down_y + fh) / a.up_y + 2);

  const scalar_t* x_data = x.const_data_ptr<scalar_t>();
  scalar_t* out_data = out.data_ptr<scalar_t>();
  const int64_t xs0 = x.stride(0), xs1 = x.stride(1), xs2 = x.stride(2), xs3 = x.stride(3);
  const int64_t os0 = out.stride(0), os1 = out.stride(1), os2 = out.stride(2), os3 = out.stride(3);

  at::parallel_for(0, planes * tiles, grain, [&](int64_t begin, int64_t end) {
    std::vector<acc_t> row_buf(in_w), out_buf(out_w);
    std::vector<acc_t> scratch(separable ? max_rows_in_tile * out_w : 0);
    std::vector<const acc_t*> rows(fh);
    std::vector<acc_t> weights(fh);
    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t plane = unit / tiles, tile = unit % tiles;
      const int64_t n = plane / C, c = plane % C;
      const scalar_t* xp = x_data + n * xs0 + c * xs1;
      scalar_t* op = out_data + n * os0 + c * os1;
      const int64_t oy0 = tile * tile_h, oy1 = std::min(oy0 + tile_h, out_h);

      if (separable) {
        // The input rows this tile reads, each filtered horizontally once.
        int64_t lo = in_h, hi = -1;
        for (int64_t oy = oy0; oy < oy1; ++oy) {
          const AxisTaps v = axis_taps(oy, a.up_y, a.down_y, a.pad_y0, fh, in_h);
          if (v.t_end > v.t_begin) {
            lo = std::min(lo, v.i0 + v.t_begin);
            hi = std::max(hi, v.i0 + v.t_end - 1);
          }
        }
        for (int64_t iy = lo; iy <= hi; ++iy) {
          const acc_t* src = load_row(xp + iy * xs2, xs3, in_w, row_buf.data());
          table.template run<false>(src, 0, scratch.data() + (iy - lo) * out_w);
        }
        for (int64_t oy = oy0; oy < oy1; ++oy) {
          const AxisTaps v = axis_taps(oy, a.up_y, a.down_y, a.pad_y0, fh, in_h);
          const int64_t nt = v.t_end - v.t_begin;
          for (int64_t t = v.t_begin; t < v.t_end; ++t) {
            rows[t - v.t_begin] = scratch.data() + (v.i0 + t - lo) * out_w;
            weights[t - v.t_begin] = coef[v.k0 + t * a.up_y];
          }
          acc_t* dst = row_target(op + oy * os2, os3, out_buf.data());
          weighted_row_sum(rows.data(), weights.data(), nt, out_w, dst);
          store_row(dst, op + oy * os2, os3, out_w);
        }
      } else {
        for (int64_t oy = oy0; oy < oy1; ++oy) {
          const AxisTaps v = axis_taps(oy, a.up_y, a.down_y, a.pad_y0, fh, in_h);
          acc_t* dst = row_target(op + oy * os2, os3, out_buf.data());
          if (v.t_end == v.t_begin) std::fill(dst, dst + out_w, acc_t(0));
          for (int64_t t = v.t_begin; t < v.t_end; ++t) {
            const acc_t* src = load_row(xp + (v.i0 + t) * xs2, xs3, in_w, row_buf.data());
            const int64_t filter_row = v.k0 + t * a.up_y;
            if (t == v.t_begin) {
              table.template run<false>(src, filter_row, dst);
            } else {
              table.template run<true>(src, filter_row, dst);
            }
          }
          store_row(dst, op + oy * os2, os3, out_w);
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
}  // namespace myops::upfirdn2d
