// nnlite/layers/dense.hpp: Keras' Dense: out = activation(in . kernel + bias) over the last axis,
// kernel of shape (in, units) as Keras stores it.
#pragma once

#include "../core/activation_functions.hpp"
#include "layer.hpp"

namespace nnlite {

template <class Scalar>
class Dense : public Layer<Scalar> {
 public:
  explicit Dense(Index units, Activation activation = Activation::linear, bool use_bias = true,
                 std::string name = "")
      : units_(units), activation_(activation), use_bias_(use_bias) {
    if (units < 1) throw ArgumentError("Dense: units must be >= 1, got " + std::to_string(units));
    this->set_name(std::move(name));
  }
  Dense(Index units, const std::string& activation, bool use_bias = true, std::string name = "")
      : Dense(units, parse_activation(activation), use_bias, std::move(name)) {}

  std::string class_name() const override { return "Dense"; }
  std::string name_stem() const override { return "dense"; }
  Index units() const { return units_; }
  Activation activation() const { return activation_; }
  bool use_bias() const { return use_bias_; }

  std::vector<ParamSpec> param_specs() const override {
    std::vector<ParamSpec> specs{{"kernel", Shape{in_units_, units_}, Initializer::glorot_uniform}};
    if (use_bias_) specs.push_back({"bias", Shape{units_}, Initializer::zeros});
    return specs;
  }

  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode /*mode*/) override {
    this->check_input(in);
    out.resize(this->output_shape().with_batch(in.batch()));
    const Index rows = in.size() / in_units_;
    ConstMatrixMap<Scalar> x(in.data(), rows, in_units_);
    MatrixMap<Scalar> y(out.data(), rows, units_);
    y.noalias() = x * kernel();
    if (use_bias_) y.rowwise() += bias().transpose();
    apply_activation(activation_, out.data(), rows, units_);
  }

  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    d_pre_.resize(out.shape());
    activation_backward(activation_, out.data(), d_out.data(), d_pre_.data(), out.size() / units_, units_);
    backward_from_logits(in, d_pre_, d_in);
  }

  bool ends_in_softmax() const override { return activation_ == Activation::softmax; }

  // Gradients from d(loss)/d(in . kernel + bias).
  void backward_from_logits(const Tensor<Scalar>& in, const Tensor<Scalar>& d_logits,
                            Tensor<Scalar>* d_in) override {
    const Index rows = in.size() / in_units_;
    ConstMatrixMap<Scalar> x(in.data(), rows, in_units_);
    ConstMatrixMap<Scalar> dz(d_logits.data(), rows, units_);
    MatrixMap<Scalar>(this->grads_, in_units_, units_).noalias() = x.transpose() * dz;
    if (use_bias_) VectorMap<Scalar>(this->grads_ + in_units_ * units_, units_) = dz.colwise().sum().transpose();
    if (d_in) {
      d_in->resize(in.shape());
      MatrixMap<Scalar>(d_in->data(), rows, in_units_).noalias() = dz * kernel().transpose();
    }
  }

  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    c["units"] = units_;
    c["activation"] = activation_name(activation_);
    c["use_bias"] = use_bias_;
    c["kernel_initializer"] = {{"class_name", "GlorotUniform"}, {"config", {{"seed", nullptr}}}};
    c["bias_initializer"] = {{"class_name", "Zeros"}, {"config", nlohmann::json::object()}};
    c["kernel_regularizer"] = nullptr;
    c["bias_regularizer"] = nullptr;
    c["activity_regularizer"] = nullptr;
    c["kernel_constraint"] = nullptr;
    c["bias_constraint"] = nullptr;
    return c;
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
  ConstMatrixMap<Scalar> kernel() const { return ConstMatrixMap<Scalar>(this->params_, in_units_, units_); }
  ConstVectorMap<Scalar> bias() const { return ConstVectorMap<Scalar>(this->params_ + in_units_ * units_, units_); }

  Index units_;
  Activation activation_;
  bool use_bias_;
  Index in_units_ = 0;
  Tensor<Scalar> d_pre_;  // workspace: d(loss)/d(pre-activation), reused across batches
};

}  // namespace nnlite
