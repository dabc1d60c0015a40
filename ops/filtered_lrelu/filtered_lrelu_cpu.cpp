// CPU registration of filtered_lrelu and filtered_lrelu_backward: the shared entry bodies
// (filtered_lrelu_kernels.h) with the composition of myops' own CPU kernels (upfirdn2d,
// bias_act, bias_act_backward).
#include <torch/library.h>

#include "ops/common/entry.h"
#include "ops/filtered_lrelu/filtered_lrelu_kernels.h"

namespace myops::ops::filtered_lrelu {

TORCH_LIBRARY_IMPL(myops, CPU, m) {
  register_backend<NoDeviceGuard, composed_forward, composed_backward>(m);
}

}  // namespace myops::ops::filtered_lrelu
