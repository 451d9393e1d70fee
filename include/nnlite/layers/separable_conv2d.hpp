// nnlite/layers/separable_conv2d.hpp: Keras' SeparableConv2D: a depthwise conv (no bias) then a 1x1 pointwise conv,
// out = activation(depthwise(in) . pointwise_kernel + bias). Weights as Keras stores them: "depthwise_kernel"
// (kh, kw, in_channels, depth_multiplier), "pointwise_kernel" (1, 1, in_channels * depth_multiplier, filters), "bias"
// (filters). The pointwise step is one GEMM over every output position; both intermediates are member workspaces.
#pragma once

#include "depthwise_conv2d.hpp"

namespace nnlite {

/// Keras' SeparableConv2D: a depthwise conv (depth_multiplier) then a pointwise 1x1 conv, then the activation.
template <class Scalar>
class SeparableConv2D : public Layer<Scalar> {
 public:
  SeparableConv2D(Index filters, Size2 kernel_size, const DepthwiseConv2DOptions& o = {})
      : filters_(filters),
        kernel_size_(kernel_size),
        strides_(o.strides()),
        dilation_rate_(o.dilation_rate()),
        padding_(o.padding()),
        depth_multiplier_(o.depth_multiplier()),
        activation_(o.activation()),
        use_bias_(o.use_bias()),
        depthwise_regularizer_(o.depthwise_regularizer()),
        pointwise_regularizer_(o.pointwise_regularizer()),
        bias_regularizer_(o.bias_regularizer()) {
    if (filters < 1) throw ArgumentError("SeparableConv2D: filters must be >= 1, got " + std::to_string(filters));
    check_depthwise_options("SeparableConv2D", kernel_size, o);
    this->set_name(o.name());
  }

  std::string class_name() const override { return "SeparableConv2D"; }
  std::string name_stem() const override { return "separable_conv2d"; }
  Index filters() const { return filters_; }
  Size2 kernel_size() const { return kernel_size_; }
  Size2 strides() const { return strides_; }
  Size2 dilation_rate() const { return dilation_rate_; }
  Padding padding() const { return padding_; }
  Index depth_multiplier() const { return depth_multiplier_; }
  const Activation& activation() const { return activation_.activation(); }
  bool use_bias() const { return use_bias_; }
  void set_kernel(DepthwiseKernel k) { kernel_ = k; }
  const Regularizer* depthwise_regularizer() const { return depthwise_regularizer_.get(); }
  const Regularizer* pointwise_regularizer() const { return pointwise_regularizer_.get(); }
  const Regularizer* bias_regularizer() const { return bias_regularizer_.get(); }
  const Regularizer* weight_regularizer(std::size_t i) const override {
    return i == 0                ? depthwise_regularizer_.get()
           : i == 1              ? pointwise_regularizer_.get()
           : i == 2 && use_bias_ ? bias_regularizer_.get()
                                 : nullptr;
  }

  Conv2DGeometry geometry(Index batch) const {
    return depthwise_geometry(batch, in_h_, in_w_, in_c_, kernel_size_, depth_multiplier_, strides_, padding_,
                              dilation_rate_);
  }

