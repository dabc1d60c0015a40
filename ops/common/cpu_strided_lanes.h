// Every S-th value of a row (S = 2 .. kMaxLaneStride: 7, AVX2 3) moved in and out of a vector's
// L lanes a vector at a time: S masked loads (or stores) and S permutes per L values, instead
// of L scalar moves. For rows whose pixels are a few values apart: a channel of a
// channels_last image with a few channels (RGB, RGBA), which upfirdn2d's and filtered_lrelu's
// row paths read and write one channel at a time (upfirdn2d_cpu_rows.h's load_row /
// store_row). The masks select only the row's own values: the values between them (the
// pixel's other channels, which another thread may be writing) are neither read nor written,
// and nothing past the last one can fault. Values are widened and rounded as PartialLanes does
// (cpu_partial_lanes.h), so a lane gets the same bits either way.
// Where the ISA has the permutes and masks (has_strided_lanes): AVX-512 for float, float16 and
// bfloat16 (AVX512BW's 16-bit permutes and masks), AVX2 for float only. Included only from
// files compiled once per ISA.
#pragma once

#include <ATen/cpu/vec/vec.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <array>
#include <cstdint>
#include <type_traits>

#include "ops/common/cpu_partial_lanes.h"
#include "ops/common/gcc_intrinsics_warnings.h"

namespace myops {
inline namespace CPU_CAPABILITY {

// The largest stride StridedLanes serves: AVX-512 7 (the most channels that take the strided rows
// there, float16/bfloat16's: upfirdn2d_cpu_channels_last.h), AVX2 3 (at stride 4 its 8 lanes
// take 4 masked stores of 2 values each, and a channels_last [4, 4, 128, 128] float up / down
// ran 0.95x the scalar moves' speed; 2 and 3 channels 1.1-1.4x).
#if defined(CPU_CAPABILITY_AVX512)
constexpr int kMaxLaneStride = 7;
#else
constexpr int kMaxLaneStride = 3;
#endif

// Whether StridedLanes<acc_t, T, S> exists on this ISA.
template <typename acc_t, typename T>
constexpr bool has_strided_lanes() {
#if defined(CPU_CAPABILITY_AVX512)
  return std::is_same_v<acc_t, float> &&
         (std::is_same_v<T, float> || std::is_same_v<T, c10::BFloat16> || std::is_same_v<T, c10::Half>);
#elif defined(CPU_CAPABILITY_AVX2)
  return std::is_same_v<acc_t, float> && std::is_same_v<T, float>;
#else
  return false;
#endif
}

// Values p[0], p[S], ..., p[(L - 1)·S] of T as one Vectorized<acc_t> (L: its lanes). Declared
// on every ISA, defined where has_strided_lanes (load/store_strided_lanes below only make it
// there).
template <typename acc_t, typename T, int S>
class StridedLanes;

#if defined(CPU_CAPABILITY_AVX512) || defined(CPU_CAPABILITY_AVX2)
MYOPS_BEGIN_INTRINSICS_WARNINGS_OFF

// Which lanes move where, for L values S apart. The L values span S vectors of memory ("parts",
// L lanes each): memory lane j of part k holds the row's value (kL + j) / S when (kL + j) % S
// is 0. Storing: part k gets the value vector permuted by store_index[k], under store_mask[k].
// Loading: part k is loaded under store_mask[k] and its lanes permuted by load_index[k] into
// the value lanes of load_mask[k].
template <int L, int S>
struct StridedLaneTables {
  std::array<std::array<int32_t, L>, S> store_index{}, load_index{};
  std::array<uint32_t, S> store_mask{}, load_mask{};

  static constexpr StridedLaneTables make() {
    StridedLaneTables t{};
    for (int k = 0; k < S; ++k) {
      for (int j = 0; j < L; ++j) {
        const int e = k * L + j;  // memory lane j of part k
        t.store_index[k][j] = e / S;
        if (e % S == 0) t.store_mask[k] |= 1u << j;
      }
    }
    for (int i = 0; i < L; ++i) {  // value lane i is memory lane S·i
      t.load_index[(S * i) / L][i] = (S * i) % L;
      t.load_mask[(S * i) / L] |= 1u << i;
    }
    return t;
  }
};

template <typename acc_t, typename T, int S>
class StridedLanes {
  static_assert(has_strided_lanes<acc_t, T>(), "StridedLanes: no strided lanes of T on this ISA");
  static_assert(S >= 2 && S <= kMaxLaneStride, "StridedLanes: strides 2..kMaxLaneStride");
  using Vec = at::vec::Vectorized<acc_t>;
  static constexpr int L = Vec::size();
  static constexpr StridedLaneTables<L, S> kTables = StridedLaneTables<L, S>::make();

 public:
  StridedLanes() {
    for (int k = 0; k < S; ++k) {
      store_index_[k] = index_vector(kTables.store_index[k]);
      load_index_[k] = index_vector(kTables.load_index[k]);
#if defined(CPU_CAPABILITY_AVX512)
      store_mask_[k] = static_cast<__mmask16>(kTables.store_mask[k]);
      load_mask_[k] = static_cast<__mmask16>(kTables.load_mask[k]);
#else
      store_mask_[k] = lanes_of_bits_avx2(kTables.store_mask[k]);
      load_mask_[k] = _mm256_castsi256_ps(lanes_of_bits_avx2(kTables.load_mask[k]));
#endif
    }
  }

  C10_ALWAYS_INLINE Vec load(const T* p) const {
#if defined(CPU_CAPABILITY_AVX512)
    if constexpr (std::is_same_v<T, float>) {
      __m512 v = _mm512_setzero_ps();
      for (int k = 0; k < S; ++k) {
        v = _mm512_mask_permutexvar_ps(v, load_mask_[k], load_index_[k], _mm512_maskz_loadu_ps(store_mask_[k], p + k * L));
      }
      return v;
    } else {
      __m256i h = _mm256_setzero_si256();
      for (int k = 0; k < S; ++k) {
        h = _mm256_mask_permutexvar_epi16(h, load_mask_[k], index16(load_index_[k]),
                                          _mm256_maskz_loadu_epi16(store_mask_[k], p + k * L));
      }
      return widen_16bit_lanes<T>(h);
    }
#else
    __m256 v = _mm256_setzero_ps();
    for (int k = 0; k < S; ++k) {
      const __m256 part = _mm256_maskload_ps(p + k * L, store_mask_[k]);
      v = _mm256_blendv_ps(v, _mm256_permutevar8x32_ps(part, load_index_[k]), load_mask_[k]);
    }
    return v;
#endif
  }

  C10_ALWAYS_INLINE void store(const Vec& v, T* p) const {
#if defined(CPU_CAPABILITY_AVX512)
    if constexpr (std::is_same_v<T, float>) {
      for (int k = 0; k < S; ++k) _mm512_mask_storeu_ps(p + k * L, store_mask_[k], _mm512_permutexvar_ps(store_index_[k], v));
    } else {
      const __m256i h = narrow_to_16bit_lanes<T>(v);
      for (int k = 0; k < S; ++k) {
        _mm256_mask_storeu_epi16(p + k * L, store_mask_[k], _mm256_permutexvar_epi16(index16(store_index_[k]), h));
      }
    }
#else
    for (int k = 0; k < S; ++k) _mm256_maskstore_ps(p + k * L, store_mask_[k], _mm256_permutevar8x32_ps(v, store_index_[k]));
#endif
  }

 private:
#if defined(CPU_CAPABILITY_AVX512)
  // (float lanes are indexed by 32-bit lanes; 16-bit values, 16 of them in a __m256i, by the
  // 16-bit lanes of the index's low half: index16)
  using Index = __m512i;
  using Mask = __mmask16;
  using LoadMask = __mmask16;
  static Index index_vector(const std::array<int32_t, L>& lanes) {
    const __m512i index = _mm512_loadu_si512(lanes.data());
    if constexpr (std::is_same_v<T, float>) {
      return index;
    } else {
      return _mm512_castsi256_si512(_mm512_cvtepi32_epi16(index));
    }
  }
  static __m256i index16(const Index& index) { return _mm512_castsi512_si256(index); }
#else
  using Index = __m256i;
  using Mask = __m256i;      // (maskload/maskstore read the lanes' sign bits)
  using LoadMask = __m256;   // (blendv too)
  static Index index_vector(const std::array<int32_t, L>& lanes) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lanes.data()));
  }
