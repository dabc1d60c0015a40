// CPU loops of muladd/mul/add. Compiled once per ISA (DEFAULT, AVX2, AVX512): see
// ops/common/cpu_isa.h. A scalar lambda for the edges and a Vectorized lambda for the body,
// both calling the shared math in elementwise_math.h in the op-math type.
#include <ATen/Dispatch.h>
#include <ATen/native/cpu/Loops.h>

#include "ops/common/cpu_vec.h"
#include "ops/elementwise/elementwise_kernels.h"
#include "ops/elementwise/elementwise_math.h"

namespace myops::elementwise {
namespace CPU_CAPABILITY {

namespace {
// Runs make_op(opmath_t{})(a, b) over iter for every float dtype; the op is a generic lambda
// taking op-math scalars or vectors.
template <typename Op>
void binary_opmath_loop(at::TensorIteratorBase& iter, const Op& make_op) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, iter.common_dtype(), "myops_elementwise_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const auto op = make_op(opmath_t{});
    at::native::cpu_kernel_vec(
        iter,
        [op](scalar_t a, scalar_t b) -> scalar_t {
          return static_cast<scalar_t>(op(static_cast<opmath_t>(a), static_cast<opmath_t>(b)));
        },
        [op](at::vec::Vectorized<scalar_t> a, at::vec::Vectorized<scalar_t> b) {
          return vec_in_opmath<scalar_t>(op, a, b);
        });
  });
}
}  // namespace

void muladd_kernel(at::TensorIteratorBase& iter, double c) {
  binary_opmath_loop(iter, [c](auto opmath_zero) {
    using opmath_t = decltype(opmath_zero);
    const opmath_t c_op = static_cast<opmath_t>(c);
    // x, y are opmath_t or Vectorized<opmath_t>; both construct from a scalar (broadcast).
    return [c_op](auto x, auto y) { return math::muladd(x, y, decltype(x)(c_op)); };
  });
}

void mul_kernel(at::TensorIteratorBase& iter) {
  binary_opmath_loop(iter, [](auto) {
    return [](auto x, auto y) { return math::mul(x, y); };
  });
}

void add_kernel(at::TensorIteratorBase& iter) {
  binary_opmath_loop(iter, [](auto) {
    return [](auto x, auto y) { return math::add(x, y); };
  });
}

}  // namespace CPU_CAPABILITY
}  // namespace myops::elementwise
