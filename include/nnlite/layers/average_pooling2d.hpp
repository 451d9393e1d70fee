// nnlite/layers/average_pooling2d.hpp: Keras' AveragePooling2D (alias AvgPool2D) over NHWC input, with the options
// of pooling2d.hpp. 'same' averages each border window over its cells inside the input only (TF's AvgPool; the
// padding is not counted). No parameters and no state: backward spreads d_out evenly over each window.
#pragma once

#include <initializer_list>

#include "../kernels/pool_reference.hpp"
#include "pooling2d.hpp"

namespace nnlite {

/// Keras' AveragePooling2D (AvgPool2D): window means; 'same' averages only the cells inside the input.
template <class Scalar>
class AveragePooling2D : public Pooling2D<Scalar> {
 public:
  /// Strides default to the pool size, as in Keras (strides=None).
  explicit AveragePooling2D(Size2 pool_size = {2, 2}, Padding padding = Padding::valid, std::string name = "")
      : AveragePooling2D(pool_size, pool_size, padding, std::move(name)) {}
  /// Pools windows of Keras' `pool_size` moved by `strides`, with `padding` ('valid' or 'same'), as layer `name`.
  explicit AveragePooling2D(Size2 pool_size, Size2 strides, Padding padding = Padding::valid, std::string name = "")
      : Pooling2D<Scalar>("AveragePooling2D", pool_size, strides, padding, std::move(name)) {}
  /// AveragePooling2D<float>({2, 2}) like Keras' AveragePooling2D((2, 2)) (see MaxPool2D for why this overload).
  explicit AveragePooling2D(std::initializer_list<Index> pool_size, Padding padding = Padding::valid,
                            std::string name = "")
      : AveragePooling2D(Pooling2D<Scalar>::size_from_list("AveragePooling2D", pool_size), padding, std::move(name)) {}
  /// AveragePooling2D<float>({3, 3}, {1, 1}, "same"), with Keras' padding names.
  AveragePooling2D(Size2 pool_size, Size2 strides, const std::string& padding, std::string name = "")
      : AveragePooling2D(pool_size, strides, parse_padding(padding), std::move(name)) {}

  std::string class_name() const override { return "AveragePooling2D"; }
  std::string name_stem() const override { return "average_pooling2d"; }

  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode /*mode*/) override {
    this->check_input(in);
    out.resize(this->output_shape().with_batch(in.batch()));
    avgpool2d_forward(this->geometry(in.batch()), in.data(), out.data());
  }

  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    this->check_input(in);
    this->check_d_out(in, out, d_out);
    if (!d_in) return;  // no parameters, so without an input gradient there is nothing to compute
    d_in->resize(in.shape());
    avgpool2d_backward(this->geometry(in.batch()), d_out.data(), d_in->data());
  }

  /// Builds the layer from its Keras config.
  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& /*input*/) {
    const auto o = Pooling2D<Scalar>::options_from_config(c);
    return configured(std::make_unique<AveragePooling2D>(o.pool_size, o.strides, o.padding, c.name), c);
  }

  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(*this); }
};

/// Keras exports the layer under both names.
template <class Scalar>
using AvgPool2D = AveragePooling2D<Scalar>;

}  // namespace nnlite
