// The CPU vector side of the math style in ops/common/scalar_ops.h, and the loops every
// elementwise CPU kernel shares. Included only from *_cpu_kernel.cpp files, which are compiled
// once per ISA (hence the CPU_CAPABILITY namespace: each ISA's copy is a distinct type).
#pragma once

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/cpu/vec/functional.h>  // convert_to_float/convert_from_float for Half, BFloat16
#include <ATen/cpu/vec/vec.h>
#include <ATen/native/cpu/Loops.h>

#include <array>
#include <tuple>
#include <type_traits>
#include <utility>

#include "ops/common/cpu_bf16.h"
#include "ops/common/cpu_fast_math.h"
#include "ops/common/cpu_loops.h"
#include "ops/common/gcc_intrinsics_warnings.h"
#include "ops/common/scalar_ops.h"

namespace myops {
inline namespace CPU_CAPABILITY {

// ScalarOps for the scalar tails of the CPU loops: float's exp, expm1, tanh and log1p are the
// ones the vector bodies use (ops/common/cpu_fast_math.h), so an element gets the same bits
// wherever the loop splits (threads, alignment, strides). The GPU keeps ScalarOps (its expf, ...).
// (In an unnamed namespace, like its base: see scalar_ops.h.)
namespace {
struct CpuScalarOps : ScalarOps {
  using ScalarOps::exp;
  using ScalarOps::expm1;
  using ScalarOps::tanh;
  using ScalarOps::log1p;
  C10_ALWAYS_INLINE static float exp(float x) { return fast_math::exp(x); }
  C10_ALWAYS_INLINE static float expm1(float x) { return fast_math::expm1(x); }
  C10_ALWAYS_INLINE static float tanh(float x) { return fast_math::tanh(x); }
  C10_ALWAYS_INLINE static float log1p(float x) { return fast_math::log1p(x); }
};
}  // namespace

// Vectorized<float/double> counterparts of CpuScalarOps: SLEEF's 1-ulp functions under
// AVX2/512, except float's exp, expm1, tanh and log1p (cpu_fast_math.h: why).
struct VecOps {
  template <typename V> static V exp(V x) { return x.exp(); }
  C10_ALWAYS_INLINE static at::vec::Vectorized<float> exp(at::vec::Vectorized<float> x) { return fast_math::exp(x); }
  template <typename V> static V expm1(V x) { return x.expm1(); }
  C10_ALWAYS_INLINE static at::vec::Vectorized<float> expm1(at::vec::Vectorized<float> x) { return fast_math::expm1(x); }
  template <typename V> static V log1p(V x) { return x.log1p(); }
  C10_ALWAYS_INLINE static at::vec::Vectorized<float> log1p(at::vec::Vectorized<float> x) { return fast_math::log1p(x); }
  template <typename V> static V tanh(V x) { return x.tanh(); }
  C10_ALWAYS_INLINE static at::vec::Vectorized<float> tanh(at::vec::Vectorized<float> x) { return fast_math::tanh(x); }
  template <typename V> static V abs(V x) { return x.abs(); }
  // Comparisons of Vectorized values give all-ones lanes where true.
  template <typename V> static V select(V mask, V if_true, V if_false) { return V::blendv(if_false, if_true, mask); }
  // One min and one max instruction (x86's min/max return their second operand when either is
  // NaN, so NaN is kept, as in ScalarOps::clamp). Two selects cost far more under AVX-512:
  // each comparison widens its k-mask to a vector and blendv narrows it back (1.6x the time of
  // the whole bias_act forward at 512K elements, one thread).
  template <typename V> static V clamp(V v, V lo, V hi) { return at::vec::clamp(v, lo, hi); }
};

MYOPS_BEGIN_INTRINSICS_WARNINGS_OFF
// Two float vectors rounded to one float16/bfloat16 vector (ATen's convert_from_float), always
// inlined. Under AVX-512, ATen's bfloat16 rounding (cvtfp32_bf16) is an ordinary inline
// function that GCC kept out of line in the larger loops (bias_act_backward's exp-based
// activations: a call per vector, the live vectors spilled around it), so it is written again,
// bit for bit the same (round_to_bf16_lanes, ops/common/cpu_bf16.h), then the two halves'
// 16-bit results are packed in order.
template <typename scalar_t>
C10_ALWAYS_INLINE at::vec::Vectorized<scalar_t> narrow_floats(const at::vec::Vectorized<float>& lo,
                                                              const at::vec::Vectorized<float>& hi) {
#if defined(CPU_CAPABILITY_AVX512)
  if constexpr (std::is_same_v<scalar_t, c10::BFloat16>) {
    // packus interleaves 128-bit lanes of its two inputs; the permute puts them back in order.
    const __m512i packed = _mm512_packus_epi32(round_to_bf16_lanes(lo), round_to_bf16_lanes(hi));
    return _mm512_permutexvar_epi64(_mm512_set_epi64(7, 5, 3, 1, 6, 4, 2, 0), packed);
  }
#endif
  return at::vec::convert_from_float<scalar_t>(lo, hi);
}

// One Vectorized<scalar_t> in the op-math type: one vector for float/double, two float vectors
// for float16/bfloat16 (widened on the way in, rounded once on the way out). The only place
// the library widens half types on the CPU.
template <typename scalar_t>
struct Opmath {
  using opmath_t = at::opmath_type<scalar_t>;
  using Vec = at::vec::Vectorized<scalar_t>;
  static constexpr bool kReduced = at::vec::is_reduced_floating_point_v<scalar_t>;
  static constexpr int kParts = kReduced ? 2 : 1;
  using Parts = std::array<at::vec::Vectorized<opmath_t>, kParts>;

  C10_ALWAYS_INLINE static Parts widen(Vec v) {
    if constexpr (kReduced) {
      const auto [lo, hi] = at::vec::convert_to_float<scalar_t>(v);
      return {lo, hi};
    } else {
      return {v};
    }
  }
  C10_ALWAYS_INLINE static Vec narrow(const Parts& p) {
    if constexpr (kReduced) {
      return narrow_floats<scalar_t>(p[0], p[1]);
    } else {
      return p[0];
    }
  }
  C10_ALWAYS_INLINE static Parts load(const scalar_t* p) { return widen(Vec::loadu(p)); }
  C10_ALWAYS_INLINE static void store(scalar_t* p, const Parts& v) { narrow(v).store(p); }
};

// op(a, b, ...) on vectors, computed in the op-math type and rounded once: for float16/bfloat16,
// op on the low float halves and op on the high halves (what ATen's own binary_op_as_fp32
// does). Always inlined, as are widen/narrow above: GCC otherwise kept this wrapper
// out of line in the larger kernel files (a call per vector in the inner loop, with its
// rounding constants rebuilt at each call; bfloat16 mul/add were 0.64-0.86x torch's).
template <typename scalar_t, typename Op, typename... Wide>
C10_ALWAYS_INLINE at::vec::Vectorized<scalar_t> op_on_float_halves(const Op& op, const Wide&... w) {
  auto lo = op(std::get<0>(w)...);
  auto hi = op(std::get<1>(w)...);
  return narrow_floats<scalar_t>(lo, hi);
}

template <typename scalar_t, typename Op, typename... Vecs>
C10_ALWAYS_INLINE at::vec::Vectorized<scalar_t> vec_in_opmath(const Op& op, Vecs... v) {
  if constexpr (Opmath<scalar_t>::kReduced) {
    return op_on_float_halves<scalar_t>(op, at::vec::convert_to_float<scalar_t>(v)...);
  } else {
    return op(v...);
  }
}
MYOPS_END_INTRINSICS_WARNINGS_OFF

// Runs make_op(opmath_t{})(ops, values...) over iter's N inputs for every float dtype of
// `dtype`, as a scalar lambda (edges, odd strides; ops = CpuScalarOps) and a vector lambda (the
// body; ops = VecOps), both in the op-math type. make_op is called once per dtype, outside the
// loop, with a zero of that op-math type; it returns a generic lambda (ops, v...) -> value.
template <int N, typename MakeOp>
void opmath_kernel_vec(at::TensorIteratorBase& iter, at::ScalarType dtype, const MakeOp& make_op) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "myops_cpu_kernel", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    using Vec = at::vec::Vectorized<scalar_t>;
    const auto op = make_op(opmath_t{});
    // Always inlined: ATen's vectorized_loop calls it twice per step (two vectors); with a long
    // body (softplus: exp then log1p) GCC inlined one call and kept the other out of line, so
    // the two vectors' dependency chains could not overlap (softplus 1.25x slower).
    const auto vector_op = [op](auto... v) C10_ALWAYS_INLINE_ATTRIBUTE { return op(VecOps{}, v...); };
    // The lambdas handed to the loop are always inlined too: in cpu_loops.h's loop GCC kept
    // bfloat16 bias_act_backward's out of line (a call per vector, 1.2x slower).
    if constexpr (N == 2) {
      myops::cpu_kernel_vec(
          iter,
          [op](scalar_t a, scalar_t b) -> scalar_t {
            return static_cast<scalar_t>(op(CpuScalarOps{}, static_cast<opmath_t>(a), static_cast<opmath_t>(b)));
          },
          [vector_op](Vec a, Vec b) C10_ALWAYS_INLINE_ATTRIBUTE { return vec_in_opmath<scalar_t>(vector_op, a, b); });
    } else {
      static_assert(N == 3, "opmath_kernel_vec: 2 or 3 inputs");
      myops::cpu_kernel_vec(
          iter,
          [op](scalar_t a, scalar_t b, scalar_t c) -> scalar_t {
            return static_cast<scalar_t>(op(CpuScalarOps{}, static_cast<opmath_t>(a), static_cast<opmath_t>(b),
                                            static_cast<opmath_t>(c)));
          },
          [vector_op](Vec a, Vec b, Vec c) C10_ALWAYS_INLINE_ATTRIBUTE { return vec_in_opmath<scalar_t>(vector_op, a, b, c); });
    }
  });
}

