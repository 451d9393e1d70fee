// nnlite/layers/activation_layers.hpp: Keras' activation layers: Activation("name"), ReLU, LeakyReLU, ELU, Softmax
// (the arithmetic Conv2D and Dense fuse into their outputs, core/activation_functions.hpp) and PReLU (a learned
// slope per unit).
#pragma once

#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include "../core/activation_functions.hpp"
#include "layer.hpp"

namespace nnlite {

/// The shared part of the activation layers: one activation function over the input, shape unchanged.
/// class_name() says which Keras class it is written as.
template <class Scalar>
class ActivationLayer : public SameShapeLayer<Scalar> {
 public:
  /// The activation to apply, the Keras class it is written as, the stem of generated names, and the layer's name.
  ActivationLayer(Activation activation, std::string keras_class, std::string stem, std::string name)
      : activation_(std::move(activation)), keras_class_(std::move(keras_class)), stem_(std::move(stem)) {
    this->set_name(std::move(name));
  }

  std::string class_name() const override { return keras_class_; }
  std::string name_stem() const override { return stem_; }
  /// The activation function it applies.
  const Activation& activation() const { return activation_; }

  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode /*mode*/) override {
    this->check_input(in);
    out.resize(in.shape());
    out.flat() = in.flat();
    apply_activation(activation_, out.data(), rows(in), last_axis());
  }

  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    if (!this->wants_d_in(in, out, d_out, d_in)) return;
    activation_backward(activation_, in.data(), out.data(), d_out.data(), d_in->data(), rows(in), last_axis());
  }

  /// The input is the logits of a softmax/sigmoid layer.
  Activation output_activation() const override {
    const Activation::Kind k = activation_.kind();
    return k == Activation::softmax || k == Activation::sigmoid ? activation_ : Activation::linear;
  }
  const Tensor<Scalar>* logits(const Tensor<Scalar>& in) const override { return &in; }
  void backward_from_logits(const Tensor<Scalar>& in, const Tensor<Scalar>& d_logits,
                            Tensor<Scalar>* d_in) override {
    this->check_d_logits(in, d_logits);
    if (!d_in) return;
    d_in->resize(in.shape());
    d_in->flat() = d_logits.flat();
  }

  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(*this); }

 protected:
  /// The length of the input's last axis: the row the activation functions work on.
  Index last_axis() const { return this->input_shape()[this->input_shape().rank() - 1]; }
  /// The number of last-axis rows in `t`.
  Index rows(const Tensor<Scalar>& t) const { return t.size() / last_axis(); }

 private:
  Activation activation_;
  std::string keras_class_, stem_;
};

