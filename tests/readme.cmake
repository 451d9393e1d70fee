# The README must stay true: its usage example is extracted, built and run, and its test command must be the
# one .ci/run runs.
set(_readme ${PROJECT_SOURCE_DIR}/README.md)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_readme} ${PROJECT_SOURCE_DIR}/.ci/run)
file(READ ${_readme} _readme_text)
string(REGEX MATCH "<!-- readme-example-begin -->[^`]*```cpp\n(.*)```[ \n]*<!-- readme-example-end -->" _m "${_readme_text}")
if(NOT CMAKE_MATCH_1)
  message(FATAL_ERROR "README.md: no C++ usage example between the readme-example markers")
endif()
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/readme_example.cpp "${CMAKE_MATCH_1}")
if(NNLITE_HAVE_IO)
  add_executable(readme_example ${CMAKE_CURRENT_BINARY_DIR}/readme_example.cpp)
  target_link_libraries(readme_example PRIVATE nnlite::io nnlite_warnings nnlite_native)
  add_test(NAME readme_example COMMAND readme_example)
endif()

# The second example ("Beyond classification"): binary cross-entropy, a schedule and ModelCheckpoint.
string(REGEX MATCH "<!-- readme-beyond-begin -->[^`]*```cpp\n(.*)```[ \n]*<!-- readme-beyond-end -->" _m "${_readme_text}")
if(NOT CMAKE_MATCH_1)
  message(FATAL_ERROR "README.md: no C++ example between the readme-beyond markers")
endif()
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/readme_beyond_example.cpp "${CMAKE_MATCH_1}")
if(NNLITE_HAVE_IO)
  add_executable(readme_beyond_example ${CMAKE_CURRENT_BINARY_DIR}/readme_beyond_example.cpp)
  target_link_libraries(readme_beyond_example PRIVATE nnlite::io nnlite_warnings nnlite_native)
  add_test(NAME readme_beyond_example COMMAND readme_beyond_example)
endif()

file(STRINGS ${PROJECT_SOURCE_DIR}/.ci/run _ci_lines REGEX "^\\.ci/install-deps &&")
add_test(NAME readme_test_command_matches_ci
  COMMAND ${CMAKE_COMMAND} -DREADME=${_readme} "-DLINE=${_ci_lines}" -P ${CMAKE_CURRENT_SOURCE_DIR}/scripts/check_readme_line.cmake)
