// nnlite/layers/activation_layers.hpp: ReLU and Softmax as layers of their own (Keras' ReLU, Softmax and
// Activation("relu"/"softmax")), sharing the arithmetic that Conv2D and Dense fuse into their outputs.
#pragma once

#include "../core/activation_functions.hpp"
#include "layer.hpp"

namespace nnlite {

// One class for all three Keras spellings; class_name() says which one it is written as in a .h5.
template <class Scalar>
class ActivationLayer : public Layer<Scalar> {
 public:
  ActivationLayer(Activation activation, std::string keras_class, std::string stem, std::string name)
      : activation_(activation), keras_class_(std::move(keras_class)), stem_(std::move(stem)) {
    this->set_name(std::move(name));
  }

  std::string class_name() const override { return keras_class_; }
  std::string name_stem() const override { return stem_; }
  Activation activation() const { return activation_; }

  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode /*mode*/) override {
    this->check_input(in);
    out.resize(in.shape());
    out.flat() = in.flat();
    apply_activation(activation_, out.data(), rows(in), last_axis());
  }

  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    if (!d_in) return;
    d_in->resize(in.shape());
    activation_backward(activation_, out.data(), d_out.data(), d_in->data(), rows(in), last_axis());
  }

  // The input is the logits of a softmax/sigmoid layer.
  Activation output_activation() const override {
    return activation_ == Activation::softmax || activation_ == Activation::sigmoid ? activation_ : Activation::linear;
  }
  const Tensor<Scalar>* logits(const Tensor<Scalar>& in) const override { return &in; }
  void backward_from_logits(const Tensor<Scalar>& in, const Tensor<Scalar>& d_logits,
                            Tensor<Scalar>* d_in) override {
    if (!d_in) return;
    d_in->resize(in.shape());
    d_in->flat() = d_logits.flat();
  }

  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    if (keras_class_ == "Activation") c["activation"] = activation_name(activation_);
    if (keras_class_ == "Softmax") c["axis"] = -1;
    if (keras_class_ == "ReLU") {
      c["max_value"] = nullptr;
      c["negative_slope"] = 0.0;
      c["threshold"] = 0.0;
    }
    return c;
  }

  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(*this); }

 protected:
  Shape compute_output_shape(const Shape& input_shape) override {
    if (input_shape.rank() < 1 || input_shape.size() < 1)
      this->shape_error("needs a non-empty input, got " + input_shape.str(true));
    return input_shape;
  }

 private:
  Index last_axis() const { return this->input_shape()[this->input_shape().rank() - 1]; }
  Index rows(const Tensor<Scalar>& t) const { return t.size() / last_axis(); }

  Activation activation_;
  std::string keras_class_, stem_;
};

template <class Scalar>
class ReLU : public ActivationLayer<Scalar> {
 public:
  explicit ReLU(std::string name = "") : ActivationLayer<Scalar>(Activation::relu, "ReLU", "re_lu", std::move(name)) {}
  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(*this); }

  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& /*input*/) {
    c.require_null("max_value");
    if (c.number("negative_slope", 0.0) != 0.0) c.unsupported("negative_slope = " + dump_json(c.at("negative_slope")));
    if (c.number("threshold", 0.0) != 0.0) c.unsupported("threshold = " + dump_json(c.at("threshold")));
    return configured(std::make_unique<ReLU>(c.name), c);
  }
};

// Softmax over the last axis.
template <class Scalar>
class Softmax : public ActivationLayer<Scalar> {
 public:
  explicit Softmax(std::string name = "")
      : ActivationLayer<Scalar>(Activation::softmax, "Softmax", "softmax", std::move(name)) {}
  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(*this); }

  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& input) {
    if (c.has("axis")) {
      const json& a = c.at("axis");
      const bool last = (a.is_number_integer() && a.get<Index>() == -1) ||
                        (a.is_array() && a.size() == 1 && a[0].is_number_integer() && a[0].get<Index>() == -1) ||
                        (a.is_number_integer() && input.rank() >= 1 &&
                         a.get<Index>() == static_cast<Index>(input.rank()));
      if (!last) c.unsupported("axis = " + dump_json(a) + " (nnlite's Softmax normalises the last axis)");
    }
    return configured(std::make_unique<Softmax>(c.name), c);
  }
};

// Keras' Activation("relu") etc.
template <class Scalar>
class ActivationOf : public ActivationLayer<Scalar> {
 public:
  explicit ActivationOf(Activation activation, std::string name = "")
      : ActivationLayer<Scalar>(activation, "Activation", "activation", std::move(name)) {}
  explicit ActivationOf(const std::string& activation, std::string name = "")
      : ActivationOf(parse_activation(activation), std::move(name)) {}
  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(*this); }

  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& /*input*/) {
    if (!c.has("activation")) c.bad("'activation' is missing");
    return configured(std::make_unique<ActivationOf>(c.activation(), c.name), c);
  }
};

}  // namespace nnlite
