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

template <typename T>
C10_HOST_DEVICE inline T muladd(T a, T b, T c) { return a * b + c; }

template <typename T>
C10_HOST_DEVICE inline T mul(T a, T b) { return a * b; }

template <typename T>
C10_HOST_DEVICE inline T add(T a, T b) { return a + b; }

}  // namespace
}  // namespace myops::ops::elementwise::math
