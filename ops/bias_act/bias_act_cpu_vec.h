// What the per-ISA CPU loops of bias_act (bias_act_cpu_kernel.cpp and
// bias_act_backward_cpu_kernel.cpp) share besides ops/common/cpu_vec.h: which activations get a
// loop of their own.
#pragma once

#include <type_traits>

#include "ops/bias_act/bias_act_math.h"
#include "ops/common/cpu_vec.h"

namespace myops::ops::bias_act {
inline namespace CPU_CAPABILITY {

// Calls body(act) with `act` a compile-time constant (std::integral_constant) for the
// piecewise-linear activations and the run-time value for the others. Those three are pure
// bandwidth: their loop must stay tight, and a switch with every activation's code in the
// vector body made it 2.4x slower than torch's own leaky_relu. The others are bound by
// exp/tanh, where one switch per vector costs nothing, so they share one loop (keeping the
// number of loops compiled per dtype and ISA at 4, not 9).
template <typename Body>
void with_activation(Act act, const Body& body) {
  switch (act) {
    case Act::Linear: return body(std::integral_constant<Act, Act::Linear>{});
    case Act::Relu: return body(std::integral_constant<Act, Act::Relu>{});
    case Act::Lrelu: return body(std::integral_constant<Act, Act::Lrelu>{});
    default: return body(act);
  }
}

}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::bias_act
