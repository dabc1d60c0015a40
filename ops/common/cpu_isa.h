// Runtime choice between CPU kernels compiled for several instruction sets.
//
// A file ops/<op>/<name>_cpu_kernel.cpp is compiled once per ISA (cmake/MyopsCpuIsa.cmake),
// with CPU_CAPABILITY set to DEFAULT, AVX2 or AVX512, so that at::vec::Vectorized really uses
// those instructions. Each copy defines its functions inside `namespace CPU_CAPABILITY`; the
// backend file declares them with MYOPS_DECLARE_CPU_KERNEL and calls the best one with
// MYOPS_CPU_KERNEL(name)(args...). The ISA follows ATen's choice (at::get_cpu_capability(),
// which honours ATEN_CPU_CAPABILITY=default|avx2|avx512), capped at what this build compiled;
// MYOPS_CPU_CAPABILITY (same values) lowers myops' choice alone.
#pragma once

namespace myops {

enum class CpuIsa { DEFAULT = 0, AVX2 = 1, AVX512 = 2 };

CpuIsa selected_cpu_isa();           // decided once, on first use
const char* cpu_isa_name(CpuIsa isa);

template <typename Fn>
Fn pick_cpu_kernel(Fn default_fn, Fn avx2_fn, Fn avx512_fn) {
  switch (selected_cpu_isa()) {
    case CpuIsa::AVX512: if (avx512_fn) return avx512_fn; [[fallthrough]];
    case CpuIsa::AVX2: if (avx2_fn) return avx2_fn; [[fallthrough]];
    default: return default_fn;
  }
}

}  // namespace myops

#if defined(MYOPS_HAVE_CPU_ISA_AVX2)
#define MYOPS_IF_AVX2(x) x
#else
#define MYOPS_IF_AVX2(x)
#endif
#if defined(MYOPS_HAVE_CPU_ISA_AVX512)
#define MYOPS_IF_AVX512(x) x
#else
#define MYOPS_IF_AVX512(x)
#endif

// Declares `fn_type name;` (a function type) in each compiled ISA namespace.
#define MYOPS_DECLARE_CPU_KERNEL(fn_type, name) \
  namespace DEFAULT { fn_type name; }           \
  MYOPS_IF_AVX2(namespace AVX2 { fn_type name; }) \
  MYOPS_IF_AVX512(namespace AVX512 { fn_type name; })

#define MYOPS_CPU_KERNEL(name)                                              \
  ::myops::pick_cpu_kernel<decltype(&DEFAULT::name)>(                       \
      &DEFAULT::name, MYOPS_CPU_KERNEL_OR_NULL_AVX2(name),                   \
      MYOPS_CPU_KERNEL_OR_NULL_AVX512(name))

#if defined(MYOPS_HAVE_CPU_ISA_AVX2)
#define MYOPS_CPU_KERNEL_OR_NULL_AVX2(name) &AVX2::name
#else
#define MYOPS_CPU_KERNEL_OR_NULL_AVX2(name) nullptr
#endif
#if defined(MYOPS_HAVE_CPU_ISA_AVX512)
#define MYOPS_CPU_KERNEL_OR_NULL_AVX512(name) &AVX512::name
#else
#define MYOPS_CPU_KERNEL_OR_NULL_AVX512(name) nullptr
#endif
