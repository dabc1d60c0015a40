// float32 exp, expm1, tanh and log1p for the CPU kernels, written once for their vector body
// (Vectorized<float>) and their scalar tail (float), so that both give the same bits.
//
// Why not SLEEF's (what Vectorized<float>::exp()/expm1()/tanh() call, and Inductor's loops
// too): Sleef_expm1f*_u10 and Sleef_tanhf*_u10 reach 1 ulp with double-float arithmetic,
// several times the work of an exp; bias_act's tanh ran at 0.39x eager PyTorch (whose
// torch.tanh calls MKL's vector tanh) and elu/selu at 0.45x torch.compile (whose loop computes
// expm1 as exp(x) - 1, losing the relative precision near 0). SLEEF's exp is an out-of-line
// call per vector, around which the loops spill their registers. Here: one range reduction,
// one degree-7 polynomial and an exponent split, inlined. Measured error, float32, against
// float64 (4M points over the whole range plus the edges; tests/test_fast_math.py): exp
// <= 1 ulp, expm1 <= 1.5 ulp, tanh <= 2.3 ulp (SLEEF's: 1 ulp; MKL's tanh 0.6). NaN, +-inf,
// +-0, overflow to inf and denormal results (within one unit of the smallest denormal) come
// out as in PyTorch. double keeps SLEEF / libm (VecOps, CpuScalarOps in cpu_vec.h).
//
// log1p (softplus's log1p(exp(x))): SLEEF's log1pf took most of bias_act softplus's time
// (softplus 5x sigmoid's). Here: u = 1 + x split by its exponent bits, the rounding error of
// 1 + x added back, a degree-9 polynomial, no division: <= 0.91 ulp on [-1, 2^127] in a float32
// emulation of these operations (numpy); through the ops, softplus (only caller; arguments in
// [0, e^20]) measures 1.6 ulp (torch's own softplus 1.5).
//
// The polynomials use Estrin's scheme (independent pairs, then levels), not Horner's: these
// loops are bound by the latency of one vector's dependency chain, not by throughput.
#pragma once

#include <ATen/cpu/vec/vec.h>
#include <c10/macros/Macros.h>
#include <c10/util/bit_cast.h>

#include <cmath>
#include <cstdint>

#include "ops/common/gcc_intrinsics_warnings.h"

MYOPS_BEGIN_INTRINSICS_WARNINGS_OFF

