// myops::cpu_kernel_vec: ATen's at::native::cpu_kernel_vec (ATen/native/cpu/Loops.h) with one
// change: what is left of a row after its last pair of whole vectors runs through the vector
// lambda (a whole vector, then a partial one: masked load and store) instead of the scalar
// lambda element by element.
//
// Why: TensorIterator hands the loop rows as long as the innermost run it could coalesce. With
// an operand broadcast along an outer dimension (bias_act's b on an NCHW tensor: one value per
// (n, c) plane) a row is one plane, and the small planes of the networks that use these ops
// (StyleGAN's 4x4 and 8x8: 16 and 64 elements) are shorter than, or close to, ATen's step of two
// vectors (32 floats under AVX-512). ATen's loop sent all or half of every such row through the
// scalar lambda: bias_act_backward of [4, 256, 4, 4] with b took 59 us, 7 us without b.
//
// The scalar lambdas give the same bits as the vector ones for float, float16 and bfloat16
// (cpu_vec.h: CpuScalarOps; and no a * b + c fused by the compiler in one and not the other:
// -ffp-contract=off, cmake/MyopsCpuIsa.cmake), so which elements take which lambda changes no
// result there;
// float64's exp-based functions differ (the C library's against SLEEF's), and its short rows now
// get the vector lambda's bits, as its long rows always did. The lanes past a row's end compute
// on zeros and are never stored. Odd strides still take the scalar lambda.
#pragma once

#include <ATen/cpu/vec/vec.h>
#include <ATen/native/cpu/Loops.h>

#include <algorithm>
#include <array>
#include <tuple>
#include <type_traits>
#include <utility>

#include "ops/common/cpu_partial_lanes.h"

