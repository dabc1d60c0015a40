// Blurs of channels_last images of a few channels (up to one and a half vectors' worth) on the
// upfirdn2d CPU loops: up 1 and down 1 on both axes, a 2-D or a separable filter.
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
// vector (its time barely moves from 2 to 7 channels).
//
// Every output sums the same taps in the same order as the row path, so the two give the same
// bits (up to the sign of a zero): 2-D, vertical tap then horizontal tap, one fmadd each from
// 0, the horizontal padding as zeros, vertical taps outside the image skipped; separable, each
// input row filtered horizontally (one chain from 0), then the rows summed vertically.
// Included only from upfirdn2d_cpu_kernel.cpp (compiled once per ISA).
#pragma once

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "ops/common/aligned_vector.h"
#include "ops/common/cpu_strided_lanes.h"
#include "ops/upfirdn2d/upfirdn2d.h"
#include "ops/upfirdn2d/upfirdn2d_cpu_rows.h"
#include "ops/upfirdn2d/upfirdn2d_math.h"

namespace myops::ops::upfirdn2d {
namespace CPU_CAPABILITY {
namespace {

// Whether the call runs on pixel rows: one image (not a stack), a blur (up 1, down 1; a 2-D or
// separable filter), x and out channels_last with 2 or more channels and fewer than one and a
// half vectors' lanes. Measured (A/B, one thread, [4, C, 128, 128], 4x4 and separable blurs,
// float32 and bfloat16, time before over time here): AVX-512, against the strided rows of the
// row path, C = 2-7, 1.1-1.8x; against run_in_channels_last (a pixel's channels in the lanes,
// masked), C = 8-20, 1.1-2.8x; level at 24; from 28 channels slower (0.64-0.92x: the in-place
// route needs no row copies). AVX2: C = 5-7 float32 (masked in place before) 1.7-2.4x, float16 /
// bfloat16 2-7 (strided rows) 1.7-2.3x, C = 8-12 1.1-1.9x, float32 from 16 slower (0.65-0.89x).
// Except float16/bfloat16 of 2 or 3 channels where the ISA moves their strided rows a vector at
// a time (AVX-512): the row path was 2-8% faster there.
template <typename scalar_t>
bool runs_on_pixel_rows(const at::Tensor& x, const Args& a, const at::Tensor& out) {
  using acc_t = at::opmath_type<scalar_t>;
  constexpr int64_t L = at::vec::Vectorized<acc_t>::size();
  if (x.dim() != 4 || a.up_x != 1 || a.up_y != 1 || a.down_x != 1 || a.down_y != 1) return false;
  const int64_t C = x.size(1);
  if (!std::is_same_v<scalar_t, acc_t> && has_strided_lanes<acc_t, scalar_t>() && C <= 3) return false;
  return C >= 2 && 2 * C < 3 * L && x.stride(1) == 1 && x.stride(3) == C && out.stride(1) == 1 &&
         out.stride(3) == C;
}

template <typename scalar_t>
void run_pixel_rows(const at::Tensor& x, const at::Tensor& coef_t, const Args& a, const at::Tensor& out) {
  using acc_t = at::opmath_type<scalar_t>;
  constexpr int64_t V = at::vec::Vectorized<acc_t>::size();
  const bool separable = a.kind == FilterKind::Separable;
  const int64_t N = x.size(0), C = x.size(1), in_h = x.size(2), in_w = x.size(3);
  const int64_t out_h = out.size(2), out_w = out.size(3), fh = a.fh, fw = a.fw;
  const acc_t* const coef = coef_t.const_data_ptr<acc_t>();  // 2-D [fh][fw]; separable [fw], both axes
  // A prepared row holds input pixels [xl, xl + PW) (output pixel ox, tap tx reads pixel
  // ox + tx + xl), zero outside the image, + a vector of slack (whole vectors are loaded).
  const int64_t xl = -a.pad_x0, PW = out_w + fw - 1;
  const int64_t x_begin = std::clamp<int64_t>(xl, 0, in_w), x_end = std::clamp<int64_t>(xl + PW, x_begin, in_w);
  const int64_t out_len = out_w * C, prep_len = PW * C + V;
  // Bands of output rows, ~64K outputs each (their prepared rows stay in L2).
  const int64_t band_h = std::clamp<int64_t>(65536 / std::max<int64_t>(out_len, 1), 1, std::max<int64_t>(out_h, 1));
  const int64_t bands = (out_h + band_h - 1) / band_h;
  const int64_t max_rows = std::min(in_h, band_h + fh - 1);  // input rows a band reads
  std::vector<AxisTaps> vtaps(out_h);
  for (int64_t oy = 0; oy < out_h; ++oy) vtaps[oy] = axis_taps(oy, 1, 1, a.pad_y0, fh, in_h);
  const int64_t taps_per_value = separable ? fh + fw : fh * fw;
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(band_h * out_len * taps_per_value, 1));
  const scalar_t* const x_data = x.const_data_ptr<scalar_t>();
  scalar_t* const out_data = out.data_ptr<scalar_t>();
  const int64_t xs0 = x.stride(0), xs2 = x.stride(2), os0 = out.stride(0), os2 = out.stride(2);

