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
class Conv2D : public Layer<Scalar> {
 public:
  Conv2D(Index filters, Size2 kernel_size, Activation activation = Activation::linear,
         Padding padding = Padding::valid, Size2 strides = {1, 1}, bool use_bias = true, std::string name = "")
      : filters_(filters),
        kernel_size_(kernel_size),
        strides_(strides),
        padding_(padding),
        activation_(activation),
        use_bias_(use_bias) {
    if (filters < 1) throw ArgumentError("Conv2D: filters must be >= 1, got " + std::to_string(filters));
    if (kernel_size.h < 1 || kernel_size.w < 1)
      throw ArgumentError("Conv2D: kernel_size must be >= 1, got " + kernel_size.str());
    if (strides.h < 1 || strides.w < 1) throw ArgumentError("Conv2D: strides must be >= 1, got " + strides.str());
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
    if (dilation_rate_.h < 1 || dilation_rate_.w < 1)
      throw ArgumentError("Conv2D: dilation_rate must be >= 1, got " + dilation_rate_.str());
    if (std::max(strides_.h, strides_.w) > 1 && std::max(dilation_rate_.h, dilation_rate_.w) > 1)
      throw ArgumentError(
          "Conv2D: `strides > 1` not supported in conjunction with `dilation_rate > 1`. Received: "
          "strides=" +
          strides_.str() + " and dilation_rate=" + dilation_rate_.str());
    if (groups_ < 1) throw ArgumentError("Conv2D: groups must be >= 1, got " + std::to_string(groups_));
    if (filters_ % groups_ != 0)
      throw ArgumentError(
          "Conv2D: the number of filters must be evenly divisible by the number of groups. Received: "
          "groups=" +
          std::to_string(groups_) + ", filters=" + std::to_string(filters_));
  }

  std::string class_name() const override { return "Conv2D"; }
  std::string name_stem() const override { return "conv2d"; }
  Index filters() const { return filters_; }
  Size2 kernel_size() const { return kernel_size_; }
  Size2 strides() const { return strides_; }
  Padding padding() const { return padding_; }
  const Activation& activation() const { return activation_.activation(); }
  bool use_bias() const { return use_bias_; }
  Size2 dilation_rate() const { return dilation_rate_; }
  Index groups() const { return groups_; }

  /// Keras' kernel_regularizer / bias_regularizer, chained as Dense's (Conv2DOptions takes them too).
  Conv2D& kernel_regularizer(RegularizerPtr r) {
    kernel_regularizer_ = std::move(r);
    return *this;
  }
  Conv2D& kernel_regularizer(const std::string& identifier) { return kernel_regularizer(make_regularizer(identifier)); }
  Conv2D& bias_regularizer(RegularizerPtr r) {
    bias_regularizer_ = std::move(r);
    return *this;
  }
  Conv2D& bias_regularizer(const std::string& identifier) { return bias_regularizer(make_regularizer(identifier)); }
  const Regularizer* kernel_regularizer() const { return kernel_regularizer_.get(); }
  const Regularizer* bias_regularizer() const { return bias_regularizer_.get(); }
  const Regularizer* weight_regularizer(std::size_t i) const override {
    return i == 0 ? kernel_regularizer_.get() : i == 1 && use_bias_ ? bias_regularizer_.get() : nullptr;
  }

