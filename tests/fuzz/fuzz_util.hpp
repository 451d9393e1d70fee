// tests/fuzz/fuzz_util.hpp: what the libFuzzer targets share: the table of targets (one binary, nnlite_fuzz, holds
// them all; fuzz_main.cpp picks one), the fuzz input written to a per-process scratch file (the loaders read paths),
// removed at exit, and the small loader ceilings.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include <nnlite/io/keras_h5.hpp>

namespace nnlite_fuzz {

using TargetFn = int (*)(const std::uint8_t* data, std::size_t size);

// Target name -> its LLVMFuzzerTestOneInput body. The targets compile as one translation unit (tests/fuzz.cmake):
// each would otherwise instantiate the loaders and every layer class again, most of its compile time.
inline std::map<std::string, TargetFn>& targets() {
  static std::map<std::string, TargetFn> table;
  return table;
}
inline bool register_target(const char* name, TargetFn fn) { return targets().emplace(name, fn).second; }

// Defines a target: NNLITE_FUZZ_TARGET(fuzz_idx) { ... uses data, size ... }.
#define NNLITE_FUZZ_TARGET(name)                                                                                 \
  static int name##_one_input(const std::uint8_t* data, std::size_t size);                                       \
  [[maybe_unused]] static const bool name##_registered = nnlite_fuzz::register_target(#name, &name##_one_input); \
  static int name##_one_input(const std::uint8_t* data, std::size_t size)

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

// Small ceilings keep each execution fast; the checks are the same code whatever the numbers.
inline nnlite::LoadOptions small_load_options() {
  nnlite::LoadOptions o;
  o.max_attribute_bytes = std::uint64_t(1) << 20;
  o.max_layers = 64;
  o.max_tensor_elements = nnlite::Index(1) << 16;
  o.max_total_params = nnlite::Index(1) << 17;
  return o;
}

// load_model on the input as a whole file with that extension (the format is chosen by it); nnlite::Error is the
// expected way to refuse.
inline int load_model_file(const char* target, const std::uint8_t* data, std::size_t size, const char* extension) {
  const std::string& path = write_input(target, data, size, extension);
  try {
    nnlite::Sequential<float> model = nnlite::load_model<float>(path, small_load_options());
    (void)model.count_params();
  } catch (const nnlite::Error&) {}
  return 0;
}

}  // namespace nnlite_fuzz
