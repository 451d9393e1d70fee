// nnlite/layers/base_conv2d.hpp: what Keras' Conv2D, DepthwiseConv2D and SeparableConv2D share (Keras has BaseConv,
// BaseDepthwiseConv and BaseSeparableConv for it): the keyword arguments they all take, as chained options; their
// checks and config keys; and BaseConv2D, the layer base holding them with the output-shape rule and the fused
// activation.
#pragma once

#include <algorithm>
#include <string>
#include <utility>

#include "../core/spatial.hpp"
#include "../kernels/conv2d_geometry.hpp"
#include "fused_activation.hpp"
#include "layer.hpp"

namespace nnlite {

/// Keras' keyword arguments every 2-D conv layer takes, as chained setters that return the `Derived` options (so
/// Conv2DOptions{}.padding("same").groups(2) chains), each with a same-named getter; unset ones keep Keras' defaults.
template <class Derived>
class ConvOptions {
 public:
  /// Keras' `activation`, applied to the layer's output (default linear).
  Derived& activation(Activation a) {
    activation_ = a;
    return self();
  }
  /// Keras' `activation` by name, e.g. "relu".
  Derived& activation(const std::string& a) { return activation(parse_activation(a)); }
  /// Keras' `padding`: valid (default) or same.
  Derived& padding(Padding p) {
    padding_ = p;
    return self();
  }
  /// Keras' `padding` by name: "valid" or "same".
  Derived& padding(const std::string& p) { return padding(parse_padding(p)); }
  /// Keras' `strides` of the window (default 1).
  Derived& strides(Size2 s) {
    strides_ = s;
    return self();
  }
  /// Keras' `dilation_rate`: the spacing of the kernel taps (default 1; needs strides 1 when > 1).
  Derived& dilation_rate(Size2 d) {
    dilation_rate_ = d;
    return self();
  }
  /// Keras' `use_bias` (default true).
  Derived& use_bias(bool b) {
    use_bias_ = b;
    return self();
  }
  /// Keras' `name` of the layer (empty: made from the class name when the layer is added to a model).
  Derived& name(std::string n) {
    name_ = std::move(n);
    return self();
  }
  /// Keras' `bias_regularizer` (regularizers::l2(0.01); an empty pointer for none).
  Derived& bias_regularizer(RegularizerPtr r) {
    bias_regularizer_ = std::move(r);
    return self();
  }
  /// Keras' `bias_regularizer` by identifier, such as "l2".
  Derived& bias_regularizer(const std::string& identifier) { return bias_regularizer(make_regularizer(identifier)); }

  /// The `activation` set.
  Activation activation() const { return activation_; }
  /// The `padding` set.
  Padding padding() const { return padding_; }
  /// The `strides` set.
  Size2 strides() const { return strides_; }
  /// The `dilation_rate` set.
  Size2 dilation_rate() const { return dilation_rate_; }
  /// The `use_bias` set.
  bool use_bias() const { return use_bias_; }
  /// The `name` set.
  const std::string& name() const { return name_; }
  /// The `bias_regularizer` set (empty for none).
  const RegularizerPtr& bias_regularizer() const { return bias_regularizer_; }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }

  Activation activation_ = Activation::linear;
  Padding padding_ = Padding::valid;
  Size2 strides_{1, 1};
  Size2 dilation_rate_{1, 1};
  bool use_bias_ = true;
  std::string name_;
  RegularizerPtr bias_regularizer_;
};

/// Keras' message for `strides > 1` together with `dilation_rate > 1` (which Keras refuses); "" when they go together.
inline std::string strides_dilation_conflict(Size2 strides, Size2 dilation) {
  if (std::max(strides.h, strides.w) > 1 && std::max(dilation.h, dilation.w) > 1)
    return "`strides > 1` not supported in conjunction with `dilation_rate > 1`. Received: strides=" + strides.str() +
           " and dilation_rate=" + dilation.str();
  return "";
}

/// Throws ArgumentError "<layer>: <what> must be >= 1, got (h, w)" unless both sides of `v` are at least 1.
inline void check_at_least_one(const std::string& layer, const char* what, Size2 v) {
  if (v.h < 1 || v.w < 1) throw ArgumentError(layer + ": " + what + " must be >= 1, got " + v.str());
}

/// The spatial keys of a Keras conv layer's config: kernel_size, strides, padding, data_format, dilation_rate.
struct ConvSpatialConfig {
  Size2 kernel_size;                 ///< Keras' `kernel_size` (required).
  Size2 strides;                     ///< Keras' `strides` (default 1).
  Padding padding = Padding::valid;  ///< Keras' `padding`.
  Size2 dilation_rate;               ///< Keras' `dilation_rate` (default 1).

  /// Reads them in Keras' order with Keras' defaults; a data_format other than channels_last is refused.
  static ConvSpatialConfig read(const ConfigReader& c) {
    const Index cap = c.limits.max_tensor_elements;
    ConvSpatialConfig s;
    s.kernel_size = c.pair("kernel_size", cap);
    s.strides = c.pair("strides", cap, Size2(1, 1));
    s.padding = c.padding();
    c.check_channels_last();
    s.dilation_rate = c.pair("dilation_rate", cap, Size2(1, 1));
    return s;
  }
  /// Refuses (ConfigReader::bad) strides > 1 with dilation_rate > 1, as Keras does.
  void check_strides_dilation(const ConfigReader& c) const {
    const std::string conflict = strides_dilation_conflict(strides, dilation_rate);
    if (!conflict.empty()) c.bad(conflict);
  }
  /// Options with padding, strides and dilation_rate set from these keys, e.g. s.options<Conv2DOptions>().
  template <class Options>
  Options options() const {
    Options o;
    o.padding(padding).strides(strides).dilation_rate(dilation_rate);
    return o;
  }
};

