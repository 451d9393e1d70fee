// nnlite/layers/gaussian_noise.hpp: Keras' GaussianNoise: in training, out = in + N(0, stddev^2) noise drawn afresh
// for every value; at inference the identity. The noise does not depend on the input, so the gradient is d_out.
#pragma once

#include <cmath>
#include <cstdint>

#include "random_layer.hpp"

namespace nnlite {

/// Keras' GaussianNoise: adds N(0, stddev) noise in training only; the gradient passes through.
template <class Scalar>
class GaussianNoise : public RandomLayer<Scalar> {
  using Base = RandomLayer<Scalar>;

 public:
  /// Keras 3 refuses stddev above 1; tf.keras 2 did not, and its files load here, so only a negative (or non-finite)
  /// stddev is refused.
  explicit GaussianNoise(double stddev, std::string name = "")
      : Base("stddev", checked_stddev(stddev), std::move(name)) {}

  std::string class_name() const override { return "GaussianNoise"; }
  std::string name_stem() const override { return "gaussian_noise"; }
  /// Keras' `stddev`: the standard deviation of the noise distribution.
  double stddev() const { return this->value(); }

  /// Box-Muller on two counter-based 53-bit uniforms per pair of values (u1 in (0, 1], so the log is finite): the
  /// noise is a function of (one key per call, index), whatever the batch split.
  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode mode) override {
    if (!this->draws(in, out, mode)) return;
    const double stddev = this->value();
    const std::uint64_t key = this->next_key();
    const Index n = in.size();
    const Scalar* x = in.data();
    Scalar* y = out.data();
    for (Index i = 0; i < n; i += 2) {
      const auto pair = static_cast<std::uint64_t>(i / 2);
      const double u1 = static_cast<double>((splitmix64_at(key, 2 * pair) >> 11) + 1) * 0x1.0p-53;
      const double u2 = static_cast<double>(splitmix64_at(key, 2 * pair + 1) >> 11) * 0x1.0p-53;
      const double r = stddev * std::sqrt(-2.0 * std::log(u1)), t = 6.283185307179586 * u2;
      y[i] = x[i] + static_cast<Scalar>(r * std::cos(t));
      if (i + 1 < n) y[i + 1] = x[i + 1] + static_cast<Scalar>(r * std::sin(t));
    }
  }

  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    if (this->wants_d_in(in, out, d_out, d_in)) d_in->flat() = d_out.flat();
  }

  /// stddev is required; the seed is not used (the draws come from the model's seed, as for Dropout).
  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& /*input*/) {
    if (!c.has("stddev")) c.bad("'stddev' is missing");
    const double stddev = c.number("stddev", 0.0);
    if (!(stddev >= 0.0)) c.bad("'stddev' must be >= 0, got " + dump_json(c.at("stddev")));
    return configured(std::make_unique<GaussianNoise>(stddev, c.name), c);
  }

  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(*this); }

 private:
  static double checked_stddev(double stddev) {
    if (!(stddev >= 0.0 && std::isfinite(stddev)))
      throw ArgumentError("GaussianNoise: stddev must be >= 0, got " + std::to_string(stddev));
    return stddev;
  }
};

}  // namespace nnlite
