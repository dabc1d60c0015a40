// The flat path of the upfirdn2d CPU loops (issue 13): a 2-D filter with no up- or
// downsampling (StyleGAN2's blur before and after its strided convs), on planes small enough
// that a whole padded plane stays in cache, whose rows fill whole vectors badly.
//
// Why: on a 32 x 32 plane padded to 33 x 33 outputs the row path computes three 16-lane
// vectors per output row for 33 outputs (69% of the lanes used; the blur ran at 0.92x oneDNN's
// depthwise conv). Here a plane is copied once into a zero-padded buffer of rows of
// PW = out_w + fw - 1 pixels, and the output rows whose vertical taps all land inside the image
// (all but the few border rows) are computed as one flat sequence: the value at flat index
// j = r * PW + ox is a fixed set of taps at j + ty * PW + tx, so vectors run across row ends
// (lanes ox >= out_w compute values nobody keeps) and out_w / PW of the lanes do useful work
// (33 / 36). The flat rows are then copied to the output. Border rows (some vertical taps
// outside the image, skipped as in the row path) are computed row by row. (Planes up to 32 x 32
// with many channels take the plane path instead, which was faster there.)
//
// Every output sums the same taps in the same order as the row path (vertical tap, then
// horizontal tap, one FMA each from 0, horizontal padding taps included as zeros, vertical
// ones skipped), so the paths give the same bits (up to the sign of a zero).
// Included only from upfirdn2d_cpu_run.h (compiled once per ISA and dtype), after
// upfirdn2d_cpu_rows.h, whose Dot / Batch / row helpers it uses.
#pragma once

#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <vector>

#include "ops/common/aligned_vector.h"
#include "ops/upfirdn2d/upfirdn2d.h"
#include "ops/upfirdn2d/upfirdn2d_cpu_rows.h"
#include "ops/upfirdn2d/upfirdn2d_math.h"

namespace myops::ops::upfirdn2d {
namespace CPU_CAPABILITY {
namespace {

// When the flat path runs, in one place: up 1 and down 1 on both axes, a 2-D filter (a 1-D
// one keeps the separable row path's order of sums), one image (not a stack), rows of
// contiguous pixels (channels_last planes are interleaved already: the plane path's case),
// a padded plane of at most kMaxFlat values (64 KiB of float: with its output rows, within
// L2), and flat rows at least a quarter shorter than the row path's whole vectors per row (the
// flat path pays a copy of its rows to the output: measured on AVX-512, one thread, a 32 x 32
// blur (33 outputs a row: 36 flat lanes vs 48) runs 1.2x faster flat, a 64 x 64 one (68 vs 80)
// 8% slower; planes up to 32 x 32 with many channels take the plane path before this).
inline bool use_flat_path(const Args& a, const at::Tensor& x, int64_t out_w, int64_t lanes) {
  constexpr int64_t kMaxFlat = 16384;
  if (x.dim() != 4 || x.stride(3) != 1 || a.kind != FilterKind::Full || a.up_x != 1 || a.up_y != 1 ||
      a.down_x != 1 || a.down_y != 1) {
    return false;
  }
  const int64_t flat_row = out_w + a.fw - 1, vector_row = (out_w + lanes - 1) / lanes * lanes;
  return x.size(2) * flat_row <= kMaxFlat && 4 * flat_row <= 3 * vector_row;
}

template <typename scalar_t>
void run_flat(const at::Tensor& x, const at::Tensor& coef_t, const Args& a, const at::Tensor& out) {
  using acc_t = at::opmath_type<scalar_t>;
  using Vec = at::vec::Vectorized<acc_t>;
  constexpr int64_t V = Vec::size();
  const int64_t N = x.size(0), C = x.size(1), in_h = x.size(2), in_w = x.size(3);
  const int64_t out_h = out.size(2), out_w = out.size(3), fh = a.fh, fw = a.fw;
  const acc_t* const coef = coef_t.const_data_ptr<acc_t>();  // [fh][fw], correlation order
  // Buffer columns: input pixels [xl, xl + PW) (output ox, tap tx reads pixel ox + tx + xl).
  const int64_t xl = -a.pad_x0, PW = out_w + fw - 1;
  const int64_t x_begin = std::clamp<int64_t>(xl, 0, in_w), x_end = std::clamp<int64_t>(xl + PW, x_begin, in_w);
  // The output rows whose vertical taps all land inside the image: [r_lo, r_hi).
  std::vector<AxisTaps> vtaps(out_h);
  int64_t r_lo = out_h, r_hi = out_h;
  for (int64_t oy = 0; oy < out_h; ++oy) {
    vtaps[oy] = axis_taps(oy, 1, 1, a.pad_y0, fh, in_h);
    if (vtaps[oy].t_begin == 0 && vtaps[oy].t_end == fh) {
      if (r_lo == out_h) r_lo = oy;
      r_hi = oy + 1;
    }
  }
  // (interior rows are consecutive: output row oy reads input rows oy - pad_y0 + [0, fh))
  const int64_t flat_len = r_hi > r_lo ? (r_hi - r_lo - 1) * PW + out_w : 0;
  // The interior's taps: flat index j reads buf[base + j + ty * PW + tx].
  const int64_t base = r_hi > r_lo ? (r_lo - a.pad_y0) * PW : 0;
  const int64_t work = out_h * PW * fh * fw + in_h * in_w;
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(work, 1));
  const scalar_t* const x_data = x.const_data_ptr<scalar_t>();
  scalar_t* const out_data = out.data_ptr<scalar_t>();
  const int64_t xs0 = x.stride(0), xs1 = x.stride(1), xs2 = x.stride(2), xs3 = x.stride(3);
  const int64_t os0 = out.stride(0), os1 = out.stride(1), os2 = out.stride(2), os3 = out.stride(3);

