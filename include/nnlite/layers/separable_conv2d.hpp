// nnlite/layers/separable_conv2d.hpp: Keras' SeparableConv2D: a depthwise conv (no bias) then a 1x1 pointwise conv,
// out = activation(depthwise(in) . pointwise_kernel + bias). Weights as Keras stores them: "depthwise_kernel"
// (kh, kw, in_channels, depth_multiplier), "pointwise_kernel" (1, 1, in_channels * depth_multiplier, filters), "bias"
// (filters). The pointwise step is one GEMM over every output position; both intermediates are member workspaces.
#pragma once

#include "depthwise_conv2d.hpp"

namespace nnlite {

/// Keras' SeparableConv2D: a depthwise conv (depth_multiplier) then a pointwise 1x1 conv, then the activation.
template <class Scalar>
class SeparableConv2D : public BaseDepthwiseConv2D<Scalar> {
  using Base = BaseDepthwiseConv2D<Scalar>;
  using Base::depth_multiplier_, Base::use_bias_, Base::bias_regularizer_, Base::depthwise_regularizer_,
      Base::activation_, Base::in_c_;

 public:
  /// SeparableConv2D<float>(8, {3, 3}, DepthwiseConv2DOptions{}.padding("same")): Keras' filters, kernel_size and
  /// options.
  SeparableConv2D(Index filters, Size2 kernel_size, const DepthwiseConv2DOptions& o = {})
      : Base("SeparableConv2D", kernel_size, (check_filters(filters), o)),  // filters first, then Base's checks
        filters_(filters),
        pointwise_regularizer_(o.pointwise_regularizer()) {
    this->set_name(o.name());
  }

  std::string class_name() const override { return "SeparableConv2D"; }
  std::string name_stem() const override { return "separable_conv2d"; }
  /// Keras' `filters`: the output channels of the pointwise step.
  Index filters() const { return filters_; }
  /// Keras' `pointwise_regularizer` (null for none).
  const Regularizer* pointwise_regularizer() const { return pointwise_regularizer_.get(); }
  const Regularizer* weight_regularizer(std::size_t i) const override {
    return i == 0                ? depthwise_regularizer_.get()
           : i == 1              ? pointwise_regularizer_.get()
           : i == 2 && use_bias_ ? bias_regularizer_.get()
                                 : nullptr;
  }

  std::vector<ParamSpec> param_specs() const override {
    const Index mid = in_c_ * depth_multiplier_;
    std::vector<ParamSpec> specs{this->depthwise_kernel_spec(),
                                 {"pointwise_kernel", Shape{1, 1, mid, filters_}, Initializer::glorot_uniform}};
    if (use_bias_) specs.push_back({"bias", Shape{filters_}, Initializer::zeros});
    return specs;
  }

  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode /*mode*/) override {
    this->start_forward(in, out);
    const Conv2DGeometry g = this->geometry(in.batch());
    depthwise(g, in);
    MatrixMap<Scalar> y(out.data(), g.rows(), filters_);
    y.noalias() = ConstMatrixMap<Scalar>(mid_.data(), g.rows(), g.out_c) * pointwise();
    if (use_bias_) y.rowwise() += ConstVectorMap<Scalar>(this->weight(2), filters_).transpose();
    activation_.forward(out, filters_);
  }

  /// The depthwise output is recomputed from `in` (not kept from forward), so nothing stale can be read.
  void backward_from_logits(const Tensor<Scalar>& in, const Tensor<Scalar>& d_logits, Tensor<Scalar>* d_in) override {
    this->start_backward(in, d_logits);
    const Conv2DGeometry g = this->geometry(in.batch());
    depthwise(g, in);
    ConstMatrixMap<Scalar> dy(d_logits.data(), g.rows(), filters_);
    ConstMatrixMap<Scalar> mid(mid_.data(), g.rows(), g.out_c);
    MatrixMap<Scalar>(this->weight_grad(1), g.out_c, filters_).noalias() = mid.transpose() * dy;
    if (use_bias_) VectorMap<Scalar>(this->weight_grad(2), filters_) = dy.colwise().sum().transpose();
    d_mid_.resize(mid_.shape());
    MatrixMap<Scalar>(d_mid_.data(), g.rows(), g.out_c).noalias() = dy * pointwise().transpose();
    this->depthwise_backward(g, in.data(), d_mid_.data(), Base::input_gradient(in, d_in), nullptr);
  }

  nlohmann::json config() const override {
    auto c = Base::config();
    c["filters"] = filters_;
    write_weight_config(c, "pointwise", Initializer::glorot_uniform, pointwise_regularizer_.get());
    return c;
  }

  /// Keras' SeparableConv2D config (filters, the spatial keys, depth_multiplier, activation, use_bias, regularizers).
  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& input) {
    const Index filters = c.integer("filters", 1, c.limits.max_tensor_elements);
    Size2 kernel_size;
    DepthwiseConv2DOptions o = Base::read_depthwise_config(c, input, kernel_size);
    if (input.rank() == 3) c.check_size({input[2], o.depth_multiplier(), filters}, "the pointwise kernel");
    o.depthwise_regularizer(read_regularizer(c, "depthwise_regularizer"))
        .pointwise_regularizer(read_regularizer(c, "pointwise_regularizer"))
        .bias_regularizer(read_regularizer(c, "bias_regularizer"));
    return configured(std::make_unique<SeparableConv2D>(filters, kernel_size, o), c);
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
    return this->built_output_shape(input_shape, this->build_geometry(input_shape), filters_);
  }

 private:
  static void check_filters(Index filters) {
    if (filters < 1) throw ArgumentError("SeparableConv2D: filters must be >= 1, got " + std::to_string(filters));
  }
  ConstMatrixMap<Scalar> pointwise() const {
    return ConstMatrixMap<Scalar>(this->weight(1), in_c_ * depth_multiplier_, filters_);
  }

  /// mid_ = depthwise(in) without bias (Keras' SeparableConv2D has one bias, after the pointwise step).
  void depthwise(const Conv2DGeometry& g, const Tensor<Scalar>& in) {
    mid_.resize(Shape{g.batch, g.out_h, g.out_w, g.out_c});
    this->depthwise_forward(g, in.data(), nullptr, mid_.data());
  }

  Index filters_;
  RegularizerPtr pointwise_regularizer_;
  Tensor<Scalar> mid_, d_mid_;  // workspaces: the depthwise output and its gradient
};

}  // namespace nnlite
