# libFuzzer targets (tests/fuzz/), built only with -DNNLITE_FUZZ=ON and clang; .ci/fuzz configures and runs them.
option(NNLITE_FUZZ "Build the libFuzzer targets in tests/fuzz (clang only)" OFF)
if(NNLITE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "NNLITE_FUZZ=ON needs clang (libFuzzer); configure with -DCMAKE_CXX_COMPILER=clang++")
  endif()
  if(NOT NNLITE_HAVE_IO)
    message(FATAL_ERROR "NNLITE_FUZZ=ON needs HDF5 and zlib (nnlite::io)")
  endif()
  set(_nnlite_fuzz_flags -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  # One binary holds every target (tests/fuzz/fuzz_main.cpp picks one by the name it is started under), compiled as
  # one translation unit: five separate targets instantiated the loaders and every layer class five times.
  set(_nnlite_fuzz_targets fuzz_idx fuzz_model_config fuzz_keras_h5 fuzz_checkpoint fuzz_keras_zip)
  set(_fuzz_sources "")
  foreach(target ${_nnlite_fuzz_targets} fuzz_main)
    list(APPEND _fuzz_sources ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/${target}.cpp)
  endforeach()
  nnlite_unity_sources(_fuzz_tus fuzz 1 ${_fuzz_sources})
  add_executable(nnlite_fuzz ${_fuzz_tus})
  target_include_directories(nnlite_fuzz PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
  target_link_libraries(nnlite_fuzz PRIVATE nnlite::io nnlite_warnings)
  target_compile_options(nnlite_fuzz PRIVATE ${_nnlite_fuzz_flags})
  target_link_options(nnlite_fuzz PRIVATE ${_nnlite_fuzz_flags})
  foreach(target ${_nnlite_fuzz_targets})  # build/tests/<target> -> nnlite_fuzz
    add_custom_target(${target} ALL
      COMMAND ${CMAKE_COMMAND} -E create_symlink nnlite_fuzz ${CMAKE_CURRENT_BINARY_DIR}/${target}
      DEPENDS nnlite_fuzz VERBATIM)
  endforeach()
  # The seed corpus generator is an ordinary program (no sanitizers): fuzz_make_corpus <dir>.
  add_executable(fuzz_make_corpus ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/make_corpus.cpp)
  target_link_libraries(fuzz_make_corpus PRIVATE nnlite::io nnlite_warnings)
endif()
