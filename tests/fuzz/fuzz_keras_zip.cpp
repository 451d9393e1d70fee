// tests/fuzz/fuzz_keras_zip.cpp: libFuzzer target for load_model on whole .keras archives: libzip's parsing of the
// central directory, nnlite's member checks (names, sizes, ratio, CRC), the config.json codec and the weights image
// opened from memory. libzip and HDF5 are not instrumented, so only what reaches nnlite's code, ASan's interceptors
// or a signal is seen.
#include <cstdint>

#include "fuzz_util.hpp"

NNLITE_FUZZ_TARGET(fuzz_keras_zip) { return nnlite_fuzz::load_model_file("fuzz_keras_zip", data, size, ".keras"); }
