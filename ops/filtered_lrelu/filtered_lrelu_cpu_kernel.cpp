// The fused CPU kernels of filtered_lrelu and filtered_lrelu_backward, compiled once per ISA
// (DEFAULT, AVX2, AVX512; ops/common/cpu_isa.h).
//
// The op is a chain of upfirdn2d steps with an elementwise step between them
// (filtered_lrelu_math.h): forward y = D(act(U(x + b))), backward dx = U^T(act'(m) * D^T(dy))
// with m = U(x + b) recomputed. Nothing image-sized is materialized between the steps: the
// work is split into tiles of rows of the result of one [H, W] plane, and each tile runs the
// chain on just the rows it needs, each computed once per tile, in per-thread scratch:
//   forward:  the x rows the tile reaches (bias added) -> U's rows of m -> act -> D's output rows
//   backward: the x rows and dy rows the tile reaches -> U's rows of m and D^T's rows of dm ->
//             act'(m) * dm -> U^T's output rows
// Each step (Stage) is upfirdn2d's own row machinery (upfirdn2d_cpu_rows.h): polyphase
// horizontal passes that compute only the taps landing on data (never the inserted zeros, and
// for a downsampling step only the kept samples), and vertical taps picked by axis_taps. A 1-D
// filter is applied horizontally when a source row arrives and vertically per output row; a
// 2-D filter keeps its source rows and sums one horizontal pass per filter row. The
// activation and its derivative are bias_act's math. Every value is computed by the same
// sequence of operations as the composition of myops' upfirdn2d and bias_act kernels, whatever
// the tile or thread count: tiles only decide which rows a thread computes (neighbouring tiles
// compute their shared rows twice), never how.
// Small planes, at least a vector's worth of them (StyleGAN3's first layers, and a vmap batch
// folded into N), take upfirdn2d's plane path instead (upfirdn2d_cpu_planes.h): L planes in the
// lanes of a vector, each step one PlaneStep on interleaved buffers. Rows of a few pixels fill
// a fraction of a vector and pay the row path's per-row set-up for a handful of outputs; across
// planes every tap is a full-width FMA. The same sums in the same order (up to the sign of a
// zero), so both paths give the same values (tests/test_filtered_lrelu.py compares them).
// Larger planes, 128 or more of them (256 for the backward), take the plane path's steps by
// bands of rows where the band's buffers fit L2 (the band path, filtered_lrelu_cpu_bands.h),
// any layout; the others take the row path, channels_last ones on their strided rows up to 7
// channels and on planar copies beyond (kStridedRowsMaxChannels; upfirdn2d_cpu_channels_last.h).
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "ops/bias_act/bias_act_math.h"
#include "ops/common/aligned_vector.h"
#include "ops/common/cpu_vec.h"
#include "ops/filtered_lrelu/filtered_lrelu_cpu_bands.h"
#include "ops/filtered_lrelu/filtered_lrelu_cpu_steps.h"
#include "ops/filtered_lrelu/filtered_lrelu_kernels.h"
#include "ops/filtered_lrelu/filtered_lrelu_math.h"
#include "ops/upfirdn2d/upfirdn2d_cpu_channels_last.h"
#include "ops/upfirdn2d/upfirdn2d_cpu_planes.h"
#include "ops/upfirdn2d/upfirdn2d_cpu_rows.h"
#include "ops/upfirdn2d/upfirdn2d_math.h"

