// C op-math rows of n values stored as one row of n pixels of C interleaved channels (the
// output rows of a channels_last float32 image with a few channels): dst[p·C + c] =
// src[c·plane_stride + p]. Where the ISA has the permutes (has_interleaved_rows: AVX-512 and
// AVX2, float32), every output vector is built in registers from the C rows (C loads, C
// permutes into the lanes that channel owns) and stored whole: one store per vector. Storing
// each channel's row on its own (store_row: masked strided lanes, or a value at a time) wrote
// every output vector C times, most of those masked stores split across two cache lines: a
// channels_last float32 up of 4-6 channels took 2.4-3.2x its NCHW time on AVX-512.
// (float16/bfloat16 were tried the same way, rounding each vector as the strided lanes do: no
// faster than their strided stores, which move half the bytes (0.86-1.16x, AVX-512, the 2-D
// filter's up and down); not used.) Data movement only: the same values, so the same bits as
// the planar layouts. Included only from files compiled once per ISA.
#pragma once

#include <ATen/cpu/vec/vec.h>
#include <c10/util/Exception.h>

#include <array>
#include <cstdint>
#include <numeric>
#include <type_traits>

#include "ops/common/cpu_partial_lanes.h"  // (AVX2 lane masks)
#include "ops/common/gcc_intrinsics_warnings.h"

namespace myops {
inline namespace CPU_CAPABILITY {

template <typename acc_t, typename T>
constexpr bool has_interleaved_rows() {
#if defined(CPU_CAPABILITY_AVX512) || defined(CPU_CAPABILITY_AVX2)
  return std::is_same_v<acc_t, float> && std::is_same_v<T, float>;
#else
  return false;
#endif
}

// The channel counts store_interleaved_rows serves, where has_interleaved_rows: AVX-512 2 .. 7.
// AVX2 2 and 4 only: at 3 channels its 8 lanes repeat every 3 vectors, so its tables (9 index
// and 9 mask vectors) outnumber the 16 registers, and a channels_last float32 [4, 3, 128, 128]
// down / blur / separable blur ran 0.82 / 0.88 / 0.92x the strided stores' speed (up 1.05x);
// at 2 and 4 channels 0.95-1.27x (the ups 1.27x).
constexpr bool interleaves_channels(int64_t C) {
#if defined(CPU_CAPABILITY_AVX512)
  return C >= 2 && C <= 7;
#else
  return C == 2 || C == 4;
#endif
}

#if defined(CPU_CAPABILITY_AVX512) || defined(CPU_CAPABILITY_AVX2)
MYOPS_BEGIN_INTRINSICS_WARNINGS_OFF

// Output vector k (values kL .. kL + L - 1 of the interleaved row) takes lane t from channel
// (kL + t) % C, pixel (kL + t) / C: from a vector of that channel's row loaded at pixel kL / C,
// its lane (kL + t) / C - kL / C (< L). The lanes repeat with k every P = C / gcd(L, C)
// vectors (the phase k % P); index[phase][c] and mask[phase][c] say which lanes come from
// channel c and from where.
template <int L, int C>
struct InterleaveTables {
  static constexpr int P = C / std::gcd(L, C);
  std::array<std::array<std::array<int32_t, L>, C>, P> index{};
  std::array<std::array<uint32_t, C>, P> mask{};

  static constexpr InterleaveTables make() {
    InterleaveTables t{};
    for (int k = 0; k < P; ++k) {
      for (int j = 0; j < L; ++j) {
        const int e = k * L + j, c = e % C;
        t.index[k][c][j] = e / C - (k * L) / C;
        t.mask[k][c] |= 1u << j;
      }
    }
    return t;
  }
};

namespace interleave {  // (one ISA's vector, index and mask operations, under short names)
#if defined(CPU_CAPABILITY_AVX512)
using FloatVec = __m512;
using LaneIndex = __m512i;
using LaneMask = __mmask16;
constexpr int kLanes = 16;
C10_ALWAYS_INLINE LaneIndex lane_index(const int32_t* lanes) { return _mm512_loadu_si512(lanes); }
C10_ALWAYS_INLINE LaneMask lane_mask(uint32_t bits) { return static_cast<__mmask16>(bits); }
C10_ALWAYS_INLINE LaneMask first_lanes(int64_t n) { return static_cast<__mmask16>((1u << n) - 1); }
C10_ALWAYS_INLINE FloatVec load_lanes(const float* p, LaneMask m) { return _mm512_maskz_loadu_ps(m, p); }
C10_ALWAYS_INLINE FloatVec permute_into(FloatVec v, LaneMask m, LaneIndex i, FloatVec row) {
  return _mm512_mask_permutexvar_ps(v, m, i, row);
}
C10_ALWAYS_INLINE void store_lanes(float* p, FloatVec v) { _mm512_storeu_ps(p, v); }
C10_ALWAYS_INLINE void store_lanes(float* p, LaneMask m, FloatVec v) { _mm512_mask_storeu_ps(p, m, v); }
C10_ALWAYS_INLINE FloatVec zero_lanes() { return _mm512_setzero_ps(); }
#else  // AVX2: masks are vectors whose lanes' sign bits select (maskload, maskstore, blendv)
using FloatVec = __m256;
using LaneIndex = __m256i;
using LaneMask = __m256i;
constexpr int kLanes = 8;
C10_ALWAYS_INLINE LaneIndex lane_index(const int32_t* lanes) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lanes));
}
C10_ALWAYS_INLINE LaneMask lane_mask(uint32_t bits) { return lanes_of_bits_avx2(bits); }
C10_ALWAYS_INLINE LaneMask first_lanes(int64_t n) { return first_lanes_avx2(n); }
C10_ALWAYS_INLINE FloatVec load_lanes(const float* p, LaneMask m) { return _mm256_maskload_ps(p, m); }
C10_ALWAYS_INLINE FloatVec permute_into(FloatVec v, LaneMask m, LaneIndex i, FloatVec row) {
  return _mm256_blendv_ps(v, _mm256_permutevar8x32_ps(row, i), _mm256_castsi256_ps(m));
}
C10_ALWAYS_INLINE void store_lanes(float* p, FloatVec v) { _mm256_storeu_ps(p, v); }
C10_ALWAYS_INLINE void store_lanes(float* p, LaneMask m, FloatVec v) { _mm256_maskstore_ps(p, m, v); }
C10_ALWAYS_INLINE FloatVec zero_lanes() { return _mm256_setzero_ps(); }
#endif

