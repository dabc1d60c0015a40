// CUDA registration of filtered_lrelu and filtered_lrelu_backward: the shared entry bodies
// (filtered_lrelu_kernels.h) with the composition of myops' own CUDA kernels (upfirdn2d,
// bias_act, bias_act_backward), each launched on the current stream with no host sync, so the
// op is capture-safe for CUDA graphs. A fused tiled kernel replaces it when a GPU can prove it.
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "ops/filtered_lrelu/filtered_lrelu_kernels.h"

namespace myops::ops::filtered_lrelu {

TORCH_LIBRARY_IMPL(myops, CUDA, m) {
  register_backend<c10::cuda::CUDAGuard, composed_forward, composed_backward>(m);
}

}  // namespace myops::ops::filtered_lrelu
