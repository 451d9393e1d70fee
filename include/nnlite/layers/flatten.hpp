// nnlite/layers/flatten.hpp: Keras' Flatten: (H, W, C) -> (H*W*C,) in NHWC order, index (h*W + w)*C + c,
// so a Dense kernel after it maps one to one onto the Keras file.
#pragma once

#include "layer.hpp"

namespace nnlite {

/// Keras' Flatten: (batch, ...) to (batch, product), no copy of the order (NHWC).
template <class Scalar>
class Flatten : public Layer<Scalar> {
 public:
  /// A Flatten layer called `name` (empty: the model gives it an automatic one from name_stem()).
  explicit Flatten(std::string name = "") { this->set_name(std::move(name)); }

  std::string class_name() const override { return "Flatten"; }
  std::string name_stem() const override { return "flatten"; }

  /// Row-major storage is already flat: both passes are copies with a new shape.
  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode /*mode*/) override {
    this->check_input(in);
    out.resize(this->output_shape().with_batch(in.batch()));
    out.flat() = in.flat();
  }

  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& /*out*/, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    if (!d_in) return;
    d_in->resize(in.shape());
    d_in->flat() = d_out.flat();
  }

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