namespace myops::ops::filtered_lrelu {
namespace CPU_CAPABILITY {
namespace {

using upfirdn2d::CPU_CAPABILITY::HorizontalPass;
using upfirdn2d::CPU_CAPABILITY::Lanes;
using upfirdn2d::CPU_CAPABILITY::lanes_tmp_len;
using upfirdn2d::CPU_CAPABILITY::PlaneStep;
using upfirdn2d::CPU_CAPABILITY::load_row;
using upfirdn2d::CPU_CAPABILITY::row_target;
using upfirdn2d::CPU_CAPABILITY::store_row;
using upfirdn2d::CPU_CAPABILITY::weighted_row_sum;
using upfirdn2d::CPU_CAPABILITY::Workspace;
using upfirdn2d::math::AxisTaps;
using upfirdn2d::math::axis_taps;

// One upfirdn2d step of the chain, planned once per call and shared by every thread: a
// [src_h, src_w] plane to a [dst_h, dst_w] one.
template <typename acc_t>
struct Stage {
  bool separable;
  int64_t fh, up_y;
  std::vector<acc_t> coef;     // [fh][fw], or [fw] (separable: the horizontal taps)
  std::vector<acc_t> coef_v;   // separable: the vertical taps (coef times the vertical gain)
  HorizontalPass<acc_t> hp;    // one filter row (separable) or fh
  std::vector<AxisTaps> vt;    // the vertical taps of every output row

  // (f: the call's filter; the stage runs step_filter(f), its 2-D product where upfirdn2d's
  // kernel would run that)
  Stage(const FusedFilter& f, bool reversed, int64_t src_h, int64_t src_w, int64_t dst_h, int64_t dst_w,
        const math::Resample& ry, const math::Resample& rx)
      : Stage(step_filter(f, ry, rx), reversed, src_h, src_w, dst_h, dst_w, ry, rx, StepFilter{}) {}

  struct StepFilter {};
  Stage(const FusedFilter& f, bool reversed, int64_t src_h, int64_t src_w, int64_t dst_h, int64_t dst_w,
        const math::Resample& ry, const math::Resample& rx, StepFilter)
      : separable(f.separable), fh(f.h), up_y(ry.up), coef(coefficients<acc_t>(f, reversed)),
        coef_v(vertical_coefficients(coef, f)),
        hp(coef.data(), f.separable ? 1 : f.h, f.w, src_w, dst_w, rx.up, rx.down, rx.pad0), vt(dst_h) {
    for (int64_t o = 0; o < dst_h; ++o) vt[o] = axis_taps(o, ry.up, ry.down, ry.pad0, fh, src_h);
  }

  // The source rows [lo, hi] output rows [o0, o1) read (hi < lo: none, all padding).
  std::pair<int64_t, int64_t> source_rows(int64_t o0, int64_t o1) const {
    return upfirdn2d::CPU_CAPABILITY::input_rows_read(vt, o0, o1, INT64_MAX);
  }
  // What a kept source row holds: after the horizontal pass (separable), or the row as
  // HorizontalPass::run reads it (2-D: every filter row still to be applied to it).
  int64_t kept_width() const { return separable ? hp.out_w : hp.prepared_len(); }
  int64_t max_vtaps() const { return upfirdn2d::math::max_taps(fh, up_y); }
};

// A Stage's per-thread state: the source rows of the current tile, fed one at a time (in any
// order) by ingest(), and the output rows computed from them by emit().
template <typename acc_t>
struct StageRows {
  const Stage<acc_t>& s;
  Workspace<acc_t> ws;
  std::vector<acc_t> kept, prepared;
  std::vector<const acc_t*> rows;
  std::vector<acc_t> weights;
  std::vector<int64_t> filter_rows;
  int64_t lo = 0;

