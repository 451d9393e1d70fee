# The API reference has no Doxygen warnings, undocumented members included (cmake/Doxyfile.in warns about them):
# ctest docs_warnings runs Doxygen with the docs target's settings (no HTML) and fails, printing them, on any warning.
# Run with -P, this file is that test's script.
if(CMAKE_SCRIPT_MODE_FILE)
  file(REMOVE ${WARNINGS})
  get_filename_component(_dir ${WARNINGS} DIRECTORY)
  file(MAKE_DIRECTORY ${_dir})
  execute_process(COMMAND ${DOXYGEN} ${DOXYFILE} RESULT_VARIABLE _rc OUTPUT_QUIET)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "doxygen ${DOXYFILE} failed (${_rc})")
  endif()
  if(NOT EXISTS ${WARNINGS})
    message(FATAL_ERROR "doxygen wrote no ${WARNINGS}")
  endif()
  file(READ ${WARNINGS} _text)
  if(NOT _text STREQUAL "")
    message("${_text}")  # as written, one warning a line
    message(FATAL_ERROR "Doxygen warnings above (${WARNINGS})")
  endif()
  return()
endif()

if(NOT DOXYGEN_FOUND)
  find_package(Doxygen QUIET)
endif()
if(DOXYGEN_FOUND)
  # Configured here, its output (docs/doxygen-warnings.txt) lands in this build directory, not the docs target's.
  configure_file(${PROJECT_SOURCE_DIR}/cmake/Doxyfile.in ${CMAKE_CURRENT_BINARY_DIR}/Doxyfile.docs @ONLY)
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/Doxyfile.warnings
    "@INCLUDE = ${CMAKE_CURRENT_BINARY_DIR}/Doxyfile.docs\nGENERATE_HTML = NO\n")
  add_test(NAME docs_warnings
    COMMAND ${CMAKE_COMMAND} -DDOXYGEN=${DOXYGEN_EXECUTABLE} -DDOXYFILE=${CMAKE_CURRENT_BINARY_DIR}/Doxyfile.warnings
      -DWARNINGS=${CMAKE_CURRENT_BINARY_DIR}/docs/doxygen-warnings.txt -P ${CMAKE_CURRENT_LIST_FILE})
endif()
