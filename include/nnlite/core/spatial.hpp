// nnlite/core/spatial.hpp: the vocabulary of 2-D layers: a (height, width) pair and Keras' padding modes.
#pragma once

#include <array>
#include <string>

#include "error.hpp"
#include "tensor.hpp"
#include "text.hpp"

namespace nnlite {

/// Keras' `padding`: "valid" or "same".
enum class Padding {
  valid,  ///< No padding: only windows that fit inside the input.
  same,   ///< Zero padding so that the output size is ceil(input / stride).
};

/// Keras' spelling of a Padding: "valid" or "same".
inline std::string padding_name(Padding p) { return p == Padding::same ? "same" : "valid"; }

/// Keras lower-cases the name before it checks it, so "SAME" is accepted too.
inline Padding parse_padding(std::string name) {
  name = to_lower(std::move(name));
  if (name == "valid") return Padding::valid;
  if (name == "same") return Padding::same;
  throw ArgumentError("padding must be 'valid' or 'same', got '" + name + "'");
}

/// A (height, width) pair: kernel sizes, pool sizes and strides. Implicit from one number because Keras accepts
/// kernel_size=3 for (3, 3); {3, 3} and std::array<Index, 2> work as well.
struct Size2 {
  Index h = 1;  ///< Height (rows).
  Index w = 1;  ///< Width (columns).
  Size2() = default;
  /// (both, both): Keras' kernel_size=3.
  Size2(Index both) : h(both), w(both) {}  // NOLINT(google-explicit-constructor): Keras-style shorthand
  /// (height, width).
  Size2(Index height, Index width) : h(height), w(width) {}
  /// (hw[0], hw[1]).
  Size2(const std::array<Index, 2>& hw) : h(hw[0]), w(hw[1]) {}  // NOLINT(google-explicit-constructor)
  /// Same height and width.
  friend bool operator==(const Size2& a, const Size2& b) { return a.h == b.h && a.w == b.w; }
  /// Different height or width.
  friend bool operator!=(const Size2& a, const Size2& b) { return !(a == b); }
  /// "(3, 3)", as Keras prints a tuple.
  std::string str() const { return "(" + std::to_string(h) + ", " + std::to_string(w) + ")"; }
};

}  // namespace nnlite
