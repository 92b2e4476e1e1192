# Data-parallel training over MPI (slope/dist.h): included from CMakeLists.txt only
# when SLOPE_MPI is on.  Every test runs `mpirun -np N slope train` on loopback and
# takes seconds; ctest -R mpi runs them all.
#   mpi_equivalence     np=2 and np=3 (uneven and empty shards) give np=1's parameters
#                       up to float summation order; sharded evaluation equals plain
#   mpi_checkpoint      a checkpoint from an MPI run resumes in one process, and back
#   mpi_failing_rank    a bad data path on one rank: every rank exits non-zero, quickly
#   mpi_mismatch        a seed or epochs on one rank only: every rank exits 3 naming both values
#   mpi_nan_rank        a NaN on one rank only: every rank stops with exit code 4
if(NOT TARGET slope_cli)
  return()
endif()

add_executable(mpi_compare ${PROJECT_SOURCE_DIR}/tests/mpi_compare.c)
target_link_libraries(mpi_compare PRIVATE slope_static m)

# Open MPI refuses root and counts cores unless told; MPICH needs neither flag.
if(MPI_C_LIBRARY_VERSION_STRING MATCHES "Open MPI")
  set(_slope_mpi_flags "--allow-run-as-root --oversubscribe")
else()
  set(_slope_mpi_flags "")
endif()
set(SLOPE_MPIEXEC_FLAGS "${_slope_mpi_flags}" CACHE STRING "Extra mpiexec flags for the MPI tests")

foreach(mode equivalence checkpoint failing_rank mismatch nan_rank)
  add_test(NAME mpi_${mode}
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/mpi_check.sh ${mode} $<TARGET_FILE:slope_cli>
            $<TARGET_FILE:mpi_compare> ${PROJECT_SOURCE_DIR}/models/spiral_mlp.json
            ${PROJECT_BINARY_DIR}/mpi_${mode} "${MPIEXEC_EXECUTABLE}" "${SLOPE_MPIEXEC_FLAGS}"
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  # The MPI tests share the machine's cores: never run two at once.
  set_tests_properties(mpi_${mode} PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE)
endforeach()
