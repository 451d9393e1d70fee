// tests/fuzz/fuzz_util.hpp: what the libFuzzer targets share: the fuzz input written to a per-process scratch file
// (the loaders read paths), removed at exit.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace nnlite_fuzz {

// The scratch file for this process ($TMPDIR or /tmp), named after the target so parallel jobs never share one;
// `extension` (".h5", ".keras") is what load_model chooses the format by.
inline const std::string& scratch_path(const char* target, const char* extension = "") {
  static const std::string path = [&] {
    const char* dir = std::getenv("TMPDIR");
    std::string p =
        std::string(dir && *dir ? dir : "/tmp") + "/nnlite_" + target + "_" + std::to_string(::getpid()) + extension;
    std::atexit([] { std::remove(scratch_path(nullptr).c_str()); });
    return p;
  }();
  return path;
}

// Replaces the scratch file's content with the fuzz input; aborts (a finding) only if the disk refuses.
inline const std::string& write_input(const char* target, const std::uint8_t* data, std::size_t size,
                                      const char* extension = "") {
  const std::string& path = scratch_path(target, extension);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) std::abort();
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0) std::abort();
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return path;
}

}  // namespace nnlite_fuzz
