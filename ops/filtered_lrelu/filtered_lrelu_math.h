// The geometry of filtered_lrelu, written once for the composition (filtered_lrelu_kernels.h)
// and the fused CPU kernel (filtered_lrelu_cpu_kernel.cpp): along one axis, the four upfirdn2d
// steps of the forward and backward passes, as (up, down, pad0, pad1), and the size of the
// intermediate m = U(x + b) between them.
//   forward:  m  = U(x + b)                  U  : in  -> m,   up,   padding p0/p1
//             y  = D(act(m))                 D  : m   -> out, down, no padding
//   backward: dm = D^T(dy)                   D^T: out -> m,   up by down, padding fd - 1 / rest
//             dx = U^T(act'(m) * dm)         U^T: m   -> in,  down by up, padding fu - p0 - 1 / fu - p1 - up
// D^T and U^T use the same filter as D and U, flipped the other way (flip_filter inverted), and
// the same gain.
#pragma once

#include <cstdint>

namespace myops::ops::filtered_lrelu::math {

struct Resample {
  int64_t up, down, pad0, pad1;
};

struct AxisSteps {
  int64_t m;               // the intermediate's size along this axis
  Resample u, d, dt, ut;   // the four upfirdn2d steps
};

// in: x's size, out: the output's size (output_size()), p0/p1: the padding, fu/fd: the taps.
inline AxisSteps axis_steps(int64_t in, int64_t out, int64_t up, int64_t down, int64_t p0, int64_t p1, int64_t fu,
                            int64_t fd) {
  const int64_t m = in * up + p0 + p1 - fu + 1;
  return {m,
          {up, 1, p0, p1},
          {1, down, 0, 0},
          {down, 1, fd - 1, m - out * down},
          {1, up, fu - p0 - 1, fu - p1 - up}};
}

}  // namespace myops::ops::filtered_lrelu::math
