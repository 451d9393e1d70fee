// tests/fuzz/fuzz_keras_zip.cpp: libFuzzer target for load_model on whole .keras archives: libzip's parsing of the
// central directory, nnlite's member checks (names, sizes, ratio, CRC), the config.json codec and the weights image
// opened from memory. libzip and HDF5 are not instrumented, so only what reaches nnlite's code, ASan's interceptors
// or a signal is seen.
#include <cstdint>
#include <nnlite/io/keras_h5.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = nnlite_fuzz::write_input("fuzz_keras_zip", data, size, ".keras");
  nnlite::LoadOptions o;
  o.max_attribute_bytes = std::uint64_t(1) << 20;
  o.max_layers = 64;
  o.max_tensor_elements = nnlite::Index(1) << 16;
  o.max_total_params = nnlite::Index(1) << 17;
  try {
    nnlite::Sequential<float> model = nnlite::load_model<float>(path, o);
    (void)model.count_params();
  } catch (const nnlite::Error&) {}
  return 0;
}
