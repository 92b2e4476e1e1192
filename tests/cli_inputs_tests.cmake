# cli_inputs: FIFOs as every input of `slope train` / `slope eval` (refused, never a hang),
# a dataset past SLOPE_DATA_BUDGET (exit 3), an IDX shape that does not match the model's
# input (exit 3).  Included from the top-level CMakeLists.txt inside if(SLOPE_BUILD_TESTS).
if(TARGET slope_cli)
  add_test(NAME cli_inputs
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/scripts/cli_inputs.sh $<TARGET_FILE:slope_cli>
            ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/cli_inputs
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  set_tests_properties(cli_inputs PROPERTIES TIMEOUT 300 LABELS faults)
endif()
