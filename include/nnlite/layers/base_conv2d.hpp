// nnlite/layers/base_conv2d.hpp: what Keras' Conv2D, DepthwiseConv2D and SeparableConv2D share (Keras has BaseConv,
// BaseDepthwiseConv and BaseSeparableConv for it): the keyword arguments they all take, as chained options.
#pragma once

#include <string>
#include <utility>

#include "../core/spatial.hpp"
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

}  // namespace nnlite
