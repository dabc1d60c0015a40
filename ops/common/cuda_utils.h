// What every CUDA entry point does before launching: make the input's device current, so
// allocations and launches go there (kernels launch on at::cuda::getCurrentCUDAStream()).
#pragma once

#include <c10/cuda/CUDAGuard.h>

#define MYOPS_CUDA_DEVICE_GUARD(device) const c10::cuda::CUDAGuard myops_device_guard_(device)
