# End-to-end tests of the `slope` command (included from the top-level CMakeLists.txt).
if(TARGET slope_cli)
  add_test(NAME cli_smoke
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/scripts/cli_smoke.sh $<TARGET_FILE:slope_cli>
            ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/cli_smoke
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  set_tests_properties(cli_smoke PROPERTIES TIMEOUT 300)
  add_test(NAME cli_flags
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/scripts/cli_flags.sh $<TARGET_FILE:slope_cli>
            ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/cli_flags
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  set_tests_properties(cli_flags PROPERTIES TIMEOUT 120)
endif()
include(${CMAKE_CURRENT_LIST_DIR}/cli_inputs_tests.cmake)