/// What Keras' Conv2D, DepthwiseConv2D and SeparableConv2D share: an NHWC input, the spatial options, the fused
/// activation, the bias option, and the input size seen at build().
template <class Scalar>
class BaseConv2D : public Layer<Scalar> {
 public:
  /// Keras' `kernel_size`: the window's (height, width).
  Size2 kernel_size() const { return kernel_size_; }
  /// Keras' `strides` of the window.
  Size2 strides() const { return strides_; }
  /// Keras' `dilation_rate`: the spacing of the kernel taps.
  Size2 dilation_rate() const { return dilation_rate_; }
  /// Keras' `padding`: valid or same.
  Padding padding() const { return padding_; }
  /// Keras' `activation`, fused into the layer's output.
  const Activation& activation() const { return activation_.activation(); }
  /// Keras' `use_bias`.
  bool use_bias() const { return use_bias_; }
  /// Keras' `bias_regularizer` (null for none).
  const Regularizer* bias_regularizer() const { return bias_regularizer_.get(); }

  Activation output_activation() const override { return activation_.output_activation(); }
  const Tensor<Scalar>* logits(const Tensor<Scalar>& /*in*/) const override { return activation_.logits(); }

  /// d(loss)/d(out) through the fused activation to d(loss)/d(pre-activation), then backward_from_logits().
  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    this->check_d_out(in, out, d_out);  // built: output_shape() is (out_h, out_w, channels)
    this->backward_from_logits(in, activation_.backward(out, d_out, this->output_shape()[2]), d_in);
  }

  /// Keras' config keys every conv layer has: the spatial ones, activation, use_bias and the bias' keys.
  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    c["kernel_size"] = {kernel_size_.h, kernel_size_.w};
    c["strides"] = {strides_.h, strides_.w};
    c["padding"] = padding_name(padding_);
    c["data_format"] = "channels_last";
    c["dilation_rate"] = {dilation_rate_.h, dilation_rate_.w};
    c["activation"] = keras_activation_name(activation());
    c["use_bias"] = use_bias_;
    write_weight_config(c, "bias", Initializer::zeros, bias_regularizer_.get());
    c["activity_regularizer"] = nullptr;
    return c;
  }

 protected:
  /// Stores the options; the derived layer checks them (in Keras' order, naming its own class).
  BaseConv2D(Size2 kernel_size, Size2 strides, Size2 dilation_rate, Padding padding, Activation activation,
             bool use_bias, RegularizerPtr bias_regularizer)
      : kernel_size_(kernel_size),
        strides_(strides),
        dilation_rate_(dilation_rate),
        padding_(padding),
        activation_(std::move(activation)),
        use_bias_(use_bias),
        bias_regularizer_(std::move(bias_regularizer)) {}

  /// The output shape (out_h, out_w, `channels`) of `g`, the geometry of one sample of `input_shape`, refused when
  /// empty; keeps g's input size for the kernels.
  Shape built_output_shape(const Shape& input_shape, const Conv2DGeometry& g, Index channels) {
    const Shape out{g.out_h, g.out_w, channels};
    if (g.out_h < 1 || g.out_w < 1)
      this->shape_error("input " + input_shape.str(true) + " is too small for kernel_size " + kernel_size_.str() +
                        " with padding '" + padding_name(padding_) + "': the output would be " + out.str(true));
    in_h_ = g.in_h;
    in_w_ = g.in_w;
    in_c_ = g.in_c;
    return out;
  }

  /// forward()'s start: `in` checked against the built input, the weights bound, `out` sized to the output for `in`.
  void start_forward(const Tensor<Scalar>& in, Tensor<Scalar>& out) const {
    this->check_input(in);
    this->check_bound();
    out.resize(this->output_shape().with_batch(in.batch()));
  }
  /// backward_from_logits()'s start: `in` checked, the weights bound, and `d_logits` of the output's size for `in`.
  void start_backward(const Tensor<Scalar>& in, const Tensor<Scalar>& d_logits) const {
    this->check_d_logits(in, d_logits);
    this->check_bound();
  }
  /// `d_in` resized to `in`'s shape and its data, or null when no input gradient is wanted (`d_in` null).
  static Scalar* input_gradient(const Tensor<Scalar>& in, Tensor<Scalar>* d_in) {
    if (!d_in) return nullptr;
    d_in->resize(in.shape());
    return d_in->data();
  }

  Size2 kernel_size_;                   ///< Keras' `kernel_size`.
  Size2 strides_;                       ///< Keras' `strides`.
  Size2 dilation_rate_;                 ///< Keras' `dilation_rate`.
  Padding padding_;                     ///< Keras' `padding`.
  FusedActivation<Scalar> activation_;  ///< Keras' `activation`, with its logits and workspace.
  bool use_bias_;                       ///< Keras' `use_bias`.
  RegularizerPtr bias_regularizer_;     ///< Keras' `bias_regularizer` (empty for none).
  Index in_h_ = 0;                      ///< The input height seen at build().
  Index in_w_ = 0;                      ///< The input width seen at build().
  Index in_c_ = 0;                      ///< The input channels seen at build().
};

}  // namespace nnlite