/// Keras' ReLU(max_value=None, negative_slope=0.0, threshold=0.0): max_value for x >= max_value, x for
/// threshold <= x < max_value, negative_slope * (x - threshold) below. With the defaults it is the plain relu.
template <class Scalar>
class ReLU : public ActivationLayer<Scalar> {
 public:
  /// The plain relu (Keras' defaults), named `name` (empty: a generated name).
  explicit ReLU(std::string name = "") : ReLU(std::nullopt, 0.0, 0.0, std::move(name)) {}
  /// Keras' `max_value` (unset: no cap), `negative_slope` and `threshold`, all >= 0, and the layer's name.
  ReLU(std::optional<double> max_value, double negative_slope = 0.0, double threshold = 0.0, std::string name = "")
      : ActivationLayer<Scalar>(make(max_value, negative_slope, threshold), "ReLU", "re_lu", std::move(name)),
        max_value_(max_value),
        negative_slope_(negative_slope),
        threshold_(threshold) {}
  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(*this); }

  /// Keras' `max_value`: the largest output (unset: no cap).
  std::optional<double> max_value() const { return max_value_; }
  /// Keras' `negative_slope`: the slope below `threshold`.
  double negative_slope() const { return negative_slope_; }
  /// Keras' `threshold`: below it the output is `negative_slope` * (x - threshold).
  double threshold() const { return threshold_; }

  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    c["max_value"] = max_value_ ? nlohmann::json(*max_value_) : nlohmann::json(nullptr);
    c["negative_slope"] = negative_slope_;
    c["threshold"] = threshold_;
    return c;
  }

  /// Builds the layer from its Keras config (Keras' from_config).
  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& /*input*/) {
    std::optional<double> max_value;
    if (c.has("max_value")) {
      max_value = c.number("max_value", 0.0);
      if (*max_value < 0) c.bad("'max_value' must be >= 0 (or null), got " + dump_json(c.at("max_value")));
    }
    const double slope = c.number("negative_slope", 0.0), threshold = c.number("threshold", 0.0);
    if (slope < 0) c.bad("'negative_slope' must be >= 0, got " + dump_json(c.at("negative_slope")));
    if (threshold < 0) c.bad("'threshold' must be >= 0, got " + dump_json(c.at("threshold")));
    return configured(std::make_unique<ReLU>(max_value, slope, threshold, c.name), c);
  }

 private:
  static Activation make(std::optional<double> max_value, double slope, double threshold) {
    if ((max_value && !(*max_value >= 0)) || !(slope >= 0) || !(threshold >= 0) || !std::isfinite(slope) ||
        !std::isfinite(threshold))
      throw ArgumentError("ReLU: max_value, negative_slope and threshold must be >= 0 (max_value may be unset)");
    return activations::relu(slope, max_value ? *max_value : std::numeric_limits<double>::infinity(), threshold);
  }
  std::optional<double> max_value_;
  double negative_slope_, threshold_;
};

/// Keras' LeakyReLU(negative_slope=0.3) (tf.keras 2 calls it alpha): x for x >= 0, negative_slope * x below.
template <class Scalar>
class LeakyReLU : public ActivationLayer<Scalar> {
 public:
  /// Keras' `negative_slope` (>= 0; tf.keras 2's `alpha`) and the layer's name.
  explicit LeakyReLU(double negative_slope = 0.3, std::string name = "")
      : ActivationLayer<Scalar>(make(negative_slope), "LeakyReLU", "leaky_re_lu", std::move(name)) {}
  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(*this); }
  /// Keras' `negative_slope`: the slope for x < 0.
  double negative_slope() const { return this->activation().a(); }

  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    c["negative_slope"] = negative_slope();
    return c;
  }

  /// Builds the layer from its Keras config (Keras' from_config); tf.keras 2's `alpha` is read too.
  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& /*input*/) {
    const char* key = c.has("negative_slope") || !c.has("alpha") ? "negative_slope" : "alpha";
    const double slope = c.number(key, 0.3);
    if (slope < 0) c.bad(std::string("'") + key + "' must be >= 0, got " + dump_json(c.at(key)));
    return configured(std::make_unique<LeakyReLU>(slope, c.name), c);
  }

 private:
  static Activation make(double slope) {
    if (!(slope >= 0) || !std::isfinite(slope))
      throw ArgumentError("LeakyReLU: negative_slope must be a number >= 0, got " + std::to_string(slope));
    return activations::leaky_relu(slope);
  }
};

/// Keras' ELU(alpha=1.0): x for x > 0, alpha * (e^x - 1) below.
template <class Scalar>
class ELU : public ActivationLayer<Scalar> {
 public:
  /// Keras' `alpha` (finite) and the layer's name.
  explicit ELU(double alpha = 1.0, std::string name = "")
      : ActivationLayer<Scalar>(make(alpha), "ELU", "elu", std::move(name)) {}
  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(*this); }
  /// Keras' `alpha`: the scale of the negative part, alpha * (e^x - 1).
  double alpha() const { return this->activation().a(); }

  /// Keras 3's ELU omits alpha from get_config (it then reloads with 1.0); tf.keras 2 writes it, and both read it.
  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    c["alpha"] = alpha();
    return c;
  }

  /// Builds the layer from its Keras config (Keras' from_config).
  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& /*input*/) {
    return configured(std::make_unique<ELU>(c.number("alpha", 1.0), c.name), c);
  }

 private:
  static Activation make(double alpha) {
    if (!std::isfinite(alpha)) throw ArgumentError("ELU: alpha must be finite");
    return activations::elu(alpha);
  }
};

