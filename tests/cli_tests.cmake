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
if(TARGET slope_cli)
  # An input that cannot be read exits 3 (every input), an output that cannot be written 5.
  add_test(NAME cli_exit_codes
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/scripts/cli_exit_codes.sh $<TARGET_FILE:slope_cli>
            ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/cli_exit_codes
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  set_tests_properties(cli_exit_codes PROPERTIES TIMEOUT 120)
endif()
if(TARGET slope_cli)
  # --set PATH=null removes keys; a resume that changes a cosine schedule's length is refused.
  add_test(NAME cli_run_options
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/scripts/cli_run_options.sh $<TARGET_FILE:slope_cli>
            ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/cli_run_options
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  set_tests_properties(cli_run_options PROPERTIES TIMEOUT 120)
endif()
if(TARGET slope_cli)
  # Every `slope ...` command of README.md's shell blocks runs as pasted (or is listed).
  add_test(NAME readme_commands
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/scripts/readme_commands.sh $<TARGET_FILE:slope_cli>
            ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/readme_commands
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  # Seconds natively; about 200 under valgrind on 2 busy cores.
  set_tests_properties(readme_commands PROPERTIES TIMEOUT 900)
endif()
if(TARGET slope_cli)
  # data.augment: an augmented run trains; bad augment settings exit 3 with the JSON path.
  add_test(NAME cli_augment
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/scripts/cli_augment.sh $<TARGET_FILE:slope_cli>
            ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/cli_augment
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  set_tests_properties(cli_augment PROPERTIES TIMEOUT 120)
endif()
