// CPU loops of upfirdn2d for one dtype: included by upfirdn2d_<dtype>_cpu_kernel.cpp, each
// compiled once per ISA (DEFAULT, AVX2, AVX512; ops/common/cpu_isa.h) and instantiating run<>
// for its dtype only (why: upfirdn2d_cpu_dtypes.h).
//
// Direct, polyphase computation: each output pixel sums only the filter taps that land on
// input pixels or on the padding, never the inserted zeros, so no upsampled copy of the image
// is ever made (and an inf pixel never meets a skipped zero). Work is split into tiles of
// output rows of one [H, W] plane (small planes: a group of channels); each tile reads its input
// rows once and its scratch stays in cache. Tiles are independent and every output is summed in
// one fixed order, whatever the tiling, so the result does not depend on the number of threads.
//  - 1-D filter (separable): horizontal pass of the tile's input rows into a scratch of
//    op-math rows, then each output row is a weighted sum of scratch rows (vectorized). A 4-tap
//    filter on a run of output rows (a blur) makes both passes in registers instead (RowRun's
//    separable form; the same sums). Where few taps make the 2-D outer product cheaper
//    (StyleGAN2's 4-tap filter resampled by 2), the call runs as that 2-D filter in every
//    layout (separable_runs_as_2d).
//  - 2-D filter: each output row sums, in registers, the horizontal passes of the input rows
//    its vertical taps reach (rows outside the image are skipped). A 4x4 filter on a run of
//    output rows (blur, down 2) walks the input rows once for all the output rows they feed
//    (RowRun, upfirdn2d_cpu_rows.h).
// Why it is fast (issue 13): each input row is copied once into a zero-padded, de-interleaved
// (stride `down` split into sub-rows) buffer, so along the row every output reads every tap
// from consecutive memory: no border case, no scalar tail (partial vector stores), tap counts
// up to 16 unrolled at compile time with their weights in registers, up = 2 interleaves its two
// phases in registers, and the taps are set up once for all the output rows (of all the planes
// of a group) that share them. (The old loops spent most of their time in scalar border and
// tail outputs and in per-row set-up: on 32-wide rows with 16-lane vectors most outputs were
// scalar.)
// Memory (issue 13 item 3): a unit's rows are read in a burst and then computed from cache, so
// while they are prepared the rows the next unit reads are prefetched (prefetch_row), and the
// 2-D path's plane groups keep their prepared rows within L2.
// The row machinery (HorizontalPass, weighted_row_sum(s), row loads/stores) is in
// upfirdn2d_cpu_rows.h, shared with filtered_lrelu's fused kernel.
// Small planes (up to 32x32, at least a vector's worth of them) take the plane path instead
// (upfirdn2d_cpu_planes.h): L planes side by side in the lanes of a vector, the same sums in
// the same order, so the two paths agree bit for bit. channels_last tensors run in place, a
// pixel's channels in the lanes, except with few channels (upfirdn2d_cpu_channels_last.h;
// their blurs, ups and downs along whole rows of pixels: upfirdn2d_cpu_pixel_rows.h).
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <numeric>
#include <tuple>
#include <type_traits>
#include <vector>

#include "ops/upfirdn2d/upfirdn2d_cpu_channels_last.h"
#include "ops/upfirdn2d/upfirdn2d_cpu_dtypes.h"
#include "ops/upfirdn2d/upfirdn2d_cpu_flat.h"
#include "ops/upfirdn2d/upfirdn2d_cpu_pixel_rows.h"
#include "ops/upfirdn2d/upfirdn2d_cpu_planes.h"
#include "ops/upfirdn2d/upfirdn2d_cpu_rows.h"
#include "ops/upfirdn2d/upfirdn2d_math.h"

