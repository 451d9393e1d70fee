# Runs one consumer scenario (MODE = find_package | add_subdirectory); fails on the first failing step.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()

# Unoptimised (no build type): the consumers check that the package configures, links and runs, not its speed; -O0
# halves their compile. Through the build's ccache when it has one (LAUNCHER), so a machine that built them before
# does not compile them again.
set(_options -DCMAKE_BUILD_TYPE=)
if(LAUNCHER)
  list(APPEND _options -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()
if(MODE STREQUAL "find_package")
  run(${CMAKE_COMMAND} --install ${BUILD} --prefix ${WORK}/prefix)
  run(${CMAKE_COMMAND} -S ${SOURCE}/tests/consumer -B ${WORK}/build -DCMAKE_PREFIX_PATH=${WORK}/prefix
      ${_options})
else()
  run(${CMAKE_COMMAND} -S ${SOURCE}/tests/consumer -B ${WORK}/build -DNNLITE_SOURCE=${SOURCE}
      ${_options})
endif()
run(${CMAKE_COMMAND} --build ${WORK}/build -j2)
run(${WORK}/build/consumer)
