# Runs `MPIRUN DRIVER fail` (rank 1 throws inside fit) and passes when the job ends on its own within 60 s with a
# non-zero exit code and the message that names the failed rank.
execute_process(COMMAND ${MPIRUN} ${DRIVER} fail RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
message("${out}${err}")
if(rc STREQUAL "0")
  message(FATAL_ERROR "the job with a failing rank exited with 0")
endif()
if(rc MATCHES "timeout|Process terminated")
  message(FATAL_ERROR "the job with a failing rank hung (${rc})")
endif()
if(NOT "${out}${err}" MATCHES "nnlite: rank 1 of 2 failed in data-parallel fit\\(\\): injected failure")
  message(FATAL_ERROR "no message naming rank 1 (exit ${rc})")
endif()
message("ok: the job ended with exit ${rc} and named rank 1")
