// nnlite/layers/dense.hpp: Keras' Dense: out = activation(in . kernel + bias) over the last axis,
// kernel of shape (in, units) as Keras stores it.
#pragma once

#include "fused_activation.hpp"
#include "layer.hpp"

namespace nnlite {

/// Keras' Dense: out = activation(in . kernel + bias) over the last axis.
template <class Scalar>
class Dense : public Layer<Scalar> {
 public:
  /// Dense<float>(10, Activation::relu): Keras' units, activation and use_bias.
  explicit Dense(Index units, Activation activation = Activation::linear, bool use_bias = true,
                 std::string name = "")
      : units_(units), activation_(activation), use_bias_(use_bias) {
    if (units < 1) throw ArgumentError("Dense: units must be >= 1, got " + std::to_string(units));
    this->set_name(std::move(name));
  }
  /// Dense<float>(10, "relu"): the activation by Keras' name.
  Dense(Index units, const std::string& activation, bool use_bias = true, std::string name = "")
      : Dense(units, parse_activation(activation), use_bias, std::move(name)) {}

  std::string class_name() const override { return "Dense"; }
  std::string name_stem() const override { return "dense"; }
  /// Keras' `units`: the output size of the last axis.
  Index units() const { return units_; }
  /// Keras' `activation`, fused into the layer's output.
  const Activation& activation() const { return activation_.activation(); }
  /// Keras' `use_bias`.
  bool use_bias() const { return use_bias_; }

  /// Keras' kernel_regularizer / bias_regularizer, chained:
  /// Dense<float>(10).kernel_regularizer(regularizers::l2(0.01)), or by Keras identifier: .kernel_regularizer("l2"). An
  /// empty RegularizerPtr removes it.
  Dense& kernel_regularizer(RegularizerPtr r) {
    kernel_regularizer_ = std::move(r);
    return *this;
  }
  /// Keras' `kernel_regularizer` by identifier, such as "l2".
  Dense& kernel_regularizer(const std::string& identifier) { return kernel_regularizer(make_regularizer(identifier)); }
  /// Keras' `bias_regularizer` (an empty pointer removes it).
  Dense& bias_regularizer(RegularizerPtr r) {
    bias_regularizer_ = std::move(r);
    return *this;
  }
  /// Keras' `bias_regularizer` by identifier, such as "l2".
  Dense& bias_regularizer(const std::string& identifier) { return bias_regularizer(make_regularizer(identifier)); }
  /// Keras' `kernel_regularizer` (null for none).
  const Regularizer* kernel_regularizer() const { return kernel_regularizer_.get(); }
  /// Keras' `bias_regularizer` (null for none).
  const Regularizer* bias_regularizer() const { return bias_regularizer_.get(); }
  const Regularizer* weight_regularizer(std::size_t i) const override {
    return i == 0 ? kernel_regularizer_.get() : i == 1 && use_bias_ ? bias_regularizer_.get() : nullptr;
  }

  std::vector<ParamSpec> param_specs() const override {
    std::vector<ParamSpec> specs{{"kernel", Shape{in_units_, units_}, Initializer::glorot_uniform}};
    if (use_bias_) specs.push_back({"bias", Shape{units_}, Initializer::zeros});
    return specs;
  }

  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode /*mode*/) override {
    this->check_input(in);
    this->check_bound();
    out.resize(this->output_shape().with_batch(in.batch()));
    const Index rows = in.size() / in_units_;
    ConstMatrixMap<Scalar> x(in.data(), rows, in_units_);
    MatrixMap<Scalar> y(out.data(), rows, units_);
    y.noalias() = x * kernel();
    if (use_bias_) y.rowwise() += bias().transpose();
    activation_.forward(out, units_);
  }

  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    this->check_d_out(in, out, d_out);
    backward_from_logits(in, activation_.backward(out, d_out, units_), d_in);
  }

  Activation output_activation() const override { return activation_.output_activation(); }
  const Tensor<Scalar>* logits(const Tensor<Scalar>& /*in*/) const override { return activation_.logits(); }

  /// Gradients from d(loss)/d(in . kernel + bias).
  void backward_from_logits(const Tensor<Scalar>& in, const Tensor<Scalar>& d_logits,
                            Tensor<Scalar>* d_in) override {
    this->check_d_logits(in, d_logits);
    this->check_bound();
    const Index rows = in.size() / in_units_;
    ConstMatrixMap<Scalar> x(in.data(), rows, in_units_);
    ConstMatrixMap<Scalar> dz(d_logits.data(), rows, units_);
    MatrixMap<Scalar>(this->weight_grad(0), in_units_, units_).noalias() = x.transpose() * dz;
    if (use_bias_) VectorMap<Scalar>(this->weight_grad(1), units_) = dz.colwise().sum().transpose();
    if (d_in) {
      d_in->resize(in.shape());
      MatrixMap<Scalar>(d_in->data(), rows, in_units_).noalias() = dz * kernel().transpose();
    }
  }

  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    c["units"] = units_;
    c["activation"] = keras_activation_name(activation());
    c["use_bias"] = use_bias_;
    write_weight_config(c, "kernel", Initializer::glorot_uniform, kernel_regularizer_.get());
    write_weight_config(c, "bias", Initializer::zeros, bias_regularizer_.get());
    c["activity_regularizer"] = nullptr;
    return c;
  }

  /// Keras' Dense config (units, activation, use_bias, regularizers) for `input`.
  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& input) {
    const Index units = c.integer("units", 1, c.limits.max_tensor_elements);
    const Activation act = c.activation();
    const bool use_bias = c.boolean("use_bias", true);
    c.require_null("quantization_config");
    c.require_null("lora_rank");
    c.require_null("activity_regularizer");
    if (input.rank() >= 1) c.check_size({input[input.rank() - 1], units}, "the kernel");
    auto layer = std::make_unique<Dense>(units, act, use_bias, c.name);
    layer->kernel_regularizer(read_regularizer(c, "kernel_regularizer"));
    layer->bias_regularizer(read_regularizer(c, "bias_regularizer"));
    return configured(std::move(layer), c);
  }

  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(*this); }

 protected:
  Shape compute_output_shape(const Shape& input_shape) override {
    if (input_shape.rank() < 1 || input_shape.size() < 1)
      this->shape_error("needs an input with at least one dimension, got " + input_shape.str(true));
    in_units_ = input_shape[input_shape.rank() - 1];
    std::vector<Index> dims = input_shape.dims();
    dims.back() = units_;
    return Shape(dims);
  }

 private:
  ConstMatrixMap<Scalar> kernel() const { return ConstMatrixMap<Scalar>(this->weight(0), in_units_, units_); }
  ConstVectorMap<Scalar> bias() const { return ConstVectorMap<Scalar>(this->weight(1), units_); }

  Index units_;
  FusedActivation<Scalar> activation_;
  bool use_bias_;
  RegularizerPtr kernel_regularizer_, bias_regularizer_;
  Index in_units_ = 0;
};

}  // namespace nnlite
