# plexus-trace tests: the merge of flight-recorder dumps on hand-made inputs (the multi-process
# test tests/multiproc/flight_recorder_test.cpp runs the tool on real dumps).
if(TARGET plexus_trace_lib)
  add_executable(plexus_trace_test ${CMAKE_CURRENT_LIST_DIR}/plexus_trace_test.cpp)
  target_link_libraries(plexus_trace_test PRIVATE plexus_trace_lib GTest::gtest_main plexus_warnings)
  gtest_discover_tests(plexus_trace_test PROPERTIES ENVIRONMENT "${PLEXUS_TEST_ENV}")
endif()