#endif
  Index store_index_[S], load_index_[S];
  Mask store_mask_[S];
  LoadMask load_mask_[S];
};

MYOPS_END_INTRINSICS_WARNINGS_OFF
#endif

// f(std::integral_constant<int, S>()) for a stride S of 2..kMaxLaneStride, else 0.
template <typename F>
C10_ALWAYS_INLINE int64_t with_lane_stride(int64_t stride, const F& f) {
  switch (stride) {
    case 2: return f(std::integral_constant<int, 2>());
    case 3: return f(std::integral_constant<int, 3>());
    case 4:
      if constexpr (kMaxLaneStride >= 4) return f(std::integral_constant<int, 4>());
      break;
    case 5:
      if constexpr (kMaxLaneStride >= 5) return f(std::integral_constant<int, 5>());
      break;
    case 6:
      if constexpr (kMaxLaneStride >= 6) return f(std::integral_constant<int, 6>());
      break;
    case 7:
      if constexpr (kMaxLaneStride >= 7) return f(std::integral_constant<int, 7>());
      break;
    default: break;
  }
  return 0;
}

// The first values of a row `stride` apart moved a vector at a time, whole vectors only: n
// values p[0], p[stride], ... loaded into dst[0..n) (load_strided_lanes), or src[0..n) stored to
// them (store_strided_lanes). Each returns how many it moved, a multiple of the lanes (the
// caller moves the rest one value at a time): 0 where the stride is not 2..kMaxLaneStride or the
// ISA has no strided lanes of T. (Plain arguments: a functor passed by value through a call
// that was not inlined was spilled and reloaded around every call, one per row.)
template <typename acc_t, typename T>
int64_t load_strided_lanes(const T* p, int64_t stride, int64_t n, acc_t* dst) {
  if constexpr (has_strided_lanes<acc_t, T>()) {
    return with_lane_stride(stride, [&](auto s) {
      constexpr int S = decltype(s)::value, L = at::vec::Vectorized<acc_t>::size();
      const StridedLanes<acc_t, T, S> lanes;
      int64_t i = 0;
      for (; i + L <= n; i += L) lanes.load(p + i * S).store(dst + i);
      return i;
    });
  }
  return 0;
}

template <typename acc_t, typename T>
int64_t store_strided_lanes(const acc_t* src, T* p, int64_t stride, int64_t n) {
  if constexpr (has_strided_lanes<acc_t, T>()) {
    return with_lane_stride(stride, [&](auto s) {
      constexpr int S = decltype(s)::value, L = at::vec::Vectorized<acc_t>::size();
      const StridedLanes<acc_t, T, S> lanes;
      int64_t i = 0;
      for (; i + L <= n; i += L) lanes.store(at::vec::Vectorized<acc_t>::loadu(src + i), p + i * S);
      return i;
    });
  }
  return 0;
}

}  // namespace CPU_CAPABILITY
}  // namespace myops