  explicit StageRows(const Stage<acc_t>& stage) : s(stage) {
    s.hp.reserve(ws, s.separable ? 1 : s.max_vtaps());
    prepared.assign(s.hp.prepared_len(), acc_t(0));
    rows.resize(s.max_vtaps());
    weights.resize(s.max_vtaps());
    filter_rows.resize(s.max_vtaps());
  }
  // A new tile whose source rows are [lo, hi].
  void begin(int64_t lo_, int64_t hi) {
    lo = lo_;
    const size_t need = static_cast<size_t>(std::max<int64_t>(hi - lo + 1, 0) * s.kept_width());
    if (kept.size() < need) kept.resize(need);
  }
  // (Prepared rows keep their zero padding: the buffers are zeroed when they grow and
  // prepare() only ever writes the pixel positions, the same ones for every row.)
  void ingest(int64_t iy, const acc_t* src) {
    acc_t* slot = kept.data() + (iy - lo) * s.kept_width();
    if (s.separable) {
      s.hp.prepare(src, prepared.data());
      const acc_t* p = prepared.data();
      const int64_t zero = 0;
      s.hp.run(&p, &zero, 1, slot, ws);
    } else {
      s.hp.prepare(src, slot);
    }
  }
  void emit(int64_t o, acc_t* dst) {
    const AxisTaps& v = s.vt[o];
    const int64_t n = v.t_end - v.t_begin;
    for (int64_t t = v.t_begin; t < v.t_end; ++t) {
      rows[t - v.t_begin] = kept.data() + (v.i0 + t - lo) * s.kept_width();
      filter_rows[t - v.t_begin] = v.k0 + t * s.up_y;
      weights[t - v.t_begin] = s.coef_v[v.k0 + t * s.up_y];
    }
    if (s.separable) {
      weighted_row_sum(rows.data(), weights.data(), n, s.hp.out_w, dst);
    } else {
      s.hp.run(rows.data(), filter_rows.data(), n, dst, ws);
    }
  }
};

// x's row iy of one plane of channel c plus the channel's bias, in op-math (x's own row when it
// needs no conversion and there is no bias). The same value the composition's bias_act computes.
template <typename scalar_t, typename acc_t>
const acc_t* biased_row(const scalar_t* p, int64_t stride, int64_t n, const ChannelBias<scalar_t>& bias, int64_t c,
                        acc_t* buf) {
  if (!bias.present()) return load_row(p, stride, n, buf);
  const acc_t b = bias.template of<acc_t>(c);
  for (int64_t i = 0; i < n; ++i) buf[i] = static_cast<acc_t>(p[i * stride]) + b;
  return buf;
}

// ------------------------------------------------------------ small planes, L at a time

// Whether the plane path runs: upfirdn2d's rule (planes up to 32x32, at least L of them) for x,
// the intermediate m and the result alike.
// `out`: the forward's result (or the backward's grad, its shape).
template <typename scalar_t>
bool plane_path(const at::Tensor& x, const at::Tensor& out, const Args& a) {
  using upfirdn2d::CPU_CAPABILITY::use_plane_path;
  const int64_t planes = x.size(0) * x.size(1), lanes = at::vec::Vectorized<at::opmath_type<scalar_t>>::size();
  const math::AxisSteps sy = steps_y(a, x.size(2), out.size(2)), sx = steps_x(a, x.size(3), out.size(3));
  return use_plane_path(planes, lanes, x.size(2), x.size(3), sy.m, sx.m) &&
         use_plane_path(planes, lanes, sy.m, sx.m, out.size(2), out.size(3));
}

template <typename scalar_t>
void forward_planes(const at::Tensor& x, const FusedFilter& fu, const FusedFilter& fd, const OptTensor& b,
                    const Args& a, const at::Tensor& out) {
  using acc_t = at::opmath_type<scalar_t>;
  constexpr int L = at::vec::Vectorized<acc_t>::size();
  const int64_t C = x.size(1), H = x.size(2), W = x.size(3), out_h = out.size(2), out_w = out.size(3);
  const math::AxisSteps sy = steps_y(a, H, out_h), sx = steps_x(a, W, out_w);
  const PlaneStep<acc_t> U = plane_step<acc_t>(fu, false, H, W, sy.m, sx.m, sy.u, sx.u);
  const PlaneStep<acc_t> D = plane_step<acc_t>(fd, false, sy.m, sx.m, out_h, out_w, sy.d, sx.d);
  const bias_act::Params<acc_t> p = act_params<acc_t>(a);
  const ChannelBias<scalar_t> bias(b);
  const scalar_t* x_data = x.const_data_ptr<scalar_t>();
  scalar_t* out_data = out.data_ptr<scalar_t>();
  const int64_t m_len = sy.m * sx.m;
  const int64_t u_taps = upfirdn2d::math::max_taps(fu.w, a.up) * upfirdn2d::math::max_taps(fu.h, a.up);
  const int64_t work = m_len * (u_taps + 1) + out_h * out_w * (fd.w * fd.h + 4) + H * W * 4;

  at::parallel_for(0, (x.size(0) * C + L - 1) / L, grain_for(work), [&](int64_t begin, int64_t end) {
    const int64_t row_max = std::max(H * W, out_h * out_w);
    AlignedVector<acc_t> in_buf(H * W * L), m_buf(m_len * L), out_buf(out_h * out_w * L);
    AlignedVector<acc_t> scratch(std::max(U.scratch_len(), D.scratch_len())), tmp(lanes_tmp_len<acc_t>(row_max));
    AlignedVector<acc_t> zeros(row_max);
    Lanes<const scalar_t> src;
    Lanes<scalar_t> dst;
    for (int64_t grp = begin; grp < end; ++grp) {
      upfirdn2d::CPU_CAPABILITY::group_lanes(src, x_data, x, grp, L);
      upfirdn2d::CPU_CAPABILITY::group_lanes(dst, out_data, out, grp, L);
      gather_biased(src, grp * L, C, bias, H * W, in_buf.data(), tmp.data(), zeros.data());
      U.apply(in_buf.data(), m_buf.data(), scratch.data());
      activate(m_buf.data(), m_len * L, p);
      D.apply(m_buf.data(), out_buf.data(), scratch.data());
      upfirdn2d::CPU_CAPABILITY::scatter(out_buf.data(), dst, tmp.data());
    }
  });
}

template <typename scalar_t>
void backward_planes(const at::Tensor& grad, const at::Tensor& x, const FusedFilter& fu, const FusedFilter& fd,
                     const OptTensor& b, const Args& a, const at::Tensor& dx) {
  using acc_t = at::opmath_type<scalar_t>;
  constexpr int L = at::vec::Vectorized<acc_t>::size();
  const int64_t C = x.size(1), H = x.size(2), W = x.size(3), out_h = grad.size(2), out_w = grad.size(3);
  const math::AxisSteps sy = steps_y(a, H, out_h), sx = steps_x(a, W, out_w);
  const PlaneStep<acc_t> U = plane_step<acc_t>(fu, false, H, W, sy.m, sx.m, sy.u, sx.u);
  const PlaneStep<acc_t> DT = plane_step<acc_t>(fd, true, out_h, out_w, sy.m, sx.m, sy.dt, sx.dt);
  const PlaneStep<acc_t> UT = plane_step<acc_t>(fu, true, sy.m, sx.m, H, W, sy.ut, sx.ut);
  const bias_act::Params<acc_t> p = act_params<acc_t>(a);
  const ChannelBias<scalar_t> bias(b);
  const scalar_t* x_data = x.const_data_ptr<scalar_t>();
  const scalar_t* g_data = grad.const_data_ptr<scalar_t>();
  scalar_t* dx_data = dx.data_ptr<scalar_t>();
  const int64_t m_len = sy.m * sx.m;
  const int64_t u_taps = upfirdn2d::math::max_taps(fu.w, a.up) * upfirdn2d::math::max_taps(fu.h, a.up);
  const int64_t work = m_len * (2 * u_taps + fd.w * fd.h + 2) + (H * W + out_h * out_w) * 4;

  at::parallel_for(0, (x.size(0) * C + L - 1) / L, grain_for(work), [&](int64_t begin, int64_t end) {
    const int64_t row_max = std::max(H * W, out_h * out_w);
    AlignedVector<acc_t> xy_buf(H * W * L), g_buf(out_h * out_w * L), m_buf(m_len * L), dm_buf(m_len * L);
    AlignedVector<acc_t> scratch(std::max({U.scratch_len(), DT.scratch_len(), UT.scratch_len()}));
    AlignedVector<acc_t> tmp(lanes_tmp_len<acc_t>(row_max)), zeros(row_max);
    Lanes<const scalar_t> xs, gs;
    Lanes<scalar_t> dst;
    for (int64_t grp = begin; grp < end; ++grp) {
      upfirdn2d::CPU_CAPABILITY::group_lanes(xs, x_data, x, grp, L);
      upfirdn2d::CPU_CAPABILITY::group_lanes(gs, g_data, grad, grp, L);
      upfirdn2d::CPU_CAPABILITY::group_lanes(dst, dx_data, dx, grp, L);
      gather_biased(xs, grp * L, C, bias, H * W, xy_buf.data(), tmp.data(), zeros.data());
      U.apply(xy_buf.data(), m_buf.data(), scratch.data());
      upfirdn2d::CPU_CAPABILITY::gather(gs, g_buf.data(), tmp.data(), zeros.data());
      DT.apply(g_buf.data(), dm_buf.data(), scratch.data());
      activate_backward(dm_buf.data(), m_buf.data(), m_len * L, p);
      UT.apply(dm_buf.data(), xy_buf.data(), scratch.data());  // (x's planes are no longer needed)
      upfirdn2d::CPU_CAPABILITY::scatter(xy_buf.data(), dst, tmp.data());
    }
  });
}

// ------------------------------------------------------------------------- rows (any planes)

// The tiles of a plane's result rows: about `budget` elements of intermediate rows each (the
// scratch stays in L2), at least 8 rows (rows shared with the neighbouring tiles are computed
// twice). Fixed per call, never from the thread count.
inline int64_t tile_rows(int64_t rows, int64_t ratio, int64_t width) {
  constexpr int64_t budget = 1 << 17;
  return std::max<int64_t>(std::min<int64_t>(std::max<int64_t>(budget / std::max<int64_t>(ratio * width, 1), 8), rows),
                           1);
}

template <typename scalar_t>
void forward(const at::Tensor& x, const FusedFilter& fu, const FusedFilter& fd, const OptTensor& b, const Args& a,
             const at::Tensor& out) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t C = x.size(1), H = x.size(2), W = x.size(3), out_h = out.size(2), out_w = out.size(3);
  const math::AxisSteps sy = steps_y(a, H, out_h), sx = steps_x(a, W, out_w);
  const Stage<acc_t> U(fu, false, H, W, sy.m, sx.m, sy.u, sx.u);
  const Stage<acc_t> D(fd, false, sy.m, sx.m, out_h, out_w, sy.d, sx.d);
  const bias_act::Params<acc_t> p = act_params<acc_t>(a);

