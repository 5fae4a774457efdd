# The GPU path is optional and found, never required at run time (docs/gpu.md).
#   -DPLEXUS_CUDA=AUTO  build it when nvcc and the CUDA toolkit are found (default)
#   -DPLEXUS_CUDA=ON    require it (configure fails without nvcc)
#   -DPLEXUS_CUDA=OFF   host memory only
#   -DPLEXUS_CUDA_ARCHS="80;90;100"  the SM targets nvcc compiles for (CI: all three; the device
#                                    script: 90 only)
# When built, PLEXUS_HAVE_CUDA=1 is defined for every target and the CUDA runtime is linked
# statically (CUDA::cudart_static): it loads the driver (libcuda.so.1) with dlopen on first use, so
# libplexus.so has no link-time dependency on the driver and runs host collectives where there is
# none. Driver API entry points (cuMem*, stream memory operations, multicast) are looked up at run
# time through cudaGetDriverEntryPointByVersion, never linked.
set(PLEXUS_CUDA AUTO CACHE STRING "Build the GPU path: AUTO, ON or OFF")
set_property(CACHE PLEXUS_CUDA PROPERTY STRINGS AUTO ON OFF)
set(PLEXUS_CUDA_ARCHS "80;90;100" CACHE STRING "CUDA SM architectures to compile for")

set(PLEXUS_WITH_CUDA OFF)
if(NOT PLEXUS_CUDA STREQUAL "OFF")
  # nvcc is looked for on PATH, then where toolkits install (CI shells may not have it on PATH).
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX})
    find_program(PLEXUS_NVCC nvcc HINTS ENV CUDA_HOME ENV CUDA_PATH PATH_SUFFIXES bin
      PATHS /usr/local/cuda/bin /usr/local/cuda)
    if(PLEXUS_NVCC)
      set(ENV{CUDACXX} ${PLEXUS_NVCC})
    endif()
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  find_package(CUDAToolkit QUIET)
  if(CMAKE_CUDA_COMPILER AND CUDAToolkit_FOUND)
    set(PLEXUS_WITH_CUDA ON)
  elseif(PLEXUS_CUDA STREQUAL "ON")
    message(FATAL_ERROR "PLEXUS_CUDA=ON but no CUDA toolkit was found (nvcc: "
      "'${CMAKE_CUDA_COMPILER}', toolkit found: '${CUDAToolkit_FOUND}'). Put nvcc on PATH or set "
      "CUDAToolkit_ROOT, or configure with -DPLEXUS_CUDA=AUTO|OFF.")
  elseif(NOT PLEXUS_CUDA STREQUAL "AUTO")
    message(FATAL_ERROR "PLEXUS_CUDA must be AUTO, ON or OFF (got '${PLEXUS_CUDA}')")
  endif()
endif()

if(PLEXUS_WITH_CUDA)
  set(CMAKE_CUDA_ARCHITECTURES ${PLEXUS_CUDA_ARCHS})
  set(CMAKE_CUDA_HOST_COMPILER ${CMAKE_CXX_COMPILER})
  enable_language(CUDA)
  if(NOT DEFINED CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
    # CMake before 3.26 does not know nvcc's C++20 flag and fails every target with a .cu
    # source ("requires the language dialect CUDA20"); nvcc >= 12 takes -std=c++20.
    set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
  endif()
  set(CMAKE_CUDA_STANDARD 20)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  set(CMAKE_CUDA_EXTENSIONS OFF)
  set(CMAKE_CUDA_VISIBILITY_PRESET hidden)
  add_compile_definitions(PLEXUS_HAVE_CUDA=1)
  # nvcc's own warnings and the host compiler's, errors in CI like every other source.
  target_compile_options(plexus_warnings INTERFACE
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra,-Wno-unused-parameter>
    $<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<BOOL:${PLEXUS_WERROR}>>:-Werror=all-warnings -Xcompiler=-Werror>)
  message(STATUS "Plexus GPU path: ON (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, SM ${PLEXUS_CUDA_ARCHS})")
else()
  message(STATUS "Plexus GPU path: OFF (PLEXUS_CUDA=${PLEXUS_CUDA}); host memory only")
endif()
