// nnlite/layers/depthwise_conv2d.hpp: Keras' DepthwiseConv2D: each input channel convolved with its own
// depth_multiplier filters, out = activation(depthwise(in, depthwise_kernel) + bias) over NHWC input. Weights as Keras
// stores them: "depthwise_kernel" (kh, kw, in_channels, depth_multiplier), "bias" (in_channels * depth_multiplier);
// output channel c * depth_multiplier + m comes from input channel c.
#pragma once

#include "../kernels/conv2d_reference.hpp"
#include "../kernels/depthwise_conv2d.hpp"
#include "base_conv2d.hpp"
#include "fused_activation.hpp"
#include "layer.hpp"

namespace nnlite {

/// Keras-style keyword arguments for DepthwiseConv2D (and the depthwise half of SeparableConv2D), chained:
///   DepthwiseConv2D<float>({3, 3}, DepthwiseConv2DOptions{}.padding("same").depth_multiplier(2))
/// The options every conv layer takes (activation, padding, strides, ...) come from ConvOptions.
class DepthwiseConv2DOptions : public ConvOptions<DepthwiseConv2DOptions> {
 public:
  /// Keras' `depth_multiplier`: the filters per input channel (default 1).
  DepthwiseConv2DOptions& depth_multiplier(Index d) {
    depth_multiplier_ = d;
    return *this;
  }
  /// Keras' `depthwise_regularizer` (regularizers::l2(0.01); an empty pointer for none).
  DepthwiseConv2DOptions& depthwise_regularizer(RegularizerPtr r) {
    depthwise_regularizer_ = std::move(r);
    return *this;
  }
  /// Keras' `depthwise_regularizer` by identifier, such as "l2".
  DepthwiseConv2DOptions& depthwise_regularizer(const std::string& identifier) {
    return depthwise_regularizer(make_regularizer(identifier));
  }
  /// Keras' `pointwise_regularizer` of SeparableConv2D (DepthwiseConv2D refuses one).
  DepthwiseConv2DOptions& pointwise_regularizer(RegularizerPtr r) {
    pointwise_regularizer_ = std::move(r);
    return *this;
  }
  /// Keras' `pointwise_regularizer` by identifier, such as "l2".
  DepthwiseConv2DOptions& pointwise_regularizer(const std::string& identifier) {
    return pointwise_regularizer(make_regularizer(identifier));
  }

  /// The `depth_multiplier` set.
  Index depth_multiplier() const { return depth_multiplier_; }
  /// The `depthwise_regularizer` set (empty for none).
  const RegularizerPtr& depthwise_regularizer() const { return depthwise_regularizer_; }
  /// The `pointwise_regularizer` set (empty for none).
  const RegularizerPtr& pointwise_regularizer() const { return pointwise_regularizer_; }

