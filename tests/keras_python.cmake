# tests/keras_python.cmake: the Python checks of nnlite's Keras files. keras_h5_write saves the study models and their
# predictions (tests/keras_h5_models.hpp), keras_zip_write the every-layer model (tests/keras_zip_models.hpp), into
# the build tree, both with nnlite_keras_writer; keras_h5_python and keras_zip_python then read them with h5py (and
# zipfile, json) as Keras would (skipped without h5py).
if(NNLITE_HAVE_IO)
  add_executable(nnlite_keras_writer ${CMAKE_CURRENT_LIST_DIR}/keras_writer.cpp)
  target_link_libraries(nnlite_keras_writer PRIVATE nnlite::io nnlite_warnings nnlite_native)
  nnlite_use_instances(nnlite_keras_writer)

  # The first Python 3 that has h5py and numpy (a pyenv or venv python3 on PATH may lack Debian's python3-h5py).
  find_package(Python3 COMPONENTS Interpreter QUIET)
  set(_keras_python "")
  foreach(_candidate ${Python3_EXECUTABLE} /usr/bin/python3)
    if(NOT _keras_python AND EXISTS "${_candidate}")
      execute_process(COMMAND ${_candidate} -c "import h5py, numpy" RESULT_VARIABLE _rc OUTPUT_QUIET ERROR_QUIET)
      if(_rc EQUAL 0)
        set(_keras_python ${_candidate})
      endif()
    endif()
  endforeach()
  if(NOT _keras_python)
    set(_keras_python ${Python3_EXECUTABLE})  # the scripts then report a skip
  endif()

  foreach(_kind h5 zip)
    set(_format ${_kind})
    if(_kind STREQUAL "zip")
      set(_format keras)
    endif()
    set(_dir ${CMAKE_CURRENT_BINARY_DIR}/keras_${_kind}_check)
    file(MAKE_DIRECTORY ${_dir})
    add_test(NAME keras_${_kind}_write COMMAND nnlite_keras_writer ${_format} ${_dir})
    set_tests_properties(keras_${_kind}_write PROPERTIES FIXTURES_SETUP keras_${_kind}_files
      ENVIRONMENT "OMP_NUM_THREADS=2")
    if(_keras_python)
      add_test(NAME keras_${_kind}_python COMMAND ${_keras_python} ${CMAKE_CURRENT_LIST_DIR}/keras_${_kind}_check.py ${_dir})
      set_tests_properties(keras_${_kind}_python PROPERTIES FIXTURES_REQUIRED keras_${_kind}_files SKIP_RETURN_CODE 77)
    else()
      message(STATUS "nnlite: no Python 3 found, the keras_${_kind}_python test is not registered")
    endif()
  endforeach()
endif()
