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
  check_at_least_one(layer, "kernel_size", kernel);
  check_at_least_one(layer, "strides", o.strides());
  check_at_least_one(layer, "dilation_rate", o.dilation_rate());
  if (o.depth_multiplier() < 1)
    throw ArgumentError(layer +
                        ": Invalid value for argument `depth_multiplier`. Expected a strictly positive value. "
                        "Received depth_multiplier=" +
                        std::to_string(o.depth_multiplier()));
  const std::string conflict = strides_dilation_conflict(o.strides(), o.dilation_rate());
  if (!conflict.empty()) throw ArgumentError(layer + ": " + conflict);
}

/// The depthwise kernels a layer can run: the direct fast one (default) or the reference loops (for checking).
enum class DepthwiseKernel {
  direct,    ///< The direct kernel of kernels/depthwise_conv2d.hpp (the default).
  reference  ///< The grouped conv2d_*_reference loops.
};

/// What DepthwiseConv2D and SeparableConv2D share (Keras' BaseDepthwiseConv and BaseSeparableConv): the depthwise
/// kernel "depthwise_kernel" (kh, kw, in_channels, depth_multiplier), its options, and the kernels that run it.
template <class Scalar>
class BaseDepthwiseConv2D : public BaseConv2D<Scalar> {
  using Base = BaseConv2D<Scalar>;

 public:
  /// Keras' `depth_multiplier`: the filters per input channel.
  Index depth_multiplier() const { return depth_multiplier_; }
  /// Keras' `depthwise_regularizer` (null for none).
  const Regularizer* depthwise_regularizer() const { return depthwise_regularizer_.get(); }
  /// Which depthwise kernel runs: the direct one (default) or the reference loops.
  void set_kernel(DepthwiseKernel k) { kernel_ = k; }

  /// The kernels' view of the depthwise step for a batch of `batch` samples (valid after build()).
  Conv2DGeometry geometry(Index batch) const {
    return depthwise_geometry(batch, this->in_h_, this->in_w_, this->in_c_, this->kernel_size_, depth_multiplier_,
                              this->strides_, this->padding_, this->dilation_rate_);
  }

  /// Keras' config keys: those of every conv layer, depth_multiplier and the depthwise kernel's.
  nlohmann::json config() const override {
    auto c = Base::config();
    c["depth_multiplier"] = depth_multiplier_;
    write_weight_config(c, "depthwise", Initializer::glorot_uniform, depthwise_regularizer_.get());
    return c;
  }

 protected:
  /// Stores and checks (naming `layer`) the options but the pointwise regularizer, which only SeparableConv2D has.
  BaseDepthwiseConv2D(const std::string& layer, Size2 kernel_size, const DepthwiseConv2DOptions& o)
      : Base(kernel_size, o.strides(), o.dilation_rate(), o.padding(), o.activation(), o.use_bias(),
             o.bias_regularizer()),
        depth_multiplier_(o.depth_multiplier()),
        depthwise_regularizer_(o.depthwise_regularizer()) {
    check_depthwise_options(layer, kernel_size, o);
  }

  /// The "depthwise_kernel" weight: (kh, kw, in_channels, depth_multiplier), Glorot-uniform.
  ParamSpec depthwise_kernel_spec() const {
    return {"depthwise_kernel", Shape{this->kernel_size_.h, this->kernel_size_.w, this->in_c_, depth_multiplier_},
            Initializer::glorot_uniform};
  }
  /// build()'s depthwise geometry for one sample of `input_shape`, once it is checked to be (None, h, w, channels).
  Conv2DGeometry build_geometry(const Shape& input_shape) const {
    this->check_image_input(input_shape);
    return depthwise_geometry(1, input_shape[0], input_shape[1], input_shape[2], this->kernel_size_, depth_multiplier_,
                              this->strides_, this->padding_, this->dilation_rate_);
  }

  /// out = depthwise(in, weight 0) + bias (bias may be null) with the kernel set_kernel() chose.
  void depthwise_forward(const Conv2DGeometry& g, const Scalar* in, const Scalar* bias, Scalar* out) const {
    if (kernel_ == DepthwiseKernel::reference)
      conv2d_forward_reference<Scalar>(g, in, this->weight(0), bias, out);
    else
      depthwise_conv2d_forward<Scalar>(g, in, this->weight(0), bias, out);
  }
  /// From d_out: the depthwise kernel's gradient (weight 0), d_bias when not null, d_in when not null.
  void depthwise_backward(const Conv2DGeometry& g, const Scalar* in, const Scalar* d_out, Scalar* d_in,
                          Scalar* d_bias) {
    if (kernel_ == DepthwiseKernel::reference)
      conv2d_backward_reference<Scalar>(g, in, this->weight(0), d_out, d_in, this->weight_grad(0), d_bias);
    else
      depthwise_conv2d_backward<Scalar>(g, in, this->weight(0), d_out, d_in, this->weight_grad(0), d_bias, ws_);
  }

