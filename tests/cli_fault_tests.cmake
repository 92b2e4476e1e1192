# End-to-end fault tests of `slope train` (included from the top-level CMakeLists.txt
# inside if(SLOPE_BUILD_TESTS)):
#   cli_sigint_checkpoint  SIGINT mid-run writes a checkpoint, exits 130; it loads and resumes
#   cli_sigint_fallback    the same without --checkpoint: the file name comes from the
#                          config's name, made safe ("runs/x" -> runs_x.interrupted...)
#   cli_sigterm            SIGTERM is handled as SIGINT is, exit 143
#   cli_sigint_loading     SIGINT (and cli_sigterm_loading: SIGTERM) while the data loads:
#                          exit 130 (143), "interrupted before training started: nothing
#                          was saved", no checkpoint
#   cli_outputs            keep_best, resuming a finished run, a metrics file that cannot be
#                          written, a file-size limit during a checkpoint write
#   cli_nan_guard          a diverging run exits 4 naming the step and layer; the last good
#                          checkpoint stays byte-identical
#   cli_ulimit_sweep       24 runs under `ulimit -v` limits (16 MB..1.5 GB, 1 and 2 threads)
#                          all end: none spins in OpenBLAS's buffer allocation (not under
#                          sanitizers, whose reservations make ulimit -v meaningless)
# The scripts honour $SLOPE_WRAPPER (e.g. valgrind) around each slope command.
if(TARGET slope_cli)
  add_test(NAME cli_sigint_checkpoint
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/scripts/cli_sigint.sh $<TARGET_FILE:slope_cli>
            ${PROJECT_SOURCE_DIR}/models/spiral_mlp.json ${PROJECT_BINARY_DIR}/cli_sigint
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  add_test(NAME cli_sigint_fallback
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/scripts/cli_sigint.sh $<TARGET_FILE:slope_cli>
            ${PROJECT_SOURCE_DIR}/models/spiral_mlp.json ${PROJECT_BINARY_DIR}/cli_sigint_fallback
            fallback
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  add_test(NAME cli_sigterm
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/scripts/cli_sigint.sh $<TARGET_FILE:slope_cli>
            ${PROJECT_SOURCE_DIR}/models/spiral_mlp.json ${PROJECT_BINARY_DIR}/cli_sigterm term
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  foreach(mode loading loading-term)
    set(name sigint_loading)
    if(mode STREQUAL "loading-term")
      set(name sigterm_loading)
    endif()
    add_test(NAME cli_${name}
      COMMAND sh ${PROJECT_SOURCE_DIR}/tests/scripts/cli_sigint.sh $<TARGET_FILE:slope_cli>
              ${PROJECT_SOURCE_DIR}/models/spiral_mlp.json ${PROJECT_BINARY_DIR}/cli_${name} ${mode}
      WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
    set_tests_properties(cli_${name} PROPERTIES TIMEOUT 300 LABELS faults)
  endforeach()
  add_test(NAME cli_outputs
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/scripts/cli_outputs.sh $<TARGET_FILE:slope_cli>
            ${PROJECT_SOURCE_DIR}/models/spiral_mlp.json ${PROJECT_BINARY_DIR}/cli_outputs
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  add_test(NAME cli_nan_guard
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/scripts/cli_nan.sh $<TARGET_FILE:slope_cli>
            ${PROJECT_SOURCE_DIR}/models/spiral_mlp.json ${PROJECT_BINARY_DIR}/cli_nan
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  set_tests_properties(cli_sigint_checkpoint cli_sigint_fallback cli_sigterm cli_outputs cli_nan_guard
    PROPERTIES TIMEOUT 300 LABELS faults)
  if(NOT SLOPE_SANITIZE)
    add_test(NAME cli_ulimit_sweep
      COMMAND sh ${PROJECT_SOURCE_DIR}/tests/scripts/ulimit_sweep.sh $<TARGET_FILE:slope_cli>
              ${PROJECT_SOURCE_DIR}/models/spiral_mlp.json
      WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
    set_tests_properties(cli_ulimit_sweep PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77 LABELS faults)
  endif()
endif()
