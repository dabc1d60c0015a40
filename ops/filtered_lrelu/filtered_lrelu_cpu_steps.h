// What the fused CPU kernels of filtered_lrelu share (the row path and the plane path in
// filtered_lrelu_cpu_kernel.cpp, the band path in filtered_lrelu_cpu_bands.h): the filters'
// coefficients as a step reads them, the activation and its derivative (bias_act's math), the
// per-channel bias, and the plan of one step on interleaved vectors of L planes and the
// gathering of x's planes into them (b added). Included only from files compiled once per ISA.
#pragma once

#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "ops/bias_act/bias_act_math.h"
#include "ops/common/cpu_vec.h"
#include "ops/filtered_lrelu/filtered_lrelu_kernels.h"
#include "ops/filtered_lrelu/filtered_lrelu_math.h"
#include "ops/upfirdn2d/upfirdn2d_cpu_planes.h"

namespace myops::ops::filtered_lrelu {
namespace CPU_CAPABILITY {
namespace {

using upfirdn2d::CPU_CAPABILITY::Lanes;
using upfirdn2d::CPU_CAPABILITY::PixelLayout;
using upfirdn2d::CPU_CAPABILITY::PlaneStep;

// The filter's coefficients as a step reads them: as given, or reversed along both axes (the
// transposed steps D^T and U^T: upfirdn2d with flip_filter inverted).
template <typename acc_t>
std::vector<acc_t> coefficients(const FusedFilter& f, bool reversed) {
  const acc_t* p = f.coef.const_data_ptr<acc_t>();
  std::vector<acc_t> c(p, p + f.coef.numel());
  if (reversed) std::reverse(c.begin(), c.end());  // [h][w] row-major: reversing flips both axes
  return c;
}

// The coefficients of a separable filter's vertical taps: `c` times the filter's vertical gain
// (FusedFilter). Unused for a 2-D filter.
template <typename acc_t>
std::vector<acc_t> vertical_coefficients(std::vector<acc_t> c, const FusedFilter& f) {
  if (f.separable) {
    for (acc_t& v : c) v *= static_cast<acc_t>(f.vertical_gain);
  }
  return c;
}

// The filter a step resampled by ry / rx runs: f, or where upfirdn2d's CPU kernel runs that
// step's separable filter as its 2-D outer product (separable_runs_as_2d), that product,
// [h][w] = (vertical_gain * c[h]) * c[w], so that the fused steps keep the composition's sums
// (the same products as upfirdn2d's sqrt(gain) * c[h] times sqrt(gain) * c[w] where the gain is
// up^2 for a power-of-two up: power-of-two scalings are exact).
inline FusedFilter step_filter(const FusedFilter& f, const math::Resample& ry, const math::Resample& rx) {
  if (!f.separable || !upfirdn2d::CPU_CAPABILITY::separable_runs_as_2d(f.w, rx.up, ry.up, ry.down)) return f;
  return {upfirdn2d::outer_filter(f.coef, f.vertical_gain), false, f.w, f.w, 1.0};
}

constexpr std::integral_constant<bias_act::Act, bias_act::Act::Lrelu> kLrelu{};

// row = clamp(lrelu(row) * gain), in place.
template <typename acc_t>
void activate(acc_t* row, int64_t n, const bias_act::Params<acc_t>& p) {
  using Vec = at::vec::Vectorized<acc_t>;
  int64_t i = 0;
  for (; i + Vec::size() <= n; i += Vec::size()) {
    bias_act::math::forward<VecOps>(p, kLrelu, Vec::loadu(row + i), Vec(acc_t(0))).store(row + i);
  }
  for (; i < n; ++i) row[i] = bias_act::math::forward<CpuScalarOps>(p, kLrelu, row[i], acc_t(0));
}

// dm = dm * gain * lrelu'(m), zero where clamped, in place.
template <typename acc_t>
void activate_backward(acc_t* dm, const acc_t* m, int64_t n, const bias_act::Params<acc_t>& p) {
  using Vec = at::vec::Vectorized<acc_t>;
  int64_t i = 0;
  for (; i + Vec::size() <= n; i += Vec::size()) {
    bias_act::math::backward<VecOps>(p, kLrelu, 1, Vec::loadu(dm + i), Vec::loadu(m + i), Vec(acc_t(0)))
        .store(dm + i);
  }
  for (; i < n; ++i) dm[i] = bias_act::math::backward<CpuScalarOps>(p, kLrelu, 1, dm[i], m[i], acc_t(0));
}

template <typename acc_t>
bias_act::Params<acc_t> act_params(const Args& a) {
  return {bias_act::Act::Lrelu, acc_t(a.slope), acc_t(a.gain), acc_t(a.clamp.value_or(0.0)), a.clamp.has_value(),
          false};
}

// The per-channel bias b ([C], any stride), or none.
template <typename scalar_t>
struct ChannelBias {
  const scalar_t* data = nullptr;
  int64_t stride = 0;

  explicit ChannelBias(const OptTensor& b) {
    if (b.has_value() && b->defined()) data = b->const_data_ptr<scalar_t>(), stride = b->stride(0);
  }
  bool present() const { return data != nullptr; }
  // Channel c's bias in op-math (0 without one).
  template <typename acc_t>
  acc_t of(int64_t c) const { return present() ? static_cast<acc_t>(data[c * stride]) : acc_t(0); }
};

// A step of the chain (what Stage is for the row path) on interleaved buffers, or on the
// pixels of `layout` (a band of rows: filtered_lrelu_cpu_channels_last.h).
template <typename acc_t>
PlaneStep<acc_t> plane_step(const FusedFilter& call_filter, bool reversed, int64_t src_h, int64_t src_w,
                            int64_t dst_h, int64_t dst_w, const math::Resample& ry, const math::Resample& rx,
                            PixelLayout layout = {}) {
  const FusedFilter f = step_filter(call_filter, ry, rx);
  const std::vector<acc_t> coef = coefficients<acc_t>(f, reversed);
  const std::vector<acc_t> coef_v = vertical_coefficients(coef, f);
  return PlaneStep<acc_t>(coef.data(), f.separable, f.h, f.w, src_h, src_w, dst_h, dst_w, {ry.up, ry.down, ry.pad0},
                          {rx.up, rx.down, rx.pad0}, coef_v.data(), layout);
}

// A group's x planes plus each lane's channel bias, gathered into `buf` ([H * W][L]): the
// values biased_row gives the row path.
template <typename scalar_t, typename acc_t>
void gather_biased(const Lanes<const scalar_t>& g, int64_t p0, int64_t C, const ChannelBias<scalar_t>& bias,
                   int64_t pixels, acc_t* buf, acc_t* tmp, const acc_t* zeros) {
  using Vec = at::vec::Vectorized<acc_t>;
  upfirdn2d::CPU_CAPABILITY::gather(g, buf, tmp, zeros);
  if (!bias.present()) return;
  acc_t lane_bias[Vec::size()] = {};
  for (int l = 0; l < g.valid; ++l) lane_bias[l] = bias.template of<acc_t>((p0 + l) % C);
  const Vec lanes = Vec::loadu(lane_bias);
  for (int64_t j = 0; j < pixels; ++j) (Vec::loadu(buf + j * Vec::size()) + lanes).store(buf + j * Vec::size());
}

// at::parallel_for's grain over units of work (a tile of a plane's rows, a group of L planes):
// ~32K multiply-adds (vector ones for a group) per chunk at least.
inline int64_t grain_for(int64_t work_per_unit) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(work_per_unit, 1)); }

}  // namespace
}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::filtered_lrelu
