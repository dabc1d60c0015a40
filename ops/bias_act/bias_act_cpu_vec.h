// The CPU vector side of bias_act_math.h: the "ops" for at::vec::Vectorized values and the
// loop body shared by the forward and backward kernels. Included only from
// bias_act*_cpu_kernel.cpp, which are compiled once per ISA (hence the CPU_CAPABILITY namespace:
// each ISA's copy is a distinct type, no ODR clash).
#pragma once

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/cpu/vec/functional.h>  // convert_to_float / convert_from_float for Half, BFloat16
#include <ATen/cpu/vec/vec.h>
#include <ATen/native/cpu/Loops.h>

#include <type_traits>

#include "ops/bias_act/bias_act_math.h"

namespace myops::bias_act {
inline namespace CPU_CAPABILITY {

// Vectorized<float/double> counterparts of ScalarOps (SLEEF's 1-ulp functions under AVX2/512).
struct VecOps {
  template <typename V> static V exp(V x) { return x.exp(); }
  template <typename V> static V expm1(V x) { return x.expm1(); }
  template <typename V> static V log1p(V x) { return x.log1p(); }
  template <typename V> static V tanh(V x) { return x.tanh(); }
  template <typename V> static V abs(V x) { return x.abs(); }
  // Comparisons of Vectorized values give all-ones lanes where true.
  template <typename V> static V select(V mask, V if_true, V if_false) { return V::blendv(if_false, if_true, mask); }
};

// Applies `op` to vectors in the op-math type: float16/bfloat16 lanes are widened to two float
// vectors, computed, and narrowed once at the end (one rounding, like the scalar path).
// (GCC 12 reports its own AVX-512 intrinsics (`__m512i __Y = __Y;`, _mm512_undefined) as
// uninitialized once they are inlined here; the value is deliberately undefined there.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
template <typename scalar_t, typename Op>
at::vec::Vectorized<scalar_t> vec_in_opmath(const Op& op, at::vec::Vectorized<scalar_t> a,
                                            at::vec::Vectorized<scalar_t> b) {
  if constexpr (at::vec::is_reduced_floating_point_v<scalar_t>) {
    const auto [a0, a1] = at::vec::convert_to_float<scalar_t>(a);
    const auto [b0, b1] = at::vec::convert_to_float<scalar_t>(b);
    return at::vec::convert_from_float<scalar_t>(op(a0, b0), op(a1, b1));
  } else {
    return op(a, b);
  }
}
template <typename scalar_t, typename Op>
at::vec::Vectorized<scalar_t> vec_in_opmath(const Op& op, at::vec::Vectorized<scalar_t> a,
                                            at::vec::Vectorized<scalar_t> b, at::vec::Vectorized<scalar_t> c) {
  if constexpr (at::vec::is_reduced_floating_point_v<scalar_t>) {
    const auto [a0, a1] = at::vec::convert_to_float<scalar_t>(a);
    const auto [b0, b1] = at::vec::convert_to_float<scalar_t>(b);
    const auto [c0, c1] = at::vec::convert_to_float<scalar_t>(c);
    return at::vec::convert_from_float<scalar_t>(op(a0, b0, c0), op(a1, b1, c1));
  } else {
    return op(a, b, c);
  }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

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

// Runs make_op(opmath zero)(values...) over iter for every float dtype, as a scalar lambda
// (edges, odd strides) and a vector lambda (the body). make_op returns a generic lambda taking
// op-math scalars or vectors and a tag saying which ops to use.
template <int N, typename MakeOp>
void opmath_loop(at::TensorIteratorBase& iter, const MakeOp& make_op) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, iter.dtype(), "myops_bias_act_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    using Vec = at::vec::Vectorized<scalar_t>;
    const auto op = make_op(opmath_t{});
    if constexpr (N == 2) {
      at::native::cpu_kernel_vec(
          iter,
          [op](scalar_t a, scalar_t b) -> scalar_t {
            return static_cast<scalar_t>(op(ScalarOps{}, static_cast<opmath_t>(a), static_cast<opmath_t>(b)));
          },
          [op](Vec a, Vec b) {
            return vec_in_opmath<scalar_t>([&](auto... v) { return op(VecOps{}, v...); }, a, b);
          });
    } else {
      static_assert(N == 3);
      at::native::cpu_kernel_vec(
          iter,
          [op](scalar_t a, scalar_t b, scalar_t c) -> scalar_t {
            return static_cast<scalar_t>(op(ScalarOps{}, static_cast<opmath_t>(a), static_cast<opmath_t>(b),
                                            static_cast<opmath_t>(c)));
          },
          [op](Vec a, Vec b, Vec c) {
            return vec_in_opmath<scalar_t>([&](auto... v) { return op(VecOps{}, v...); }, a, b, c);
          });
    }
  });
}

}  // namespace CPU_CAPABILITY
}  // namespace myops::bias_act
