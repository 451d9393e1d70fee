# The README must stay true: its C++ examples are extracted, built and run, and its test command must be the
# one .ci/run runs.
set(_readme ${PROJECT_SOURCE_DIR}/README.md)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_readme} ${PROJECT_SOURCE_DIR}/.ci/run)
file(READ ${_readme} _readme_text)
# Each C++ example between a pair of markers (<!-- readme-<marker>-begin/end -->) becomes the executable and test
# <name>: the usage example, and "Beyond classification" (binary cross-entropy, a schedule and ModelCheckpoint).
foreach(_pair "example;readme_example" "beyond;readme_beyond_example")
  list(GET _pair 0 _marker)
  list(GET _pair 1 _name)
  string(REGEX MATCH "<!-- readme-${_marker}-begin -->[^`]*```cpp\n(.*)```[ \n]*<!-- readme-${_marker}-end -->" _m
    "${_readme_text}")
  if(NOT CMAKE_MATCH_1)
    message(FATAL_ERROR "README.md: no C++ example between the readme-${_marker} markers")
  endif()
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/${_name}.cpp "${CMAKE_MATCH_1}")
  if(NNLITE_HAVE_IO)
    add_executable(${_name} ${CMAKE_CURRENT_BINARY_DIR}/${_name}.cpp)
    target_link_libraries(${_name} PRIVATE nnlite::io nnlite_warnings nnlite_native)
    nnlite_use_instances(${_name})
    add_test(NAME ${_name} COMMAND ${_name})
  endif()
endforeach()

file(STRINGS ${PROJECT_SOURCE_DIR}/.ci/run _ci_lines REGEX "^\\.ci/install-deps &&")
add_test(NAME readme_test_command_matches_ci
  COMMAND ${CMAKE_COMMAND} -DREADME=${_readme} "-DLINE=${_ci_lines}" -P ${CMAKE_CURRENT_SOURCE_DIR}/scripts/check_readme_line.cmake)