/// Keras' Softmax(axis=-1): axis counts the batch as 0, as in Keras; -1 (the last axis) is the fast path and the only
/// one whose input a loss can take as logits.
template <class Scalar>
class Softmax : public ActivationLayer<Scalar> {
 public:
  /// A softmax over the last axis (Keras' axis=-1), named `name`.
  explicit Softmax(std::string name = "") : Softmax(-1, std::move(name)) {}
  /// Keras' `axis` (counted from the batch as 0, negative from the end; not 0) and the layer's name.
  explicit Softmax(Index axis, std::string name = "")
      : ActivationLayer<Scalar>(Activation::softmax, "Softmax", "softmax", std::move(name)), axis_(axis) {
    if (axis == 0) throw UnsupportedError("Softmax: axis 0 is the batch axis; nnlite normalises within a sample");
  }
  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(*this); }
  /// Keras' `axis`: the axis it normalises over (the batch is 0, -1 the last).
  Index axis() const { return axis_; }

  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode mode) override {
    if (last()) return ActivationLayer<Scalar>::forward(in, out, mode);
    this->check_input(in);
    out.resize(in.shape());
    const Index outer = in.size() / (n_ * inner_);
    for (Index o = 0; o < outer; ++o)
      for (Index j = 0; j < inner_; ++j) {
        const Scalar* x = in.data() + o * n_ * inner_ + j;
        Scalar* y = out.data() + o * n_ * inner_ + j;
        Scalar m = x[0], sum = 0;
        for (Index k = 1; k < n_; ++k) m = std::max(m, x[k * inner_]);
        for (Index k = 0; k < n_; ++k) sum += (y[k * inner_] = std::exp(x[k * inner_] - m));
        for (Index k = 0; k < n_; ++k) y[k * inner_] /= sum;
      }
  }

  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    if (last()) return ActivationLayer<Scalar>::backward(in, out, d_out, d_in);
    if (!this->wants_d_in(in, out, d_out, d_in)) return;
    const Index outer = in.size() / (n_ * inner_);
    for (Index o = 0; o < outer; ++o)
      for (Index j = 0; j < inner_; ++j) {
        const Index base = o * n_ * inner_ + j;
        const Scalar *y = out.data() + base, *dy = d_out.data() + base;
        Scalar* dx = d_in->data() + base;
        Scalar dot = 0;
        for (Index k = 0; k < n_; ++k) dot += y[k * inner_] * dy[k * inner_];
        for (Index k = 0; k < n_; ++k) dx[k * inner_] = y[k * inner_] * (dy[k * inner_] - dot);
      }
  }

  Activation output_activation() const override { return last() ? Activation::softmax : Activation::linear; }

  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    c["axis"] = axis_;
    return c;
  }

  /// Builds the layer from its Keras config (Keras' from_config).
  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& input) {
    Index axis = -1;
    if (c.has("axis")) {
      const json& a = c.at("axis");
      if (a.is_array() && a.size() != 1)
        c.unsupported("axis = " + dump_json(a) + " (nnlite's Softmax normalises over one axis)");
      if (!ConfigReader::as_integer(a.is_array() ? a[0] : a, axis))
        c.bad("'axis' must be an integer, got " + dump_json(a));
      const Index rank = static_cast<Index>(input.rank());
      if (axis == 0) c.unsupported("axis = 0 (the batch axis; nnlite normalises within a sample)");
      if (input.rank() >= 1 && (axis > rank || axis < -rank))
        c.bad("'axis' " + dump_json(a) + " is out of range for an input of rank " + std::to_string(rank + 1));
    }
    return configured(std::make_unique<Softmax>(axis, c.name), c);
  }

 protected:
  Shape compute_output_shape(const Shape& input_shape) override {
    const Shape s = ActivationLayer<Scalar>::compute_output_shape(input_shape);
    const Index rank = static_cast<Index>(s.rank());
    const Index a = axis_ < 0 ? axis_ + rank + 1 : axis_;  // in 1..rank (0 is the batch)
    if (a < 1 || a > rank)
      this->shape_error("axis " + std::to_string(axis_) + " is out of range for input " + s.str(true));
    n_ = s[a - 1];
    inner_ = 1;
    for (Index d = a; d < rank; ++d) inner_ *= s[d];
    return s;
  }

 private:
  bool last() const { return inner_ == 1; }
  Index axis_;
  Index n_ = 1, inner_ = 1;  // the normalised axis' length, and the elements after it (1: the last axis)
};

