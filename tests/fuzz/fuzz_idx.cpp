// tests/fuzz/fuzz_idx.cpp: libFuzzer target for read_idx (plain and gzip'd IDX files). Any exception other than
// nnlite::Error, any crash, sanitizer report, leak or allocation over -rss_limit_mb is a finding.
#include <cstdint>
#include <nnlite/io/idx.hpp>

#include "fuzz_util.hpp"

NNLITE_FUZZ_TARGET(fuzz_idx) {
  const std::string& path = nnlite_fuzz::write_input("fuzz_idx", data, size);
  nnlite::IdxLimits limits;
  limits.max_bytes = std::uint64_t(1) << 24;  // 16 MB: keeps executions fast; the ceiling logic is what is tested
  try {
    const nnlite::IdxArray a = nnlite::read_idx(path, limits);
    // What read_idx returns must be what it promises.
    std::uint64_t n = 1;
    for (std::int64_t d : a.dims) n *= static_cast<std::uint64_t>(d);
    if (a.rank() < 1 || a.rank() > 4 || n != a.data.size()) __builtin_trap();
  } catch (const nnlite::Error&) {
  }
  return 0;
}
