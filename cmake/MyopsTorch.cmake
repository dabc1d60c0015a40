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
# Everything that must match torch is read from the torch found here, never assumed:
#   MYOPS_TORCH_ROOT          torch's package folder (include/, lib/, version.py)
#   MYOPS_TORCH_VERSION       e.g. 2.11.0+cu130 (torch/version.py)
#   MYOPS_TORCH_CUDA_VERSION  e.g. 13.0, empty for a CPU-only torch (torch.version.cuda)
#   MYOPS_TORCH_HAS_CUDA_LIBS torch/lib has libc10_cuda.so and libtorch_cuda.so
#   MYOPS_TORCH_CXX11_ABI     _GLIBCXX_USE_CXX11_ABI (torch._C._GLIBCXX_USE_CXX11_ABI)
#   MYOPS_TORCH_CXX_STANDARD  17, 20, ...: the C++ standard torch's headers need
#
# Used by myops' own build and installed with myopsConfig.cmake for C++ hosts.
include_guard(GLOBAL)

# ---------------------------------------------------------------------------- where torch is
# An explicit -DMYOPS_TORCH_ROOT (or the one myopsConfig.cmake sets) wins. Otherwise torch is
# asked from Python3_EXECUTABLE, and asked again whenever that interpreter changes (another VENV
# in a reused build folder) or the folder found before is gone: a build folder never keeps a
# stale torch. MYOPS_TORCH_ROOT_DETECTED/_PYTHON remember what was detected, and from where.
if(NOT MYOPS_TORCH_ROOT OR MYOPS_TORCH_ROOT STREQUAL "${MYOPS_TORCH_ROOT_DETECTED}")
  if(NOT Python3_EXECUTABLE)
    find_package(Python3 COMPONENTS Interpreter REQUIRED)
  endif()
  if(NOT MYOPS_TORCH_ROOT OR NOT EXISTS "${MYOPS_TORCH_ROOT}/version.py"
     OR NOT "${Python3_EXECUTABLE}" STREQUAL "${MYOPS_TORCH_ROOT_PYTHON}")
    execute_process(
      COMMAND "${Python3_EXECUTABLE}" -c
              "import os, torch; print(os.path.dirname(os.path.dirname(torch.utils.cmake_prefix_path))); print(int(torch._C._GLIBCXX_USE_CXX11_ABI))"
      OUTPUT_VARIABLE _myops_out OUTPUT_STRIP_TRAILING_WHITESPACE
      RESULT_VARIABLE _myops_torch_rc)
    if(NOT _myops_torch_rc EQUAL 0)
      message(FATAL_ERROR "myops: `${Python3_EXECUTABLE} -c 'import torch'` failed; "
                          "install torch there or pass -DMYOPS_TORCH_ROOT=<site-packages>/torch")
    endif()
    string(REPLACE "\n" ";" _myops_out "${_myops_out}")
    list(GET _myops_out -2 _myops_root)
    list(GET _myops_out -1 _myops_abi)
    if(MYOPS_TORCH_ROOT_PYTHON AND NOT "${Python3_EXECUTABLE}" STREQUAL "${MYOPS_TORCH_ROOT_PYTHON}")
      message(STATUS "myops: Python changed (${MYOPS_TORCH_ROOT_PYTHON} -> ${Python3_EXECUTABLE}): torch detected again")
    endif()
    set(MYOPS_TORCH_ROOT "${_myops_root}" CACHE PATH
        "torch package folder (has include/ and lib/); empty: ask Python3_EXECUTABLE" FORCE)
    set(MYOPS_TORCH_ROOT_DETECTED "${_myops_root}" CACHE INTERNAL "")
    set(MYOPS_TORCH_ROOT_PYTHON "${Python3_EXECUTABLE}" CACHE INTERNAL "")
    set(MYOPS_TORCH_ROOT_ABI "${_myops_abi}" CACHE INTERNAL "")
  endif()
endif()

if(NOT EXISTS "${MYOPS_TORCH_ROOT}/include/torch/library.h")
  message(FATAL_ERROR "myops: ${MYOPS_TORCH_ROOT} is not a torch install (no include/torch/library.h)")
endif()

