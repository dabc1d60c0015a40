// CPU loop of bias_act's forward. Compiled once per ISA (DEFAULT, AVX2, AVX512): see
// ops/common/cpu_isa.h. The activation is a runtime switch inside the loop body, not a template
// argument: the branch is the same for every element (perfectly predicted), the loop stays
// memory-bound, and each ISA builds 4 loops instead of 36.
#include "ops/bias_act/bias_act_cpu_vec.h"
#include "ops/bias_act/bias_act_kernels.h"

namespace myops::bias_act {
namespace CPU_CAPABILITY {

void forward_kernel(at::TensorIteratorBase& iter, const Args& args, bool has_bias) {
  opmath_loop<2>(iter, [&](auto opmath_zero) {
    const auto p = make_params<decltype(opmath_zero)>(args, has_bias);
    return [p](auto ops, auto x, auto b) { return math::forward<decltype(ops)>(p, x, b); };
  });
}

}  // namespace CPU_CAPABILITY
}  // namespace myops::bias_act
