// nnlite/layers/global_pooling2d.hpp: Keras' GlobalAveragePooling2D and GlobalMaxPooling2D (aliases GlobalAvgPool2D,
// GlobalMaxPool2D): the mean or the max of each channel over height and width of an NHWC input, giving
// (batch, channels), or (batch, 1, 1, channels) with keepdims. Each sample is an (H*W) x C row-major matrix, so both
// reduce down its columns with the channels innermost.
#pragma once

#include <algorithm>

#include "../core/parallel.hpp"
#include "layer.hpp"

namespace nnlite {

/// What the two share: constructor, keepdims, the shapes, the config both ways (data_format, keepdims in tf.keras
/// >= 2.6 and Keras 3; older files have no keepdims and mean false). `Derived` (the layer) gives
/// `Derived::keras_class`.
template <class Scalar, class Derived>
class GlobalPooling2D : public Layer<Scalar> {
 public:
  /// Keras' `keepdims` (keep the pooled dimensions as size 1) and the layer's `name`.
  explicit GlobalPooling2D(bool keepdims = false, std::string name = "") : keepdims_(keepdims) {
    this->set_name(std::move(name));
  }

  /// Keras' class name ("GlobalAveragePooling2D", "GlobalMaxPooling2D"), as the registry and the config spell it.
  std::string class_name() const override { return Derived::keras_class; }
  /// Keras' `keepdims`: whether the output keeps the spatial dimensions, as (1, 1, channels).
  bool keepdims() const { return keepdims_; }

  /// Keras' get_config(): name, trainable, dtype, data_format and keepdims.
  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    c["data_format"] = "channels_last";
    c["keepdims"] = keepdims_;
    return c;
  }

  /// Builds the layer from its Keras config: `keepdims` (false when absent); data_format must be channels_last.
  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& /*input*/) {
    c.check_channels_last();
    const bool keepdims = c.boolean("keepdims", false);
    return configured(std::make_unique<Derived>(keepdims, c.name), c);
  }

  /// An independent copy of the layer (Keras' options, no state).
  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(static_cast<const Derived&>(*this)); }

 protected:
  /// (height, width, channels) to (channels,), or to (1, 1, channels) with keepdims.
  Shape compute_output_shape(const Shape& input_shape) override {
    this->check_image_input(input_shape);
    pixels_ = input_shape[0] * input_shape[1];
    channels_ = input_shape[2];
    return keepdims_ ? Shape{1, 1, channels_} : Shape{channels_};
  }

  /// forward()'s reduction: checks `in`, sizes `out` and folds each sample's pixels into it down each channel,
  /// pixel after pixel: y[c] = x[0, c], then fold(y[c], x[p, c]) for p = 1, 2, ...
  template <class Fold>
  void fold_pixels(const Tensor<Scalar>& in, Tensor<Scalar>& out, Fold fold) const {
    this->check_input(in);
    out.resize(this->output_shape().with_batch(in.batch()));
    const Index P = pixels_, C = channels_;
    parallel_for(
        in.batch(),
        [&](Index n) {
          const Scalar* x = in.data() + n * P * C;
          Scalar* y = out.data() + n * C;
          std::copy(x, x + C, y);
          for (Index p = 1; p < P; ++p)
            for (Index c = 0; c < C; ++c) fold(y[c], x[p * C + c]);
        },
        static_cast<double>(P * C));
  }

  Index pixels_ = 0;    ///< The input's height * width (set when the output shape is computed).
  Index channels_ = 0;  ///< The input's channels (set when the output shape is computed).

 private:
  bool keepdims_;
};

/// Keras' GlobalAveragePooling2D: the mean over height and width per channel (keepdims optional).
template <class Scalar>
class GlobalAveragePooling2D : public GlobalPooling2D<Scalar, GlobalAveragePooling2D<Scalar>> {
 public:
  using GlobalPooling2D<Scalar, GlobalAveragePooling2D>::GlobalPooling2D;
  /// Keras' class name.
  static constexpr const char* keras_class = "GlobalAveragePooling2D";

  std::string name_stem() const override { return "global_average_pooling2d"; }

  /// The sum down each column (pixel after pixel, as the reference of a mean), divided by H*W.
  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode /*mode*/) override {
    this->fold_pixels(in, out, [](Scalar& y, Scalar x) { y += x; });
    out.flat() /= static_cast<Scalar>(this->pixels_);
  }

  /// Every pixel of a channel gets d_out / (H*W).
  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    if (!this->wants_d_in(in, out, d_out, d_in)) return;
    const Index P = this->pixels_, C = this->channels_;
    const Scalar count = static_cast<Scalar>(P);
    parallel_for(
        in.batch(),
        [&](Index n) {
          const Scalar* dy = d_out.data() + n * C;
          Scalar* dx = d_in->data() + n * P * C;
          for (Index c = 0; c < C; ++c) dx[c] = dy[c] / count;
          for (Index p = 1; p < P; ++p) std::copy(dx, dx + C, dx + p * C);
        },
        static_cast<double>(P * C));
  }
};

/// The gradient of a max that several pixels reach is split evenly between them, as Keras 3's ops.max does on every
/// backend (TF's reduce_max gradient, JAX, torch.amax); MaxPooling2D's windows instead give it all to the first
/// (TF's MaxPoolGrad). backward finds the maxima from `out`, so it keeps no state between the passes.
template <class Scalar>
class GlobalMaxPooling2D : public GlobalPooling2D<Scalar, GlobalMaxPooling2D<Scalar>> {
 public:
  using GlobalPooling2D<Scalar, GlobalMaxPooling2D>::GlobalPooling2D;
  /// Keras' class name.
  static constexpr const char* keras_class = "GlobalMaxPooling2D";

  std::string name_stem() const override { return "global_max_pooling2d"; }

  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode /*mode*/) override {
    this->fold_pixels(in, out, [](Scalar& y, Scalar x) { y = std::max(y, x); });
  }

  /// Two passes per sample: count the pixels equal to each channel's max, then give each of them d_out / count.
  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    if (!this->wants_d_in(in, out, d_out, d_in)) return;
    const Index P = this->pixels_, C = this->channels_;
    parallel_for(
        in.batch(),
        [&](Index n) {
          const Scalar* x = in.data() + n * P * C;
          const Scalar* m = out.data() + n * C;
          const Scalar* dy = d_out.data() + n * C;
          Scalar* dx = d_in->data() + n * P * C;
          for (Index c0 = 0; c0 < C; c0 += 64) {  // 64 channels at a time, their counts and shares on the stack
            const Index cn = std::min<Index>(64, C - c0);
            Scalar share[64];
            std::fill(share, share + cn, Scalar(0));
            for (Index p = 0; p < P; ++p)
              for (Index c = 0; c < cn; ++c) share[c] += x[p * C + c0 + c] == m[c0 + c] ? Scalar(1) : Scalar(0);
            for (Index c = 0; c < cn; ++c) share[c] = dy[c0 + c] / share[c];
            for (Index p = 0; p < P; ++p)
              for (Index c = 0; c < cn; ++c) dx[p * C + c0 + c] = x[p * C + c0 + c] == m[c0 + c] ? share[c] : Scalar(0);
          }
        },
        static_cast<double>(P * C));
  }
};

/// Keras exports both under a short name too.
template <class Scalar>
using GlobalAvgPool2D = GlobalAveragePooling2D<Scalar>;
template <class Scalar>
/// Keras' GlobalMaxPool2D: the short name of GlobalMaxPooling2D.
using GlobalMaxPool2D = GlobalMaxPooling2D<Scalar>;

}  // namespace nnlite
