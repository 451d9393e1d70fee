// nnlite/layers/random_layer.hpp: RandomLayer, the base of Keras' random regularization layers (Dropout,
// SpatialDropout2D, GaussianNoise), random in training only and the identity at inference; it holds the layer's
// rate-like option (`rate`, `stddev`), the generator the model seeds, the config keys they share and the dropout
// rate's checks; each layer keeps its own mask or noise.
#pragma once

#include <cstdint>
#include <string>

#include "../core/random.hpp"
#include "layer.hpp"

namespace nnlite {

/// Base of the layers that draw random numbers in training and are the identity at inference (Dropout,
/// SpatialDropout2D, GaussianNoise): their rate-like Keras option, the generator the model seeds, the shared config.
template <class Scalar>
class RandomLayer : public SameShapeLayer<Scalar> {
 public:
  void seed(std::uint64_t seed) override { rng_.reseed(seed); }

  /// Adds the rate-like option under its Keras key and `seed` (null: the draws come from the model's seed).
  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    c[key_] = value_;
    c["seed"] = nullptr;
    return c;
  }

 protected:
  /// `key` is Keras' name of the rate-like option ("rate", "stddev"), `value` its (already checked) value.
  RandomLayer(const char* key, double value, std::string name) : value_(value), key_(key) {
    this->set_name(std::move(name));
  }

  /// The rate-like option: Keras' `rate` or `stddev`.
  double value() const { return value_; }

  /// A dropout rate in [0, 1); ArgumentError "`layer`: rate must be in [0, 1), got ..." otherwise.
  static double checked_rate(double rate, const char* layer) {
    if (!(rate >= 0.0 && rate < 1.0))
      throw ArgumentError(std::string(layer) + ": rate must be in [0, 1), got " + std::to_string(rate));
    return rate;
  }

  /// A dropout config's `rate` (0 when absent, unless `required`), checked to be in [0, 1); `noise_shape` must be null.
  static double read_rate(const ConfigReader& c, bool required) {
    if (required && !c.has("rate")) c.bad("'rate' is missing");
    const double rate = c.number("rate", 0.0);
    if (!(rate >= 0.0 && rate < 1.0)) c.bad("'rate' must be in [0, 1), got " + dump_json(c.at("rate")));
    c.require_null("noise_shape");
    return rate;
  }

  /// The start of forward(): checks `in` and sizes `out`; returns false (with out = in) when nothing is drawn, in
  /// inference or with a zero rate-like option.
  bool draws(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode mode) const {
    this->check_input(in);
    out.resize(in.shape());
    if (mode == Mode::inference || value_ == 0.0) {
      out.flat() = in.flat();
      return false;
    }
    return true;
  }

  /// A fresh key for one forward's counter-based draws (splitmix64_at(key, i)).
  std::uint64_t next_key() { return rng_(); }

  /// Dropout keeps a unit when a 32-bit draw falls below (1 - rate) * 2^32.
  std::uint64_t keep_below() const { return static_cast<std::uint64_t>((1.0 - value_) * 4294967296.0); }
  /// The factor of a kept unit: 1 / (1 - rate), so that inference needs no rescaling.
  Scalar keep_scale() const { return Scalar(1) / static_cast<Scalar>(1.0 - value_); }

 private:
  double value_;
  const char* key_;
  Rng rng_;
};

}  // namespace nnlite
