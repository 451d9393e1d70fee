// nnlite/layers/conv2d.hpp: Keras' Conv2D: out = activation(conv(in, kernel) + bias) over NHWC input,
// kernel of shape (kh, kw, in_channels, filters) as Keras stores it. The arithmetic lives in kernels/conv2d_*.hpp.
#pragma once

#include "../kernels/conv2d.hpp"
#include "base_conv2d.hpp"
#include "fused_activation.hpp"
#include "layer.hpp"

namespace nnlite {

/// Keras-style keyword arguments for Conv2D, chained:
///   Conv2D<float>(64, {3, 3}, Conv2DOptions{}.padding("same").strides(2).activation("relu"))
/// Each setter has a same-named getter; unset options keep Keras' defaults. The options every conv layer takes
/// (activation, padding, strides, dilation_rate, use_bias, name, bias_regularizer) come from ConvOptions.
class Conv2DOptions : public ConvOptions<Conv2DOptions> {
 public:
  /// Keras' `groups`: the channels split into that many independent convolutions (default 1).
  Conv2DOptions& groups(Index g) {
    groups_ = g;
    return *this;
  }
  /// Keras' `kernel_regularizer` (regularizers::l2(0.01); an empty pointer for none).
  Conv2DOptions& kernel_regularizer(RegularizerPtr r) {
    kernel_regularizer_ = std::move(r);
    return *this;
  }
  /// Keras' `kernel_regularizer` by identifier, such as "l2".
  Conv2DOptions& kernel_regularizer(const std::string& identifier) {
    return kernel_regularizer(make_regularizer(identifier));
  }

  /// The `groups` set.
  Index groups() const { return groups_; }
  /// The `kernel_regularizer` set (empty for none).
  const RegularizerPtr& kernel_regularizer() const { return kernel_regularizer_; }

 private:
  Index groups_ = 1;
  RegularizerPtr kernel_regularizer_;
};

/// Keras' Conv2D: NHWC input, HWIO kernel, valid/same padding, strides, a fused activation.
template <class Scalar>
class Conv2D : public BaseConv2D<Scalar> {
  using Base = BaseConv2D<Scalar>;
  using Base::kernel_size_, Base::strides_, Base::dilation_rate_, Base::padding_, Base::activation_, Base::use_bias_,
      Base::bias_regularizer_, Base::in_h_, Base::in_w_, Base::in_c_;

 public:
  /// Conv2D<float>(32, {3, 3}, Activation::relu, Padding::same): Keras' filters, kernel_size, activation, padding,
  /// strides and use_bias as positional arguments.
  Conv2D(Index filters, Size2 kernel_size, Activation activation = Activation::linear, Padding padding = Padding::valid,
         Size2 strides = {1, 1}, bool use_bias = true, std::string name = "")
      : Base(kernel_size, strides, {1, 1}, padding, activation, use_bias, nullptr), filters_(filters) {
    if (filters < 1) throw ArgumentError("Conv2D: filters must be >= 1, got " + std::to_string(filters));
    check_at_least_one("Conv2D", "kernel_size", kernel_size);
    check_at_least_one("Conv2D", "strides", strides);
    this->set_name(std::move(name));
  }
  /// Conv2D<float>(32, {3, 3}, "relu"), as Dense takes its activation by name.
  Conv2D(Index filters, Size2 kernel_size, const std::string& activation, Padding padding = Padding::valid,
         Size2 strides = {1, 1}, bool use_bias = true, std::string name = "")
      : Conv2D(filters, kernel_size, parse_activation(activation), padding, strides, use_bias, std::move(name)) {}
  /// The options constructor is the one that takes dilation_rate and groups (Keras' rules: strides 1 when dilated,
  /// filters divisible by groups; the input channels are checked at build()).
  Conv2D(Index filters, Size2 kernel_size, const Conv2DOptions& options)
      : Conv2D(filters, kernel_size, options.activation(), options.padding(), options.strides(), options.use_bias(),
               options.name()) {
    dilation_rate_ = options.dilation_rate();
    groups_ = options.groups();
    kernel_regularizer_ = options.kernel_regularizer();
    bias_regularizer_ = options.bias_regularizer();
    check_at_least_one("Conv2D", "dilation_rate", dilation_rate_);
    const std::string conflict = strides_dilation_conflict(strides_, dilation_rate_);
    if (!conflict.empty()) throw ArgumentError("Conv2D: " + conflict);
    if (groups_ < 1) throw ArgumentError("Conv2D: groups must be >= 1, got " + std::to_string(groups_));
    if (filters_ % groups_ != 0)
      throw ArgumentError(
          "Conv2D: the number of filters must be evenly divisible by the number of groups. Received: "
          "groups=" +
          std::to_string(groups_) + ", filters=" + std::to_string(filters_));
  }

  std::string class_name() const override { return "Conv2D"; }
  std::string name_stem() const override { return "conv2d"; }
  /// Keras' `filters`: the output channels.
  Index filters() const { return filters_; }
  /// Keras' `groups`: the channels split into that many independent convolutions.
  Index groups() const { return groups_; }

  /// Keras' kernel_regularizer / bias_regularizer, chained as Dense's (Conv2DOptions takes them too).
  Conv2D& kernel_regularizer(RegularizerPtr r) {
    kernel_regularizer_ = std::move(r);
    return *this;
  }
  /// Keras' `kernel_regularizer` by identifier, such as "l2".
  Conv2D& kernel_regularizer(const std::string& identifier) { return kernel_regularizer(make_regularizer(identifier)); }
  /// Keras' `bias_regularizer` (an empty pointer removes it).
  Conv2D& bias_regularizer(RegularizerPtr r) {
    bias_regularizer_ = std::move(r);
    return *this;
  }
  /// Keras' `bias_regularizer` by identifier, such as "l2".
  Conv2D& bias_regularizer(const std::string& identifier) { return bias_regularizer(make_regularizer(identifier)); }
  /// Keras' `kernel_regularizer` (null for none).
  const Regularizer* kernel_regularizer() const { return kernel_regularizer_.get(); }
  using Base::bias_regularizer;
  const Regularizer* weight_regularizer(std::size_t i) const override {
    return i == 0 ? kernel_regularizer_.get() : i == 1 && use_bias_ ? bias_regularizer_.get() : nullptr;
  }

