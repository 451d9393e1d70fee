# tests/keras_zip.cmake: the Python check of nnlite's .keras files. keras_zip_write saves the every-layer model
# (tests/keras_zip_models.hpp) into the build tree; keras_zip_python then reads the archives with zipfile, json and
# h5py as Keras 3 would (skipped without h5py).
if(NNLITE_HAVE_IO)
  add_executable(nnlite_keras_zip_writer ${CMAKE_CURRENT_LIST_DIR}/keras_zip_writer.cpp)
  target_link_libraries(nnlite_keras_zip_writer PRIVATE nnlite::io nnlite_warnings nnlite_native)
  set(_keras_zip_dir ${CMAKE_CURRENT_BINARY_DIR}/keras_zip_check)
  file(MAKE_DIRECTORY ${_keras_zip_dir})
  add_test(NAME keras_zip_write COMMAND nnlite_keras_zip_writer ${_keras_zip_dir})
  set_tests_properties(keras_zip_write PROPERTIES FIXTURES_SETUP keras_zip_files ENVIRONMENT "OMP_NUM_THREADS=2")

  # The first Python 3 that has h5py and numpy (a pyenv or venv python3 on PATH may lack Debian's python3-h5py).
  find_package(Python3 COMPONENTS Interpreter QUIET)
  set(_keras_zip_python "")
  foreach(_candidate ${Python3_EXECUTABLE} /usr/bin/python3)
    if(NOT _keras_zip_python AND EXISTS "${_candidate}")
      execute_process(COMMAND ${_candidate} -c "import h5py, numpy" RESULT_VARIABLE _rc OUTPUT_QUIET ERROR_QUIET)
      if(_rc EQUAL 0)
        set(_keras_zip_python ${_candidate})
      endif()
    endif()
  endforeach()
  if(NOT _keras_zip_python)
    set(_keras_zip_python ${Python3_EXECUTABLE})  # the script then reports a skip
  endif()
  if(_keras_zip_python)
    add_test(NAME keras_zip_python COMMAND ${_keras_zip_python} ${CMAKE_CURRENT_LIST_DIR}/keras_zip_check.py ${_keras_zip_dir})
    set_tests_properties(keras_zip_python PROPERTIES FIXTURES_REQUIRED keras_zip_files SKIP_RETURN_CODE 77)
  else()
    message(STATUS "nnlite: no Python 3 found, the keras_zip_python test is not registered")
  endif()
endif()
