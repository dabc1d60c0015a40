// The first n of a vector's L lanes (0 < n <= L), loaded from and stored to a tensor's values with
// masked loads and stores (AVX2's stores in pieces: store_first_lanes_avx2): the lanes past n
// load as zero, and the memory past the n values is neither read, nor written, nor able to
// fault. For loops whose rows are narrower than a vector and must not touch their neighbours'
// values (upfirdn2d's channels_last pixels of fewer channels than lanes: a pixel's C values,
// then the next pixel's). Values are widened and rounded as ops/upfirdn2d's load_lanes /
// store_lanes do (exact widening; float16/bfloat16 rounded once, as ATen rounds:
// round_to_bf16_lanes, cvtps_ph), so a lane gets the same bits either way.
// Where the ISA has masked loads and stores for T (has_partial_lanes): AVX-512 for float,
// double, float16 and bfloat16 (AVX512BW's 16-bit masks), AVX2 for float only (it has no
// 16-bit masked load or store, and its 4 double lanes are never half-filled by more than the 4
// channels upfirdn2d reads as strided rows). Included only from files compiled once per ISA.
#pragma once

#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>
#include <type_traits>

#include "ops/common/cpu_bf16.h"

namespace myops {
inline namespace CPU_CAPABILITY {

// Whether PartialLanes<acc_t, T> exists on this ISA.
template <typename acc_t, typename T>
constexpr bool has_partial_lanes() {
#if defined(CPU_CAPABILITY_AVX512)
  return std::is_same_v<T, acc_t> || (std::is_same_v<acc_t, float> && (std::is_same_v<T, c10::BFloat16> ||
                                                                        std::is_same_v<T, c10::Half>));
#elif defined(CPU_CAPABILITY_AVX2)
  return std::is_same_v<T, acc_t> && std::is_same_v<T, float>;
#else
  return false;
#endif
}

// Whether PartialLanes<acc_t, T>::store is as cheap as a whole store: AVX-512's masked stores
// are; AVX2's are up to three stores (store_first_lanes_avx2: its masked store is microcoded on
// AMD's Zen cores), so loops that can store whole vectors in order, each overwritten by the
// next, do that there instead.
template <typename acc_t, typename T>
constexpr bool has_cheap_partial_stores() {
#if defined(CPU_CAPABILITY_AVX512)
  return has_partial_lanes<acc_t, T>();
#else
  return false;
#endif
}

#if defined(CPU_CAPABILITY_AVX2)
// AVX2 masks of 8 32-bit lanes (maskload, maskstore and blendv read each lane's sign bit): the
// first n lanes, or the lanes whose bits are set in `bits`.
C10_ALWAYS_INLINE __m256i first_lanes_avx2(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
C10_ALWAYS_INLINE __m256i lanes_of_bits_avx2(uint32_t bits) {
  const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(static_cast<int>(bits)), bit), bit);
}

// The first n of v's lanes (0 < n <= 8 floats, 4 doubles) stored at p, nothing past them
// written. Not with AVX2's masked store (vmaskmovps / vmaskmovpd), which AMD's Zen cores
// microcode (an AMD EPYC spent 87% of a channels_last upfirdn2d up on it): at most one store
// of each of 4, 2 and 1 lanes (or 2 and 1 doubles), by n's bits. Loops store with the same n
// again and again (a row's tail, a pixel's channels), so the branches predict.
C10_ALWAYS_INLINE void store_first_lanes_avx2(float* p, __m256 v, int64_t n) {
  if (n >= 8) {
    _mm256_storeu_ps(p, v);
    return;
  }
  __m128 part = _mm256_castps256_ps128(v);
  if (n & 4) {
    _mm_storeu_ps(p, part);
    part = _mm256_extractf128_ps(v, 1);
    p += 4;
  }
  if (n & 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(p), part);
    part = _mm_movehl_ps(part, part);
    p += 2;
  }
  if (n & 1) _mm_store_ss(p, part);
}
C10_ALWAYS_INLINE void store_first_lanes_avx2(double* p, __m256d v, int64_t n) {
  if (n >= 4) {
    _mm256_storeu_pd(p, v);
    return;
  }
  __m128d part = _mm256_castpd256_pd128(v);
  if (n & 2) {
    _mm_storeu_pd(p, part);
    part = _mm256_extractf128_pd(v, 1);
    p += 2;
  }
  if (n & 1) _mm_store_sd(p, part);
}
#endif

