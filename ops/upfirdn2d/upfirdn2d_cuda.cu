// CUDA kernel of upfirdn2d, registered with the shared entry body (upfirdn2d_kernels.h): one
// thread per output element, looping over the filter taps that land on input pixels (the index
// math shared with the CPU in upfirdn2d_math.h). A 1-D (separable) filter runs as two launches of
// the same kernel, a horizontal pass into an op-math intermediate [N, C, H, outW] and a vertical
// pass, each scaled by sqrt(gain). Any input strides; the output is written through its strides
// (channels_last or contiguous). 64-bit indexing throughout (a grid-stride loop), on the current
// stream.
#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <type_traits>

#include "ops/upfirdn2d/upfirdn2d_kernels.h"
#include "ops/upfirdn2d/upfirdn2d_math.h"

namespace myops::ops::upfirdn2d {
namespace {

using math::AxisTaps;
using math::axis_taps;

struct Geometry {  // one pass: sizes, strides (in elements) and the resampling of both axes
  int64_t C, in_h, in_w, out_h, out_w, total;
  int64_t xs[4], ys[4];
  int64_t fh, fw, coef_stride_y, coef_stride_x;  // coefficient (ky, kx) at ky*sy + kx*sx
  int64_t up_x, up_y, down_x, down_y, pad_x0, pad_y0;
};

template <typename in_t, typename out_t, typename acc_t>
__global__ void upfirdn2d_cuda_kernel(const in_t* __restrict__ x, out_t* __restrict__ y,
                                      const acc_t* __restrict__ coef, Geometry g) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < g.total; i += stride) {
    const int64_t ox = i % g.out_w;
    int64_t rest = i / g.out_w;
    const int64_t oy = rest % g.out_h;
    rest /= g.out_h;
    const int64_t c = rest % g.C, n = rest / g.C;
    const AxisTaps tx = axis_taps(ox, g.up_x, g.down_x, g.pad_x0, g.fw, g.in_w);
    const AxisTaps ty = axis_taps(oy, g.up_y, g.down_y, g.pad_y0, g.fh, g.in_h);
    const in_t* plane = x + n * g.xs[0] + c * g.xs[1];
    acc_t sum(0);
    for (int64_t t = ty.t_begin; t < ty.t_end; ++t) {
      const in_t* row = plane + (ty.i0 + t) * g.xs[2];
      const acc_t* crow = coef + (ty.k0 + t * g.up_y) * g.coef_stride_y;
      for (int64_t s = tx.t_begin; s < tx.t_end; ++s) {
        sum += crow[(tx.k0 + s * g.up_x) * g.coef_stride_x] * static_cast<acc_t>(row[(tx.i0 + s) * g.xs[3]]);
      }
    }
    y[n * g.ys[0] + c * g.ys[1] + oy * g.ys[2] + ox * g.ys[3]] = static_cast<out_t>(sum);
  }
}

template <typename in_t, typename out_t, typename acc_t>
void launch(const at::Tensor& x, const at::Tensor& y, const at::Tensor& coef, Geometry g) {
  g.C = x.size(1);
  g.in_h = x.size(2);
  g.in_w = x.size(3);
  g.out_h = y.size(2);
  g.out_w = y.size(3);
  g.total = y.numel();
  for (int d = 0; d < 4; ++d) {
    g.xs[d] = x.stride(d);
    g.ys[d] = y.stride(d);
  }
  if (g.total == 0) return;
  constexpr int kThreads = 256;
  const int64_t blocks = std::min<int64_t>((g.total + kThreads - 1) / kThreads, int64_t(1) << 20);
  upfirdn2d_cuda_kernel<in_t, out_t, acc_t>
      <<<static_cast<unsigned>(blocks), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
          x.const_data_ptr<in_t>(), y.mutable_data_ptr<out_t>(), coef.const_data_ptr<acc_t>(), g);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void upfirdn2d_cuda(const at::Tensor& x, const at::Tensor& coef, const Args& a, const at::Tensor& out) {
  if (x.dim() == 5) return run_each_entry(upfirdn2d_cuda, x, coef, a, out);  // a stack: a launch per entry
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "myops_upfirdn2d_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    if (a.kind != FilterKind::Separable) {
      const Geometry g{0, 0, 0, 0, 0, 0, {}, {}, a.fh, a.fw, a.fw, 1,
                       a.up_x, a.up_y, a.down_x, a.down_y, a.pad_x0, a.pad_y0};
      launch<scalar_t, scalar_t, acc_t>(x, out, coef, g);
      return;
    }
    // Horizontal pass (filter 1 x fw) into op-math rows, then the vertical pass (fh x 1).
    at::Tensor mid = at::empty({x.size(0), x.size(1), x.size(2), out.size(3)},
                               x.options().dtype(c10::CppTypeToScalarType<acc_t>::value));
    const Geometry gx{0, 0, 0, 0, 0, 0, {}, {}, 1, a.fw, 0, 1,
                      a.up_x, 1, a.down_x, 1, a.pad_x0, 0};
    launch<scalar_t, acc_t, acc_t>(x, mid, coef, gx);
    const Geometry gy{0, 0, 0, 0, 0, 0, {}, {}, a.fh, 1, 1, 0,
                      1, a.up_y, 1, a.down_y, 0, a.pad_y0};
    launch<acc_t, scalar_t, acc_t>(mid, out, coef, gy);
  });
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, CUDA, m) {
  register_backend<c10::cuda::CUDAGuard, upfirdn2d_cuda>(m);
}

}  // namespace myops::ops::upfirdn2d