// opmath_kernel_vec<2> for an op symmetric in its two inputs (op(a, b) == op(b, a): mul, add,
// muladd), where a CPU scalar input (one element broadcast, e.g. a 0-dim tensor) keeps its own
// precision: TensorIterator would first round it to the common dtype (a float32 0-dim tensor
// next to a float16 tensor: float16), which loses its digits (2.1397 -> 2.1406) or its value
// (a float32 denormal -> 0, and then inf * 0 = NaN). Like ATen's binary kernels and CUDA's
// opmath_symmetric_gpu_kernel_with_scalars (our CUDA loops), the scalar is read from the
// original tensor in the op-math type and the loop runs over the other input alone. Only for
// float16/bfloat16: for float and double the op-math type is the dtype, nothing is lost.
template <typename MakeOp>
void opmath_symmetric_kernel_vec(at::TensorIteratorBase& iter, const MakeOp& make_op) {
  const at::ScalarType dtype = iter.common_dtype();
  if (at::isReducedFloatingType(dtype)) {
    for (const int arg : {2, 1}) {  // (operand 0 is the output)
      if (!iter.is_cpu_scalar(arg)) continue;
      AT_DISPATCH_REDUCED_FLOATING_TYPES(dtype, "myops_cpu_kernel_scalar", [&] {
        using opmath_t = at::opmath_type<scalar_t>;
        using Vec = at::vec::Vectorized<scalar_t>;
        const opmath_t s = iter.original_scalar_value<opmath_t>(arg);
        iter.remove_operand(arg);
        const auto op = make_op(opmath_t{});
        const at::vec::Vectorized<opmath_t> s_vec(s);
        myops::cpu_kernel_vec(
            iter,
            [op, s](scalar_t a) -> scalar_t { return static_cast<scalar_t>(op(CpuScalarOps{}, static_cast<opmath_t>(a), s)); },
            [op, s_vec](Vec a) C10_ALWAYS_INLINE_ATTRIBUTE {
              return vec_in_opmath<scalar_t>([op, s_vec](auto x) { return op(VecOps{}, x, s_vec); }, a);
            });
      });
      return;
    }
  }
  opmath_kernel_vec<2>(iter, dtype, make_op);
}

}  // namespace CPU_CAPABILITY
}  // namespace myops
