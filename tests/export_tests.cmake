# slope export / --init-from against PyTorch (included from the top-level CMakeLists.txt):
# registered only where /usr/bin/python3 can import torch (Debian python3-torch).
if(TARGET slope_cli AND EXISTS /usr/bin/python3)
  execute_process(COMMAND /usr/bin/python3 -c "import torch" RESULT_VARIABLE _slope_no_torch
                  OUTPUT_QUIET ERROR_QUIET)
  if(_slope_no_torch EQUAL 0)
    add_test(NAME torch_roundtrip
      COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/scripts/torch_roundtrip.py
              $<TARGET_FILE:slope_cli> ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/torch_roundtrip)
    set_tests_properties(torch_roundtrip PROPERTIES TIMEOUT 120)
  endif()
endif()