  const ChannelBias<scalar_t> bias(b);
  const scalar_t* x_data = x.const_data_ptr<scalar_t>();
  scalar_t* out_data = out.data_ptr<scalar_t>();
  const int64_t xs0 = x.stride(0), xs1 = x.stride(1), xs2 = x.stride(2), xs3 = x.stride(3);
  const int64_t os0 = out.stride(0), os1 = out.stride(1), os2 = out.stride(2), os3 = out.stride(3);

  const int64_t tile_h = tile_rows(out_h, a.down, sx.m);
  const int64_t tiles = (out_h + tile_h - 1) / tile_h;
  const int64_t work = tile_h * a.down * sx.m * (U.max_vtaps() + D.max_vtaps() + 2);

  at::parallel_for(0, x.size(0) * C * tiles, grain_for(work), [&](int64_t begin, int64_t end) {
    StageRows<acc_t> u(U), d(D);
    std::vector<acc_t> in_row(W), m_row(sx.m), out_row(out_w);
    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t plane = unit / tiles, tile = unit % tiles, n = plane / C, c = plane % C;
      const scalar_t* xp = x_data + n * xs0 + c * xs1;
      scalar_t* op = out_data + n * os0 + c * os1;
      const int64_t o0 = tile * tile_h, o1 = std::min(o0 + tile_h, out_h);

      const auto [mlo, mhi] = D.source_rows(o0, o1);
      const auto [xlo, xhi] = mhi >= mlo ? U.source_rows(mlo, mhi + 1) : std::pair<int64_t, int64_t>{0, -1};
      u.begin(xlo, xhi);
      for (int64_t iy = xlo; iy <= xhi; ++iy) u.ingest(iy, biased_row(xp + iy * xs2, xs3, W, bias, c, in_row.data()));
      d.begin(mlo, mhi);
      for (int64_t my = mlo; my <= mhi; ++my) {
        u.emit(my, m_row.data());
        activate(m_row.data(), sx.m, p);
        d.ingest(my, m_row.data());
      }
      for (int64_t oy = o0; oy < o1; ++oy) {
        acc_t* dst = row_target(op + oy * os2, os3, out_row.data());
        d.emit(oy, dst);
        store_row(dst, op + oy * os2, os3, out_w);
      }
    }
  });
}

template <typename scalar_t>
void backward(const at::Tensor& grad, const at::Tensor& x, const FusedFilter& fu, const FusedFilter& fd,
              const OptTensor& b, const Args& a, const at::Tensor& dx) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t C = x.size(1), H = x.size(2), W = x.size(3), out_h = grad.size(2), out_w = grad.size(3);
  const math::AxisSteps sy = steps_y(a, H, out_h), sx = steps_x(a, W, out_w);
  const Stage<acc_t> U(fu, false, H, W, sy.m, sx.m, sy.u, sx.u);
  const Stage<acc_t> DT(fd, true, out_h, out_w, sy.m, sx.m, sy.dt, sx.dt);
  const Stage<acc_t> UT(fu, true, sy.m, sx.m, H, W, sy.ut, sx.ut);
  const bias_act::Params<acc_t> p = act_params<acc_t>(a);

