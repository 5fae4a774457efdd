# plexus-topo tests: run the built tool on synthetic systems, the shared NCCL XML files and this
# machine, and check what it prints.
if(TARGET plexus-topo)
  add_executable(plexus_topo_test ${CMAKE_CURRENT_LIST_DIR}/plexus_topo_test.cpp)
  target_link_libraries(plexus_topo_test PRIVATE GTest::gtest_main nlohmann_json::nlohmann_json
    plexus_warnings)
  target_compile_definitions(plexus_topo_test PRIVATE
    PLEXUS_TOPO_BIN="$<TARGET_FILE:plexus-topo>"
    PLEXUS_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data")
  add_dependencies(plexus_topo_test plexus-topo)
  gtest_discover_tests(plexus_topo_test PROPERTIES ENVIRONMENT "${PLEXUS_TEST_ENV}")
endif()