namespace myops::ops::upfirdn2d {
namespace CPU_CAPABILITY {

// x, out [N, C, H, W] and coef (correlation_filter); or a stack (upfirdn2d_stacked): x, out
// [S, N, C, H, W] and coef [S, ...], entry s filtered by coef[s]. The row path runs a stack in
// one go (the set-up, the workspaces and the threads shared by its entries; each entry's
// outputs the same sums as in a call of its own).
template <typename scalar_t>
void run(const at::Tensor& x, const at::Tensor& coef_t, const Args& a, const at::Tensor& out) {
  using acc_t = at::opmath_type<scalar_t>;
  const bool stacked = x.dim() == 5;
  const int64_t S = stacked ? x.size(0) : 1, d = stacked ? 1 : 0;  // d: where [N, C, H, W] starts
  const int64_t N = x.size(d), C = x.size(d + 1), in_h = x.size(d + 2), in_w = x.size(d + 3);
  const int64_t out_h = out.size(d + 2), out_w = out.size(d + 3);
  // channels_last blurs of up to one and a half vectors' worth of channels, ups of up to half a
  // vector's and one, downs of fewer than a vector's: vectors along whole rows of pixels and
  // channels, every lane used (upfirdn2d_cpu_pixel_rows.h).
  if (runs_on_pixel_rows<scalar_t>(x, a, out)) {
    run_pixel_rows<scalar_t>(x, coef_t, a, out);
    return;
  }
  // channels_last: in place, every block of a pixel's channels with the same taps (float16/
  // bfloat16 widened as loaded; fewer channels than lanes masked; upfirdn2d_cpu_channels_last.h).
  if (!stacked && runs_in_channels_last<scalar_t>(x, a, out)) {
    run_in_channels_last<scalar_t>(x, coef_t, a, out);
    return;
  }
  // Small planes, many of them: across planes, a vector at a time (upfirdn2d_cpu_planes.h), an
  // entry of a stack at a time (the lanes of a vector share their taps).
  if (use_plane_path(N * C, at::vec::Vectorized<acc_t>::size(), in_h, in_w, out_h, out_w)) {
    if (!stacked) {
      run_planes<scalar_t>(x, coef_t, a, out);
      return;
    }
    for (int64_t s = 0; s < S; ++s) run_planes<scalar_t>(x.select(0, s), coef_t.select(0, s), a, out.select(0, s));
    return;
  }
  // Larger planes in channels_last not run in place (past strided_rows_max_channels up to half
  // a vector's lanes, a separable scratch too large): through planar copies, except the float32
  // outputs whose pixels the row path stores whole (stores_interleaved_channels). Fewer
  // channels: the row path reads and writes the strided rows itself
  // (upfirdn2d_cpu_channels_last.h).
  if (upfirdn2d_uses_planar_copies<scalar_t>(x, out) && !stores_interleaved_channels<scalar_t>(out)) {
    run_through_planes<scalar_t>(out, [&](const at::Tensor& out_planes, const at::Tensor& x_planes) {
      run<scalar_t>(x_planes, coef_t, a, out_planes);
    }, x);
    return;
  }
  // Larger planes, a 2-D filter without resampling (a blur), a plane within cache: flat rows
  // (upfirdn2d_cpu_flat.h).
  if (use_flat_path(a, x, out_w, at::vec::Vectorized<acc_t>::size())) {
    run_flat<scalar_t>(x, coef_t, a, out);
    return;
  }
  const bool separable = a.kind == FilterKind::Separable;
  const int64_t fh = a.fh, fw = a.fw;
  const acc_t* const coef_base = coef_t.const_data_ptr<acc_t>();
  const int64_t coef_stride = stacked ? coef_t.stride(0) : 0;  // entry s's filter: coef_base + s * coef_stride

  // 1-D: one filter row, also used vertically. 2-D: fh rows, the vertical tap picks the row.
  // One per entry of a stack (its weights); their sizes and row layout are the same.
  std::vector<HorizontalPass<acc_t>> hpasses;
  hpasses.reserve(S);
  for (int64_t s = 0; s < S; ++s) {
    hpasses.emplace_back(coef_base + s * coef_stride, separable ? 1 : fh, fw, in_w, out_w, a.up_x, a.down_x,
                         a.pad_x0);
  }
  const HorizontalPass<acc_t>& layout = hpasses[0];  // sizes, row preparation

  // A channels_last output of a few channels: a unit computes all C planes of its tile into
  // op-math planes (out_buf, as if in place) and then stores each output row's pixels whole
  // (store_interleaved_rows), rather than one strided channel row at a time.
  const bool interleaved_out = !stacked && stores_interleaved_channels<scalar_t>(out);
  // Tiles of output rows: ~64K outputs each (the scratch rows stay in L2; with interleaved_out,
  // of all the C planes), at least 8 rows so that the input rows shared by neighbouring tiles
  // are rarely computed twice. Small planes (one tile) are taken `group` channels at a time,
  // ~64K outputs per group, so that the per-row set-up is paid once per group rather than once
  // per plane.
  const int64_t tile_outputs = 65536 / (interleaved_out ? C : 1);
  const int64_t tile_h = std::max<int64_t>(
      std::min<int64_t>(std::max<int64_t>(tile_outputs / out_w, 8), out_h), 1);
  const int64_t tiles = (out_h + tile_h - 1) / tile_h;
  const int64_t tile_len = tile_h * out_w;  // a plane's outputs in a tile
  const int64_t max_rows_in_tile = std::min(in_h, ((tile_h - 1) * a.down_y + fh) / a.up_y + 2);
  const int64_t plane_len = max_rows_in_tile * layout.prepared_len();  // a tile's prepared rows
  // (and at most ~256 KB of float prepared rows, so that they stay in L2 between being
  // written and read by the horizontal pass; a tiny output of a large input takes one plane)
  // (interleaved_out: all C planes of a tile, whose outputs are stored together)
  const int64_t group =
      interleaved_out ? C
      : tiles > 1     ? 1
                      : std::clamp<int64_t>(std::min(65536 / (out_h * out_w), (int64_t{1} << 16) / std::max<int64_t>(plane_len, 1)), 1, C);
  const int64_t groups = (C + group - 1) / group;  // per sample
  // Work of a unit (a tile of a group of planes) in multiply-adds, plus a share for each row
  // it reads and writes (a tiny plane costs more than its arithmetic).
  const int64_t work_per_unit = std::max<int64_t>(group * tile_h * (out_w * taps_per_output(a) + 64), 1);
  // at::parallel_for's grain: enough work per chunk (~32K multiply-adds, ATen's GRAIN_SIZE)
  // that tiny images are not spread over threads for nothing.
  const int64_t grain = std::max<int64_t>(1, 32768 / work_per_unit);
  const scalar_t* x_data = x.const_data_ptr<scalar_t>();
  scalar_t* out_data = out.data_ptr<scalar_t>();
  const int64_t xsS = stacked ? x.stride(0) : 0, osS = stacked ? out.stride(0) : 0;
  const int64_t xs0 = x.stride(d), xs1 = x.stride(d + 1), xs2 = x.stride(d + 2), xs3 = x.stride(d + 3);
  const int64_t os0 = out.stride(d), os1 = out.stride(d + 1), os2 = out.stride(d + 2), os3 = out.stride(d + 3);

  // Output rows are computed in place where they are op-math and contiguous; otherwise (float16,
  // bfloat16, strided rows) a run of them goes to op-math rows of out_buf, the same sums, and
  // is then rounded and stored row by row (store_row). (Computing those one row at a time, with
  // no RowRun, made bfloat16 2.2-3x slower than float32 on 64x64 planes.)
  const bool in_place = std::is_same_v<scalar_t, acc_t> && os3 == 1;
  const int64_t prep_len = layout.prepared_len();
  const int64_t gy = std::gcd(a.up_y, a.down_y), vP = a.up_y / gy, vD = a.down_y / gy;  // vertical phases
  // Rows ahead of the one being prepared that the next unit reads at its place: the next tile's
  // (its input rows start about tile_h * down / up rows further) or, one tile per plane, the
  // next plane's same row. A guess that only decides what is prefetched.
  const int64_t advance = tiles > 1 ? std::max<int64_t>(tile_h * a.down_y / a.up_y, 1) : in_h;
  std::vector<AxisTaps> vtaps(out_h);  // the vertical taps of every output row
  for (int64_t oy = 0; oy < out_h; ++oy) vtaps[oy] = axis_taps(oy, a.up_y, a.down_y, a.pad_y0, fh, in_h);

  at::parallel_for(0, S * N * groups * tiles, grain, [&](int64_t begin, int64_t end) {
    Workspace<acc_t> ws;
    const int64_t max_vtaps = math::max_taps(fh, a.up_y);
    layout.reserve(ws, separable ? 1 : max_vtaps);
    ws.in_row.resize(in_w);
    ws.out_row.resize(in_place ? 0 : (interleaved_out ? C : 1) * tile_len);
    // The tile's input rows, prepared once (zeroed here once: the padding), then used by every
    // output row and filter row. 1-D: `scratch` holds them after the horizontal pass.
    ws.prepared.resize(group * plane_len);
    // (+ a vector: weighted_row_sums loads whole vectors past the last row's end)
    ws.scratch.resize(separable ? max_rows_in_tile * out_w + at::vec::Vectorized<acc_t>::size() : 0);
    std::vector<char> done(tile_h);  // 2-D: the tile's output rows already computed
    std::vector<char> h_done(separable ? max_rows_in_tile : 0);  // 1-D: scratch rows filtered
    std::vector<const acc_t*> rows(max_vtaps);
    std::vector<acc_t> weights(max_vtaps);
    std::vector<int64_t> filter_rows(max_vtaps);
    const int64_t zero = 0;
    acc_t* const out_buf = ws.out_row.data();
    acc_t* const scratch = ws.scratch.data();
    acc_t* const prepared = ws.prepared.data();

    // Input row iy, prepared (op-math, zero-padded, split into sub-rows) into `slot`; the row
    // that the next unit will read in its place is prefetched (see prefetch_row).
    const auto prepare_row = [&](const scalar_t* xp, int64_t iy, acc_t* slot) {
      const int64_t ry = iy + advance;
      prefetch_row(xp, ry < in_h ? ry * xs2 : xs1 + (ry - in_h) * xs2, xs3, in_w);
      layout.prepare(load_row(xp + iy * xs2, xs3, in_w, ws.in_row.data()), slot);
    };

    // interleaved_out: the tile's output rows [oy0, oy1) of sample n, computed into out_buf's C
    // op-math planes (tile_len apart), each stored a pixel at a time.
    const auto store_tile = [&](int64_t n, int64_t oy0, int64_t oy1) {
      if constexpr (has_interleaved_rows<acc_t, scalar_t>()) {
        if (!interleaved_out) return;
        store_interleaved_rows(out_buf, tile_len, C, out_w, oy1 - oy0, out_data + n * os0 + oy0 * os2, os2);
      }
    };

    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t tile = unit % tiles, entry_n = unit / tiles / groups;
      const int64_t s = entry_n / N, n = entry_n % N;  // (s = 0 but for a stack)
      const HorizontalPass<acc_t>& hpass = hpasses[s];
      const acc_t* const coef = coef_base + s * coef_stride;
      const int64_t c0 = unit / tiles % groups * group, nc = std::min(group, C - c0);
      const int64_t oy0 = tile * tile_h, oy1 = std::min(oy0 + tile_h, out_h);

      // The input rows [lo, hi] this tile reads.
      int64_t lo, hi;  // (not a structured binding: the lambdas below capture them)
      std::tie(lo, hi) = input_rows_read(vtaps, oy0, oy1, in_h);

      if (separable) {
        for (int64_t c = c0; c < c0 + nc; ++c) {
          const scalar_t* xp = x_data + s * xsS + n * xs0 + c * xs1;
          scalar_t* op = out_data + s * osS + n * os0 + c * os1;
          for (int64_t iy = lo; iy <= hi; ++iy) prepare_row(xp, iy, prepared + (iy - lo) * prep_len);
          // Each input row filtered horizontally once, into the tile's scratch rows: all at once,
          // or, where runs of output rows take both passes in registers (run_separable_rows),
          // only the rows that the other output rows read, when they first need them.
          const bool runs = vP == 1 && hpass.has_separable_runs(math::max_taps(fh, a.up_y), vD);
          if (!runs && hi >= lo) hpass.run(&prepared, &zero, 1, scratch, ws, hi - lo + 1, prep_len, out_w);
          std::fill(h_done.begin(), h_done.end(), 0);
          const auto filter_rows_in = [&](int64_t first, int64_t last) {  // (within [lo, hi])
            if (!runs) return;  // (all filtered above)
            for (int64_t iy = first; iy <= last; ++iy) {
              if (h_done[iy - lo]) continue;
              const acc_t* row = prepared + (iy - lo) * prep_len;
              hpass.run(&row, &zero, 1, scratch + (iy - lo) * out_w, ws);
              h_done[iy - lo] = 1;
            }
          };
          for (int64_t oy = oy0; oy < oy1;) {
            const AxisTaps& v = vtaps[oy];
            const int64_t nt = v.t_end - v.t_begin;
            for (int64_t t = v.t_begin; t < v.t_end; ++t) {
              rows[t - v.t_begin] = scratch + (v.i0 + t - lo) * out_w;
              weights[t - v.t_begin] = coef[v.k0 + t * a.up_y];
            }
            // The following rows with the same taps (vertical down, no up: consecutive rows, input
            // rows moved by vD) in one call.
            const int64_t count = vP == 1 ? rows_with_same_taps(vtaps, oy, oy1, 1, vD) : 1;
            // (in place: scalar_t is acc_t, the cast is the identity)
            acc_t* const dst = in_place          ? reinterpret_cast<acc_t*>(op + oy * os2)
                               : interleaved_out ? out_buf + (c - c0) * tile_len + (oy - oy0) * out_w
                                                 : out_buf;
            const int64_t dst_step = in_place ? os2 : out_w;
            if (!(runs && hpass.run_separable_rows(prepared + (v.i0 + v.t_begin - lo) * prep_len, weights.data(), nt,
                                                   dst, count, prep_len, vD, dst_step))) {
              if (nt > 0) filter_rows_in(v.i0 + v.t_begin, v.i0 + v.t_end - 1 + (count - 1) * vD);  // (nt 0: zeros)
              if (count > 1) {
                weighted_row_sums(rows.data(), weights.data(), nt, out_w, dst, count, vD * out_w, dst_step);
              } else {
                weighted_row_sum(rows.data(), weights.data(), nt, out_w, dst);
              }
            }
            if (!in_place && !interleaved_out) {
              for (int64_t i = 0; i < count; ++i) store_row(out_buf + i * out_w, op + (oy + i) * os2, os3, out_w);
            }
            oy += count;
          }
        }
        store_tile(n, oy0, oy1);
        continue;
      }

      // 2-D: the rows of the group's planes, prepared once.
      for (int64_t i = 0; i < nc; ++i) {
        const scalar_t* xp = x_data + s * xsS + n * xs0 + (c0 + i) * xs1;
        for (int64_t iy = lo; iy <= hi; ++iy) prepare_row(xp, iy, prepared + i * plane_len + (iy - lo) * prep_len);
      }
      scalar_t* const op0 = out_data + s * osS + n * os0 + c0 * os1;
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
        const int64_t count = rows_with_same_taps(vtaps, oy, oy1, vP, vD);
        for (int64_t i = 0; i < count; ++i) done[oy + i * vP - oy0] = 1;
        const int64_t nt = v.t_end - v.t_begin;
        if (in_place) {
          // (in_place: scalar_t is acc_t, the cast is the identity)
          hpass.run(rows.data(), filter_rows.data(), nt, reinterpret_cast<acc_t*>(op0 + oy * os2), ws, count,
                    vD * prep_len, vP * os2, nc, plane_len, os1);
          continue;
        }
        if (interleaved_out) {  // (the tile's planes in out_buf)
          hpass.run(rows.data(), filter_rows.data(), nt, out_buf + (oy - oy0) * out_w, ws, count, vD * prep_len,
                    vP * out_w, nc, plane_len, tile_len);
          continue;
        }
        // Not in place: each plane's run in out_buf's rows, then rounded and stored.
        for (int64_t i = 0; i < nc; ++i) {
          hpass.run(rows.data(), filter_rows.data(), nt, out_buf, ws, count, vD * prep_len, out_w);
          for (int64_t r = 0; r < count; ++r) {
            store_row(out_buf + r * out_w, op0 + i * os1 + (oy + r * vP) * os2, os3, out_w);
          }
          for (int64_t t = 0; t < nt; ++t) rows[t] += plane_len;  // next plane
        }
      }
      store_tile(n, oy0, oy1);
    }
  });
}

}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::upfirdn2d
