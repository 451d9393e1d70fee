# Fails unless README.md contains LINE (the command .ci/run runs) as a line of its own.
file(STRINGS ${README} lines)
list(FIND lines "${LINE}" found)
if(LINE STREQUAL "" OR found EQUAL -1)
  message(FATAL_ERROR "README.md does not show the command .ci/run runs: '${LINE}'")
endif()
