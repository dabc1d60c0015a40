// CPU loop of bias_act's forward. Compiled once per ISA (DEFAULT, AVX2, AVX512): see
// ops/common/cpu_isa.h; one loop per activation: with_activation.
#include "ops/bias_act/bias_act_cpu_vec.h"
#include "ops/bias_act/bias_act_kernels.h"

namespace myops::ops::bias_act {
namespace CPU_CAPABILITY {

void forward_kernel(at::TensorIteratorBase& iter, const Args& args, bool has_bias) {
  with_activation(args.spec->act, [&](auto act) {
    opmath_kernel_vec<2>(iter, iter.dtype(), [&](auto opmath_zero) {
      const auto p = make_params<decltype(opmath_zero)>(args, has_bias);
      return [p, act](auto ops, auto x, auto b) { return math::forward<decltype(ops)>(p, act, x, b); };
    });
  });
}

}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::bias_act
