# Empty dependencies file for nnlite_tests.
# This may be replaced when dependencies are built.