  const ChannelBias<scalar_t> bias(b);
  const scalar_t* x_data = x.const_data_ptr<scalar_t>();
  const scalar_t* g_data = grad.const_data_ptr<scalar_t>();
  scalar_t* dx_data = dx.data_ptr<scalar_t>();
  const int64_t xs0 = x.stride(0), xs1 = x.stride(1), xs2 = x.stride(2), xs3 = x.stride(3);
  const int64_t gs0 = grad.stride(0), gs1 = grad.stride(1), gs2 = grad.stride(2), gs3 = grad.stride(3);
  const int64_t ds0 = dx.stride(0), ds1 = dx.stride(1), ds2 = dx.stride(2), ds3 = dx.stride(3);

  const int64_t tile_h = tile_rows(H, a.up, sx.m);
  const int64_t tiles = (H + tile_h - 1) / tile_h;
  const int64_t work = tile_h * a.up * sx.m * (U.max_vtaps() + DT.max_vtaps() + UT.max_vtaps() + 2);

  at::parallel_for(0, x.size(0) * C * tiles, grain_for(work), [&](int64_t begin, int64_t end) {
    StageRows<acc_t> u(U), dt(DT), ut(UT);
    std::vector<acc_t> in_row(W), g_row(out_w), m_row(sx.m), dm_row(sx.m), dx_row(W);
    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t plane = unit / tiles, tile = unit % tiles, n = plane / C, c = plane % C;
      const scalar_t* xp = x_data + n * xs0 + c * xs1;
      const scalar_t* gp = g_data + n * gs0 + c * gs1;
      scalar_t* dp = dx_data + n * ds0 + c * ds1;
      const int64_t i0 = tile * tile_h, i1 = std::min(i0 + tile_h, H);

      const auto [mlo, mhi] = UT.source_rows(i0, i1);
      const bool any = mhi >= mlo;
      const auto [xlo, xhi] = any ? U.source_rows(mlo, mhi + 1) : std::pair<int64_t, int64_t>{0, -1};
      const auto [glo, ghi] = any ? DT.source_rows(mlo, mhi + 1) : std::pair<int64_t, int64_t>{0, -1};
      u.begin(xlo, xhi);
      for (int64_t iy = xlo; iy <= xhi; ++iy) u.ingest(iy, biased_row(xp + iy * xs2, xs3, W, bias, c, in_row.data()));
      dt.begin(glo, ghi);
      for (int64_t gy = glo; gy <= ghi; ++gy) dt.ingest(gy, load_row(gp + gy * gs2, gs3, out_w, g_row.data()));
      ut.begin(mlo, mhi);
      for (int64_t my = mlo; my <= mhi; ++my) {
        u.emit(my, m_row.data());
        dt.emit(my, dm_row.data());
        activate_backward(dm_row.data(), m_row.data(), sx.m, p);
        ut.ingest(my, dm_row.data());
      }
      for (int64_t iy = i0; iy < i1; ++iy) {
        acc_t* dst = row_target(dp + iy * ds2, ds3, dx_row.data());
        ut.emit(iy, dst);
        store_row(dst, dp + iy * ds2, ds3, W);
      }
    }
  });
}

