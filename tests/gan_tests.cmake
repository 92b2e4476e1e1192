# tools/examples/gan.c on a tiny fixture (included from the top-level CMakeLists.txt).
if(TARGET gan AND TARGET slope_cli)
  add_test(NAME gan_example
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/scripts/gan_example.sh $<TARGET_FILE:gan>
            $<TARGET_FILE:slope_cli> ${PROJECT_BINARY_DIR}/gan_example
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  set_tests_properties(gan_example PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
endif()