 private:
  Index depth_multiplier_ = 1;
  RegularizerPtr depthwise_regularizer_, pointwise_regularizer_;
};

/// Keras' checks shared by DepthwiseConv2D and SeparableConv2D; `layer` names the class in the message.
inline void check_depthwise_options(const std::string& layer, Size2 kernel, const DepthwiseConv2DOptions& o) {
  if (kernel.h < 1 || kernel.w < 1) throw ArgumentError(layer + ": kernel_size must be >= 1, got " + kernel.str());
  if (o.strides().h < 1 || o.strides().w < 1)
    throw ArgumentError(layer + ": strides must be >= 1, got " + o.strides().str());
  if (o.dilation_rate().h < 1 || o.dilation_rate().w < 1)
    throw ArgumentError(layer + ": dilation_rate must be >= 1, got " + o.dilation_rate().str());
  if (o.depth_multiplier() < 1)
    throw ArgumentError(layer +
                        ": Invalid value for argument `depth_multiplier`. Expected a strictly positive value. "
                        "Received depth_multiplier=" +
                        std::to_string(o.depth_multiplier()));
  if (std::max(o.strides().h, o.strides().w) > 1 && std::max(o.dilation_rate().h, o.dilation_rate().w) > 1)
    throw ArgumentError(layer +
                        ": `strides > 1` not supported in conjunction with `dilation_rate > 1`. Received: "
                        "strides=" +
                        o.strides().str() + " and dilation_rate=" + o.dilation_rate().str());
}

/// The depthwise kernels a layer can run: the direct fast one (default) or the reference loops (for checking).
enum class DepthwiseKernel { direct, reference };

/// Keras' DepthwiseConv2D: one k_h x k_w filter per input channel (depth_multiplier of them), NHWC.
template <class Scalar>
class DepthwiseConv2D : public Layer<Scalar> {
 public:
  explicit DepthwiseConv2D(Size2 kernel_size, const DepthwiseConv2DOptions& o = {})
      : kernel_size_(kernel_size),
        strides_(o.strides()),
        dilation_rate_(o.dilation_rate()),
        padding_(o.padding()),
        depth_multiplier_(o.depth_multiplier()),
        activation_(o.activation()),
        use_bias_(o.use_bias()),
        depthwise_regularizer_(o.depthwise_regularizer()),
        bias_regularizer_(o.bias_regularizer()) {
    check_depthwise_options("DepthwiseConv2D", kernel_size, o);
    if (o.pointwise_regularizer())
      throw ArgumentError(
          "DepthwiseConv2D: has no pointwise kernel, so no pointwise_regularizer (SeparableConv2D has)");
    this->set_name(o.name());
  }

  std::string class_name() const override { return "DepthwiseConv2D"; }
  std::string name_stem() const override { return "depthwise_conv2d"; }
  Size2 kernel_size() const { return kernel_size_; }
  Size2 strides() const { return strides_; }
  Size2 dilation_rate() const { return dilation_rate_; }
  Padding padding() const { return padding_; }
  Index depth_multiplier() const { return depth_multiplier_; }
  const Activation& activation() const { return activation_.activation(); }
  bool use_bias() const { return use_bias_; }
  void set_kernel(DepthwiseKernel k) { kernel_ = k; }
  const Regularizer* depthwise_regularizer() const { return depthwise_regularizer_.get(); }
  const Regularizer* bias_regularizer() const { return bias_regularizer_.get(); }
  const Regularizer* weight_regularizer(std::size_t i) const override {
    return i == 0 ? depthwise_regularizer_.get() : i == 1 && use_bias_ ? bias_regularizer_.get() : nullptr;
  }

  Conv2DGeometry geometry(Index batch) const {
    return depthwise_geometry(batch, in_h_, in_w_, in_c_, kernel_size_, depth_multiplier_, strides_, padding_,
                              dilation_rate_);
  }

