// Autocast kernels of the bias_act family (policy: README, "Works with"). bias_act runs in x's
// dtype, like StyleGAN's plugin and ATen's pointwise ops: under torch.autocast a bf16/fp16
// x (a convolution's output) with a float32 bias b (a parameter) runs in x's dtype, b cast to
// it (the cast is differentiable: b's gradient comes back in float32). bias_act_backward (what
// autograd calls, also when backward() runs inside the autocast region) casts grad and b the
// same way.
#include <torch/library.h>

#include "myops/bias_act.h"
#include "ops/common/autocast.h"

namespace myops::ops::bias_act {
namespace {

using OptTensor = std::optional<at::Tensor>;
using OptDouble = std::optional<double>;

template <c10::DispatchKey key>
at::Tensor bias_act_autocast(const at::Tensor& x, const OptTensor& b, int64_t dim, c10::string_view act,
                             OptDouble alpha, OptDouble gain, OptDouble clamp) {
  using A = autocast::Autocast<key>;
  return A::call(myops::bias_act, x, A::cast(x.scalar_type(), b), dim, act, alpha, gain, clamp);
}

template <c10::DispatchKey key>
at::Tensor bias_act_backward_autocast(const at::Tensor& grad, const at::Tensor& x, const OptTensor& b, int64_t dim,
                                      c10::string_view act, OptDouble alpha, OptDouble gain, OptDouble clamp,
                                      int64_t order) {
  using A = autocast::Autocast<key>;
  return A::call(myops::bias_act_backward, A::cast(x.scalar_type(), grad), x, A::cast(x.scalar_type(), b), dim, act,
                 alpha, gain, clamp, order);
}

template <c10::DispatchKey key>
void register_autocast(torch::Library& m) {
  m.impl("bias_act", &bias_act_autocast<key>);
  m.impl("bias_act_backward", &bias_act_backward_autocast<key>);
}

}  // namespace

MYOPS_AUTOCAST_IMPL(register_autocast)

}  // namespace myops::ops::bias_act
