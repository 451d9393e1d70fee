// nnlite/layers/rescaling.hpp: Keras' Rescaling: out = in * scale + offset (in training and inference alike), e.g.
// scale 1/255 for pixels. No weights; the gradient is d_out * scale.
#pragma once

#include <cmath>

#include "layer.hpp"

namespace nnlite {

/// Keras' Rescaling: out = in * scale + offset.
template <class Scalar>
class Rescaling : public SameShapeLayer<Scalar> {
 public:
  /// Keras' `scale` and `offset` (out = in * scale + offset), both finite, and the layer's `name`.
  explicit Rescaling(double scale, double offset = 0.0, std::string name = "") : scale_(scale), offset_(offset) {
    if (!std::isfinite(scale) || !std::isfinite(offset))
      throw ArgumentError("Rescaling: scale and offset must be finite, got " + std::to_string(scale) + " and " +
                          std::to_string(offset));
    this->set_name(std::move(name));
  }

  std::string class_name() const override { return "Rescaling"; }
  std::string name_stem() const override { return "rescaling"; }
  /// Keras' `scale`: the scale to apply to the inputs.
  double scale() const { return scale_; }
  /// Keras' `offset`: the offset to apply to the inputs.
  double offset() const { return offset_; }

  /// Keras casts scale and offset to the compute dtype first: the arithmetic is the model's Scalar throughout.
  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode /*mode*/) override {
    this->check_input(in);
    out.resize(in.shape());
    const Scalar s = static_cast<Scalar>(scale_), o = static_cast<Scalar>(offset_);
    out.flat() = (in.flat().array() * s + o).matrix();
  }

  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    if (this->wants_d_in(in, out, d_out, d_in)) d_in->flat() = d_out.flat() * static_cast<Scalar>(scale_);
  }

  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    c["scale"] = scale_;
    c["offset"] = offset_;
    return c;
  }

  /// scale is required, offset defaults to 0. Keras 3 also takes per-channel arrays (serialized as __numpy__
  /// objects); nnlite implements the scalar form.
  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& /*input*/) {
    for (const char* key : {"scale", "offset"})
      if (c.has(key) && !c.at(key).is_number())
        c.unsupported(std::string("a non-scalar '") + key + "' " + dump_json(c.at(key)));
    if (!c.has("scale")) c.bad("'scale' is missing");
    return configured(std::make_unique<Rescaling>(c.number("scale", 1.0), c.number("offset", 0.0), c.name), c);
  }

  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(*this); }

 private:
  double scale_, offset_;
};

}  // namespace nnlite