# ---------------------------------------------------------------------------- what torch is
# The torch version these headers and libraries belong to, e.g. "2.11.0+cu130", and the CUDA
# version it was built with (torch.version.cuda: '13.0', or None for a CPU-only torch).
file(STRINGS "${MYOPS_TORCH_ROOT}/version.py" _myops_tv REGEX "^__version__")
string(REGEX REPLACE "^__version__ *= *'([^']+)'.*" "\\1" MYOPS_TORCH_VERSION "${_myops_tv}")
file(STRINGS "${MYOPS_TORCH_ROOT}/version.py" _myops_tc REGEX "^cuda[ :=]")
set(MYOPS_TORCH_CUDA_VERSION "")
if(_myops_tc MATCHES "'([0-9.]+)'")
  set(MYOPS_TORCH_CUDA_VERSION "${CMAKE_MATCH_1}")
endif()
if(EXISTS "${MYOPS_TORCH_ROOT}/lib/libc10_cuda.so" AND EXISTS "${MYOPS_TORCH_ROOT}/lib/libtorch_cuda.so")
  set(MYOPS_TORCH_HAS_CUDA_LIBS ON)
else()
  set(MYOPS_TORCH_HAS_CUDA_LIBS OFF)
endif()

# _GLIBCXX_USE_CXX11_ABI, first found of: a value given (myopsConfig.cmake passes the one the
# library was built with); what torch._C._GLIBCXX_USE_CXX11_ABI said when this folder was
# detected; the flag in TorchConfig.cmake's TORCH_CXX_FLAGS (torch < 2.7 wrote it there); 1
# (torch >= 2.7 exists only with the C++11 ABI: torch.compiled_with_cxx11_abi() is always True).
set(_myops_torch_config "${MYOPS_TORCH_ROOT}/share/cmake/Torch/TorchConfig.cmake")
if(NOT DEFINED MYOPS_TORCH_CXX11_ABI)
  set(MYOPS_TORCH_CXX11_ABI 1)
  if(MYOPS_TORCH_ROOT STREQUAL "${MYOPS_TORCH_ROOT_DETECTED}" AND MYOPS_TORCH_ROOT_ABI MATCHES "^[01]$")
    set(MYOPS_TORCH_CXX11_ABI ${MYOPS_TORCH_ROOT_ABI})
  elseif(EXISTS "${_myops_torch_config}")
    file(STRINGS "${_myops_torch_config}" _myops_flags REGEX "_GLIBCXX_USE_CXX11_ABI=[01]")
    if(_myops_flags MATCHES "_GLIBCXX_USE_CXX11_ABI=([01])")
      set(MYOPS_TORCH_CXX11_ABI ${CMAKE_MATCH_1})
    endif()
  endif()
endif()

# The C++ standard torch's headers need: the highest of what TorchConfig.cmake puts on its
# target (what find_package(Torch) would give: `CXX_STANDARD 17` up to torch 2.11,
# `target_compile_features(torch INTERFACE cxx_std_20)` in 2.15) and the one ATen/ATen.h insists
# on ("#error C++20 or later compatible compiler is required to use ATen."); 17 if none says.
# torch 2.11 needs C++17, 2.15 C++20 (its c10 headers use <compare>, concepts and `requires`).
# Used for the C++ and the CUDA sources alike.
if(NOT DEFINED MYOPS_TORCH_CXX_STANDARD)
  set(MYOPS_TORCH_CXX_STANDARD 17)
  set(_myops_std_texts "")
  if(EXISTS "${_myops_torch_config}")
    file(STRINGS "${_myops_torch_config}" _myops_t REGEX "CXX_STANDARD +[0-9]+|cxx_std_[0-9]+")
    list(APPEND _myops_std_texts ${_myops_t})
  endif()
  if(EXISTS "${MYOPS_TORCH_ROOT}/include/ATen/ATen.h")
    file(STRINGS "${MYOPS_TORCH_ROOT}/include/ATen/ATen.h" _myops_t REGEX "C\\+\\+[0-9]+ or later")
    list(APPEND _myops_std_texts ${_myops_t})
  endif()
  foreach(_t IN LISTS _myops_std_texts)
    set(_std 0)
    if(_t MATCHES "CXX_STANDARD +([0-9]+)")
      set(_std ${CMAKE_MATCH_1})
    elseif(_t MATCHES "cxx_std_([0-9]+)")
      set(_std ${CMAKE_MATCH_1})
    elseif(_t MATCHES "C\\+\\+([0-9]+) or later")
      set(_std ${CMAKE_MATCH_1})
    endif()
    if(_std GREATER MYOPS_TORCH_CXX_STANDARD)
      set(MYOPS_TORCH_CXX_STANDARD ${_std})
    endif()
  endforeach()