  std::vector<ParamSpec> param_specs() const override {
    std::vector<ParamSpec> specs{{"depthwise_kernel", Shape{kernel_size_.h, kernel_size_.w, in_c_, depth_multiplier_},
                                  Initializer::glorot_uniform}};
    if (use_bias_) specs.push_back({"bias", Shape{in_c_ * depth_multiplier_}, Initializer::zeros});
    return specs;
  }

  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode /*mode*/) override {
    this->check_input(in);
    this->check_bound();
    out.resize(this->output_shape().with_batch(in.batch()));
    const Conv2DGeometry g = geometry(in.batch());
    if (kernel_ == DepthwiseKernel::reference)
      conv2d_forward_reference(g, in.data(), this->weight(0), bias(), out.data());
    else
      depthwise_conv2d_forward(g, in.data(), this->weight(0), bias(), out.data());
    activation_.forward(out, g.out_c);
  }

  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    if (d_out.shape() != out.shape())
      this->shape_error("d_out of shape " + d_out.shape().str() + " does not match the output " + out.shape().str());
    backward_from_logits(in, activation_.backward(out, d_out, in_c_ * depth_multiplier_), d_in);
  }

  Activation output_activation() const override { return activation_.output_activation(); }
  const Tensor<Scalar>* logits(const Tensor<Scalar>& /*in*/) const override { return activation_.logits(); }

  void backward_from_logits(const Tensor<Scalar>& in, const Tensor<Scalar>& d_logits, Tensor<Scalar>* d_in) override {
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
    Scalar* db = use_bias_ ? this->weight_grad(1) : nullptr;
    if (kernel_ == DepthwiseKernel::reference)
      conv2d_backward_reference(g, in.data(), this->weight(0), d_logits.data(), dx, this->weight_grad(0), db);
    else
      depthwise_conv2d_backward(g, in.data(), this->weight(0), d_logits.data(), dx, this->weight_grad(0), db, ws_);
  }

  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    c["kernel_size"] = {kernel_size_.h, kernel_size_.w};
    c["strides"] = {strides_.h, strides_.w};
    c["padding"] = padding_name(padding_);
    c["depth_multiplier"] = depth_multiplier_;
    c["data_format"] = "channels_last";
    c["dilation_rate"] = {dilation_rate_.h, dilation_rate_.w};
    c["activation"] = keras_activation_name(activation());
    c["use_bias"] = use_bias_;
    write_weight_config(c, "depthwise", Initializer::glorot_uniform, depthwise_regularizer_.get());
    write_weight_config(c, "bias", Initializer::zeros, bias_regularizer_.get());
    c["activity_regularizer"] = nullptr;
    return c;
  }

  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& input) {
    const Index cap = c.limits.max_tensor_elements;
    const Size2 kernel = c.pair("kernel_size", cap);
    const Size2 strides = c.pair("strides", cap, Size2(1, 1));
    const Padding padding = c.padding();
    c.check_channels_last();
    const Size2 dilation = c.pair("dilation_rate", cap, Size2(1, 1));
    const Index dm = c.integer("depth_multiplier", 1, cap, 1);
    if (std::max(strides.h, strides.w) > 1 && std::max(dilation.h, dilation.w) > 1)
      c.bad("`strides > 1` not supported in conjunction with `dilation_rate > 1`. Received: strides=" + strides.str() +
            " and dilation_rate=" + dilation.str());
    const Activation act = c.activation();
    const bool use_bias = c.boolean("use_bias", true);
    c.require_null("activity_regularizer");
    if (input.rank() == 3) c.check_size({kernel.h, kernel.w, input[2], dm}, "the depthwise kernel");
    const auto o = DepthwiseConv2DOptions{}
                       .activation(act)
                       .padding(padding)
                       .strides(strides)
                       .dilation_rate(dilation)
                       .depth_multiplier(dm)
                       .use_bias(use_bias)
                       .name(c.name)
                       .depthwise_regularizer(read_regularizer(c, "depthwise_regularizer"))
                       .bias_regularizer(read_regularizer(c, "bias_regularizer"));
    return configured(std::make_unique<DepthwiseConv2D>(kernel, o), c);
  }

  std::unique_ptr<Layer<Scalar>> clone() const override {
    auto copy = clone_layer(*this);
    static_cast<DepthwiseConv2D&>(*copy).ws_ = Tensor<Scalar>();
    return copy;
  }

 protected:
  Shape compute_output_shape(const Shape& input_shape) override {
    if (input_shape.rank() != 3 || input_shape.size() < 1)
      this->shape_error("expected input of shape (None, height, width, channels), got " + input_shape.str(true));
    const Conv2DGeometry g = depthwise_geometry(1, input_shape[0], input_shape[1], input_shape[2], kernel_size_,
                                                depth_multiplier_, strides_, padding_, dilation_rate_);
    const Shape out{g.out_h, g.out_w, g.out_c};
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

  Size2 kernel_size_, strides_, dilation_rate_;
  Padding padding_;
  Index depth_multiplier_;
  FusedActivation<Scalar> activation_;
  bool use_bias_;
  RegularizerPtr depthwise_regularizer_, bias_regularizer_;
  DepthwiseKernel kernel_ = DepthwiseKernel::direct;
  Index in_h_ = 0, in_w_ = 0, in_c_ = 0;
  Tensor<Scalar> ws_;  // workspace: per-thread gradient partials, grown once
};

}  // namespace nnlite
