// The shared entry body of every op: one function template per op, written once in the
// family's <op>_kernels.h and instantiated by each backend with its device guard and loop:
//
//   template <typename DeviceGuard, ForwardKernel* kernel>
//   at::Tensor forward_entry(...) {
//     const Args args = check_args(...);        // every check first (they name the argument
//     const DeviceGuard guard(checked_device);  //   on the wrong device), then the guard
//     at::Tensor out = empty_output(...);       //   from the checked device
//     kernel(...);                              // the only backend-specific step
//     return out;
//   }
//
//   TORCH_LIBRARY_IMPL(myops, CPU, m)  { m.impl("op", &forward_entry<NoDeviceGuard, cpu_loop>); }
//   TORCH_LIBRARY_IMPL(myops, CUDA, m) { m.impl("op", &forward_entry<c10::cuda::CUDAGuard, cuda_loop>); }
#pragma once

#include <c10/core/Device.h>

namespace myops {

// The CPU needs no device guard: a stand-in with the same constructor as c10::cuda::CUDAGuard.
struct NoDeviceGuard {
  explicit NoDeviceGuard(c10::Device) {}
};

}  // namespace myops
