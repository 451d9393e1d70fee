// nnlite/layers/maxpool2d.hpp: Keras' MaxPooling2D over NHWC input (pool size, strides defaulting to the pool size,
// 'valid' or 'same' padding). No parameters; the arithmetic lives in kernels/pool_reference.hpp.
#pragma once

#include <initializer_list>

#include "../kernels/conv2d_geometry.hpp"
#include "../kernels/pool_reference.hpp"
#include "layer.hpp"

namespace nnlite {

template <class Scalar>
class MaxPool2D : public Layer<Scalar> {
 public:
  // Strides default to the pool size, as in Keras (strides=None).
  explicit MaxPool2D(Size2 pool_size = {2, 2}, Padding padding = Padding::valid, std::string name = "")
      : MaxPool2D(pool_size, pool_size, padding, std::move(name)) {}
  explicit MaxPool2D(Size2 pool_size, Size2 strides, Padding padding = Padding::valid, std::string name = "")
      : pool_size_(pool_size), strides_(strides), padding_(padding) {
    if (pool_size.h < 1 || pool_size.w < 1)
      throw ArgumentError("MaxPooling2D: pool_size must be >= 1, got " + pool_size.str());
    if (strides.h < 1 || strides.w < 1)
      throw ArgumentError("MaxPooling2D: strides must be >= 1, got " + strides.str());
    this->set_name(std::move(name));
  }
  // MaxPool2D<float>({2, 2}) like Keras' MaxPooling2D((2, 2)). Without this overload a braced pair could also
  // convert to "pool 2, stride 2" through the copy constructor, and the call would be ambiguous.
  explicit MaxPool2D(std::initializer_list<Index> pool_size, Padding padding = Padding::valid, std::string name = "")
      : MaxPool2D(size_from_list(pool_size), padding, std::move(name)) {}
  // MaxPool2D<float>({2, 2}, {1, 1}, "same"), with Keras' padding names.
  MaxPool2D(Size2 pool_size, Size2 strides, const std::string& padding, std::string name = "")
      : MaxPool2D(pool_size, strides, parse_padding(padding), std::move(name)) {}

  static Size2 size_from_list(std::initializer_list<Index> v) {
    if (v.size() == 1) return Size2(*v.begin());
    if (v.size() == 2) return Size2(*v.begin(), *(v.begin() + 1));
    throw ArgumentError("MaxPooling2D: pool_size needs 1 or 2 values, got " + std::to_string(v.size()));
  }

  std::string class_name() const override { return "MaxPooling2D"; }
  std::string name_stem() const override { return "max_pooling2d"; }
  Size2 pool_size() const { return pool_size_; }
  Size2 strides() const { return strides_; }
  Padding padding() const { return padding_; }

  // The kernels' view of this layer for a batch of `batch` samples (valid after build()).
  Pool2DGeometry geometry(Index batch) const {
    return Pool2DGeometry::make(batch, in_h_, in_w_, channels_, pool_size_, strides_, padding_);
  }

  // Training keeps each window's winner for backward; inference skips writing them.
  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode mode) override {
    this->check_input(in);
    out.resize(this->output_shape().with_batch(in.batch()));
    const Pool2DGeometry g = geometry(in.batch());
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

  // Uses the stored winners when they belong to this very forward pass (same buffers, same batch, training);
  // otherwise finds them again, so a backward after some other forward call is still right.
  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    this->check_input(in);
    if (d_out.shape() != out.shape() || out.shape() != this->output_shape().with_batch(in.batch()))
      this->shape_error("d_out of shape " + d_out.shape().str() + " does not match the output " +
                        this->output_shape().with_batch(in.batch()).str());
    if (!d_in) return;  // no parameters, so without an input gradient there is nothing to compute
    d_in->resize(in.shape());
    const Pool2DGeometry g = geometry(in.batch());
    if (argmax_in_ == in.data() && argmax_out_ == out.data() && argmax_batch_ == in.batch())
      maxpool2d_backward_argmax(g, argmax_.data(), d_out.data(), d_in->data());
    else
      maxpool2d_backward_recompute(g, in.data(), d_out.data(), d_in->data());
  }

  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    c["pool_size"] = {pool_size_.h, pool_size_.w};
    c["padding"] = padding_name(padding_);
    c["strides"] = {strides_.h, strides_.w};
    c["data_format"] = "channels_last";
    return c;
  }

  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& /*input*/) {
    const Index cap = c.limits.max_tensor_elements;
    const Size2 pool = c.pair("pool_size", cap, Size2(2, 2));
    const Size2 strides = c.pair("strides", cap, pool);  // null: the pool size, as in Keras
    const Padding padding = c.padding();
    c.check_channels_last();
    return configured(std::make_unique<MaxPool2D>(pool, strides, padding, c.name), c);
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
    if (input_shape.rank() != 3 || input_shape.size() < 1)
      this->shape_error("expected input of shape (None, height, width, channels), got " + input_shape.str(true));
    const Pool2DGeometry g =
        Pool2DGeometry::make(1, input_shape[0], input_shape[1], input_shape[2], pool_size_, strides_, padding_);
    const Shape out{g.out_h, g.out_w, g.channels};
    if (g.out_h < 1 || g.out_w < 1)
      this->shape_error("input " + input_shape.str(true) + " is too small for pool_size " + pool_size_.str() +
                        " with padding '" + padding_name(padding_) + "': the output would be " + out.str(true));
    in_h_ = g.in_h;
    in_w_ = g.in_w;
    channels_ = g.channels;
    argmax_in_ = nullptr;
    return out;
  }

 private:
  Size2 pool_size_, strides_;
  Padding padding_;
  Index in_h_ = 0, in_w_ = 0, channels_ = 0;
  std::vector<Index> argmax_;  // workspace: flat input index of each output's winner, from the last training forward
  const Scalar* argmax_in_ = nullptr;
  const Scalar* argmax_out_ = nullptr;
  Index argmax_batch_ = 0;
};

// Keras exports the layer under both names.
template <class Scalar>
using MaxPooling2D = MaxPool2D<Scalar>;

}  // namespace nnlite
