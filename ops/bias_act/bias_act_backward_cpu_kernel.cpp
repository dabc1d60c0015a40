// CPU loop of bias_act_backward (first to third derivatives). Compiled once per ISA; a file of
// its own so that the forward and backward loops build in parallel.
#include "ops/bias_act/bias_act_cpu_vec.h"
#include "ops/bias_act/bias_act_kernels.h"

namespace myops::ops::bias_act {
namespace CPU_CAPABILITY {

void backward_kernel(at::TensorIteratorBase& iter, const Args& args, bool has_bias, int order) {
  with_activation(args.spec->act, [&](auto act) {
    opmath_kernel_vec<3>(iter, iter.dtype(), [&](auto opmath_zero) {
      const auto p = make_params<decltype(opmath_zero)>(args, has_bias);
      return [p, act, order](auto ops, auto grad, auto x, auto b) {
        return math::backward<decltype(ops)>(p, act, order, grad, x, b);
      };
    });
  });
}

}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::bias_act
