# PyTorch loads Plexus as its NCCL (docs/gpu.md, "Frameworks: libnccl.so.2 and PyTorch"):
# libnccl.so.2 exports every nccl* symbol libtorch_cuda.so imports (the installed PyTorch's, and the
# stored list of the wheel python/ci.sh installs) and no CUDA runtime symbol; preloaded, it takes
# every one of those bindings from the NCCL the wheel ships. `python3` from PATH, as python/ci.sh.
set(plexus_nccl_so2 ${CMAKE_LIBRARY_OUTPUT_DIRECTORY}/plexus/libnccl.so.2)
add_test(NAME abi.torch_nccl_imports_exported
  COMMAND python3 ${PROJECT_SOURCE_DIR}/scripts/check_torch_imports.py exports
  --lib ${plexus_nccl_so2} --list ${PROJECT_SOURCE_DIR}/tests/data/torch_nccl_imports.txt)
add_test(NAME abi.torch_nccl_bindings_preloaded
  COMMAND python3 ${PROJECT_SOURCE_DIR}/scripts/check_torch_imports.py bindings
  --lib ${plexus_nccl_so2})
set_tests_properties(abi.torch_nccl_imports_exported abi.torch_nccl_bindings_preloaded PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 60)

# The NCCL 2.29/2.30 entry points themselves: grow, suspend/resume, memory statistics, and the
# unsupported calls' argument checks and messages.
add_executable(nccl_extra_test nccl_extra_test.cpp)
target_link_libraries(nccl_extra_test PRIVATE plexus GTest::gtest_main plexus_warnings)
gtest_discover_tests(nccl_extra_test TEST_PREFIX "api." PROPERTIES ENVIRONMENT "${PLEXUS_TEST_ENV}"
  RESOURCE_LOCK rank_processes)

# Signatures against the newest NCCL header at hand: the one in the PyTorch wheel's nvidia-nccl
# package (python/ci.sh's environment), with cuda_runtime.h from the CUDA toolkit. Override with
# -DPLEXUS_NCCL_NEWEST_INCLUDE=<dir with nccl.h and nccl_device.h>.
if(NOT PLEXUS_NCCL_NEWEST_INCLUDE)
  file(GLOB plexus_wheel_nccl LIST_DIRECTORIES false
    $ENV{HOME}/.cache/plexus/venv-torch-*/lib/python3*/site-packages/nvidia/nccl/include/nccl_device.h)
  if(plexus_wheel_nccl)
    list(GET plexus_wheel_nccl 0 plexus_wheel_nccl)
    get_filename_component(plexus_wheel_nccl ${plexus_wheel_nccl} DIRECTORY)
    set(PLEXUS_NCCL_NEWEST_INCLUDE ${plexus_wheel_nccl} CACHE PATH "NVIDIA's newest nccl.h")
  endif()
endif()
if(PLEXUS_NCCL_NEWEST_INCLUDE AND PLEXUS_NCCL_REFERENCE_INCLUDE
   AND EXISTS ${PLEXUS_NCCL_REFERENCE_INCLUDE}/cuda_runtime.h)
  message(STATUS "NCCL signature test against ${PLEXUS_NCCL_NEWEST_INCLUDE}/nccl.h")
  add_library(signature_table_plexus OBJECT signature_table.cpp)
  target_include_directories(signature_table_plexus PRIVATE ${PROJECT_SOURCE_DIR}/include/plexus)
  target_compile_definitions(signature_table_plexus PRIVATE
    SIGNATURE_TABLE_FN=plexusSignatureTable PLEXUS_NO_CUDA_HEADERS)
  add_library(signature_table_reference OBJECT signature_table.cpp)
  target_include_directories(signature_table_reference PRIVATE ${PLEXUS_NCCL_NEWEST_INCLUDE}
    ${PLEXUS_NCCL_REFERENCE_INCLUDE})
  target_compile_definitions(signature_table_reference PRIVATE
    SIGNATURE_TABLE_FN=referenceSignatureTable SIGNATURE_WITH_DEVICE_HEADER)
  add_executable(nccl_signature_test signature_test.cpp $<TARGET_OBJECTS:signature_table_plexus>
    $<TARGET_OBJECTS:signature_table_reference>)
  target_link_libraries(nccl_signature_test PRIVATE GTest::gtest_main)
  gtest_discover_tests(nccl_signature_test TEST_PREFIX "abi.")
else()
  message(STATUS "NCCL signature test skipped: no NCCL 2.30 header (PLEXUS_NCCL_NEWEST_INCLUDE)")
endif()
