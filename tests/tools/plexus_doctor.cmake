# plexus-doctor tests: its verdicts on hostile settings the test builds (a 1 MiB /dev/shm in a
# mount namespace, a low descriptor limit, a wrong interface name, a tiny shm budget), on a
# topology file, on a clean host (text and --json), and under plexus-run -n 4 (one merged report).
if(TARGET plexus-doctor AND TARGET plexus-run)
  foreach(case clean json tiny_devshm low_nofile wrong_ifname shm_budget topo_file launched)
    add_test(NAME plexus_doctor.${case}
      COMMAND ${CMAKE_CURRENT_LIST_DIR}/plexus_doctor_test.sh ${case}
        $<TARGET_FILE:plexus-doctor> $<TARGET_FILE:plexus-run> ${PROJECT_SOURCE_DIR})
    set_tests_properties(plexus_doctor.${case} PROPERTIES ENVIRONMENT "${PLEXUS_TEST_ENV}"
      SKIP_RETURN_CODE 77 TIMEOUT 150)
  endforeach()
endif()

# The report's format and the merge of ranks' results, on hand-made results.
if(TARGET plexus-doctor)
  add_executable(plexus_doctor_report_test ${CMAKE_CURRENT_LIST_DIR}/plexus_doctor_report_test.cpp
    ${PROJECT_SOURCE_DIR}/tools/plexus-doctor/report.cpp
    ${PROJECT_SOURCE_DIR}/tools/plexus-doctor/check.cpp)
  target_include_directories(plexus_doctor_report_test PRIVATE ${PROJECT_SOURCE_DIR}/tools/plexus-doctor)
  target_link_libraries(plexus_doctor_report_test PRIVATE plexus_topology nlohmann_json::nlohmann_json
    GTest::gtest_main plexus_warnings)
  gtest_discover_tests(plexus_doctor_report_test PROPERTIES ENVIRONMENT "${PLEXUS_TEST_ENV}")
endif()
