// The one style in which every family writes its math once for every backend (<op>_math.h):
// a function template on
//   O: the "ops" for what plain arithmetic cannot express (exp, tanh, select, ...):
//      ScalarOps below (float/double, host and device), or VecOps (ops/common/cpu_vec.h) for
//      at::vec::Vectorized values in the CPU kernels, so the vector loop runs the same code;
//   V: the value type, float/double or Vectorized<float/double> (already the op-math type).
// Comparisons (`v > zero`) give bool for scalars and a lane mask for vectors; O::select turns
// either into a value. Math that needs nothing but arithmetic takes no O.
//
// The unnamed namespace gives each translation unit its own copy: a CPU kernel file is compiled
// once per ISA (DEFAULT, AVX2, AVX512), and one shared (COMDAT) copy compiled with -mavx512f
// could otherwise be picked by the linker for the DEFAULT kernels too. Every <op>_math.h puts
// its functions in an unnamed namespace for the same reason.
#pragma once

#include <c10/macros/Macros.h>

#include <math.h>

namespace myops {
namespace {

// float/double on the host and on the GPU. The C names (expf, ...) exist in both places and
// leave no doubt about which overload runs.
struct ScalarOps {
  C10_HOST_DEVICE static float exp(float x) { return ::expf(x); }
  C10_HOST_DEVICE static double exp(double x) { return ::exp(x); }
  C10_HOST_DEVICE static float expm1(float x) { return ::expm1f(x); }
  C10_HOST_DEVICE static double expm1(double x) { return ::expm1(x); }
  C10_HOST_DEVICE static float log1p(float x) { return ::log1pf(x); }
  C10_HOST_DEVICE static double log1p(double x) { return ::log1p(x); }
  C10_HOST_DEVICE static float tanh(float x) { return ::tanhf(x); }
  C10_HOST_DEVICE static double tanh(double x) { return ::tanh(x); }
  C10_HOST_DEVICE static float abs(float x) { return ::fabsf(x); }
  C10_HOST_DEVICE static double abs(double x) { return ::fabs(x); }
  template <typename V>
  C10_HOST_DEVICE static V select(bool mask, V if_true, V if_false) { return mask ? if_true : if_false; }
  // min(max(v, lo), hi) with NaN kept (both comparisons are false), as VecOps::clamp does.
  template <typename V>
  C10_HOST_DEVICE static V clamp(V v, V lo, V hi) { return v > hi ? hi : (v < lo ? lo : v); }
};

}  // namespace
}  // namespace myops
