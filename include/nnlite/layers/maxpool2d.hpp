// nnlite/layers/maxpool2d.hpp: Keras' MaxPooling2D over NHWC input (pool size, strides defaulting to the pool size,
// 'valid' or 'same' padding: the options and shapes of pooling2d.hpp). No parameters; the arithmetic lives in
// kernels/pool_reference.hpp.
#pragma once

#include <initializer_list>

#include "../kernels/pool_reference.hpp"
#include "pooling2d.hpp"

namespace nnlite {

/// Keras' MaxPooling2D (MaxPool2D): window maxima; the gradient goes to the first maximum.
template <class Scalar>
class MaxPool2D : public Pooling2D<Scalar, MaxPool2D<Scalar>> {
  using Base = Pooling2D<Scalar, MaxPool2D>;

 public:
  using Base::Base;
  /// Keras' class name, also in the constructors' argument errors.
  static constexpr const char* keras_class = "MaxPooling2D";

  /// A Size2 from a braced list of one or two values; throws ArgumentError otherwise.
  static Size2 size_from_list(std::initializer_list<Index> v) { return Base::size_from_list(keras_class, v); }

  std::string name_stem() const override { return "max_pooling2d"; }

  /// Training keeps each window's winner for backward; inference skips writing them.
  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode mode) override {
    this->check_input(in);
    out.resize(this->output_shape().with_batch(in.batch()));
    const Pool2DGeometry g = this->geometry(in.batch());
    if (mode == Mode::training) {
      argmax_.resize(static_cast<std::size_t>(out.size()));
      maxpool2d_forward(g, in.data(), out.data(), argmax_.data());
      argmax_in_ = in.data();
      argmax_out_ = out.data();
      argmax_batch_ = in.batch();
    } else {
      maxpool2d_forward(g, in.data(), out.data());
      argmax_in_ = nullptr;
    }
  }

  /// Uses the stored winners when they belong to this very forward pass (same buffers, same batch, training);
  /// otherwise finds them again, so a backward after some other forward call is still right.
  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    if (!this->wants_d_in(in, out, d_out, d_in)) return;
    const Pool2DGeometry g = this->geometry(in.batch());
    if (argmax_in_ == in.data() && argmax_out_ == out.data() && argmax_batch_ == in.batch())
      maxpool2d_backward_argmax(g, argmax_.data(), d_out.data(), d_in->data());
    else
      maxpool2d_backward_recompute(g, in.data(), d_out.data(), d_in->data());
  }

  std::unique_ptr<Layer<Scalar>> clone() const override {
    auto copy = clone_layer(*this);
    auto& pool = static_cast<MaxPool2D&>(*copy);
    pool.argmax_ = {};  // the copy has run no forward pass of its own
    pool.argmax_in_ = nullptr;
    return copy;
  }

 protected:
  Shape compute_output_shape(const Shape& input_shape) override {
    const Shape out = Base::compute_output_shape(input_shape);
    argmax_in_ = nullptr;
    return out;
  }

 private:
  std::vector<Index> argmax_;  // workspace: flat input index of each output's winner, from the last training forward
  const Scalar* argmax_in_ = nullptr;
  const Scalar* argmax_out_ = nullptr;
  Index argmax_batch_ = 0;
};

/// Keras exports the layer under both names.
template <class Scalar>
using MaxPooling2D = MaxPool2D<Scalar>;

}  // namespace nnlite