endif()

if(NOT TARGET myops::torch)
  set(_lib "${MYOPS_TORCH_ROOT}/lib")
  add_library(myops::torch INTERFACE IMPORTED)
  set_target_properties(myops::torch PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES
      "${MYOPS_TORCH_ROOT}/include;${MYOPS_TORCH_ROOT}/include/torch/csrc/api/include"
    INTERFACE_LINK_LIBRARIES "${_lib}/libc10.so;${_lib}/libtorch_cpu.so;${_lib}/libtorch.so"
    INTERFACE_COMPILE_DEFINITIONS "_GLIBCXX_USE_CXX11_ABI=${MYOPS_TORCH_CXX11_ABI}"
    INTERFACE_COMPILE_FEATURES cxx_std_${MYOPS_TORCH_CXX_STANDARD})
endif()
# Where a binary linked against these libraries finds them at run time (its RPATH): torch's
# lib folder, and the CUDA runtime that the torch wheel ships beside it (nvidia/cu[0-9]*/lib).
# MYOPS_TORCH_RPATH holds the absolute folders, MYOPS_TORCH_RPATH_ORIGIN the same folders
# relative to a library installed in site-packages/<package>/lib (so the wheel can move).
set(MYOPS_TORCH_RPATH "${MYOPS_TORCH_ROOT}/lib")
set(MYOPS_TORCH_RPATH_ORIGIN "$ORIGIN/../../torch/lib")
file(GLOB _myops_nvidia_libs "${MYOPS_TORCH_ROOT}/../nvidia/cu[0-9]*/lib")
foreach(_d IN LISTS _myops_nvidia_libs)
  get_filename_component(_d "${_d}" ABSOLUTE)
  list(APPEND MYOPS_TORCH_RPATH "${_d}")
  get_filename_component(_cu "${_d}" DIRECTORY)
  get_filename_component(_cu "${_cu}" NAME)
  list(APPEND MYOPS_TORCH_RPATH_ORIGIN "$ORIGIN/../../nvidia/${_cu}/lib")
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

# Why CUDA kernels cannot be built against this torch with the CUDA compiler `nvcc` (empty:
# they can): torch must be a CUDA build (torch.version.cuda, libtorch_cuda.so) of the same CUDA
# major version as nvcc. A CPU-only torch with nvcc would otherwise fail at link time.
function(myops_cuda_blocker nvcc out_var)
  set(_why "")
  if(NOT nvcc)
    set(_why "no CUDA compiler found (nvcc not on PATH, CUDACXX not set)")
  elseif(NOT MYOPS_TORCH_CUDA_VERSION)
    set(_why "torch ${MYOPS_TORCH_VERSION} at ${MYOPS_TORCH_ROOT} is a CPU-only build (torch.version.cuda is None)")
  elseif(NOT MYOPS_TORCH_HAS_CUDA_LIBS)
    set(_why "torch ${MYOPS_TORCH_VERSION} has no libc10_cuda.so/libtorch_cuda.so in ${MYOPS_TORCH_ROOT}/lib")
  else()
    execute_process(COMMAND "${nvcc}" --version OUTPUT_VARIABLE _v ERROR_VARIABLE _v RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0 OR NOT _v MATCHES "release ([0-9]+)\\.([0-9]+)")
      set(_why "cannot read the CUDA version of ${nvcc} (`${nvcc} --version` failed)")
    else()
      set(_nvcc_major "${CMAKE_MATCH_1}")
      set(_nvcc_version "${CMAKE_MATCH_1}.${CMAKE_MATCH_2}")
      string(REGEX MATCH "^[0-9]+" _torch_major "${MYOPS_TORCH_CUDA_VERSION}")
      if(NOT _nvcc_major STREQUAL _torch_major)
        set(_why "nvcc ${nvcc} is CUDA ${_nvcc_version} but torch ${MYOPS_TORCH_VERSION} was built with CUDA ${MYOPS_TORCH_CUDA_VERSION} (the major versions must match)")
      endif()
    endif()
  endif()
  set(${out_var} "${_why}" PARENT_SCOPE)
endfunction()
