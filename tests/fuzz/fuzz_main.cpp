// tests/fuzz/fuzz_main.cpp: the one libFuzzer binary's entry points. The target is the name the binary was started
// under (tests/fuzz.cmake links fuzz_idx, fuzz_keras_h5, ... to nnlite_fuzz), or NNLITE_FUZZ_TARGET from the
// environment; an unknown one stops with the list of targets.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_util.hpp"

namespace {
nnlite_fuzz::TargetFn chosen = nullptr;
}

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  std::string name = *argc > 0 ? (*argv)[0] : "";
  name = name.substr(name.find_last_of('/') + 1);
  if (const char* env = std::getenv("NNLITE_FUZZ_TARGET")) name = env;
  const auto& table = nnlite_fuzz::targets();
  const auto it = table.find(name);
  if (it == table.end()) {
    std::string known;
    for (const auto& [target, fn] : table) known += " " + target;
    std::fprintf(stderr, "nnlite_fuzz: no fuzz target '%s' (start it as one of:%s, or set NNLITE_FUZZ_TARGET)\n",
                 name.c_str(), known.c_str());
    std::exit(2);
  }
  chosen = it->second;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) { return chosen(data, size); }
