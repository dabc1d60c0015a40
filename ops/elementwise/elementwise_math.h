// The scalar math of muladd, mul and add, written once for every backend: instantiated with
// float/double on the CPU (scalar loop), with at::vec::Vectorized<float/double> on the CPU
// (vector loop) and with float/double on the GPU. Inputs are already in the op-math type.
// The unnamed namespace gives each translation unit its own copy: the CPU kernel file is
// compiled once per ISA (DEFAULT, AVX2, AVX512), and one shared (COMDAT) copy compiled with
// -mavx512f could otherwise be picked by the linker for the DEFAULT kernels too.
#pragma once

#include <c10/macros/Macros.h>

namespace myops::ops::elementwise::math {
namespace {

#if defined(__CUDA_ARCH__)
// The product rounded on its own: nvcc contracts `a * b + c` into one fma by default
// (--fmad=true), and __fmul_rn/__dmul_rn are never contracted.
C10_DEVICE inline float mul_rounded(float a, float b) { return __fmul_rn(a, b); }
C10_DEVICE inline double mul_rounded(double a, double b) { return __dmul_rn(a, b); }
#endif

// a * b + c with two roundings, as PyTorch's a * b + c and the reference compute it, on every
// backend and CPU ISA alike. A fused multiply-add (one rounding) would differ from them: in
// the last bit where c cancels a * b, and where a * b overflows (-inf + inf = NaN, but the fused
// value is finite or inf). The per-ISA CPU kernels are compiled with -ffp-contract=off
// (cmake/MyopsCpuIsa.cmake): GCC would fuse it in the AVX2/AVX-512 copies, not in DEFAULT.
template <typename T>
C10_HOST_DEVICE inline T muladd(T a, T b, T c) {
#if defined(__CUDA_ARCH__)
  return mul_rounded(a, b) + c;
#else
  return a * b + c;
#endif
}

template <typename T>
C10_HOST_DEVICE inline T mul(T a, T b) { return a * b; }

template <typename T>
C10_HOST_DEVICE inline T add(T a, T b) { return a + b; }

}  // namespace
}  // namespace myops::ops::elementwise::math