  at::parallel_for(0, N * bands, grain, [&](int64_t begin, int64_t end) {
    // Prepared rows (zeroed once: only the image's values are ever written, at the same
    // places); separable: the rows filtered horizontally (+ slack: whole vectors loaded).
    AlignedVector<acc_t> prepared(max_rows * prep_len), filtered(separable ? max_rows * out_len + V : 0);
    AlignedVector<acc_t> out_rows(std::is_same_v<scalar_t, acc_t> ? out_len : band_h * out_len);
    std::vector<const acc_t*> rows(fh * fw);
    std::vector<acc_t> weights(fh * fw);
    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t n = unit / bands, oy0 = unit % bands * band_h, oy1 = std::min(oy0 + band_h, out_h);
      int64_t lo = in_h, hi = -1;  // the input rows [lo, hi] the band reads
      for (int64_t oy = oy0; oy < oy1; ++oy) {
        if (vtaps[oy].t_end > vtaps[oy].t_begin) {
          lo = std::min(lo, vtaps[oy].i0 + vtaps[oy].t_begin);
          hi = std::max(hi, vtaps[oy].i0 + vtaps[oy].t_end - 1);
        }
      }
      const scalar_t* const xp = x_data + n * xs0;
      for (int64_t iy = lo; iy <= hi && x_end > x_begin; ++iy) {  // (float16/bfloat16 widened in place)
        acc_t* const dst = prepared.data() + (iy - lo) * prep_len + (x_begin - xl) * C;
        const acc_t* src = load_row(xp + iy * xs2 + x_begin * C, 1, (x_end - x_begin) * C, dst);
        if (src != dst) std::copy(src, src + (x_end - x_begin) * C, dst);
      }
      if (separable && hi >= lo) {  // each input row filtered horizontally, taps C values apart
        for (int64_t tx = 0; tx < fw; ++tx) {
          rows[tx] = prepared.data() + tx * C;
          weights[tx] = coef[tx];
        }
        weighted_row_sums(rows.data(), weights.data(), fw, out_len, filtered.data(), hi - lo + 1, prep_len, out_len);
      }
      for (int64_t oy = oy0; oy < oy1;) {
        const AxisTaps& v = vtaps[oy];
        int64_t nt = 0;
        for (int64_t ty = v.t_begin; ty < v.t_end; ++ty) {
          const int64_t r = v.i0 + ty - lo;
          if (separable) {
            rows[nt] = filtered.data() + r * out_len;
            weights[nt++] = coef[v.k0 + ty];
            continue;
          }
          for (int64_t tx = 0; tx < fw; ++tx) {
            rows[nt] = prepared.data() + r * prep_len + tx * C;
            weights[nt++] = coef[(v.k0 + ty) * fw + tx];
          }
        }
        // (the following rows with the same taps, each reading the next input rows, in one call)
        const int64_t count = rows_with_same_taps(vtaps, oy, oy1, 1, 1);
        scalar_t* const op = out_data + n * os0 + oy * os2;
        acc_t* const dst = row_target(op, 1, out_rows.data());  // (in place: rows os2 apart)
        const int64_t dst_step = dst == out_rows.data() ? out_len : os2;
        weighted_row_sums(rows.data(), weights.data(), nt, out_len, dst, count, separable ? out_len : prep_len,
                          dst_step);  // (nt 0: zeros)
        for (int64_t i = 0; i < count; ++i) store_row(dst + i * dst_step, op + i * os2, 1, out_len);
        oy += count;
      }
    }
  });
}

}  // namespace
}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::upfirdn2d
