// nnlite/layers/dropout.hpp: Keras' Dropout (inverted): in training each unit is kept with probability 1 - rate
// and scaled by 1 / (1 - rate), so inference is the identity and needs no rescaling.
#pragma once

#include <cstdint>

#include "random_layer.hpp"

namespace nnlite {

/// Keras' Dropout: inverted dropout in training (kept values scaled by 1 / (1 - rate)), identity at inference.
template <class Scalar>
class Dropout : public RandomLayer<Scalar> {
  using Base = RandomLayer<Scalar>;

 public:
  /// Keras' `rate` (the fraction of the input units to drop, in [0, 1)) and the layer's `name`.
  explicit Dropout(double rate, std::string name = "")
      : Base("rate", Base::checked_rate(rate, "Dropout"), std::move(name)) {}

  std::string class_name() const override { return "Dropout"; }
  std::string name_stem() const override { return "dropout"; }
  /// Keras' `rate`: the fraction of the input units to drop in training.
  double rate() const { return this->value(); }

  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode mode) override {
    if (!this->draws(in, out, mode)) {
      mask_valid_ = false;  // a later backward follows this identity pass, not an older mask
      return;
    }
    // The mask holds 0 or 1 / (1 - rate): backward is then one multiply. Keep when a 32-bit draw falls below
    // (1 - rate) * 2^32, two units per 64-bit draw. The draws are splitmix64 at (one key per batch, unit pair), so
    // the loop vectorises and the mask does not depend on how work is split.
    mask_.resize(in.shape());
    const std::uint64_t keep_below = this->keep_below(), key = this->next_key();
    const Scalar scale = this->keep_scale();
    const Index n = in.size();
    const Scalar* x = in.data();
    Scalar* mask = mask_.data();
    Scalar* y = out.data();
    for (Index i = 0; i < n / 2; ++i) {
      const std::uint64_t bits = splitmix64_at(key, static_cast<std::uint64_t>(i));
      const Scalar m0 = (bits & 0xffffffffULL) < keep_below ? scale : Scalar(0);
      const Scalar m1 = (bits >> 32) < keep_below ? scale : Scalar(0);
      mask[2 * i] = m0;
      mask[2 * i + 1] = m1;
      y[2 * i] = x[2 * i] * m0;
      y[2 * i + 1] = x[2 * i + 1] * m1;
    }
    if (n % 2) {
      const std::uint64_t bits = splitmix64_at(key, static_cast<std::uint64_t>(n / 2));
      mask[n - 1] = (bits & 0xffffffffULL) < keep_below ? scale : Scalar(0);
      y[n - 1] = x[n - 1] * mask[n - 1];
    }
    mask_valid_ = true;
  }

  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    if (!this->wants_d_in(in, out, d_out, d_in)) return;
    // Backward follows the forward that was just run: the mask when it was a training pass, identity otherwise.
    if (mask_valid_ && mask_.shape() == in.shape())
      d_in->flat() = d_out.flat().cwiseProduct(mask_.flat());
    else
      d_in->flat() = d_out.flat();
  }

  nlohmann::json config() const override {
    auto c = Base::config();
    c["noise_shape"] = nullptr;
    return c;
  }

  /// Builds the layer from its Keras config.
  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& /*input*/) {
    return configured(std::make_unique<Dropout>(Base::read_rate(c, false), c.name), c);
  }

  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(*this); }

 protected:
  Shape compute_output_shape(const Shape& input_shape) override { return input_shape; }

 private:
  Tensor<Scalar> mask_;
  bool mask_valid_ = false;
};

}  // namespace nnlite
