# CMake generated Testfile for 
# Source directory: /work/main/tests
# Build directory: /work/main/build/tests
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
add_test([=[test_dense]=] "/work/main/build/tests/nnlite_tests" "--source-file=*test_dense.cpp" "--no-intro=true")
set_tests_properties([=[test_dense]=] PROPERTIES  ENVIRONMENT "OMP_NUM_THREADS=2" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;23;add_test;/work/main/tests/CMakeLists.txt;0;")
