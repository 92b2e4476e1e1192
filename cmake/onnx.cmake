# ONNX export (sl_export_onnx, src/export_onnx*.c), included by CMakeLists.txt before the
# library's targets exist.  The ONNX messages are C structs that protoc-c generates at build
# time from onnx.proto (Debian libonnx-dev ships it) into the build tree; libprotobuf-c
# packs them.  Nothing generated is committed.
#
#   SLOPE_ONNX  ON by default when protoc-c, libprotobuf-c (pkg-config) and onnx.proto are
#               all found; OFF builds sl_export_onnx as a stub returning SL_ERR_UNSUPPORTED.
#               ON without them is an error naming the Debian packages.
#   SLOPE_ONNX_PROTO  the onnx.proto used (found in the include directories).
#
# Sets SLOPE_ONNX_PC_REQUIRES (for slope.pc) and edits SLOPE_SOURCES; call
# slope_onnx_target(<target>) on each target built from those sources.

find_program(SLOPE_PROTOC_C protoc-c)
pkg_check_modules(PROTOBUFC QUIET IMPORTED_TARGET libprotobuf-c)
find_file(SLOPE_ONNX_PROTO onnx/onnx.proto PATHS /usr/include /usr/local/include)
if(SLOPE_PROTOC_C AND PROTOBUFC_FOUND AND SLOPE_ONNX_PROTO)
  set(_slope_onnx_default ON)
else()
  set(_slope_onnx_default OFF)
endif()
option(SLOPE_ONNX "ONNX export (slope export --onnx): needs protoc-c, libprotobuf-c, onnx.proto"
  ${_slope_onnx_default})

set(SLOPE_ONNX_PC_REQUIRES "")
if(SLOPE_ONNX)
  if(NOT (SLOPE_PROTOC_C AND PROTOBUFC_FOUND AND SLOPE_ONNX_PROTO))
    message(FATAL_ERROR "SLOPE_ONNX=ON needs protoc-c, libprotobuf-c and onnx/onnx.proto "
      "(Debian: protobuf-c-compiler libprotobuf-c-dev libonnx-dev), or -DSLOPE_ONNX=OFF")
  endif()
  set(SLOPE_ONNX_GEN_DIR ${PROJECT_BINARY_DIR}/onnx-gen)
  get_filename_component(_slope_onnx_dir ${SLOPE_ONNX_PROTO} DIRECTORY)
  add_custom_command(
    OUTPUT ${SLOPE_ONNX_GEN_DIR}/onnx.pb-c.c ${SLOPE_ONNX_GEN_DIR}/onnx.pb-c.h
    COMMAND ${CMAKE_COMMAND} -E make_directory ${SLOPE_ONNX_GEN_DIR}
    COMMAND ${SLOPE_PROTOC_C} --proto_path=${_slope_onnx_dir} --c_out=${SLOPE_ONNX_GEN_DIR}
            ${SLOPE_ONNX_PROTO}
    # Every global symbol of libslope.a starts with sl_, so the generated onnx__* functions
    # and descriptors become sl_onnx__* (a program with its own ONNX code links both).
    COMMAND sed -i -e "s/\\bonnx__/sl_onnx__/g" ${SLOPE_ONNX_GEN_DIR}/onnx.pb-c.c
            ${SLOPE_ONNX_GEN_DIR}/onnx.pb-c.h
    DEPENDS ${SLOPE_ONNX_PROTO}
    COMMENT "protoc-c: the ONNX messages from ${SLOPE_ONNX_PROTO}"
    VERBATIM)
  # Generated code: its warnings are not ours to fix, and must not break -Werror builds.
  set_source_files_properties(${SLOPE_ONNX_GEN_DIR}/onnx.pb-c.c PROPERTIES
    GENERATED TRUE COMPILE_OPTIONS "-w")
  list(APPEND SLOPE_SOURCES ${SLOPE_ONNX_GEN_DIR}/onnx.pb-c.c)
  set(SLOPE_ONNX_PC_REQUIRES " libprotobuf-c")
  message(STATUS "ONNX export: on (${SLOPE_ONNX_PROTO})")
else()
  list(REMOVE_ITEM SLOPE_SOURCES ${PROJECT_SOURCE_DIR}/src/export_onnx_proto.c
    ${PROJECT_SOURCE_DIR}/src/export_onnx_nodes.c)
  message(STATUS "ONNX export: off (sl_export_onnx returns SL_ERR_UNSUPPORTED)")
endif()

# The generated header, SLOPE_HAVE_ONNX and libprotobuf-c for one of the library's targets
# (PRIVATE: a static library still hands the link on as $<LINK_ONLY:...>).
function(slope_onnx_target target)
  if(SLOPE_ONNX)
    target_include_directories(${target} PRIVATE ${SLOPE_ONNX_GEN_DIR})
    target_compile_definitions(${target} PRIVATE SLOPE_HAVE_ONNX=1)
    target_link_libraries(${target} PRIVATE PkgConfig::PROTOBUFC)
  endif()
endfunction()
