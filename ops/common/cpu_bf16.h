// bfloat16 rounding of AVX-512 and AVX2 float vectors, written once for the loops that store
// bfloat16 themselves (ops/common/cpu_vec.h's narrow_floats, upfirdn2d's channels_last taps).
// Included only from files compiled once per ISA; empty unless the ISA is AVX-512 or AVX2.
#pragma once

#include <ATen/cpu/vec/vec.h>

#include "ops/common/gcc_intrinsics_warnings.h"

namespace myops {
inline namespace CPU_CAPABILITY {

#if defined(CPU_CAPABILITY_AVX512)
MYOPS_BEGIN_INTRINSICS_WARNINGS_OFF
// Each float lane rounded to bfloat16 as ATen's cvtfp32_bf16 rounds (to nearest even: add
// 0x7fff plus the lowest kept bit; NaN -> 0xffff), the 16-bit result in the lane's low half
// (ready for _mm512_packus_epi32). Always inlined: ATen's own function was kept out of line by
// GCC in larger loops (a call per vector, the live vectors spilled around it).
C10_ALWAYS_INLINE __m512i round_to_bf16_lanes(__m512 f) {
  const __m512i bits = _mm512_castps_si512(f);
  const __m512i lowest_kept = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  const __m512i rounded =
      _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(lowest_kept, _mm512_set1_epi32(0x7fff))), 16);
  return _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(f, f, _CMP_ORD_Q), _mm512_set1_epi32(0xffff), rounded);
}
MYOPS_END_INTRINSICS_WARNINGS_OFF
#endif

#if defined(CPU_CAPABILITY_AVX2)
MYOPS_BEGIN_INTRINSICS_WARNINGS_OFF
// 8 float lanes rounded to bfloat16 as ATen's AVX2 cvtfp32_bf16 rounds (the same steps), packed
// into the 8 16-bit values of a __m128i. Always inlined, for the same reason: once upfirdn2d's
// bfloat16 loops had a translation unit of their own (upfirdn2d_cpu_dtypes.h), GCC called
// ATen's out of line in TapRuns' loops (17% of a masked bfloat16 down's time, 0.88x).
C10_ALWAYS_INLINE __m128i round_to_bf16_avx2(__m256 f) {
  const __m256i bits = _mm256_castps_si256(f);
  const __m256i lowest_kept = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
  __m256i rounded =
      _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(lowest_kept, _mm256_set1_epi32(0x7fff)), bits), 16);
  const __m256i not_nan = _mm256_castps_si256(_mm256_cmp_ps(f, f, _CMP_ORD_Q));
  rounded = _mm256_blendv_epi8(_mm256_set1_epi32(0xffff), rounded, not_nan);
  // (packus pairs the two 128-bit halves per lane; the permute puts lanes 0-7 in order)
  return _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packus_epi32(rounded, rounded), 0xd8));
}
MYOPS_END_INTRINSICS_WARNINGS_OFF
#endif

}  // namespace CPU_CAPABILITY
}  // namespace myops
