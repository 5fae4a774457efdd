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
