# Fuzzing (included from the top-level CMakeLists.txt inside if(SLOPE_BUILD_TESTS)).
#
# Always: fuzz_<h>_replay, each harness linked with a plain main() (replay_main.c)
# instead of libFuzzer, and one ctest test per harness, fuzz_replay_<h>, that runs
# it over the seed corpus tests/fuzz/corpus/<h>/ and the crash regressions
# tests/fuzz/regressions/<h>/ (optional until the first crash).  Built with
# whatever compiler and flags the build uses, so the replay runs under gcc, in
# the ASan + UBSan build and under valgrind.
#
# SLOPE_FUZZ=ON (needs clang: -DCMAKE_C_COMPILER=clang): also fuzz_<h>, the
# libFuzzer executables, over a copy of the library built with coverage
# instrumentation and ASan + UBSan.  tools/fuzz.sh builds and runs them.
option(SLOPE_FUZZ "Build the libFuzzer fuzzers (clang, ASan + UBSan)" OFF)

set(SLOPE_FUZZ_DIR ${PROJECT_SOURCE_DIR}/tests/fuzz)
set(SLOPE_FUZZ_HARNESSES config override idx csv safetensors)

add_library(slope_fuzz_common STATIC ${SLOPE_FUZZ_DIR}/fuzz_common.c)
target_include_directories(slope_fuzz_common PUBLIC ${SLOPE_FUZZ_DIR})
target_link_libraries(slope_fuzz_common PUBLIC slope_static ZLIB::ZLIB)

foreach(h ${SLOPE_FUZZ_HARNESSES})
  add_executable(fuzz_${h}_replay ${SLOPE_FUZZ_DIR}/fuzz_${h}.c ${SLOPE_FUZZ_DIR}/replay_main.c)
  target_link_libraries(fuzz_${h}_replay PRIVATE slope_fuzz_common)
  add_test(NAME fuzz_replay_${h}
    COMMAND fuzz_${h}_replay ${SLOPE_FUZZ_DIR}/corpus/${h}
            --optional ${SLOPE_FUZZ_DIR}/regressions/${h}
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  set_tests_properties(fuzz_replay_${h} PROPERTIES LABELS fuzz TIMEOUT 600)
endforeach()

if(SLOPE_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "SLOPE_FUZZ=ON needs clang (libFuzzer): configure with "
      "-DCMAKE_C_COMPILER=clang (Debian: apt-get install clang libclang-rt-14-dev)")
  endif()
  set(SLOPE_FUZZ_SAN -fsanitize=address,undefined -fno-sanitize-recover=undefined
    -fno-omit-frame-pointer -g)
  # The library again (the same sources as slope_objects), with coverage feedback.
  add_library(slope_fuzz_lib STATIC ${SLOPE_SOURCES})
  target_include_directories(slope_fuzz_lib PUBLIC ${PROJECT_SOURCE_DIR}/include
    PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(slope_fuzz_lib PRIVATE -fsanitize=fuzzer-no-link ${SLOPE_FUZZ_SAN})
  target_compile_definitions(slope_fuzz_lib PUBLIC SLOPE_STATIC
    PRIVATE SLOPE_VERSION_STRING="${PROJECT_VERSION}")
  target_link_libraries(slope_fuzz_lib PUBLIC PkgConfig::OPENBLAS PkgConfig::CJSON PkgConfig::PNG
    ZLIB::ZLIB Threads::Threads m)
  if(SLOPE_MPI)
    target_link_libraries(slope_fuzz_lib PUBLIC MPI::MPI_C)
  endif()
  slope_onnx_target(slope_fuzz_lib) # the generated ONNX header and libprotobuf-c
  foreach(h ${SLOPE_FUZZ_HARNESSES})
    add_executable(fuzz_${h} ${SLOPE_FUZZ_DIR}/fuzz_${h}.c ${SLOPE_FUZZ_DIR}/fuzz_common.c)
    target_include_directories(fuzz_${h} PRIVATE ${SLOPE_FUZZ_DIR})
    target_compile_options(fuzz_${h} PRIVATE -fsanitize=fuzzer ${SLOPE_FUZZ_SAN})
    target_link_options(fuzz_${h} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_${h} PRIVATE slope_fuzz_lib)
  endforeach()
  add_custom_target(fuzzers DEPENDS fuzz_config fuzz_override fuzz_idx fuzz_csv fuzz_safetensors)
endif()
