// tests/fuzz/fuzz_keras_h5.cpp: libFuzzer target for load_model on whole .h5 files. HDF5 itself is not
// instrumented, so only what reaches nnlite's code, ASan's interceptors (memcpy, malloc) or a signal is seen.
#include <cstdint>

#include "fuzz_util.hpp"

NNLITE_FUZZ_TARGET(fuzz_keras_h5) { return nnlite_fuzz::load_model_file("fuzz_keras_h5", data, size, ".h5"); }