namespace myops {
inline namespace CPU_CAPABILITY {
namespace loops_detail {

// The first `count` (< Vec::size()) elements at p, zeros in the other lanes, and the matching
// store: masked loads and stores under AVX-512 (every type) and AVX2 (32- and 64-bit lanes;
// its stores in pieces: store_first_lanes_avx2).
template <typename scalar_t>
C10_ALWAYS_INLINE at::vec::Vectorized<scalar_t> load_first(const char* p, int64_t count) {
#if defined(CPU_CAPABILITY_AVX2)
  if constexpr (std::is_same_v<scalar_t, float>) {
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return _mm256_maskload_ps(reinterpret_cast<const float*>(p), mask);
  } else if constexpr (std::is_same_v<scalar_t, double>) {
    const __m256i mask = _mm256_cmpgt_epi64(_mm256_set1_epi64x(count), _mm256_setr_epi64x(0, 1, 2, 3));
    return _mm256_maskload_pd(reinterpret_cast<const double*>(p), mask);
  }
#elif defined(CPU_CAPABILITY_AVX512)
  return at::vec::Vectorized<scalar_t>::loadu(p, count);  // a masked load for every type
#endif
  // Elsewhere a zero-filled copy, element by element: ATen's memcpy of a variable count is a
  // call, and GCC cannot see that count < size() (a -Wstringop-overflow warning).
  __at_align__ scalar_t lanes[at::vec::Vectorized<scalar_t>::size()] = {};
  for (int64_t j = 0; j < count; ++j) lanes[j] = reinterpret_cast<const scalar_t*>(p)[j];
  return at::vec::Vectorized<scalar_t>::loadu(lanes);
}

template <typename scalar_t>
C10_ALWAYS_INLINE void store_first(char* p, const at::vec::Vectorized<scalar_t>& v, int64_t count) {
#if defined(CPU_CAPABILITY_AVX2)
  if constexpr (std::is_same_v<scalar_t, float> || std::is_same_v<scalar_t, double>) {
    store_first_lanes_avx2(reinterpret_cast<scalar_t*>(p), v, count);
    return;
  }
#elif defined(CPU_CAPABILITY_AVX512)
  v.store(p, count);  // a masked store for every type
  return;
#endif
  __at_align__ scalar_t lanes[at::vec::Vectorized<scalar_t>::size()];
  v.store(lanes);
  for (int64_t j = 0; j < count; ++j) reinterpret_cast<scalar_t*>(p)[j] = lanes[j];
}

template <typename op_t, typename vop_t>
struct VectorizedLoop2d {
  op_t op;
  vop_t vop;

  using traits = function_traits<op_t>;
  using scalar_t = typename traits::result_type;
  using Vec = at::vec::Vectorized<scalar_t>;
  static constexpr int kInputs = traits::arity;
  static constexpr int kTensors = kInputs + 1;  // operand 0 is the output
  using Inputs = std::make_index_sequence<kInputs>;

  // vop on the vectors at element i of the row: input k (operand k + 1) loaded, or the
  // broadcast value where k + 1 is the scalar operand S (a compile-time constant: no test per
  // argument and vector). Called directly, not through std::apply, which GCC kept out of line
  // (a call per vector: add 1.5x slower).
  template <int64_t S, size_t K, typename Load>
  C10_ALWAYS_INLINE static Vec argument(const Load& load, const Vec& scalar) {
    if constexpr (S == static_cast<int64_t>(K) + 1) {
      return scalar;
    } else {
      return load(static_cast<int64_t>(K) + 1);
    }
  }
  template <int64_t S, typename Load, size_t... K>
  C10_ALWAYS_INLINE static Vec apply(const vop_t& f, const Load& load, const Vec& scalar, std::index_sequence<K...>) {
    return f(argument<S, K>(load, scalar)...);
  }

  // `rows` rows of n elements, every input contiguous along the row except operand S (0: none),
  // one value broadcast along it; row j + 1 starts outer_strides[arg] bytes after row j.
  template <int64_t S>
  void vector_rows(char* const* base, const int64_t* outer_strides, int64_t n, int64_t rows) const {
    // Local copies of the pointers and of the vector lambda: the vector stores may alias
    // anything (ATen's __m512_u is a may_alias type), so pointers or captured parameters
    // (bias_act's gain, alpha, clamp) read through `this` or the caller's array would be read
    // again after every store.
    std::array<char*, kTensors> first_row;
    std::array<int64_t, kTensors> step;
    std::copy_n(base, kTensors, first_row.begin());
    std::copy_n(outer_strides, kTensors, step.begin());
    const vop_t f = vop;
    for (int64_t j = 0; j < rows; ++j) {
      // This row's pointers as locals (registers), computed from the first row's: GCC kept an
      // array advanced across rows in memory and read it back for every row (mul by a
      // per-channel scale, [4, 256, 4, 4], AVX2: 1.5x ATen's time), or advanced it in SSE
      // registers and extracted each pointer.
      char* C10_RESTRICT data[kTensors];
      for (int arg = 0; arg < kTensors; ++arg) data[arg] = first_row[arg] + j * step[arg];
      const Vec scalar(S > 0 ? c10::load(reinterpret_cast<const scalar_t*>(data[S])) : scalar_t(0));
      const auto at = [&data](int64_t arg, int64_t i) C10_ALWAYS_INLINE_ATTRIBUTE {
        return data[arg] + i * static_cast<int64_t>(sizeof(scalar_t));
      };
      int64_t i = 0;
      // Two vectors per step, as ATen's loop (their dependency chains overlap).
      for (; i + 2 * Vec::size() <= n; i += 2 * Vec::size()) {
        const auto first = [&](int64_t k) C10_ALWAYS_INLINE_ATTRIBUTE { return Vec::loadu(at(k, i)); };
        const auto second = [&](int64_t k) C10_ALWAYS_INLINE_ATTRIBUTE { return Vec::loadu(at(k, i + Vec::size())); };
        const Vec out1 = apply<S>(f, first, scalar, Inputs{});
        const Vec out2 = apply<S>(f, second, scalar, Inputs{});
        out1.store(at(0, i));
        out2.store(at(0, i + Vec::size()));
      }
      // The rest (under two vectors): a whole vector, then a partial one, through one call site.
      for (; i < n; i += Vec::size()) {
        const int64_t count = std::min<int64_t>(n - i, Vec::size());
        const auto some = [&](int64_t k) C10_ALWAYS_INLINE_ATTRIBUTE {
          return count == Vec::size() ? Vec::loadu(at(k, i)) : load_first<scalar_t>(at(k, i), count);
        };
        const Vec out = apply<S>(f, some, scalar, Inputs{});
        if (count == Vec::size()) {
          out.store(at(0, i));
        } else {
          store_first<scalar_t>(at(0, i), out, count);
        }
      }
    }
  }

  // Calls body(std::integral_constant<int64_t, S>) for the runtime S in 1..kInputs.
  template <typename Body, size_t... K>
  static void with_scalar_operand(int64_t S, const Body& body, std::index_sequence<K...>) {
    (void)((S == static_cast<int64_t>(K) + 1 ? (body(std::integral_constant<int64_t, K + 1>{}), true) : false) || ...);
  }

  void operator()(char** base, const int64_t* strides, int64_t size0, int64_t size1) const {
    const int64_t* outer_strides = &strides[kTensors];
    if (at::native::is_contiguous<traits>(strides)) {
      vector_rows<0>(base, outer_strides, size0, size1);
      return;
    }
    // S: the input that is one value broadcast along the row (stride 0), all others contiguous.
    at::native::unroll_contiguous_scalar_checks<traits>(strides, Inputs{}, [&](size_t S) {
      if (S > 0) {
        with_scalar_operand(static_cast<int64_t>(S), [&](auto s) {
          vector_rows<decltype(s)::value>(base, outer_strides, size0, size1);
        }, Inputs{});
        return;
      }
      // Odd strides: the scalar lambda, element by element.
      std::array<char*, kTensors> data;
      std::copy_n(base, kTensors, data.data());
      for (int64_t j = 0; j < size1; ++j) {
        at::native::basic_loop(data.data(), strides, 0, size0, op);
        for (int arg = 0; arg < kTensors; ++arg) data[arg] += outer_strides[arg];
      }
    });
  }
};

}  // namespace loops_detail

// Drop-in for at::native::cpu_kernel_vec (same arguments, same checks): see the header comment.
template <typename func_t, typename vec_func_t>
void cpu_kernel_vec(at::TensorIteratorBase& iter, func_t&& op, vec_func_t&& vop,
                    int64_t grain_size = at::internal::GRAIN_SIZE) {
  using traits = function_traits<func_t>;
  TORCH_INTERNAL_ASSERT(iter.ninputs() == traits::arity);
  TORCH_INTERNAL_ASSERT(iter.noutputs() == 1);
  TORCH_INTERNAL_ASSERT(!at::native::needs_dynamic_casting<func_t>::check(iter));
  using Loop = loops_detail::VectorizedLoop2d<std::decay_t<func_t>, std::decay_t<vec_func_t>>;
  iter.for_each(Loop{std::forward<func_t>(op), std::forward<vec_func_t>(vop)}, grain_size);
  iter.cast_outputs();
}

}  // namespace CPU_CAPABILITY
}  // namespace myops
