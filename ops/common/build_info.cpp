// A small C ABI for tools (python -m myops info, C++ hosts) to ask a loaded libmyops.so what it
// is, without going through the dispatcher: plain `ctypes.CDLL(path).myops_cpu_isa()` works.
#include "ops/common/cpu_isa.h"

#define MYOPS_EXPORT extern "C" __attribute__((visibility("default")))

MYOPS_EXPORT const char* myops_version() { return MYOPS_VERSION; }
MYOPS_EXPORT const char* myops_built_with_torch() { return MYOPS_BUILT_WITH_TORCH; }
MYOPS_EXPORT const char* myops_cuda_archs() { return MYOPS_CUDA_ARCHS; }  // "" = no CUDA
MYOPS_EXPORT const char* myops_cpu_isa() {
  return myops::cpu_isa_name(myops::selected_cpu_isa());
}
