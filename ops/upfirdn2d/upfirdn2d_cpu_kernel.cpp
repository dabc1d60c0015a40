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
// Horizontal passes are planned once per call (HorizontalPass: polyphase, vectorized) and
// shared by every row of every plane; the row machinery is in upfirdn2d_cpu_rows.h.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "ops/upfirdn2d/upfirdn2d_cpu_rows.h"
#include "ops/upfirdn2d/upfirdn2d_kernels.h"
#include "ops/upfirdn2d/upfirdn2d_math.h"

namespace myops::ops::upfirdn2d {
namespace CPU_CAPABILITY {
namespace {

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
  const HorizontalPass<acc_t> hpass(coef, separable ? 1 : fh, fw, in_w, out_w, a.up_x, a.down_x, a.pad_x0);

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

  const int64_t prep_len = hpass.prepared_len();
  std::vector<AxisTaps> vtaps(out_h);  // the vertical taps of every output row
  for (int64_t oy = 0; oy < out_h; ++oy) vtaps[oy] = axis_taps(oy, a.up_y, a.down_y, a.pad_y0, fh, in_h);

  at::parallel_for(0, planes * tiles, grain, [&](int64_t begin, int64_t end) {
    Workspace<acc_t> ws;
    const int64_t max_vtaps = math::max_taps(fh, a.up_y);
    hpass.reserve(ws, separable ? 1 : max_vtaps);
    ws.in_row.resize(in_w);
    ws.out_row.resize(out_w);
    // 1-D: the tile's rows after the horizontal pass. 2-D: the tile's input rows, prepared
    // (op-math, split into sub-rows) once, then used by every output row and filter row.
    ws.scratch.resize(max_rows_in_tile * (separable ? out_w : prep_len));
    ws.prepared.resize(separable ? prep_len : 0);
    std::vector<const acc_t*> in_rows(max_rows_in_tile);
    std::vector<const acc_t*> rows(max_vtaps);
    std::vector<acc_t> weights(max_vtaps);
    std::vector<int64_t> filter_rows(max_vtaps);
    const int64_t zero = 0;
    acc_t* const out_buf = ws.out_row.data();
    acc_t* const scratch = ws.scratch.data();

    // Input row iy as HorizontalPass::run reads it; `slot` holds it unless x's row will do.
    const auto prepared_row = [&](const scalar_t* xp, int64_t iy, acc_t* slot) -> const acc_t* {
      if (hpass.D == 1) return load_row(xp + iy * xs2, xs3, in_w, slot);
      return hpass.prepare(load_row(xp + iy * xs2, xs3, in_w, ws.in_row.data()), slot);
    };

    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t plane = unit / tiles, tile = unit % tiles;
      const int64_t n = plane / C, c = plane % C;
      const scalar_t* xp = x_data + n * xs0 + c * xs1;
      scalar_t* op = out_data + n * os0 + c * os1;
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
        for (int64_t iy = lo; iy <= hi; ++iy) {  // each filtered horizontally once
          const acc_t* src = prepared_row(xp, iy, ws.prepared.data());
          hpass.run(&src, &zero, 1, scratch + (iy - lo) * out_w, ws);
        }
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
      } else {
        for (int64_t iy = lo; iy <= hi; ++iy) {
          in_rows[iy - lo] = prepared_row(xp, iy, scratch + (iy - lo) * prep_len);
        }
        for (int64_t oy = oy0; oy < oy1; ++oy) {
          const AxisTaps& v = vtaps[oy];
          for (int64_t t = v.t_begin; t < v.t_end; ++t) {  // one filter row per input row
            rows[t - v.t_begin] = in_rows[v.i0 + t - lo];
            filter_rows[t - v.t_begin] = v.k0 + t * a.up_y;
          }
          acc_t* dst = row_target(op + oy * os2, os3, out_buf);
          hpass.run(rows.data(), filter_rows.data(), v.t_end - v.t_begin, dst, ws);
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
}  // namespace myops::ops::upfirdn2d
