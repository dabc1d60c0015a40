// What the per-ISA CPU loops of bias_act (bias_act_cpu_kernel.cpp and
// bias_act_backward_cpu_kernel.cpp) share besides ops/common/cpu_vec.h: one loop per
// activation.
#pragma once

#include <type_traits>

#include "ops/bias_act/bias_act_math.h"
#include "ops/common/cpu_vec.h"

namespace myops::ops::bias_act {
inline namespace CPU_CAPABILITY {

// Calls body(act) with `act` a compile-time constant (std::integral_constant): one loop per
// activation, whose vector body holds that activation's code alone. A switch with every
// activation's code in one shared vector body made the piecewise-linear ones 2.4x slower than
// torch's own leaky_relu. The exp-based ones shared such a loop until 2026-12-03; perf showed
// its body spilling vectors and parameters around each out-of-line exp call and jumping
// through the switch, but the time saved by their own loops is within this machine's noise
// (sigmoid went from 1.3-1.5x to 0.9-1.15x torch.sigmoid's time in two same-process runs).
// Compiling nine loops takes no longer than the four it replaced (17 s per ISA for the
// backward's file).
template <typename Body>
void with_activation(Act act, const Body& body) {
  switch (act) {
    case Act::Linear: return body(std::integral_constant<Act, Act::Linear>{});
    case Act::Relu: return body(std::integral_constant<Act, Act::Relu>{});
    case Act::Lrelu: return body(std::integral_constant<Act, Act::Lrelu>{});
    case Act::Tanh: return body(std::integral_constant<Act, Act::Tanh>{});
    case Act::Sigmoid: return body(std::integral_constant<Act, Act::Sigmoid>{});
    case Act::Elu: return body(std::integral_constant<Act, Act::Elu>{});
    case Act::Selu: return body(std::integral_constant<Act, Act::Selu>{});
    case Act::Softplus: return body(std::integral_constant<Act, Act::Softplus>{});
    case Act::Swish: return body(std::integral_constant<Act, Act::Swish>{});
  }
  TORCH_INTERNAL_ASSERT(false, "bias_act: unknown activation");
}

}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::bias_act
