# Convolutions on oneDNN (src/conv_dnn.c), included by CMakeLists.txt before the library's
# targets exist.  dnnl.h and libdnnl are found by hand: Debian's dnnl-config.cmake requires
# OpenCL (its GPU runtime), which slope does not use.
#
#   SLOPE_ONEDNN  ON by default when dnnl.h and libdnnl are found (Debian: libdnnl-dev) and,
#                 for a oneDNN threaded with OpenMP (Debian's is), OpenMP for C; OFF builds
#                 conv2d on im2col + sgemm only.  ON without them is an error.
#
# slope calls oneDNN single-threaded from its own pool (src/parallel.c): with an OpenMP
# oneDNN that takes omp_set_num_threads(1) in each calling thread, hence the OpenMP link.
# Sets SLOPE_PC_ONEDNN_LIBS (for slope.pc); call slope_onednn_target(<target>) on each
# target built from the library's sources.

find_path(SLOPE_DNNL_INCLUDE_DIR dnnl.h PATH_SUFFIXES oneapi/dnnl)
find_library(SLOPE_DNNL_LIBRARY dnnl)
set(_slope_dnnl_omp OFF)
if(SLOPE_DNNL_INCLUDE_DIR AND EXISTS ${SLOPE_DNNL_INCLUDE_DIR}/dnnl_config.h)
  file(STRINGS ${SLOPE_DNNL_INCLUDE_DIR}/dnnl_config.h _slope_dnnl_rt
    REGEX "^#define DNNL_CPU_RUNTIME ")
  if(_slope_dnnl_rt MATCHES "DNNL_RUNTIME_OMP")
    set(_slope_dnnl_omp ON)
    find_package(OpenMP QUIET COMPONENTS C)
  elseif(NOT _slope_dnnl_rt MATCHES "DNNL_RUNTIME_SEQ")
    # TBB or threadpool: slope cannot make its calls single-threaded, so it does not use it.
    set(SLOPE_DNNL_LIBRARY SLOPE_DNNL_LIBRARY-NOTFOUND)
  endif()
endif()
if(SLOPE_DNNL_INCLUDE_DIR AND SLOPE_DNNL_LIBRARY AND (NOT _slope_dnnl_omp OR OpenMP_C_FOUND))
  set(_slope_onednn_found ON)
else()
  set(_slope_onednn_found OFF)
endif()
option(SLOPE_ONEDNN "conv2d on oneDNN (libdnnl-dev), SLOPE_CONV=im2col|onednn at run time"
  ${_slope_onednn_found})

set(SLOPE_PC_ONEDNN_LIBS "")
if(SLOPE_ONEDNN)
  if(NOT _slope_onednn_found)
    message(FATAL_ERROR "SLOPE_ONEDNN=ON needs dnnl.h and libdnnl built with OpenMP or "
      "sequential threading (Debian: libdnnl-dev), and OpenMP for C; or -DSLOPE_ONEDNN=OFF")
  endif()
  set(SLOPE_PC_ONEDNN_LIBS " ${SLOPE_DNNL_LIBRARY}")
  if(_slope_dnnl_omp)
    string(APPEND SLOPE_PC_ONEDNN_LIBS " ${OpenMP_C_FLAGS}")
  endif()
  message(STATUS "oneDNN convolutions: on (${SLOPE_DNNL_LIBRARY})")
else()
  message(STATUS "oneDNN convolutions: off (conv2d on im2col + sgemm)")
endif()

# dnnl.h, libdnnl, OpenMP and SLOPE_HAVE_ONEDNN for one of the library's targets.
function(slope_onednn_target target)
  if(SLOPE_ONEDNN)
    target_include_directories(${target} SYSTEM PRIVATE ${SLOPE_DNNL_INCLUDE_DIR})
    target_compile_definitions(${target} PRIVATE SLOPE_HAVE_ONEDNN=1)
    target_link_libraries(${target} PRIVATE ${SLOPE_DNNL_LIBRARY})
    if(_slope_dnnl_omp)
      target_compile_definitions(${target} PRIVATE SLOPE_ONEDNN_OMP=1)
      target_link_libraries(${target} PRIVATE OpenMP::OpenMP_C)
    endif()
  endif()
endfunction()
