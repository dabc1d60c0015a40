// CUDA gate kernels of the lltm family (lltm, lltm_forward, lltm_backward, lltm_gates_backward,
// the cell ops), registered with the shared entry bodies (lltm_impl.h). The products go through
// ATen (cuBLAS, current stream); each gate pass is one elementwise kernel, one thread per (row,
// state element), on the current stream, running the shared math of lltm_math.h in the op-math
// type. 32-bit indexing unless a tensor needs more.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/native/CanUse32BitIndexMath.h>
#include <ATen/native/cuda/Loops.cuh>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <algorithm>
#include <initializer_list>
#include <type_traits>

#include "ops/lltm/lltm_impl.h"
#include "ops/lltm/lltm_math.h"

namespace myops::ops::lltm {
namespace {

constexpr int kThreads = 256;

template <typename scalar_t, typename index_t>
__global__ void forward_gates_cuda_kernel(scalar_t* gates, Strided2d<const scalar_t, index_t> old_cell,
                                          scalar_t* new_h, scalar_t* new_cell, index_t S, index_t n) {
  using opmath_t = at::opmath_type<scalar_t>;
  const index_t step = static_cast<index_t>(blockDim.x) * gridDim.x;
  for (index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const index_t b = i / S, j = i - b * S;
    scalar_t* g = gates + b * 3 * S + j;
    const auto r = math::cell_forward<ScalarOps, opmath_t>(g[0], g[S], g[2 * S], old_cell(b, j));
    g[0] = static_cast<scalar_t>(r.input_gate);
    g[S] = static_cast<scalar_t>(r.output_gate);
    g[2 * S] = static_cast<scalar_t>(r.candidate);
    new_cell[i] = static_cast<scalar_t>(r.new_cell);
    new_h[i] = static_cast<scalar_t>(r.new_h);
  }
}

template <typename scalar_t, typename index_t>
__global__ void backward_gates_cuda_kernel(Strided2d<const scalar_t, index_t> grad_h,
                                           Strided2d<const scalar_t, index_t> grad_cell,
                                           Strided2d<const scalar_t, index_t> new_cell,
                                           Strided2d<const scalar_t, index_t> gates,
                                           scalar_t* d_gates, scalar_t* grad_old_cell, index_t S,
                                           index_t n) {
  using opmath_t = at::opmath_type<scalar_t>;
  const index_t step = static_cast<index_t>(blockDim.x) * gridDim.x;
  for (index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const index_t b = i / S, j = i - b * S;
    const auto r = math::cell_backward<ScalarOps, opmath_t>(grad_h(b, j), grad_cell(b, j), new_cell(b, j),
                                                 gates(b, j), gates(b, S + j), gates(b, 2 * S + j));
    scalar_t* dg = d_gates + b * 3 * S + j;
    dg[0] = static_cast<scalar_t>(r.d_pre_input);
    dg[S] = static_cast<scalar_t>(r.d_pre_output);
    dg[2 * S] = static_cast<scalar_t>(r.d_pre_candidate);
    grad_old_cell[i] = static_cast<scalar_t>(r.d_old_cell);
  }
}

// Calls launch(int32_t{}) when every tensor can be indexed with 32 bits (faster index math),
// launch(int64_t{}) otherwise.
template <typename Launch>
void with_index_type(std::initializer_list<const at::Tensor*> tensors, const Launch& launch) {
  const bool fits_32bit = std::all_of(tensors.begin(), tensors.end(), [](const at::Tensor* t) {
    return at::native::canUse32BitIndexMath(*t);
  });
  if (fits_32bit) {
    launch(int32_t{0});
  } else {
    launch(int64_t{0});
  }
}

// Grid-stride loops: enough blocks to fill the GPU, capped for huge tensors.
unsigned int blocks_for(int64_t n) {
  return static_cast<unsigned int>(std::min<int64_t>((n + kThreads - 1) / kThreads, 1 << 20));
}

void forward_gates_cuda(const at::Tensor& gates, const at::Tensor& old_cell,
                        const at::Tensor& new_h, const at::Tensor& new_cell) {
  const int64_t n = new_h.numel(), S = new_h.size(1);
  const auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, gates.scalar_type(), "myops_lltm_cuda", [&] {
    with_index_type({&gates, &old_cell}, [&](auto index_zero) {
      using index_t = decltype(index_zero);
      forward_gates_cuda_kernel<scalar_t, index_t><<<blocks_for(n), kThreads, 0, stream>>>(
          gates.data_ptr<scalar_t>(), strided_2d<const scalar_t, index_t>(old_cell),
          new_h.data_ptr<scalar_t>(), new_cell.data_ptr<scalar_t>(), static_cast<index_t>(S),
          static_cast<index_t>(n));
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
}

void backward_gates_cuda(const at::Tensor& grad_h, const at::Tensor& grad_cell,
                         const at::Tensor& new_cell, const at::Tensor& gates,
                         const at::Tensor& d_gates, const at::Tensor& grad_old_cell) {
  const int64_t n = grad_old_cell.numel(), S = grad_old_cell.size(1);
  const auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, gates.scalar_type(), "myops_lltm_backward_cuda", [&] {
    with_index_type({&grad_h, &grad_cell, &new_cell, &gates, &d_gates}, [&](auto index_zero) {
      using index_t = decltype(index_zero);
      backward_gates_cuda_kernel<scalar_t, index_t><<<blocks_for(n), kThreads, 0, stream>>>(
          strided_2d<const scalar_t, index_t>(grad_h), strided_2d<const scalar_t, index_t>(grad_cell),
          strided_2d<const scalar_t, index_t>(new_cell), strided_2d<const scalar_t, index_t>(gates),
          d_gates.data_ptr<scalar_t>(), grad_old_cell.data_ptr<scalar_t>(), static_cast<index_t>(S),
          static_cast<index_t>(n));
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
}

// The cell ops (lltm_cell, and lltm's double backward, cold: only create_graph=True takes it):
// gpu_kernel_multiple_outputs over the TensorIterator of same_dtype_iter (64-bit-safe, strided
// and broadcast operands).

// The op-math results of one element as the outputs' dtype.
template <typename scalar_t, typename... Ts>
C10_HOST_DEVICE thrust::tuple<std::conditional_t<true, scalar_t, Ts>...> rounded(Ts... values) {
  return thrust::make_tuple(static_cast<scalar_t>(values)...);
}

void cell_forward_cuda(at::TensorIteratorBase& iter) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, iter.dtype(), "myops_lltm_cell_cuda", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    at::native::gpu_kernel_multiple_outputs(
        iter, [] GPU_LAMBDA(scalar_t pi, scalar_t po, scalar_t pc, scalar_t old) -> thrust::tuple<scalar_t, scalar_t> {
          const auto r = math::cell_forward<ScalarOps, opmath_t>(pi, po, pc, old);
          return rounded<scalar_t>(r.new_h, r.new_cell);
        });
  });
}

void cell_backward_cuda(at::TensorIteratorBase& iter) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, iter.dtype(), "myops_lltm_cell_backward_cuda", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    at::native::gpu_kernel_multiple_outputs(
        iter, [] GPU_LAMBDA(scalar_t gh, scalar_t gc, scalar_t pi, scalar_t po, scalar_t pc, scalar_t old)
                  -> thrust::tuple<scalar_t, scalar_t, scalar_t, scalar_t> {
          const auto r = math::cell_backward_from_pre<ScalarOps, opmath_t>(gh, gc, pi, po, pc, old);
          return rounded<scalar_t>(r.d_pre_input, r.d_pre_output, r.d_pre_candidate, r.d_old_cell);
        });
  });
}

void cell_double_backward_cuda(at::TensorIteratorBase& iter) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, iter.dtype(), "myops_lltm_cell_double_backward_cuda", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    at::native::gpu_kernel_multiple_outputs(
        iter, [] GPU_LAMBDA(scalar_t ui, scalar_t uo, scalar_t uc, scalar_t uold, scalar_t gh, scalar_t gc,
                            scalar_t pi, scalar_t po, scalar_t pc, scalar_t old)
                  -> thrust::tuple<scalar_t, scalar_t, scalar_t, scalar_t, scalar_t, scalar_t> {
          const auto r = math::cell_double_backward<ScalarOps, opmath_t>(ui, uo, uc, uold, gh, gc, pi, po, pc, old);
          return rounded<scalar_t>(r.d_grad_h, r.d_grad_cell, r.d_pre_input, r.d_pre_output, r.d_pre_candidate,
                                   r.d_old_cell);
        });
  });
}

}  // namespace

TORCH_LIBRARY_IMPL(myops, CUDA, m) {
  register_backend<c10::cuda::CUDAGuard, forward_gates_cuda, backward_gates_cuda, cell_forward_cuda,
                   cell_backward_cuda, cell_double_backward_cuda>(m);
}

}  // namespace myops::ops::lltm
