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
class AveragePooling2D : public Pooling2D<Scalar, AveragePooling2D<Scalar>> {
 public:
  using Pooling2D<Scalar, AveragePooling2D>::Pooling2D;
  /// Keras' class name, also in the constructors' argument errors.
  static constexpr const char* keras_class = "AveragePooling2D";

  std::string name_stem() const override { return "average_pooling2d"; }

  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode /*mode*/) override {
    this->check_input(in);
    out.resize(this->output_shape().with_batch(in.batch()));
    avgpool2d_forward(this->geometry(in.batch()), in.data(), out.data());
  }

  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    if (!this->wants_d_in(in, out, d_out, d_in)) return;
    avgpool2d_backward(this->geometry(in.batch()), d_out.data(), d_in->data());
  }

  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(*this); }
};

/// Keras exports the layer under both names.
template <class Scalar>
using AvgPool2D = AveragePooling2D<Scalar>;

}  // namespace nnlite
