// Vectorized helpers shared by the CPU kernels (included only from *_cpu_kernel.cpp files,
// which are compiled once per ISA).
#pragma once

#include <ATen/cpu/vec/functional.h>  // convert_to_float/convert_from_float for Half, BFloat16
#include <ATen/cpu/vec/vec.h>
#include <ATen/OpMathType.h>

namespace myops {
inline namespace CPU_CAPABILITY {

// Applies `op` to vectors in the op-math type: float16/bfloat16 lanes are widened to two float
// vectors, computed, and narrowed once at the end (one rounding, like the scalar path).
template <typename scalar_t, typename Op>
at::vec::Vectorized<scalar_t> vec_in_opmath(const Op& op, at::vec::Vectorized<scalar_t> a,
                                            at::vec::Vectorized<scalar_t> b) {
  if constexpr (at::vec::is_reduced_floating_point_v<scalar_t>) {
    auto [a0, a1] = at::vec::convert_to_float<scalar_t>(a);
    auto [b0, b1] = at::vec::convert_to_float<scalar_t>(b);
    return at::vec::convert_from_float<scalar_t>(op(a0, b0), op(a1, b1));
  } else {
    return op(a, b);
  }
}

}  // namespace CPU_CAPABILITY
}  // namespace myops