// channels_last on the row path: up to this many channels the row path reads and writes the
// strided rows itself (a vector at a time where the ISA can: upfirdn2d_cpu_rows.h's load_row /
// store_row), beyond it through planar copies (upfirdn2d_cpu_channels_last.h). The fused
// kernel does a lot of arithmetic per value moved, so the copies' two transposes and buffers
// cost more than strided moves up to 7 channels, even a value at a time. Measured (A/B, one
// thread, [4, C, 96, 96], up 2, down 2, 12-tap filters, time over NCHW's, forward / backward,
// copies -> strided rows): AVX-512 C = 2-7 1.15-1.31 -> 0.99-1.18 (float32 and bfloat16), AVX2
// (float32 vectors up to 3 channels; bfloat16 a value at a time) C = 2-5 1.14-1.28 ->
// 1.02-1.12; AVX-512 float32 C = 12 / 16 / 24: 1.20-1.22 / 1.11 / 1.16-1.21 -> 1.24-1.27 /
// 1.29-1.48 / 1.38-1.75.
constexpr int64_t kStridedRowsMaxChannels = 7;

// Whether channels_last x (and grad) with out take the planar copies (runs_through_planes).
bool uses_planar_copies(const at::Tensor& x, const at::Tensor& out) {
  return upfirdn2d::CPU_CAPABILITY::runs_through_planes(x, out) && x.size(1) > kStridedRowsMaxChannels;
}

}  // namespace