  /// from_config's common part, in Keras' order: the spatial keys, depth_multiplier, activation, use_bias and the
  /// depthwise kernel's size for `input`; sets `kernel_size` and leaves the regularizers to the caller.
  static DepthwiseConv2DOptions read_depthwise_config(const ConfigReader& c, const Shape& input, Size2& kernel_size) {
    const ConvSpatialConfig s = ConvSpatialConfig::read(c);
    const Index dm = c.integer("depth_multiplier", 1, c.limits.max_tensor_elements, 1);
    s.check_strides_dilation(c);
    const Activation act = c.activation();
    const bool use_bias = c.boolean("use_bias", true);
    c.require_null("activity_regularizer");
    if (input.rank() == 3) c.check_size({s.kernel_size.h, s.kernel_size.w, input[2], dm}, "the depthwise kernel");
    kernel_size = s.kernel_size;
    DepthwiseConv2DOptions o = s.options<DepthwiseConv2DOptions>();
    o.activation(act).depth_multiplier(dm).use_bias(use_bias).name(c.name);
    return o;
  }

  Index depth_multiplier_;                            ///< Keras' `depth_multiplier`.
  RegularizerPtr depthwise_regularizer_;              ///< Keras' `depthwise_regularizer` (empty for none).
  DepthwiseKernel kernel_ = DepthwiseKernel::direct;  ///< The kernel set_kernel() chose.
  Tensor<Scalar> ws_;                                 ///< Workspace: per-thread gradient partials, grown once.
};

/// Keras' DepthwiseConv2D: one k_h x k_w filter per input channel (depth_multiplier of them), NHWC.
template <class Scalar>
class DepthwiseConv2D : public BaseDepthwiseConv2D<Scalar> {
  using Base = BaseDepthwiseConv2D<Scalar>;
  using Base::depth_multiplier_, Base::use_bias_, Base::bias_regularizer_, Base::depthwise_regularizer_,
      Base::activation_, Base::in_c_;

 public:
  /// DepthwiseConv2D<float>({3, 3}, DepthwiseConv2DOptions{}.depth_multiplier(2)): Keras' kernel_size and options.
  explicit DepthwiseConv2D(Size2 kernel_size, const DepthwiseConv2DOptions& o = {})
      : Base("DepthwiseConv2D", kernel_size, o) {
    if (o.pointwise_regularizer())
      throw ArgumentError(
          "DepthwiseConv2D: has no pointwise kernel, so no pointwise_regularizer (SeparableConv2D has)");
    this->set_name(o.name());
  }

  std::string class_name() const override { return "DepthwiseConv2D"; }
  std::string name_stem() const override { return "depthwise_conv2d"; }
  const Regularizer* weight_regularizer(std::size_t i) const override {
    return i == 0 ? depthwise_regularizer_.get() : i == 1 && use_bias_ ? bias_regularizer_.get() : nullptr;
  }

  std::vector<ParamSpec> param_specs() const override {
    std::vector<ParamSpec> specs{this->depthwise_kernel_spec()};
    if (use_bias_) specs.push_back({"bias", Shape{in_c_ * depth_multiplier_}, Initializer::zeros});
    return specs;
  }

  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode /*mode*/) override {
    this->start_forward(in, out);
    const Conv2DGeometry g = this->geometry(in.batch());
    this->depthwise_forward(g, in.data(), bias(), out.data());
    activation_.forward(out, g.out_c);
  }

  void backward_from_logits(const Tensor<Scalar>& in, const Tensor<Scalar>& d_logits, Tensor<Scalar>* d_in) override {
    this->start_backward(in, d_logits);
    const Conv2DGeometry g = this->geometry(in.batch());
    this->depthwise_backward(g, in.data(), d_logits.data(), Base::input_gradient(in, d_in),
                             use_bias_ ? this->weight_grad(1) : nullptr);
  }

  /// Keras' DepthwiseConv2D config (the spatial keys, depth_multiplier, activation, use_bias, regularizers).
  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& input) {
    Size2 kernel_size;
    DepthwiseConv2DOptions o = Base::read_depthwise_config(c, input, kernel_size);
    o.depthwise_regularizer(read_regularizer(c, "depthwise_regularizer"))
        .bias_regularizer(read_regularizer(c, "bias_regularizer"));
    return configured(std::make_unique<DepthwiseConv2D>(kernel_size, o), c);
  }

  std::unique_ptr<Layer<Scalar>> clone() const override {
    auto copy = clone_layer(*this);
    static_cast<DepthwiseConv2D&>(*copy).ws_ = Tensor<Scalar>();
    return copy;
  }

 protected:
  Shape compute_output_shape(const Shape& input_shape) override {
    const Conv2DGeometry g = this->build_geometry(input_shape);
    return this->built_output_shape(input_shape, g, g.out_c);
  }

 private:
  const Scalar* bias() const { return use_bias_ ? this->weight(1) : nullptr; }
};

}  // namespace nnlite
