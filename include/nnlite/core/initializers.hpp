// nnlite/core/initializers.hpp: Keras' weight initializers, drawn from nnlite::Rng so a seed fixes every weight.
#pragma once

#include <cmath>
#include <string>

#include "error.hpp"
#include "random.hpp"
#include "tensor.hpp"

namespace nnlite {

/// Keras' built-in weight initializers that nnlite implements.
enum class Initializer {
  glorot_uniform,  ///< Keras' GlorotUniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)).
  zeros,           ///< Keras' Zeros.
  ones,            ///< Keras' Ones.
  he_uniform,      ///< Keras' HeUniform: U(-l, l), l = sqrt(6 / fan_in).
  glorot_normal,   ///< Keras' GlorotNormal: truncated normal, stddev sqrt(2 / (fan_in + fan_out)).
};

/// Keras' class name of an initializer ("GlorotUniform").
inline std::string initializer_name(Initializer init) {
  switch (init) {
    case Initializer::glorot_uniform: return "GlorotUniform";
    case Initializer::zeros: return "Zeros";
    case Initializer::ones: return "Ones";
    case Initializer::he_uniform: return "HeUniform";
    case Initializer::glorot_normal: return "GlorotNormal";
  }
  return "?";
}

/// Accepts Keras' class names ("GlorotUniform") and their snake_case aliases ("glorot_uniform").
inline Initializer parse_initializer(const std::string& name) {
  if (name == "GlorotUniform" || name == "glorot_uniform") return Initializer::glorot_uniform;
  if (name == "Zeros" || name == "zeros") return Initializer::zeros;
  if (name == "Ones" || name == "ones") return Initializer::ones;
  if (name == "HeUniform" || name == "he_uniform") return Initializer::he_uniform;
  if (name == "GlorotNormal" || name == "glorot_normal") return Initializer::glorot_normal;
  throw UnsupportedError("unknown initializer '" + name + "'");
}

/// Keras' fan computation: the last two dimensions are (in, out); anything before them is the receptive field.
inline void compute_fans(const Shape& shape, double& fan_in, double& fan_out) {
  if (shape.rank() < 2) {
    fan_in = fan_out = static_cast<double>(shape.rank() ? shape[0] : 1);
    return;
  }
  double receptive = 1;
  for (std::size_t i = 0; i + 2 < shape.rank(); ++i) receptive *= static_cast<double>(shape[i]);
  fan_in = receptive * static_cast<double>(shape[shape.rank() - 2]);
  fan_out = receptive * static_cast<double>(shape[shape.rank() - 1]);
}

/// Fills the shape.size() values at `out` as Keras' initializer `init` would, for a weight of this shape.
template <class Scalar>
void initialize(Initializer init, const Shape& shape, Scalar* out, Rng& rng) {
  const Index n = shape.size();
  double fan_in = 1, fan_out = 1;
  compute_fans(shape, fan_in, fan_out);
  switch (init) {
    case Initializer::zeros:
      for (Index i = 0; i < n; ++i) out[i] = Scalar(0);
      return;
    case Initializer::ones:
      for (Index i = 0; i < n; ++i) out[i] = Scalar(1);
      return;
    case Initializer::glorot_uniform:
    case Initializer::he_uniform: {
      const double limit = init == Initializer::glorot_uniform ? std::sqrt(6.0 / (fan_in + fan_out))
                                                               : std::sqrt(6.0 / fan_in);
      for (Index i = 0; i < n; ++i) out[i] = static_cast<Scalar>(rng.uniform(-limit, limit));
      return;
    }
    case Initializer::glorot_normal: {
      // Keras draws from a normal truncated at 2 standard deviations; 0.8796... undoes the truncation's shrink.
      const double stddev = std::sqrt(2.0 / (fan_in + fan_out)) / 0.87962566103423978;
      for (Index i = 0; i < n; ++i) {
        double z = rng.normal();
        while (std::abs(z) > 2.0) z = rng.normal();
        out[i] = static_cast<Scalar>(z * stddev);
      }
      return;
    }
  }
}

}  // namespace nnlite
