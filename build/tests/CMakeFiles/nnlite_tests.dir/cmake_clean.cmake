file(REMOVE_RECURSE
  "CMakeFiles/nnlite_tests.dir/main.cpp.o"
  "CMakeFiles/nnlite_tests.dir/main.cpp.o.d"
  "CMakeFiles/nnlite_tests.dir/test_dense.cpp.o"
  "CMakeFiles/nnlite_tests.dir/test_dense.cpp.o.d"
  "nnlite_tests"
  "nnlite_tests.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/nnlite_tests.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
