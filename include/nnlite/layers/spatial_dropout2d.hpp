// nnlite/layers/spatial_dropout2d.hpp: Keras' SpatialDropout2D: Dropout that drops whole channels (feature maps) of
// an NHWC input, one draw per (sample, channel) (Keras' noise_shape (batch, 1, 1, channels)). Inverted like Dropout:
// a kept channel is scaled by 1 / (1 - rate), and inference is the identity.
#pragma once

#include <cstdint>
#include <vector>

#include "../core/parallel.hpp"
#include "random_layer.hpp"

namespace nnlite {

/// Keras' SpatialDropout2D: drops whole channels per sample in training, identity at inference.
template <class Scalar>
class SpatialDropout2D : public RandomLayer<Scalar> {
  using Base = RandomLayer<Scalar>;

 public:
  /// Keras' `rate` (the fraction of the channels to drop, in [0, 1)) and the layer's `name`.
  explicit SpatialDropout2D(double rate, std::string name = "")
      : Base("rate", Base::checked_rate(rate, "SpatialDropout2D"), std::move(name)) {}

  std::string class_name() const override { return "SpatialDropout2D"; }
  std::string name_stem() const override { return "spatial_dropout2d"; }
  /// Keras' `rate`: the fraction of the channels to drop in training.
  double rate() const { return this->value(); }

  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode mode) override {
    if (!this->draws(in, out, mode)) {
      mask_valid_ = false;  // a later backward follows this identity pass, not an older mask
      return;
    }
    // mask[n * C + c] is 0 or 1 / (1 - rate): keep when the high half of a counter-based draw at (key, n * C + c)
    // falls below (1 - rate) * 2^32 (as Dropout draws, so the mask does not depend on how the work is split).
    const Index C = channels_, P = pixels_, batch = in.batch();
    mask_.resize(static_cast<std::size_t>(batch * C));
    const std::uint64_t keep_below = this->keep_below(), key = this->next_key();
    const Scalar scale = this->keep_scale();
    for (Index i = 0; i < batch * C; ++i)
      mask_[static_cast<std::size_t>(i)] =
          (splitmix64_at(key, static_cast<std::uint64_t>(i)) >> 32) < keep_below ? scale : Scalar(0);
    apply_mask(in.data(), out.data(), batch, P, C);
    mask_valid_ = true;
    mask_batch_ = batch;
  }

  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    if (!this->wants_d_in(in, out, d_out, d_in)) return;
    // Backward follows the forward that was just run: the mask when it was a training pass, identity otherwise.
    if (mask_valid_ && mask_batch_ == in.batch())
      apply_mask(d_out.data(), d_in->data(), in.batch(), pixels_, channels_);
    else
      d_in->flat() = d_out.flat();
  }

  nlohmann::json config() const override {
    auto c = Base::config();
    c["data_format"] = "channels_last";
    return c;
  }

  /// Keras 3 writes rate, seed, data_format; tf.keras 2 rate, noise_shape (null), seed. The seed is not used: the
  /// draws come from the model's seed, like Dropout's.
  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& /*input*/) {
    const double rate = Base::read_rate(c, true);
    c.check_channels_last();
    return configured(std::make_unique<SpatialDropout2D>(rate, c.name), c);
  }

  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(*this); }

 protected:
  Shape compute_output_shape(const Shape& input_shape) override {
    this->check_image_input(input_shape);
    pixels_ = input_shape[0] * input_shape[1];
    channels_ = input_shape[2];
    mask_valid_ = false;
    return input_shape;
  }

 private:
  /// dst[n, p, c] = src[n, p, c] * mask[n, c].
  void apply_mask(const Scalar* src, Scalar* dst, Index batch, Index P, Index C) const {
    parallel_for(
        batch,
        [&](Index n) {
          const Scalar* m = mask_.data() + n * C;
          for (Index p = 0; p < P; ++p) {
            const Scalar* x = src + (n * P + p) * C;
            Scalar* y = dst + (n * P + p) * C;
            for (Index c = 0; c < C; ++c) y[c] = x[c] * m[c];
          }
        },
        static_cast<double>(P * C));
  }

  Index pixels_ = 0, channels_ = 0;
  std::vector<Scalar> mask_;  // workspace: one factor per (sample, channel) of the last training forward
  bool mask_valid_ = false;
  Index mask_batch_ = 0;
};

}  // namespace nnlite
