// nnlite/core/text.hpp: the small string helpers every part shares: Keras-style lower-casing of option names and
// the thousands grouping of model.summary()'s parameter counts.
#pragma once

#include <cctype>
#include <string>

namespace nnlite {

inline std::string to_lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

/// "204928" -> "204,928", the way Keras' model.summary() prints parameter counts.
inline std::string group_thousands(long long v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

}  // namespace nnlite