  /// Every kernel gives the same result (to rounding); the choice is only about speed.
  void set_kernel(Conv2DKernel k) { kernel_ = k; }
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
    this->check_input(in);
    this->check_bound();
    out.resize(this->output_shape().with_batch(in.batch()));
    const bool relu = activation().kind() == Activation::relu;  // fused into the fast kernels' output pass
    const bool applied = conv2d_forward(kernel_, geometry(in.batch()), in.data(), this->weight(0), bias(), out.data(),
                                        cols_, relu);
    activation_.forward(out, filters_, applied);
  }

  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    if (d_out.shape() != out.shape())
      this->shape_error("d_out of shape " + d_out.shape().str() + " does not match the output " + out.shape().str());
    backward_from_logits(in, activation_.backward(out, d_out, filters_), d_in);
  }

  Activation output_activation() const override { return activation_.output_activation(); }
  const Tensor<Scalar>* logits(const Tensor<Scalar>& /*in*/) const override { return activation_.logits(); }

  /// Gradients from d(loss)/d(conv(in, kernel) + bias). A null d_in skips the input gradient (and its col2im).
  void backward_from_logits(const Tensor<Scalar>& in, const Tensor<Scalar>& d_logits,
                            Tensor<Scalar>* d_in) override {
    this->check_input(in);
    this->check_bound();
    const Conv2DGeometry g = geometry(in.batch());
    if (d_logits.size() != g.batch * g.out_sample())
      this->shape_error("gradient of shape " + d_logits.shape().str() + " does not match the output " +
                        this->output_shape().with_batch(in.batch()).str());
    Scalar* dx = nullptr;
    if (d_in) {
      d_in->resize(in.shape());
      dx = d_in->data();
    }
    conv2d_backward(kernel_, g, in.data(), this->weight(0), d_logits.data(), dx, this->weight_grad(0),
                    use_bias_ ? this->weight_grad(1) : nullptr, cols_);
  }

  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    c["filters"] = filters_;
    c["kernel_size"] = {kernel_size_.h, kernel_size_.w};
    c["strides"] = {strides_.h, strides_.w};
    c["padding"] = padding_name(padding_);
    c["data_format"] = "channels_last";
    c["dilation_rate"] = {dilation_rate_.h, dilation_rate_.w};
    c["groups"] = groups_;
    c["activation"] = keras_activation_name(activation());
    c["use_bias"] = use_bias_;
    write_weight_config(c, "kernel", Initializer::glorot_uniform, kernel_regularizer_.get());
    write_weight_config(c, "bias", Initializer::zeros, bias_regularizer_.get());
    c["activity_regularizer"] = nullptr;
    return c;
  }

  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& input) {
    const Index cap = c.limits.max_tensor_elements;
    const Index filters = c.integer("filters", 1, cap);
    const Size2 kernel = c.pair("kernel_size", cap);
    const Size2 strides = c.pair("strides", cap, Size2(1, 1));
    const Padding padding = c.padding();
    c.check_channels_last();
    const Size2 dilation = c.pair("dilation_rate", cap, Size2(1, 1));
    const Index groups = c.integer("groups", 1, cap, 1);
    if (std::max(strides.h, strides.w) > 1 && std::max(dilation.h, dilation.w) > 1)
      c.bad("`strides > 1` not supported in conjunction with `dilation_rate > 1`. Received: strides=" + strides.str() +
            " and dilation_rate=" + dilation.str());
    if (filters % groups != 0)
      c.bad("the number of filters must be evenly divisible by the number of groups. Received: groups=" +
            std::to_string(groups) + ", filters=" + std::to_string(filters));
    if (input.rank() == 3 && input[2] % groups != 0)
      c.bad("the number of input channels must be evenly divisible by the number of groups. Received groups=" +
            std::to_string(groups) + ", but the input has " + std::to_string(input[2]) + " channels");
    c.require_null("lora_rank");
    c.require_null("activity_regularizer");
    const Activation act = c.activation();
    const bool use_bias = c.boolean("use_bias", true);
    if (input.rank() == 3) c.check_size({kernel.h, kernel.w, input[2] / groups, filters}, "the kernel");
    const Conv2DOptions options = Conv2DOptions{}
                                      .activation(act)
                                      .padding(padding)
                                      .strides(strides)
                                      .use_bias(use_bias)
                                      .dilation_rate(dilation)
                                      .groups(groups)
                                      .name(c.name)
                                      .kernel_regularizer(read_regularizer(c, "kernel_regularizer"))
                                      .bias_regularizer(read_regularizer(c, "bias_regularizer"));
    return configured(std::make_unique<Conv2D>(filters, kernel, options), c);
  }

  std::unique_ptr<Layer<Scalar>> clone() const override {
    auto copy = clone_layer(*this);
    static_cast<Conv2D&>(*copy).cols_ = Tensor<Scalar>();  // workspaces are scratch: the copy grows its own
    return copy;
  }

 protected:
  Shape compute_output_shape(const Shape& input_shape) override {
    if (input_shape.rank() != 3 || input_shape.size() < 1)
      this->shape_error("expected input of shape (None, height, width, channels), got " + input_shape.str(true));
    if (input_shape.rank() == 3 && input_shape[2] % groups_ != 0)
      this->shape_error(
          "the number of input channels must be evenly divisible by the number of groups. Received "
          "groups=" +
          std::to_string(groups_) + ", but the input has " + std::to_string(input_shape[2]) + " channels");
    const Conv2DGeometry g = Conv2DGeometry::make(1, input_shape[0], input_shape[1], input_shape[2], kernel_size_,
                                                  filters_, strides_, padding_, dilation_rate_, groups_);
    const Shape out{g.out_h, g.out_w, filters_};
    if (g.out_h < 1 || g.out_w < 1)
      this->shape_error("input " + input_shape.str(true) + " is too small for kernel_size " + kernel_size_.str() +
                        " with padding '" + padding_name(padding_) + "': the output would be " + out.str(true));
    in_h_ = g.in_h;
    in_w_ = g.in_w;
    in_c_ = g.in_c;
    return out;
  }

 private:
  const Scalar* bias() const { return use_bias_ ? this->weight(1) : nullptr; }

  Index filters_;
  Size2 kernel_size_, strides_;
  Size2 dilation_rate_{1, 1};
  Index groups_ = 1;
  Padding padding_;
  FusedActivation<Scalar> activation_;
  bool use_bias_;
  RegularizerPtr kernel_regularizer_, bias_regularizer_;
  Conv2DKernel kernel_ = Conv2DKernel::im2col;
  Index in_h_ = 0, in_w_ = 0, in_c_ = 0;
  Tensor<Scalar> cols_;  // workspace: im2col patches (and d_cols in backward), grown once
};

}  // namespace nnlite
