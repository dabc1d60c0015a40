# CPU kernels compiled once per instruction set, picked at load time (ops/common/cpu_isa.h).
#
# Outside ATen's own build, at::vec::Vectorized<T> is the generic scalar-loop version unless
# the translation unit is compiled with CPU_CAPABILITY_AVX2 / CPU_CAPABILITY_AVX512 and the
# matching -m flags. So every ops/<op>/*_cpu_kernel.cpp is compiled three times (DEFAULT, AVX2,
# AVX512), each copy in its own namespace (CPU_CAPABILITY = DEFAULT / AVX2 / AVX512), which is
# what ATen's DispatchStub does.
include_guard(GLOBAL)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64")
  set(MYOPS_CPU_ISAS DEFAULT AVX2 AVX512)
else()
  set(MYOPS_CPU_ISAS DEFAULT)      # other CPUs: the generic Vectorized code only
endif()
# The same flags ATen's build uses for its AVX2 / AVX512 kernel copies, plus -ffp-contract=off.
# -Wno-maybe-uninitialized: GCC 12 false positives inside its own AVX-512 intrinsics headers.
# -ffp-contract=off: GCC (GNU mode) would otherwise fuse a * b + c into an FMA wherever the ISA
# has one, in scalar code and in Vectorized's operators alike (its intrinsics are plain vector
# arithmetic), and where it does so depends on inlining, i.e. on -O2 / -O3 and on the caller.
# The scalar and vector lambdas of a kernel are written to give the same bits (a row's tail
# and a strided view go through the scalar one) and muladd rounds twice as PyTorch does: a
# kernel that wants a fused multiply-add writes one (Vectorized's fmadd, std::fma).
set(MYOPS_ISA_FLAGS_DEFAULT -Wno-maybe-uninitialized -ffp-contract=off)
set(MYOPS_ISA_FLAGS_AVX2 -Wno-maybe-uninitialized -ffp-contract=off -mavx2 -mfma -mf16c -mbmi -mbmi2 -mlzcnt)
set(MYOPS_ISA_FLAGS_AVX512 -Wno-maybe-uninitialized -ffp-contract=off -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c -mbmi -mbmi2 -mlzcnt)

string(REPLACE ";" "\", \"" MYOPS_CPU_ISAS_JSON "${MYOPS_CPU_ISAS}")
set(MYOPS_CPU_ISAS_JSON "\"${MYOPS_CPU_ISAS_JSON}\"")

# One OBJECT library per ISA, <target>_cpu_<isa>, compiles the real source files (so
# compile_commands.json lists ops/<op>/*_cpu_kernel.cpp itself, three times, with each ISA's
# flags: editors and clang-tidy see the real files). They take torch's usage requirements
# (myops::torch: headers, ABI, C++ standard) and the target's own compile options and include
# folders; their objects are linked into <target>. ccache keys on paths relative to
# CCACHE_BASEDIR, so the objects are shared between clones as before.
function(myops_add_cpu_isa_kernels target)
  foreach(isa IN LISTS MYOPS_CPU_ISAS)
    set(obj "${target}_cpu_${isa}")
    add_library(${obj} OBJECT ${ARGN})
    target_link_libraries(${obj} PRIVATE myops::torch)
    set(defs "CPU_CAPABILITY=${isa}")
    if(NOT isa STREQUAL "DEFAULT")
      list(APPEND defs "CPU_CAPABILITY_${isa}")
    endif()
    target_compile_definitions(${obj} PRIVATE ${defs})
    target_include_directories(${obj} PRIVATE "$<TARGET_PROPERTY:${target},INCLUDE_DIRECTORIES>")
    target_compile_options(${obj} PRIVATE
      "$<TARGET_PROPERTY:${target},COMPILE_OPTIONS>" ${MYOPS_ISA_FLAGS_${isa}})
    set_target_properties(${obj} PROPERTIES
      POSITION_INDEPENDENT_CODE ON
      CXX_VISIBILITY_PRESET hidden
      VISIBILITY_INLINES_HIDDEN ON)
    target_sources(${target} PRIVATE $<TARGET_OBJECTS:${obj}>)
    target_compile_definitions(${target} PRIVATE MYOPS_HAVE_CPU_ISA_${isa}=1)
  endforeach()
endfunction()