  at::parallel_for(0, N * C, grain, [&](int64_t begin, int64_t end) {
    // The padded plane (+ slack: the last vectors read up to V - 1 values past the last row),
    // zeroed once: only the image's pixels are written, always at the same places.
    AlignedVector<acc_t> buf(in_h * PW + PW + V), flat(flat_len + V), in_row(in_w), out_row(out_w + V);
    std::vector<const acc_t*> tap_p(fh * fw);
    std::vector<acc_t> tap_w(fh * fw);
    for (int64_t ty = 0; ty < fh; ++ty) {
      for (int64_t tx = 0; tx < fw; ++tx) {
        tap_p[ty * fw + tx] = buf.data() + base + ty * PW + tx;
        tap_w[ty * fw + tx] = coef[ty * fw + tx];
      }
    }
    const TapList<acc_t> interior{tap_p.data(), tap_w.data(), fh * fw};
    std::vector<const acc_t*> row_p(fh * fw);
    std::vector<acc_t> row_w(fh * fw);

    for (int64_t plane = begin; plane < end; ++plane) {
      const scalar_t* xp = x_data + plane / C * xs0 + plane % C * xs1;
      scalar_t* op = out_data + plane / C * os0 + plane % C * os1;
      for (int64_t iy = 0; iy < in_h; ++iy) {
        const acc_t* src = load_row(xp + iy * xs2, xs3, in_w, in_row.data());
        std::copy(src + x_begin, src + x_end, buf.data() + iy * PW + (x_begin - xl));
      }
      // Interior rows, flat, then copied (rounded once) to their output rows. (This is
      // weighted_row_sums' loop for one row of flat_len values, with full-vector stores into the
      // slack; calling weighted_row_sums instead gives the same bits but measured 3-7% slower
      // on 32 x 32 blurs in three alternating A/B runs, not understood, so the loop stays.)
      if (flat_len > 0) {
        with_static_count(fh * fw, [&](auto nk) {
          const Dot<decltype(nk)::value, acc_t> dot(interior);
          Batch<acc_t> batch;
          constexpr int K = Batch<acc_t>::kK;
          const auto flush = [&](int q) {
            Vec s[K];
            dot.many_n(q, batch.in, s);
            for (int j = 0; j < q; ++j) s[j].store(batch.dst[j]);
          };
          row_vectors<K, V>(
              flat_len, flat_len, [&](int64_t j) { dot.template store_consecutive<K>(j, flat.data() + j); },
              [&](int64_t j) { batch.add(j, flat.data() + j, V, flush); });
          batch.finish(flush);
        });
        for (int64_t oy = r_lo; oy < r_hi; ++oy) {
          store_row(flat.data() + (oy - r_lo) * PW, op + oy * os2, os3, out_w);
        }
      }
      // Border rows: only their vertical taps inside the image.
      for (int64_t oy = 0; oy < out_h; ++oy) {
        if (oy >= r_lo && oy < r_hi) continue;
        const AxisTaps& v = vtaps[oy];
        int64_t n = 0;
        for (int64_t ty = v.t_begin; ty < v.t_end; ++ty) {
          for (int64_t tx = 0; tx < fw; ++tx, ++n) {
            row_p[n] = buf.data() + (v.i0 + ty) * PW + tx;
            row_w[n] = coef[(v.k0 + ty) * fw + tx];
          }
        }
        const TapList<acc_t> taps{row_p.data(), row_w.data(), n};
        const Dot<0, acc_t> dot(taps);  // (keeps a pointer to taps)
        acc_t* dst = row_target(op + oy * os2, os3, out_row.data());
        for (int64_t m = 0; m < out_w; m += V) store_n(dot(m), dst + m, out_w - m);
        store_row(dst, op + oy * os2, os3, out_w);
      }
    }
  });
}

}  // namespace
}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::upfirdn2d
