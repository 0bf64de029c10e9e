# The CUDA backend (issue 15). HELIX_CUDA = AUTO builds it where nvcc is found (the
# toolkit's usual place, CUDA_HOME, or PATH), ON requires it, OFF skips it. Sets
# HELIX_CUDA_ENABLED, and HELIX_CUDA_EMULATOR_ENABLED where the backend's code is
# built for the CUDA emulator. The sanitizer build leaves the backend off (nvcc
# takes no -fsanitize) but builds the emulated one.
set(HELIX_CUDA AUTO CACHE STRING "Build the CUDA backend: AUTO (where nvcc is found), ON or OFF")
set_property(CACHE HELIX_CUDA PROPERTY STRINGS AUTO ON OFF)
set(HELIX_CUDA_ENABLED OFF)
set(HELIX_CUDA_EMULATOR_ENABLED OFF)  # the backend's code on the CPU (src/helix/cuda_emulator)

if(NOT HELIX_CUDA MATCHES "^(AUTO|ON|OFF)$")
  message(FATAL_ERROR "HELIX_CUDA must be AUTO, ON or OFF, got '${HELIX_CUDA}'")
endif()

if(HELIX_CUDA STREQUAL "OFF")
  message(STATUS "helix: CUDA backend off (HELIX_CUDA=OFF)")
elseif(HELIX_SANITIZE)
  if(HELIX_CUDA STREQUAL "ON")
    message(FATAL_ERROR "HELIX_CUDA=ON cannot be combined with HELIX_SANITIZE=ON (nvcc takes no -fsanitize)")
  endif()
  # The backend's host code and kernels still build, as host C++, on the CUDA
  # emulator, which needs only the toolkit's headers: the sanitizers check them.
  find_package(CUDAToolkit QUIET)
  if(CUDAToolkit_FOUND)
    set(HELIX_CUDA_EMULATOR_ENABLED ON)
    message(STATUS "helix: CUDA backend off in the sanitizer build; its code runs there on the CUDA emulator")
  else()
    message(STATUS "helix: CUDA backend off in the sanitizer build (and no CUDA toolkit for the emulator)")
  endif()
else()
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX})
    find_program(HELIX_NVCC nvcc HINTS "$ENV{CUDA_HOME}/bin" /usr/local/cuda/bin)
    if(HELIX_NVCC)
      set(CMAKE_CUDA_COMPILER "${HELIX_NVCC}")
    endif()
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    # T4 (7.5), A100 (8.0), H100/H200 (9.0). A10/RTX 30 (8.6) and L4/RTX 40 (8.9) run
    # the 8.0 code: a GPU runs code built for an earlier minor version of its major
    # one, and no kernel uses what 8.6 or 8.9 added. Later GPUs compile the 9.0 PTX
    # when they load it. Two fewer architectures take 40% off the CUDA compile,
    # which CI pays on 2 cores.
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 75-real 80-real 90)
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)  # CMake 3.25 knows no C++20 flag for nvcc; the .cu files need none
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    set(HELIX_CUDA_ENABLED ON)
    set(HELIX_CUDA_EMULATOR_ENABLED ON)
    message(STATUS "helix: CUDA backend on (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES})")
  elseif(HELIX_CUDA STREQUAL "ON")
    message(FATAL_ERROR "HELIX_CUDA=ON but no CUDA compiler (nvcc) was found: set CUDACXX or CMAKE_CUDA_COMPILER, "
                        "or use HELIX_CUDA=AUTO")
  else()
    message(STATUS "helix: no nvcc found, CUDA backend off (HELIX_CUDA=AUTO)")
  endif()
endif()

# nvcc's warnings, and the host compiler's inside .cu files, as errors where
# HELIX_WERROR asks for them.
set(HELIX_CUDA_WARNINGS -Xcompiler=-Wall,-Wextra)
if(HELIX_WERROR)
  list(APPEND HELIX_CUDA_WARNINGS --Werror=all-warnings -Xcompiler=-Werror)
endif()
