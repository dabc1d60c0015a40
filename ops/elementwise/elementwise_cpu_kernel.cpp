// CPU loops of muladd/mul/add. Compiled once per ISA (DEFAULT, AVX2, AVX512): see
// ops/common/cpu_isa.h. A scalar lambda for the edges and a Vectorized lambda for the body
// (ops/common/cpu_vec.h), both calling the shared math in elementwise_math.h in op-math.
// The three ops are symmetric in a and b: a CPU scalar input (a 0-dim tensor) keeps its
// precision (opmath_symmetric_kernel_vec), as in ATen and in our CUDA loops.
#include "ops/common/cpu_vec.h"
#include "ops/elementwise/elementwise_kernels.h"
#include "ops/elementwise/elementwise_math.h"

namespace myops::ops::elementwise {
namespace CPU_CAPABILITY {

void muladd_kernel(at::TensorIteratorBase& iter, double c) {
  opmath_symmetric_kernel_vec(iter, [c](auto opmath_zero) {
    const auto c_op = static_cast<decltype(opmath_zero)>(c);
    // x, y are opmath_t or Vectorized<opmath_t>; both construct from a scalar (broadcast).
    return [c_op](auto, auto x, auto y) { return math::muladd(x, y, decltype(x)(c_op)); };
  });
}

void mul_kernel(at::TensorIteratorBase& iter) {
  opmath_symmetric_kernel_vec(iter, [](auto) {
    return [](auto, auto x, auto y) { return math::mul(x, y); };
  });
}

void add_kernel(at::TensorIteratorBase& iter) {
  opmath_symmetric_kernel_vec(iter, [](auto) {
    return [](auto, auto x, auto y) { return math::add(x, y); };
  });
}

}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::elementwise
