// nnlite/core/error.hpp: one exception hierarchy for everything nnlite reports.
// Catch nnlite::Error for all of them; the subclasses say which kind of problem it was.
#pragma once

#include <stdexcept>
#include <string>

/// nnlite: Keras-style layers, models, optimizers and Keras file formats on Eigen, header-only.
namespace nnlite {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Tensors or layers whose shapes do not fit together (message names the layer and both shapes).
struct ShapeError : Error {
  using Error::Error;
};

/// A file or config whose content is not what its format promises (bad magic, truncated, wrong dtype).
struct FormatError : Error {
  using Error::Error;
};

/// Valid input that asks for something nnlite does not implement (a layer class, an option).
struct UnsupportedError : Error {
  using Error::Error;
};

/// The operating system refused: missing file, no permission, disk full.
struct IoError : Error {
  using Error::Error;
};

/// Training diverged: NaN or Inf where a finite number was needed.
struct NumericError : Error {
  using Error::Error;
};

/// A bad argument value (negative units, unknown activation name, dropout rate outside [0, 1)).
struct ArgumentError : Error {
  using Error::Error;
};

}  // namespace nnlite
