#include "ops/common/cpu_isa.h"

#include <ATen/Version.h>

namespace myops {

namespace {
CpuIsa compiled_best() {
#if defined(MYOPS_HAVE_CPU_ISA_AVX512)
  return CpuIsa::AVX512;
#elif defined(MYOPS_HAVE_CPU_ISA_AVX2)
  return CpuIsa::AVX2;
#else
  return CpuIsa::DEFAULT;
#endif
}

CpuIsa detect() {
  // ATen has already probed the CPU (cpuinfo) and applied ATEN_CPU_CAPABILITY: follow it, so
  // myops never uses instructions that ATen itself decided against.
  const std::string aten = at::get_cpu_capability();
  CpuIsa isa = CpuIsa::DEFAULT;
  if (aten.rfind("AVX512", 0) == 0) isa = CpuIsa::AVX512;
  else if (aten == "AVX2") isa = CpuIsa::AVX2;
  return static_cast<int>(isa) < static_cast<int>(compiled_best()) ? isa : compiled_best();
}
}  // namespace

CpuIsa selected_cpu_isa() {
  static const CpuIsa isa = detect();
  return isa;
}

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::AVX512: return "AVX512";
    case CpuIsa::AVX2: return "AVX2";
    default: return "DEFAULT";
  }
}

}  // namespace myops
