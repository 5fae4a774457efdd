# plexus-run tests: unit tests of its parts and end-to-end runs of the launcher with a helper
# program that plays the ranks (tests/tools/plexus_run_helper.cpp).
if(TARGET plexus-run)
  add_executable(plexus_run_helper ${CMAKE_CURRENT_LIST_DIR}/plexus_run_helper.cpp)
  target_link_libraries(plexus_run_helper PRIVATE plexus_warnings)

  add_executable(plexus_run_test
    ${CMAKE_CURRENT_LIST_DIR}/plexus_run_unit_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/plexus_run_test.cpp)
  target_link_libraries(plexus_run_test PRIVATE plexus_run_lib GTest::gtest_main plexus_warnings)
  target_compile_definitions(plexus_run_test PRIVATE
    PLEXUS_RUN_BIN="$<TARGET_FILE:plexus-run>"
    PLEXUS_RUN_HELPER="$<TARGET_FILE:plexus_run_helper>")
  add_dependencies(plexus_run_test plexus-run plexus_run_helper)
  gtest_discover_tests(plexus_run_test PROPERTIES ENVIRONMENT "${PLEXUS_TEST_ENV}")
endif()