  std::vector<ParamSpec> param_specs() const override {
    const Index mid = in_c_ * depth_multiplier_;
    std::vector<ParamSpec> specs{{"depthwise_kernel", Shape{kernel_size_.h, kernel_size_.w, in_c_, depth_multiplier_},
                                  Initializer::glorot_uniform},
                                 {"pointwise_kernel", Shape{1, 1, mid, filters_}, Initializer::glorot_uniform}};
    if (use_bias_) specs.push_back({"bias", Shape{filters_}, Initializer::zeros});
    return specs;
  }

  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode /*mode*/) override {
    this->check_input(in);
    this->check_bound();
    out.resize(this->output_shape().with_batch(in.batch()));
    const Conv2DGeometry g = geometry(in.batch());
    depthwise(g, in);
    MatrixMap<Scalar> y(out.data(), g.rows(), filters_);
    y.noalias() = ConstMatrixMap<Scalar>(mid_.data(), g.rows(), g.out_c) * pointwise();
    if (use_bias_) y.rowwise() += ConstVectorMap<Scalar>(this->weight(2), filters_).transpose();
    activation_.forward(out, filters_);
  }

  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    if (d_out.shape() != out.shape())
      this->shape_error("d_out of shape " + d_out.shape().str() + " does not match the output " + out.shape().str());
    backward_from_logits(in, activation_.backward(out, d_out, filters_), d_in);
  }

  Activation output_activation() const override { return activation_.output_activation(); }
  const Tensor<Scalar>* logits(const Tensor<Scalar>& /*in*/) const override { return activation_.logits(); }

  /// The depthwise output is recomputed from `in` (not kept from forward), so nothing stale can be read.
  void backward_from_logits(const Tensor<Scalar>& in, const Tensor<Scalar>& d_logits, Tensor<Scalar>* d_in) override {
    this->check_input(in);
    this->check_bound();
    const Conv2DGeometry g = geometry(in.batch());
    if (d_logits.size() != g.rows() * filters_)
      this->shape_error("gradient of shape " + d_logits.shape().str() + " does not match the output " +
                        this->output_shape().with_batch(in.batch()).str());
    depthwise(g, in);
    ConstMatrixMap<Scalar> dy(d_logits.data(), g.rows(), filters_);
    ConstMatrixMap<Scalar> mid(mid_.data(), g.rows(), g.out_c);
    MatrixMap<Scalar>(this->weight_grad(1), g.out_c, filters_).noalias() = mid.transpose() * dy;
    if (use_bias_) VectorMap<Scalar>(this->weight_grad(2), filters_) = dy.colwise().sum().transpose();
    d_mid_.resize(mid_.shape());
    MatrixMap<Scalar>(d_mid_.data(), g.rows(), g.out_c).noalias() = dy * pointwise().transpose();
    Scalar* dx = nullptr;
    if (d_in) {
      d_in->resize(in.shape());
      dx = d_in->data();
    }
    if (kernel_ == DepthwiseKernel::reference)
      conv2d_backward_reference<Scalar>(g, in.data(), this->weight(0), d_mid_.data(), dx, this->weight_grad(0),
                                        nullptr);
    else
      depthwise_conv2d_backward<Scalar>(g, in.data(), this->weight(0), d_mid_.data(), dx, this->weight_grad(0), nullptr,
                                        ws_);
  }

  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    c["filters"] = filters_;
    c["kernel_size"] = {kernel_size_.h, kernel_size_.w};
    c["strides"] = {strides_.h, strides_.w};
    c["padding"] = padding_name(padding_);
    c["data_format"] = "channels_last";
    c["dilation_rate"] = {dilation_rate_.h, dilation_rate_.w};
    c["depth_multiplier"] = depth_multiplier_;
    c["activation"] = keras_activation_name(activation());
    c["use_bias"] = use_bias_;
    write_weight_config(c, "depthwise", Initializer::glorot_uniform, depthwise_regularizer_.get());
    write_weight_config(c, "pointwise", Initializer::glorot_uniform, pointwise_regularizer_.get());
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
    const Index dm = c.integer("depth_multiplier", 1, cap, 1);
    if (std::max(strides.h, strides.w) > 1 && std::max(dilation.h, dilation.w) > 1)
      c.bad("`strides > 1` not supported in conjunction with `dilation_rate > 1`. Received: strides=" + strides.str() +
            " and dilation_rate=" + dilation.str());
    const Activation act = c.activation();
    const bool use_bias = c.boolean("use_bias", true);
    c.require_null("activity_regularizer");
    if (input.rank() == 3) {
      c.check_size({kernel.h, kernel.w, input[2], dm}, "the depthwise kernel");
      c.check_size({input[2], dm, filters}, "the pointwise kernel");
    }
    const auto o = DepthwiseConv2DOptions{}
                       .activation(act)
                       .padding(padding)
                       .strides(strides)
                       .dilation_rate(dilation)
                       .depth_multiplier(dm)
                       .use_bias(use_bias)
                       .name(c.name)
                       .depthwise_regularizer(read_regularizer(c, "depthwise_regularizer"))
                       .pointwise_regularizer(read_regularizer(c, "pointwise_regularizer"))
                       .bias_regularizer(read_regularizer(c, "bias_regularizer"));
    return configured(std::make_unique<SeparableConv2D>(filters, kernel, o), c);
  }

  std::unique_ptr<Layer<Scalar>> clone() const override {
    auto copy = clone_layer(*this);
    auto& s = static_cast<SeparableConv2D&>(*copy);
    s.mid_ = Tensor<Scalar>();
    s.d_mid_ = Tensor<Scalar>();
    s.ws_ = Tensor<Scalar>();
    return copy;
  }

 protected:
  Shape compute_output_shape(const Shape& input_shape) override {
    if (input_shape.rank() != 3 || input_shape.size() < 1)
      this->shape_error("expected input of shape (None, height, width, channels), got " + input_shape.str(true));
    const Conv2DGeometry g = depthwise_geometry(1, input_shape[0], input_shape[1], input_shape[2], kernel_size_,
                                                depth_multiplier_, strides_, padding_, dilation_rate_);
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
  ConstMatrixMap<Scalar> pointwise() const {
    return ConstMatrixMap<Scalar>(this->weight(1), in_c_ * depth_multiplier_, filters_);
  }

  /// mid_ = depthwise(in) without bias (Keras' SeparableConv2D has one bias, after the pointwise step).
  void depthwise(const Conv2DGeometry& g, const Tensor<Scalar>& in) {
    mid_.resize(Shape{g.batch, g.out_h, g.out_w, g.out_c});
    if (kernel_ == DepthwiseKernel::reference)
      conv2d_forward_reference<Scalar>(g, in.data(), this->weight(0), nullptr, mid_.data());
    else
      depthwise_conv2d_forward<Scalar>(g, in.data(), this->weight(0), nullptr, mid_.data());
  }

  Index filters_;
  Size2 kernel_size_, strides_, dilation_rate_;
  Padding padding_;
  Index depth_multiplier_;
  FusedActivation<Scalar> activation_;
  bool use_bias_;
  RegularizerPtr depthwise_regularizer_, pointwise_regularizer_, bias_regularizer_;
  DepthwiseKernel kernel_ = DepthwiseKernel::direct;
  Index in_h_ = 0, in_w_ = 0, in_c_ = 0;
  Tensor<Scalar> mid_, d_mid_, ws_;  // workspaces: the depthwise output, its gradient, gradient partials
};

}  // namespace nnlite
