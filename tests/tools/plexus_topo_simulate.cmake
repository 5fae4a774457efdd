# plexus-topo simulate: the table's format and its refusals (the tool runs as a child process).
if(TARGET plexus-topo)
  add_executable(plexus_topo_simulate_test ${CMAKE_CURRENT_LIST_DIR}/plexus_topo_simulate_test.cpp)
  target_link_libraries(plexus_topo_simulate_test PRIVATE GTest::gtest_main plexus_warnings)
  target_compile_definitions(plexus_topo_simulate_test PRIVATE
    PLEXUS_TOPO_BIN="$<TARGET_FILE:plexus-topo>")
  add_dependencies(plexus_topo_simulate_test plexus-topo)
  gtest_discover_tests(plexus_topo_simulate_test TEST_PREFIX "tools."
    PROPERTIES ENVIRONMENT "${PLEXUS_TEST_ENV}")
endif()
