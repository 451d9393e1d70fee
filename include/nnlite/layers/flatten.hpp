// nnlite/layers/flatten.hpp: Keras' Flatten: (H, W, C) -> (H*W*C,) in NHWC order, index (h*W + w)*C + c,
// so a Dense kernel after it maps one to one onto the Keras file.
#pragma once

#include "reshape.hpp"

namespace nnlite {

/// Keras' Flatten: (batch, ...) to (batch, product), no copy of the order (NHWC).
template <class Scalar>
class Flatten : public ReshapingLayer<Scalar> {
 public:
  /// A Flatten layer called `name` (empty: the model gives it an automatic one from name_stem()).
  explicit Flatten(std::string name = "") { this->set_name(std::move(name)); }

  std::string class_name() const override { return "Flatten"; }
  std::string name_stem() const override { return "flatten"; }

  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    c["data_format"] = "channels_last";
    return c;
  }

  /// Builds the layer from its Keras config.
  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& /*input*/) {
    c.check_channels_last();
    return configured(std::make_unique<Flatten>(c.name), c);
  }

  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(*this); }

 protected:
  Shape compute_output_shape(const Shape& input_shape) override {
    if (input_shape.rank() < 1 || input_shape.size() < 1)
      this->shape_error("cannot flatten an empty input " + input_shape.str(true));
    return Shape{input_shape.size()};
  }
};

}  // namespace nnlite
