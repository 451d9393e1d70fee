# tests/mpi.cmake: data-parallel fit over MPI (the nnlite::mpi target), under `mpirun -np 2` with one thread per rank
# (tests/mpi/mpi_fit.cpp). The mpirun flags are Open MPI's (Debian openmpi-bin): --oversubscribe runs 2 ranks on any
# machine, --allow-run-as-root lets CI containers run it. Each test has a TIMEOUT: a hang fails instead of blocking.
if(NOT NNLITE_HAVE_MPI OR NOT MPIEXEC_EXECUTABLE)
  message(STATUS "nnlite: MPI not found (Debian: libopenmpi-dev openmpi-bin); the MPI tests are not built")
  return()
endif()
add_executable(nnlite_mpi_fit ${CMAKE_CURRENT_LIST_DIR}/mpi/mpi_fit.cpp)
target_link_libraries(nnlite_mpi_fit PRIVATE nnlite::mpi nnlite_warnings nnlite_native)
nnlite_use_instances(nnlite_mpi_fit)
if(NNLITE_HAVE_IO)
  target_link_libraries(nnlite_mpi_fit PRIVATE nnlite::io)
endif()
set(NNLITE_MPIRUN ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 2 --oversubscribe --allow-run-as-root
  -x OMP_NUM_THREADS=1 ${MPIEXEC_PREFLAGS})

add_test(NAME mpi_equivalence COMMAND ${NNLITE_MPIRUN} $<TARGET_FILE:nnlite_mpi_fit> equivalence)
set_tests_properties(mpi_equivalence PROPERTIES TIMEOUT 120 ENVIRONMENT "OMP_NUM_THREADS=1" PROCESSORS 2)

if(NNLITE_HAVE_IO AND EXISTS /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz)
  add_test(NAME mpi_fashion_mnist COMMAND ${NNLITE_MPIRUN} $<TARGET_FILE:nnlite_mpi_fit> fashion)
  set_tests_properties(mpi_fashion_mnist PROPERTIES TIMEOUT 180 ENVIRONMENT "OMP_NUM_THREADS=1" PROCESSORS 2)
else()
  message(STATUS "nnlite: no Fashion-MNIST in /usr/share/datasets (Debian: dataset-fashion-mnist); mpi_fashion_mnist is not registered")
endif()

# A rank that throws must end the job with a message naming it, well before the timeout.
add_test(NAME mpi_rank_failure COMMAND ${CMAKE_COMMAND} "-DMPIRUN=${NNLITE_MPIRUN}"
  -DDRIVER=$<TARGET_FILE:nnlite_mpi_fit> -P ${CMAKE_CURRENT_LIST_DIR}/mpi/expect_abort.cmake)
set_tests_properties(mpi_rank_failure PROPERTIES TIMEOUT 90 ENVIRONMENT "OMP_NUM_THREADS=1" PROCESSORS 2)
