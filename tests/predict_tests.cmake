# `slope predict` end to end (included from the top-level CMakeLists.txt inside
# if(SLOPE_BUILD_TESTS)): trains a tiny model, predicts on IDX, CSV, PNG and PGM inputs,
# checks the printed lines and the -o CSV, and that bad inputs exit 3 naming the file.
if(TARGET slope_cli)
  add_test(NAME cli_predict
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/scripts/cli_predict.sh $<TARGET_FILE:slope_cli>
            ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/cli_predict
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  set_tests_properties(cli_predict PROPERTIES TIMEOUT 300)
endif()
