# Two consumer projects outside the source tree: one finds an installed nnlite (cmake --install to a temporary
# prefix), one pulls the source in with add_subdirectory. Both must configure, build and run.
set(_consumer_root ${CMAKE_CURRENT_BINARY_DIR}/consumers)
add_test(NAME consumer_find_package
  COMMAND ${CMAKE_COMMAND} -DSOURCE=${PROJECT_SOURCE_DIR} -DBUILD=${PROJECT_BINARY_DIR} -DWORK=${_consumer_root}/installed
          -DMODE=find_package "-DLAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER}" -P ${CMAKE_CURRENT_SOURCE_DIR}/consumer/run_consumer.cmake)
add_test(NAME consumer_add_subdirectory
  COMMAND ${CMAKE_COMMAND} -DSOURCE=${PROJECT_SOURCE_DIR} -DBUILD=${PROJECT_BINARY_DIR} -DWORK=${_consumer_root}/subdir
          -DMODE=add_subdirectory "-DLAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER}" -P ${CMAKE_CURRENT_SOURCE_DIR}/consumer/run_consumer.cmake)