// `rows` rows: row r's planes start at src + r·n, its pixels at dst + r·dst_row_stride. (The
// tables are set up once for all of them.)
template <int C>
void store_interleaved(const float* src, int64_t plane_stride, int64_t n, int64_t rows, float* dst,
                       int64_t dst_row_stride) {
  constexpr int L = kLanes;
  constexpr InterleaveTables<L, C> kTables = InterleaveTables<L, C>::make();
  constexpr int P = kTables.P;
  LaneIndex index[P][C];
  LaneMask mask[P][C];
  for (int k = 0; k < P; ++k) {
    for (int c = 0; c < C; ++c) {
      index[k][c] = lane_index(kTables.index[k][c].data());
      mask[k][c] = lane_mask(kTables.mask[k][c]);
    }
  }
  const LaneMask all = first_lanes(L);
  const int64_t total = n * C;
  for (int64_t r = 0; r < rows; ++r, src += n, dst += dst_row_stride) {
    // Output vector k: each channel's row read at pixels p0 .. p0 + L - 1 under a mask that
    // stops at pixel n, so nothing past the row is read.
    const auto vector_at = [&](int64_t k, int phase) C10_ALWAYS_INLINE_ATTRIBUTE {
      const int64_t p0 = k * L / C;
      const LaneMask in_row = p0 + L <= n ? all : first_lanes(n - p0);
      FloatVec v = zero_lanes();
      for (int c = 0; c < C; ++c) {
        v = permute_into(v, mask[phase][c], index[phase][c], load_lanes(src + c * plane_stride + p0, in_row));
      }
      return v;
    };
    int64_t k = 0;
    int phase = 0;
    for (; (k + 1) * L <= total; ++k) {
      store_lanes(dst + k * L, vector_at(k, phase));
      if (++phase == P) phase = 0;
    }
    if (const int64_t rest = total - k * L; rest > 0) {  // (a last, partial vector)
      store_lanes(dst + k * L, first_lanes(rest), vector_at(k, phase));
    }
  }
}
}  // namespace interleave

MYOPS_END_INTRINSICS_WARNINGS_OFF
#endif

// dst[p·C + c] = src[c·plane_stride + p] for p < n, c < C, for `rows` rows (src's n apart, dst's
// dst_row_stride apart), where has_interleaved_rows<acc_t, T> and interleaves_channels(C); the
// caller checks both.
template <typename acc_t, typename T>
void store_interleaved_rows(const acc_t* src, int64_t plane_stride, int64_t C, int64_t n, int64_t rows, T* dst,
                            int64_t dst_row_stride) {
  static_assert(has_interleaved_rows<acc_t, T>(), "store_interleaved_rows: not on this ISA");
#if defined(CPU_CAPABILITY_AVX512) || defined(CPU_CAPABILITY_AVX2)
  switch (C) {
    case 2: return interleave::store_interleaved<2>(src, plane_stride, n, rows, dst, dst_row_stride);
    case 3: return interleave::store_interleaved<3>(src, plane_stride, n, rows, dst, dst_row_stride);
    case 4: return interleave::store_interleaved<4>(src, plane_stride, n, rows, dst, dst_row_stride);
    case 5: return interleave::store_interleaved<5>(src, plane_stride, n, rows, dst, dst_row_stride);
    case 6: return interleave::store_interleaved<6>(src, plane_stride, n, rows, dst, dst_row_stride);
    case 7: return interleave::store_interleaved<7>(src, plane_stride, n, rows, dst, dst_row_stride);
    default: TORCH_INTERNAL_ASSERT(false, "store_interleaved_rows: ", C, " channels");
  }
#endif
}

}  // namespace CPU_CAPABILITY
}  // namespace myops
