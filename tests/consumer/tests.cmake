# ctest tests for slope as a library others link (included by CMakeLists.txt):
#   public_headers    every public header compiles alone as C11 and C++11, warning-free
#   public_symbols    libslope.so exports the SL_API functions and nothing else
#   consumer_install  cmake --install to a scratch prefix, then tests/consumer built
#                     against it with pkg-config and find_package, shared and static
#   readme_example    README.md shows tests/consumer/example.c and train_fashion.c
#                     verbatim (each checked once README.md has it; skipped before)
# In the sanitizer build the consumer programs are compiled and linked with the
# same -fsanitize flags as the library, so they run under ASan + UBSan too.

include(CheckLanguage)
check_language(CXX)
set(SLOPE_CONSUMER_DIR ${PROJECT_SOURCE_DIR}/tests/consumer)
set(SLOPE_CONSUMER_FLAGS "")
if(SLOPE_SANITIZE)
  set(SLOPE_CONSUMER_FLAGS "-fsanitize=address,undefined -fno-omit-frame-pointer")
endif()

if(CMAKE_CXX_COMPILER)
  add_test(NAME public_headers COMMAND bash ${SLOPE_CONSUMER_DIR}/check_headers.sh
    ${PROJECT_SOURCE_DIR}/include ${CMAKE_C_COMPILER} ${CMAKE_CXX_COMPILER}
    $<TARGET_FILE:slope_shared> "${SLOPE_CONSUMER_FLAGS}")
else()
  message(WARNING "no C++ compiler: the public_headers and consumer_install tests are "
    "not added (install g++)")
endif()

add_test(NAME public_symbols COMMAND bash ${SLOPE_CONSUMER_DIR}/check_symbols.sh
  $<TARGET_FILE:slope_shared> ${PROJECT_SOURCE_DIR}/include $<TARGET_FILE:slope_static>)

if(SLOPE_TEST_CONSUMER AND SLOPE_INSTALL AND CMAKE_CXX_COMPILER)
  if(TARGET slope_cli)
    set(_slope_has_cli 1)
  else()
    set(_slope_has_cli 0)
  endif()
  add_test(NAME consumer_install COMMAND bash ${SLOPE_CONSUMER_DIR}/install_and_build.sh
    ${PROJECT_BINARY_DIR} ${PROJECT_BINARY_DIR}/consumer-test ${PROJECT_VERSION}
    ${_slope_has_cli} $<CONFIG>)
  set_tests_properties(consumer_install PROPERTIES TIMEOUT 900
    ENVIRONMENT "CC=${CMAKE_C_COMPILER};CXX=${CMAKE_CXX_COMPILER};CFLAGS=${SLOPE_CONSUMER_FLAGS};CXXFLAGS=${SLOPE_CONSUMER_FLAGS};LDFLAGS=${SLOPE_CONSUMER_FLAGS}")
endif()

add_test(NAME readme_example COMMAND bash ${SLOPE_CONSUMER_DIR}/check_readme.sh
  ${PROJECT_SOURCE_DIR}/README.md ${SLOPE_CONSUMER_DIR}/example.c
  ${SLOPE_CONSUMER_DIR}/train_fashion.c)
set_tests_properties(readme_example PROPERTIES SKIP_RETURN_CODE 77)
