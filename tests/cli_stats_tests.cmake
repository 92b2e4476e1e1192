# End-to-end tests of `slope compare` and `slope born-dead` (dying-neuron statistics).
# Included from the top-level CMakeLists.txt inside if(SLOPE_BUILD_TESTS).
if(TARGET slope_cli)
  add_test(NAME cli_compare_spiral
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/cli_stats_check.sh compare $<TARGET_FILE:slope_cli>
            ${PROJECT_SOURCE_DIR}/models/spiral_mlp.json ${PROJECT_BINARY_DIR}/cli_compare_spiral
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  add_test(NAME cli_born_dead
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/cli_stats_check.sh born-dead $<TARGET_FILE:slope_cli>
            ${PROJECT_BINARY_DIR}/cli_born_dead
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  add_test(NAME cli_compare_order
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/scripts/cli_compare_order.sh $<TARGET_FILE:slope_cli>
            ${PROJECT_SOURCE_DIR}/models/spiral_mlp.json ${PROJECT_BINARY_DIR}/cli_compare_order)
  add_test(NAME cli_train_stats
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/cli_stats_check.sh train $<TARGET_FILE:slope_cli>
            ${PROJECT_SOURCE_DIR}/models ${PROJECT_BINARY_DIR}/cli_train_stats
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  # The progress display on a terminal (tmux); skipped (77) where tmux is not installed.
  add_test(NAME tty_progress
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/scripts/tty_progress.sh $<TARGET_FILE:slope_cli>
            ${PROJECT_SOURCE_DIR}/models/spiral_mlp.json ${PROJECT_BINARY_DIR}/tty_progress)
  set_tests_properties(tty_progress PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
  set_tests_properties(cli_compare_spiral cli_born_dead PROPERTIES TIMEOUT 300)
endif()
