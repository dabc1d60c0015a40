# Defines the imported target myops::torch: torch's headers and the C++ libraries a
# TORCH_LIBRARY needs (c10, torch_cpu, torch; + c10_cuda, torch_cuda with CUDA), and nothing
# from torch_python or libpython.
#
# Why not find_package(Torch)? On a machine without nvcc, the default (CUDA-enabled) torch
# wheel makes find_package(Torch) stop with "Your installed Caffe2 version uses CUDA but I
# cannot find the CUDA libraries". Building the target from torch's folders works with and
# without CUDA, and lets a CPU-only build use the same wheel. The torch folder is found
# through `torch.utils.cmake_prefix_path` (or given as MYOPS_TORCH_ROOT).
#
# Used by myops' own build and installed with myopsConfig.cmake for C++ hosts.
include_guard(GLOBAL)

if(NOT MYOPS_TORCH_ROOT)
  if(NOT Python3_EXECUTABLE)
    find_package(Python3 COMPONENTS Interpreter REQUIRED)
  endif()
  execute_process(
    COMMAND "${Python3_EXECUTABLE}" -c
            "import os, torch; print(os.path.dirname(os.path.dirname(torch.utils.cmake_prefix_path)))"
    OUTPUT_VARIABLE _myops_torch_root OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _myops_torch_rc)
  if(NOT _myops_torch_rc EQUAL 0)
    message(FATAL_ERROR "myops: `${Python3_EXECUTABLE} -c 'import torch'` failed; "
                        "install torch there or pass -DMYOPS_TORCH_ROOT=<site-packages>/torch")
  endif()
  set(MYOPS_TORCH_ROOT "${_myops_torch_root}" CACHE PATH "torch package folder (has include/ and lib/)")
endif()

if(NOT EXISTS "${MYOPS_TORCH_ROOT}/include/torch/library.h")
  message(FATAL_ERROR "myops: ${MYOPS_TORCH_ROOT} is not a torch install (no include/torch/library.h)")
endif()

# The torch version these headers and libraries belong to, e.g. "2.11.0+cu130".
file(STRINGS "${MYOPS_TORCH_ROOT}/version.py" _myops_tv REGEX "^__version__")
string(REGEX REPLACE "^__version__ *= *'([^']+)'.*" "\\1" MYOPS_TORCH_VERSION "${_myops_tv}")

if(NOT TARGET myops::torch)
  set(_lib "${MYOPS_TORCH_ROOT}/lib")
  add_library(myops::torch INTERFACE IMPORTED)
  set_target_properties(myops::torch PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES
      "${MYOPS_TORCH_ROOT}/include;${MYOPS_TORCH_ROOT}/include/torch/csrc/api/include"
    INTERFACE_LINK_LIBRARIES "${_lib}/libc10.so;${_lib}/libtorch_cpu.so;${_lib}/libtorch.so"
    # torch wheels are built with the C++11 ABI; say so explicitly, as TorchConfig does.
    INTERFACE_COMPILE_DEFINITIONS "_GLIBCXX_USE_CXX11_ABI=1"
    INTERFACE_COMPILE_FEATURES cxx_std_17)
endif()
# Where a binary linked against these libraries finds them at run time (its RPATH): torch's
# lib folder, and the CUDA runtime that the torch wheel ships beside it (nvidia/cu[0-9]*/lib).
set(MYOPS_TORCH_RPATH "${MYOPS_TORCH_ROOT}/lib")
file(GLOB _myops_nvidia_libs "${MYOPS_TORCH_ROOT}/../nvidia/cu[0-9]*/lib")
foreach(_d IN LISTS _myops_nvidia_libs)
  get_filename_component(_d "${_d}" ABSOLUTE)
  list(APPEND MYOPS_TORCH_RPATH "${_d}")
endforeach()

# myops::torch_cuda: torch's CUDA libraries + the CUDA runtime (only when CUDA is wanted).
function(myops_define_torch_cuda)
  if(TARGET myops::torch_cuda)
    return()
  endif()
  find_package(CUDAToolkit REQUIRED)
  set(_lib "${MYOPS_TORCH_ROOT}/lib")
  add_library(myops::torch_cuda INTERFACE IMPORTED GLOBAL)
  set_target_properties(myops::torch_cuda PROPERTIES
    INTERFACE_LINK_LIBRARIES "myops::torch;${_lib}/libc10_cuda.so;${_lib}/libtorch_cuda.so;CUDA::cudart"
    INTERFACE_COMPILE_DEFINITIONS "USE_CUDA")
endfunction()