namespace myops {
inline namespace CPU_CAPABILITY {
namespace fast_math {
namespace detail {

using VecF = at::vec::Vectorized<float>;
using VecI = at::vec::Vectorized<int32_t>;

// fma(a, b, c) with one rounding where the ISA has FMA (AVX2, AVX-512: both the vector and the
// scalar code use it, so they agree bit for bit). The DEFAULT build has no FMA instruction;
// there both sides compute a * b + c.
C10_ALWAYS_INLINE float fma(float a, float b, float c) {
#if defined(__FMA__)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}
C10_ALWAYS_INLINE VecF fma(const VecF& a, const VecF& b, const VecF& c) { return at::vec::fmadd(a, b, c); }

C10_ALWAYS_INLINE float round_even(float v) { return std::nearbyint(v); }  // default rounding: to even
C10_ALWAYS_INLINE VecF round_even(const VecF& v) { return v.round(); }

// min(max(v, lo), hi), NaN kept (as ScalarOps::clamp and at::vec::clamp).
C10_ALWAYS_INLINE float clamp(float v, float lo, float hi) { return v > hi ? hi : (v < lo ? lo : v); }
C10_ALWAYS_INLINE VecF clamp(const VecF& v, float lo, float hi) { return at::vec::clamp(v, VecF(lo), VecF(hi)); }

C10_ALWAYS_INLINE float sign_bit(float v) { return c10::bit_cast<float>(c10::bit_cast<uint32_t>(v) & 0x80000000u); }
C10_ALWAYS_INLINE VecF sign_bit(const VecF& v) { return v & VecF(-0.0f); }
C10_ALWAYS_INLINE float or_bits(float a, float b) { return c10::bit_cast<float>(c10::bit_cast<uint32_t>(a) | c10::bit_cast<uint32_t>(b)); }
C10_ALWAYS_INLINE VecF or_bits(const VecF& a, const VecF& b) { return a | b; }
C10_ALWAYS_INLINE float xor_bits(float a, float b) { return c10::bit_cast<float>(c10::bit_cast<uint32_t>(a) ^ c10::bit_cast<uint32_t>(b)); }
C10_ALWAYS_INLINE VecF xor_bits(const VecF& a, const VecF& b) { return a ^ b; }

// An integral-valued k as an int (NaN: 0, or INT_MIN lanes under AVX: a NaN x gives a NaN
// result whatever 2^k is).
C10_ALWAYS_INLINE int32_t to_int(float k) { return k == k ? static_cast<int32_t>(k) : 0; }
C10_ALWAYS_INLINE VecI to_int(const VecF& k) {
#if defined(CPU_CAPABILITY_AVX2) || defined(CPU_CAPABILITY_AVX512)
  return at::vec::convert_to_int_of_same_size(k);  // one instruction, NaN -> INT_MIN (no UB)
#else
  // The DEFAULT ISA converts lane by lane in C++, where NaN -> int is undefined.
  return at::vec::convert_to_int_of_same_size(VecF::blendv(k, VecF(0), k.isnan()));
#endif
}

// A float's bits as an int and back; an int's value as a float.
C10_ALWAYS_INLINE int32_t bits_of(float v) { return c10::bit_cast<int32_t>(v); }
C10_ALWAYS_INLINE VecI bits_of(const VecF& v) { return at::vec::cast<int32_t>(v); }
C10_ALWAYS_INLINE float from_bits(int32_t i) { return c10::bit_cast<float>(i); }
C10_ALWAYS_INLINE VecF from_bits(const VecI& i) { return at::vec::cast<float>(i); }
C10_ALWAYS_INLINE float to_float(int32_t i) { return static_cast<float>(i); }
C10_ALWAYS_INLINE VecF to_float(const VecI& i) { return at::vec::convert_to_fp_of_same_size<float>(i); }
C10_ALWAYS_INLINE int32_t min_int(int32_t a, int32_t b) { return a < b ? a : b; }
C10_ALWAYS_INLINE VecI min_int(const VecI& a, const VecI& b) { return at::vec::minimum(a, b); }

// 2^e for an int e in [-126, 127], built from its exponent bits.
C10_ALWAYS_INLINE float pow2_bits(int32_t e) { return c10::bit_cast<float>(static_cast<uint32_t>(e + 127) << 23); }
C10_ALWAYS_INLINE VecF pow2_bits(const VecI& e) { return at::vec::cast<float>((e + VecI(127)) << VecI(23)); }

// 2^k as two factors t1 * t2 (k1 = floor(k / 2), k2 = k - k1) and 1 / t2, for an integral k in
// [-150, 130]: each factor stays a normal float, so 2^k * m overflows to inf and underflows to a
// denormal or 0 the way the exact product rounds, with no special case.
template <typename V>
struct Pow2 {
  V t1, t2, inv_t2;
};
template <typename V>
C10_ALWAYS_INLINE Pow2<V> pow2_split(const V& k) {
  using I = decltype(to_int(k));
  const I ki = to_int(k);
  const I k1 = ki >> I(1), k2 = ki - k1;  // (arithmetic shift: floor)
  return {pow2_bits(k1), pow2_bits(k2), pow2_bits(I(0) - k2)};
}

// expm1 on [-ln2 / 2, ln2 / 2]: r + r^2 (1/2 + c3 r + ... + c7 r^5), coefficients fitted for
// relative error (least squares reweighted towards minimax on Chebyshev nodes; the fit's own
// error is 0.004 ulp, the rest is float rounding). r + r^2 q keeps r exact for tiny r.
// (Estrin's scheme: three independent pairs, then two levels; see log1p_reduced_tail.)
template <typename V>
C10_ALWAYS_INLINE V expm1_reduced(const V& r) {
  const V r2 = r * r;
  const V q01 = fma(V(1.66666657e-1f), r, V(0.5f));
  const V q23 = fma(V(8.33338965e-3f), r, V(4.16663624e-2f));
  const V q45 = fma(V(1.98458758e-4f), r, V(1.39406172e-3f));
  return fma(r2, fma(fma(q45, r2, q23), r2, q01), r);
}

// x = k ln2 + r with k integral, |r| <= ln2 / 2; returns k and p = expm1(r).
template <typename V>
struct Reduced {
  V k, p;
};
template <typename V>
C10_ALWAYS_INLINE Reduced<V> reduce(const V& x) {
  const V k = round_even(x * V(1.44269504f));  // x / ln2
  // ln2 in two parts: k * 0.693359375 is exact for |k| < 2^15 (its 9 significant bits).
  V r = fma(k, V(-0.693359375f), x);
  r = fma(k, V(2.12194440e-4f), r);
  return {k, expm1_reduced(r)};
}

// expm1(x) = 2^k (1 + p) - 1 for x in [-30, 90] (or NaN), as t2 (t1 p + (t1 - 1 / t2)):
// t1 - 1/t2 is exact for |k| <= 24 (and 1 / t2 swamped beyond), so k = 0 gives p itself and
// small results keep their relative precision.
template <typename V>
C10_ALWAYS_INLINE V expm1_in_range(const V& x) {
  const Reduced<V> x_ = reduce(x);
  const Pow2<V> s = pow2_split(x_.k);
  return fma(s.t1, x_.p, s.t1 - s.inv_t2) * s.t2;
}

// The same for x in [0, 19] (or NaN), where 2^k (k <= 28) is one normal float: what tanh needs,
// five instructions shorter.
template <typename V>
C10_ALWAYS_INLINE V expm1_nonnegative_small(const V& x) {
  const Reduced<V> x_ = reduce(x);
  const V t = pow2_bits(to_int(x_.k));
  return fma(t, x_.p, t - V(1.0f));
}

// log(1 + f) - f + lo for f in [sqrt(1/2) - 1, sqrt(2) - 1], as f^2 (f q(f) - 1/2) + lo: q's
// coefficients fitted for the relative error of log(1 + f) as the expm1 ones were (fit error
// 0.1 ulp). lo: the small terms of log1p, added inside the last fma.
template <typename V>
C10_ALWAYS_INLINE V log1p_reduced_tail(const V& f, const V& lo) {
  // Estrin's scheme: four independent pairs, then two levels (the loops are latency-bound:
  // with Horner's chain of eight fmas, bias_act softplus took 1.3x as long).
  const V f2 = f * f, f4 = f2 * f2;
  const V q01 = fma(V(-2.50008196e-1f), f, V(3.33333313e-1f));
  const V q23 = fma(V(-1.66233569e-1f), f, V(2.00012267e-1f));
  const V q45 = fma(V(-1.31601900e-1f), f, V(1.42017603e-1f));
  const V q67 = fma(V(-7.63446018e-2f), f, V(1.27615631e-1f));
  const V q = fma(fma(q67, f2, q45), f4, fma(q23, f2, q01));
  return fma(f2, fma(q, f, V(-0.5f)), lo);
}

// u where u > 0, else 1 (NaN too): keeps the exponent arithmetic of log1p below in range for
// every input (no signed overflow in the scalar code); those lanes are replaced at the end.
C10_ALWAYS_INLINE float positive_or_one(float u) { return u > 0.0f ? u : 1.0f; }
C10_ALWAYS_INLINE VecF positive_or_one(const VecF& u) { return VecF::blendv(VecF(1.0f), u, u > VecF(0.0f)); }

// log1p's results for u = 1 + x outside (0, inf) (-inf at 0, NaN below, inf at inf) in place
// of r. The mask and values depend on u alone, so they are ready long before r: one blend on
// the critical path, not three.
C10_ALWAYS_INLINE float log1p_edges(float u, float r) {
  return u == INFINITY ? u : u == 0.0f ? -INFINITY : u < 0.0f ? NAN : r;
}
C10_ALWAYS_INLINE VecF log1p_edges(const VecF& u, const VecF& r) {
  const VecF edge = VecF::blendv(VecF::blendv(u, VecF(-INFINITY), u == VecF(0.0f)), VecF(NAN), u < VecF(0.0f));
  return VecF::blendv(r, edge, (u <= VecF(0.0f)) | (u == VecF(INFINITY)));
}

}  // namespace detail

// exp for float and Vectorized<float>: 2^k (1 + p) = t2 (t1 p + t1). x is clamped to
// [-104, 89], where exp is 0 (below half the smallest denormal) and inf in float already.
template <typename V>
C10_ALWAYS_INLINE V exp(const V& x) {
  using namespace detail;
  const Reduced<V> x_ = reduce(clamp(x, -104.0f, 89.0f));
  const Pow2<V> s = pow2_split(x_.k);
  return fma(s.t1, x_.p, s.t1) * s.t2;
}

// expm1 for float and Vectorized<float>. Below -30 it is -1 in float (expm1(-17.4) already
// rounds to -1); above 90 it is inf (from 88.73). expm1 has x's sign: or-ing it back keeps -0.
template <typename V>
C10_ALWAYS_INLINE V expm1(const V& x) {
  using namespace detail;
  return or_bits(expm1_in_range(clamp(x, -30.0f, 90.0f)), sign_bit(x));
}

// tanh(x) = sign(x) e / (e + 2) with e = expm1(2|x|); |x| is capped at 9.1, where tanh rounds
// to 1 in float (e stays finite, so no inf / inf).
template <typename V>
C10_ALWAYS_INLINE V tanh(const V& x) {
  using namespace detail;
  const V sign = sign_bit(x);
  const V a = clamp(xor_bits(x, sign), 0.0f, 9.1f);
  const V e = expm1_nonnegative_small(a + a);
  return or_bits(e / (e + V(2.0f)), sign);
}

// log1p for float and Vectorized<float> (<= 0.91 ulp on [-1, 2^127]: see the top of the file).
// u = 1 + x = 2^k m with m in [sqrt(1/2), sqrt(2)) (from u's bits, as musl's log1pf does);
// log1p(x) = k ln2 + log(m) + c / u, where c = x - (u - 1) is the rounding error of 1 + x
// (exact for |x| < 2^24; beyond, c / u is below float's precision of the result). c / u is
// taken as c 2^-k (1 - f + f^2), f = m - 1: no division. log1p has x's sign (-0 kept).
template <typename V>
C10_ALWAYS_INLINE V log1p(const V& x) {
  using namespace detail;
  using I = decltype(bits_of(x));
  const V u = x + V(1.0f);
  const V c = x - (u - V(1.0f));
  // Adding bits(1) - bits(sqrt(1/2)) to u's bits carries into the exponent exactly when
  // m = u / 2^k would be >= sqrt(2).
  const I shifted = bits_of(positive_or_one(u)) + I(0x3f800000 - 0x3f3504f3);
  const I k = (shifted >> I(23)) - I(127);
  const V f = from_bits((shifted & I(0x007fffff)) + I(0x3f3504f3)) - V(1.0f);
  // c / u: 2^-k from exponent bits (k capped at 126: c / u is far below the result there).
  const V c_over_u = c * pow2_bits(I(0) - min_int(k, I(126))) * fma(f, f - V(1.0f), V(1.0f));
  const V kf = to_float(k);
  const V lo = fma(kf, V(-2.12194440e-4f), c_over_u);  // k (ln2 - 0.693359375): ln2's low part
  const V r = fma(kf, V(0.693359375f), f + log1p_reduced_tail(f, lo));
  return or_bits(log1p_edges(u, r), sign_bit(x));
}

}  // namespace fast_math
}  // namespace CPU_CAPABILITY
}  // namespace myops

MYOPS_END_INTRINSICS_WARNINGS_OFF