void filtered_lrelu_fused_forward(const at::Tensor& x, const FusedFilter& fu, const FusedFilter& fd,
                                  const OptTensor& b, const Args& a, const at::Tensor& out) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "myops_filtered_lrelu_cpu", [&] {
    if (plane_path<scalar_t>(x, out, a)) {
      forward_planes<scalar_t>(x, fu, fd, b, a, out);
    } else if (try_forward_by_bands<scalar_t>(x, fu, fd, b, a, out)) {
      // (done: the band path)
    } else if (uses_planar_copies(x, out)) {
      upfirdn2d::CPU_CAPABILITY::run_through_planes<scalar_t>(out, [&](const at::Tensor& op, const at::Tensor& xp) {
        forward<scalar_t>(xp, fu, fd, b, a, op);
      }, x);
    } else {
      forward<scalar_t>(x, fu, fd, b, a, out);
    }
  });
}

void filtered_lrelu_fused_backward(const at::Tensor& grad, const at::Tensor& x, const FusedFilter& fu,
                                   const FusedFilter& fd, const OptTensor& b, const Args& a, const at::Tensor& dx) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "myops_filtered_lrelu_backward_cpu", [&] {
    if (plane_path<scalar_t>(x, grad, a)) {
      backward_planes<scalar_t>(grad, x, fu, fd, b, a, dx);
    } else if (try_backward_by_bands<scalar_t>(grad, x, fu, fd, b, a, dx)) {
      // (done: the band path)
    } else if (uses_planar_copies(x, dx) && uses_planar_copies(grad, dx)) {
      upfirdn2d::CPU_CAPABILITY::run_through_planes<scalar_t>(dx, [&](const at::Tensor& dxp, const at::Tensor& gp,
                                                                      const at::Tensor& xp) {
        backward<scalar_t>(gp, xp, fu, fd, b, a, dxp);
      }, grad, x);
    } else {
      backward<scalar_t>(grad, x, fu, fd, b, a, dx);
    }
  });
}

}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::filtered_lrelu