#if defined(CPU_CAPABILITY_AVX512)
// 16 float16/bfloat16 values (a __m256i) widened to 16 float lanes, exactly.
template <typename T>
C10_ALWAYS_INLINE __m512 widen_16bit_lanes(__m256i h) {
  if constexpr (std::is_same_v<T, c10::BFloat16>) {  // (a bfloat16 is a float's high half)
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  } else {
    return _mm512_cvtph_ps(h);
  }
}

// 16 float lanes rounded to float16/bfloat16 as ATen rounds (round_to_bf16_lanes; ATen's
// cvtfp32_fp16), packed into a __m256i.
template <typename T>
C10_ALWAYS_INLINE __m256i narrow_to_16bit_lanes(__m512 v) {
  if constexpr (std::is_same_v<T, c10::BFloat16>) {  // (each lane's low 16 bits)
    return _mm512_cvtepi32_epi16(round_to_bf16_lanes(v));
  } else {
    return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
}
#endif

// The first n lanes of Vectorized<acc_t> over values of T (the mask is made once, for every
// load and store of a loop). Declared on every ISA, defined where has_partial_lanes: callers
// use it under `if constexpr (has_partial_lanes<...>())`.
template <typename acc_t, typename T>
class PartialLanes;

#if defined(CPU_CAPABILITY_AVX512) || defined(CPU_CAPABILITY_AVX2)

template <typename acc_t, typename T>
class PartialLanes {
  static_assert(has_partial_lanes<acc_t, T>(), "PartialLanes: no masked loads and stores of T on this ISA");
  using Vec = at::vec::Vectorized<acc_t>;

 public:
  explicit PartialLanes(int n) {
#if defined(CPU_CAPABILITY_AVX512)
    mask_ = static_cast<Mask>((1u << n) - 1);
#else
    mask_ = first_lanes_avx2(n);
    n_ = n;
#endif
  }

  C10_ALWAYS_INLINE Vec load(const T* p) const {
#if defined(CPU_CAPABILITY_AVX512)
    if constexpr (std::is_same_v<T, float>) {
      return _mm512_maskz_loadu_ps(mask_, p);
    } else if constexpr (std::is_same_v<T, double>) {
      return _mm512_maskz_loadu_pd(mask_, p);
    } else {
      return widen_16bit_lanes<T>(_mm256_maskz_loadu_epi16(mask_, p));
    }
#else
    return _mm256_maskload_ps(p, mask_);
#endif
  }

  C10_ALWAYS_INLINE void store(const Vec& v, T* p) const {
#if defined(CPU_CAPABILITY_AVX512)
    if constexpr (std::is_same_v<T, float>) {
      _mm512_mask_storeu_ps(p, mask_, v);
    } else if constexpr (std::is_same_v<T, double>) {
      _mm512_mask_storeu_pd(p, mask_, v);
    } else {
      _mm256_mask_storeu_epi16(p, mask_, narrow_to_16bit_lanes<T>(v));
    }
#else
    store_first_lanes_avx2(p, v, n_);
#endif
  }

 private:
#if defined(CPU_CAPABILITY_AVX512)
  using Mask = std::conditional_t<std::is_same_v<acc_t, double>, __mmask8, __mmask16>;
#else
  using Mask = __m256i;
  int n_;  // (the stores' lane count)
#endif
  Mask mask_;
};

#endif

}  // namespace CPU_CAPABILITY
}  // namespace myops