  /// Every kernel gives the same result (to rounding); the choice is only about speed.
  void set_kernel(Conv2DKernel k) { kernel_ = k; }
  /// The kernel set_kernel() chose (im2col by default).
  Conv2DKernel kernel_impl() const { return kernel_; }

  /// The kernels' view of this layer for a batch of `batch` samples (valid after build()).
  Conv2DGeometry geometry(Index batch) const {
    return Conv2DGeometry::make(batch, in_h_, in_w_, in_c_, kernel_size_, filters_, strides_, padding_, dilation_rate_,
                                groups_);
  }

  std::vector<ParamSpec> param_specs() const override {
    std::vector<ParamSpec> specs{
        {"kernel", Shape{kernel_size_.h, kernel_size_.w, in_c_ / groups_, filters_}, Initializer::glorot_uniform}};
    if (use_bias_) specs.push_back({"bias", Shape{filters_}, Initializer::zeros});
    return specs;
  }

  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode /*mode*/) override {
    this->start_forward(in, out);
    const bool relu = this->activation().kind() == Activation::relu;  // fused into the fast kernels' output pass
    const bool applied = conv2d_forward(kernel_, geometry(in.batch()), in.data(), this->weight(0), bias(), out.data(),
                                        cols_, relu);
    activation_.forward(out, filters_, applied);
  }

  /// Gradients from d(loss)/d(conv(in, kernel) + bias). A null d_in skips the input gradient (and its col2im).
  void backward_from_logits(const Tensor<Scalar>& in, const Tensor<Scalar>& d_logits,
                            Tensor<Scalar>* d_in) override {
    this->start_backward(in, d_logits);
    const Conv2DGeometry g = geometry(in.batch());
    conv2d_backward(kernel_, g, in.data(), this->weight(0), d_logits.data(), Base::input_gradient(in, d_in),
                    this->weight_grad(0), use_bias_ ? this->weight_grad(1) : nullptr, cols_);
  }

  nlohmann::json config() const override {
    auto c = Base::config();
    c["filters"] = filters_;
    c["groups"] = groups_;
    write_weight_config(c, "kernel", Initializer::glorot_uniform, kernel_regularizer_.get());
    return c;
  }

  /// Keras' Conv2D config (filters, groups, the spatial keys, activation, use_bias, regularizers) for `input`.
  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& input) {
    const Index cap = c.limits.max_tensor_elements;
    const Index filters = c.integer("filters", 1, cap);
    const ConvSpatialConfig s = ConvSpatialConfig::read(c);
    const Index groups = c.integer("groups", 1, cap, 1);
    s.check_strides_dilation(c);
    if (filters % groups != 0)
      c.bad("the number of filters must be evenly divisible by the number of groups. Received: groups=" +
            std::to_string(groups) + ", filters=" + std::to_string(filters));
    if (input.rank() == 3 && input[2] % groups != 0) c.bad(channels_not_divisible(groups, input[2]));
    c.require_null("lora_rank");
    c.require_null("activity_regularizer");
    const Activation act = c.activation();
    const bool use_bias = c.boolean("use_bias", true);
    if (input.rank() == 3) c.check_size({s.kernel_size.h, s.kernel_size.w, input[2] / groups, filters}, "the kernel");
    Conv2DOptions options = s.options<Conv2DOptions>();
    options.activation(act)
        .use_bias(use_bias)
        .groups(groups)
        .name(c.name)
        .kernel_regularizer(read_regularizer(c, "kernel_regularizer"))
        .bias_regularizer(read_regularizer(c, "bias_regularizer"));
    return configured(std::make_unique<Conv2D>(filters, s.kernel_size, options), c);
  }

  std::unique_ptr<Layer<Scalar>> clone() const override {
    auto copy = clone_layer(*this);
    static_cast<Conv2D&>(*copy).cols_ = Tensor<Scalar>();  // workspaces are scratch: the copy grows its own
    return copy;
  }

 protected:
  Shape compute_output_shape(const Shape& input_shape) override {
    this->check_image_input(input_shape);
    if (input_shape[2] % groups_ != 0) this->shape_error(channels_not_divisible(groups_, input_shape[2]));
    return this->built_output_shape(
        input_shape,
        Conv2DGeometry::make(1, input_shape[0], input_shape[1], input_shape[2], kernel_size_, filters_, strides_,
                             padding_, dilation_rate_, groups_),
        filters_);
  }

 private:
  /// Keras' message for input channels that `groups` does not divide.
  static std::string channels_not_divisible(Index groups, Index channels) {
    return "the number of input channels must be evenly divisible by the number of groups. Received groups=" +
           std::to_string(groups) + ", but the input has " + std::to_string(channels) + " channels";
  }
  const Scalar* bias() const { return use_bias_ ? this->weight(1) : nullptr; }

  Index filters_;
  Index groups_ = 1;
  RegularizerPtr kernel_regularizer_;
  Conv2DKernel kernel_ = Conv2DKernel::im2col;
  Tensor<Scalar> cols_;  // workspace: im2col patches (and d_cols in backward), grown once
};

}  // namespace nnlite
