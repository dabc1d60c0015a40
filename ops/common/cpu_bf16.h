// bfloat16 rounding of AVX-512 float vectors, written once for the loops that store bfloat16
// themselves (ops/common/cpu_vec.h's narrow_floats, upfirdn2d's channels_last taps). Included
// only from files compiled once per ISA; empty unless the ISA is AVX-512.
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

}  // namespace CPU_CAPABILITY
}  // namespace myops