/// Keras' Activation("relu"), Activation("gelu"), ...: any activation of the registry.
template <class Scalar>
class ActivationOf : public ActivationLayer<Scalar> {
 public:
  /// Keras' `activation`, as an Activation, and the layer's name.
  explicit ActivationOf(Activation activation, std::string name = "")
      : ActivationLayer<Scalar>(std::move(activation), "Activation", "activation", std::move(name)) {}
  /// Keras' `activation` by its Keras name ("relu", "gelu", ...) and the layer's name.
  explicit ActivationOf(const std::string& activation, std::string name = "")
      : ActivationOf(parse_activation(activation), std::move(name)) {}
  /// Keras' `activation` by its Keras name, as a string literal, and the layer's name.
  explicit ActivationOf(const char* activation, std::string name = "")
      : ActivationOf(std::string(activation), std::move(name)) {}
  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(*this); }

  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    c["activation"] = keras_activation_name(this->activation());
    return c;
  }

  /// Builds the layer from its Keras config (Keras' from_config).
  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& /*input*/) {
    if (!c.has("activation")) c.bad("'activation' is missing");
    return configured(std::make_unique<ActivationOf>(c.activation(), c.name), c);
  }
};

/// Keras' PReLU: x for x > 0, alpha * x below, with alpha a trainable weight of the input's shape, of size 1 along
/// shared_axes (counted from the batch, as Keras: [1, 2] shares one alpha per channel of an image).
template <class Scalar>
class PReLU : public Layer<Scalar> {
 public:
  /// Keras' `shared_axes` (counted from the batch), `alpha_initializer` and the layer's name.
  explicit PReLU(std::vector<Index> shared_axes = {}, Initializer alpha_initializer = Initializer::zeros,
                 std::string name = "")
      : shared_axes_(std::move(shared_axes)), init_(alpha_initializer) {
    this->set_name(std::move(name));
  }

  std::string class_name() const override { return "PReLU"; }
  std::string name_stem() const override { return "p_re_lu"; }
  /// Keras' `shared_axes`: the axes (counted from the batch) along which one alpha is shared.
  const std::vector<Index>& shared_axes() const { return shared_axes_; }

