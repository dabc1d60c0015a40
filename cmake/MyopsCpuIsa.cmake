# CPU kernels compiled once per instruction set, picked at load time (ops/common/cpu_isa.h).
#
# Outside ATen's own build, at::vec::Vectorized<T> is the generic scalar-loop version unless
# the translation unit is compiled with CPU_CAPABILITY_AVX2 / CPU_CAPABILITY_AVX512 and the
# matching -m flags. So every ops/<op>/*_cpu_kernel.cpp is compiled three times (DEFAULT, AVX2,
# AVX512) through a one-line wrapper source, each copy in its own namespace
# (CPU_CAPABILITY = DEFAULT / AVX2 / AVX512), which is what ATen's DispatchStub does.
include_guard(GLOBAL)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64")
  set(MYOPS_CPU_ISAS DEFAULT AVX2 AVX512)
else()
  set(MYOPS_CPU_ISAS DEFAULT)      # other CPUs: the generic Vectorized code only
endif()
# The same flags ATen's build uses for its AVX2 / AVX512 kernel copies.
# -Wno-maybe-uninitialized: GCC 12 false positives inside its own AVX-512 intrinsics headers.
set(MYOPS_ISA_FLAGS_DEFAULT -Wno-maybe-uninitialized)
set(MYOPS_ISA_FLAGS_AVX2 -Wno-maybe-uninitialized -mavx2 -mfma -mf16c -mbmi -mbmi2 -mlzcnt)
set(MYOPS_ISA_FLAGS_AVX512 -Wno-maybe-uninitialized -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c -mbmi -mbmi2 -mlzcnt)

string(REPLACE ";" "\", \"" MYOPS_CPU_ISAS_JSON "${MYOPS_CPU_ISAS}")
set(MYOPS_CPU_ISAS_JSON "\"${MYOPS_CPU_ISAS_JSON}\"")

function(myops_add_cpu_isa_kernels target)
  foreach(src IN LISTS ARGN)
    get_filename_component(name "${src}" NAME_WE)
    get_filename_component(dir "${src}" DIRECTORY)
    get_filename_component(dir "${dir}" NAME)
    foreach(isa IN LISTS MYOPS_CPU_ISAS)
      set(wrapper "${CMAKE_CURRENT_BINARY_DIR}/cpu_isa/${dir}/${name}.${isa}.cpp")
      # Include by a path relative to the source root (an include directory of the target), so
      # the wrapper's text is the same in every clone and ccache hits across clones.
      file(RELATIVE_PATH rel "${PROJECT_SOURCE_DIR}" "${src}")
      file(CONFIGURE OUTPUT "${wrapper}" CONTENT "#include \"${rel}\"\n")
      set(defs "CPU_CAPABILITY=${isa}")
      if(NOT isa STREQUAL "DEFAULT")
        list(APPEND defs "CPU_CAPABILITY_${isa}")
      endif()
      set_source_files_properties("${wrapper}" PROPERTIES
        COMPILE_DEFINITIONS "${defs}"
        COMPILE_OPTIONS "${MYOPS_ISA_FLAGS_${isa}}")
      target_sources(${target} PRIVATE "${wrapper}")
    endforeach()
  endforeach()
  foreach(isa IN LISTS MYOPS_CPU_ISAS)
    target_compile_definitions(${target} PRIVATE MYOPS_HAVE_CPU_ISA_${isa}=1)
  endforeach()
endfunction()
