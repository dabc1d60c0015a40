#include "ops/common/cpu_isa.h"

#include <ATen/Version.h>
#include <c10/util/Exception.h>

#include <cctype>
#include <cstdlib>
#include <string>

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

// MYOPS_CPU_CAPABILITY=default|avx2|avx512: a cap on myops' choice alone, never raising it above
// ATen's: to compare myops' ISA copies inside a workload whose ATen and oneDNN kernels stay as
// they are (README, "Build details"). Unset or empty: no cap. An unknown value is ignored with a
// warning, as ATen treats ATEN_CPU_CAPABILITY.
CpuIsa cap_from_env() {
  const char* env = std::getenv("MYOPS_CPU_CAPABILITY");
  if (env == nullptr || *env == '\0') return CpuIsa::AVX512;
  std::string want(env);
  for (char& ch : want) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (want == "default") return CpuIsa::DEFAULT;
  if (want == "avx2") return CpuIsa::AVX2;
  if (want != "avx512") {
    TORCH_WARN("myops: ignoring MYOPS_CPU_CAPABILITY=", env, " (expected default, avx2 or avx512)");
  }
  return CpuIsa::AVX512;
}

CpuIsa lower(CpuIsa a, CpuIsa b) { return static_cast<int>(a) < static_cast<int>(b) ? a : b; }

CpuIsa detect() {
  // ATen has already probed the CPU (cpuinfo) and applied ATEN_CPU_CAPABILITY: follow it, so
  // myops never uses instructions that ATen itself decided against.
  const std::string aten = at::get_cpu_capability();
  CpuIsa isa = CpuIsa::DEFAULT;
  if (aten.rfind("AVX512", 0) == 0) isa = CpuIsa::AVX512;
  else if (aten == "AVX2") isa = CpuIsa::AVX2;
  return lower(lower(isa, cap_from_env()), compiled_best());
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