  std::vector<ParamSpec> param_specs() const override { return {{"alpha", alpha_shape_, init_}}; }

  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode /*mode*/) override {
    this->check_input(in);
    this->check_bound();
    out.resize(in.shape());
    const Scalar* alpha = this->weight(0);
    const Index sample = this->input_shape().size();
    for (Index b = 0; b < in.batch(); ++b) {
      const Scalar* x = in.data() + b * sample;
      Scalar* y = out.data() + b * sample;
      for (Index i = 0; i < sample; ++i) y[i] = x[i] > 0 ? x[i] : alpha[alpha_index_[i]] * x[i];
    }
  }

  /// Keras computes relu(x) - alpha * relu(-x): at x == 0 both relu gradients are 0.
  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    this->check_d_out(in, out, d_out);
    this->check_bound();
    const Scalar* alpha = this->weight(0);
    Scalar* d_alpha = this->weight_grad(0);
    const Index sample = this->input_shape().size();
    std::fill(d_alpha, d_alpha + alpha_shape_.size(), Scalar(0));
    if (d_in) d_in->resize(in.shape());
    for (Index b = 0; b < in.batch(); ++b) {
      const Scalar* x = in.data() + b * sample;
      const Scalar* dy = d_out.data() + b * sample;
      for (Index i = 0; i < sample; ++i)
        if (x[i] < 0) d_alpha[alpha_index_[i]] += x[i] * dy[i];
      if (d_in) {
        Scalar* dx = d_in->data() + b * sample;
        for (Index i = 0; i < sample; ++i)
          dx[i] = x[i] > 0 ? dy[i] : x[i] < 0 ? alpha[alpha_index_[i]] * dy[i] : Scalar(0);
      }
    }
  }

  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    c["alpha_initializer"] = {{"class_name", initializer_name(init_)}, {"config", nlohmann::json::object()}};
    c["alpha_regularizer"] = nullptr;
    c["alpha_constraint"] = nullptr;
    c["shared_axes"] = shared_axes_.empty() ? nlohmann::json(nullptr) : nlohmann::json(shared_axes_);
    return c;
  }

  /// Builds the layer from its Keras config (Keras' from_config).
  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& input) {
    std::vector<Index> axes;
    if (c.has("shared_axes")) {
      const json& v = c.at("shared_axes");
      const json list = v.is_array() ? v : json::array({v});
      for (const json& a : list) {
        Index axis = 0;
        if (!ConfigReader::as_integer(a, axis)) c.bad("'shared_axes' must be integers, got " + dump_json(v));
        if (input.rank() >= 1 && (axis < 1 || axis > static_cast<Index>(input.rank())))
          c.bad("'shared_axes' " + dump_json(v) + " is out of range: an input of rank " +
                std::to_string(input.rank() + 1) + " has axes 1.." + std::to_string(input.rank()) + " after the batch");
        axes.push_back(axis);
      }
    }
    c.require_null("alpha_regularizer");
    c.require_null("alpha_constraint");
    const Initializer init = read_initializer(c, "alpha_initializer", Initializer::zeros);
    if (input.rank() >= 1) c.check_size(input.dims(), "alpha");
    return configured(std::make_unique<PReLU>(axes, init, c.name), c);
  }

  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(*this); }

 protected:
  Shape compute_output_shape(const Shape& input_shape) override {
    if (input_shape.rank() < 1 || input_shape.size() < 1)
      this->shape_error("needs a non-empty input, got " + input_shape.str(true));
    const Index rank = static_cast<Index>(input_shape.rank());
    std::vector<Index> dims = input_shape.dims();
    for (Index a : shared_axes_) {
      if (a < 1 || a > rank)
        this->shape_error("shared_axes " + std::to_string(a) + " is out of range for input " + input_shape.str(true) +
                          " (axes 1.." + std::to_string(rank) + " after the batch)");
      dims[static_cast<std::size_t>(a - 1)] = 1;
    }
    alpha_shape_ = Shape(dims);
    // alpha_index_[i]: the alpha of element i of a sample (row-major, shared axes collapsed)
    alpha_index_.assign(static_cast<std::size_t>(input_shape.size()), 0);
    for (Index i = 0; i < input_shape.size(); ++i) {
      Index rest = i, idx = 0, stride = 1;
      for (Index d = rank - 1; d >= 0; --d) {
        const Index coord = rest % input_shape[d];
        rest /= input_shape[d];
        idx += (dims[static_cast<std::size_t>(d)] == 1 ? 0 : coord) * stride;
        stride *= dims[static_cast<std::size_t>(d)];
      }
      alpha_index_[static_cast<std::size_t>(i)] = idx;
    }
    return input_shape;
  }

 private:
  std::vector<Index> shared_axes_;
  Initializer init_;
  Shape alpha_shape_;
  std::vector<Index> alpha_index_;
};

}  // namespace nnlite
