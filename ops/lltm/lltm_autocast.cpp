// Autocast kernels of the lltm family (policy: README, "Works with"). lltm is a linear layer
// (X @ weights^T + bias) plus gate math, so it follows at::linear's lower-precision policy:
// under torch.autocast its five tensors are cast to the autocast dtype (bfloat16 on the CPU,
// float16 on CUDA by default; float64 and other devices' tensors untouched, as ATen does), and
// the outputs come out in that dtype. The cast is differentiable: float32 parameters get
// float32 gradients.
//
// lltm_cell, the cell from gate pre-activations its caller computed (lltm's vmap rule: with a
// batched weights, by one autocast baddbmm), runs in pre_gates' dtype with old_cell cast to it,
// as bias_act runs in x's: the products' dtype decides, the recurrent state follows.
//
// lltm_forward, lltm_backward, lltm_gates_backward (lltm_backward's gate pass, what its vmap
// rule calls), lltm_cell_backward and lltm_cell_double_backward are pieces of lltm's autograd
// formula: called below autocast by lltm's forward, or by the backward on
// tensors already in one dtype (also when backward() runs inside the autocast region). They
// fall through: a cast there would only hide a dtype error of a direct call.
#include <torch/library.h>

#include "myops/lltm.h"
#include "ops/common/autocast.h"

namespace myops::ops::lltm {
namespace {

using at::Tensor;

template <c10::DispatchKey key>
std::tuple<Tensor, Tensor> lltm_autocast(const Tensor& input, const Tensor& weights, const Tensor& bias,
                                         const Tensor& old_h, const Tensor& old_cell) {
  using A = autocast::Autocast<key>;
  const at::ScalarType dtype = A::lower_precision();
  return A::call(myops::lltm, A::cast(dtype, input), A::cast(dtype, weights), A::cast(dtype, bias),
                 A::cast(dtype, old_h), A::cast(dtype, old_cell));
}

template <c10::DispatchKey key>
std::tuple<Tensor, Tensor> lltm_cell_autocast(const Tensor& pre_gates, const Tensor& old_cell) {
  using A = autocast::Autocast<key>;
  return A::call(myops::lltm_cell, pre_gates, A::cast(pre_gates.scalar_type(), old_cell));
}

template <c10::DispatchKey key>
void register_autocast(torch::Library& m) {
  m.impl("lltm", &lltm_autocast<key>);
  m.impl("lltm_cell", &lltm_cell_autocast<key>);
  autocast::Autocast<key>::fall_through(
      m, {"lltm_forward", "lltm_backward", "lltm_gates_backward", "lltm_cell_backward",
          "lltm_cell_double_backward"});
}

}  // namespace

MYOPS_AUTOCAST_IMPL(register_autocast)

}  // namespace myops::ops::lltm
