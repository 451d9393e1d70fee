// tests/fuzz/fuzz_checkpoint.cpp: libFuzzer target for load_checkpoint. The input's last 8 bytes are replaced by its
// correct checksum before loading, so the fuzzer explores the structure and the JSON header instead of stopping at
// the checksum (a file with a wrong one is tested in tests/test_malformed.cpp).
#include <cstdint>
#include <cstring>
#include <nnlite/io/checkpoint.hpp>
#include <nnlite/nnlite.hpp>
#include <vector>

#include "fuzz_util.hpp"

NNLITE_FUZZ_TARGET(fuzz_checkpoint) {
  std::vector<std::uint8_t> bytes(data, data + size);
  if (bytes.size() >= 16) {
    const std::uint64_t sum =
        nnlite::checkpoint_detail::fnv1a(reinterpret_cast<const char*>(bytes.data()), bytes.size() - 8);
    for (int i = 0; i < 8; ++i) bytes[bytes.size() - 8 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(sum >> (8 * i));
  }
  const std::string& path = nnlite_fuzz::write_input("fuzz_checkpoint", bytes.data(), bytes.size());
  static nnlite::Sequential<float>* model = [] {
    auto* m = new nnlite::Sequential<float>(nnlite::Shape{4}, "fuzz");
    m->add(nnlite::Dense<float>(3, "relu"));
    m->add(nnlite::Dense<float>(2, "softmax"));
    m->compile(nnlite::Adam<float>());
    return m;
  }();
  try {
    (void)nnlite::read_checkpoint_metadata(path);
    (void)nnlite::load_checkpoint(path, *model);
  } catch (const nnlite::Error&) {
  }
  return 0;
}
