// nnlite/layers/global_pooling2d.hpp: Keras' GlobalAveragePooling2D and GlobalMaxPooling2D (aliases GlobalAvgPool2D,
// GlobalMaxPool2D): the mean or the max of each channel over height and width of an NHWC input, giving
// (batch, channels), or (batch, 1, 1, channels) with keepdims. Each sample is an (H*W) x C row-major matrix, so both
// reduce down its columns with the channels innermost.
#pragma once

#include <algorithm>

#include "../core/parallel.hpp"
#include "layer.hpp"

namespace nnlite {

/// What the two share: keepdims, the shapes, the config (data_format, keepdims in tf.keras >= 2.6 and Keras 3; older
/// files have no keepdims and mean false).
template <class Scalar>
class GlobalPooling2D : public Layer<Scalar> {
 public:
  /// Keras' `keepdims`: whether the output keeps the spatial dimensions, as (1, 1, channels).
  bool keepdims() const { return keepdims_; }

  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    c["data_format"] = "channels_last";
    c["keepdims"] = keepdims_;
    return c;
  }

 protected:
  /// Keras' `keepdims` and the layer's `name`.
  GlobalPooling2D(bool keepdims, std::string name) : keepdims_(keepdims) { this->set_name(std::move(name)); }

  /// Keras' `keepdims` from a config (false when absent); refuses a data_format other than channels_last.
  static bool keepdims_from_config(const ConfigReader& c) {
    c.check_channels_last();
    return c.boolean("keepdims", false);
  }

  Shape compute_output_shape(const Shape& input_shape) override {
    if (input_shape.rank() != 3 || input_shape.size() < 1)
      this->shape_error("expected input of shape (None, height, width, channels), got " + input_shape.str(true));
    pixels_ = input_shape[0] * input_shape[1];
    channels_ = input_shape[2];
    return keepdims_ ? Shape{1, 1, channels_} : Shape{channels_};
  }

  /// backward's common check: d_out must have the output's shape for this input.
  void check_d_out(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out) const {
    if (d_out.shape() != out.shape() || out.shape() != this->output_shape().with_batch(in.batch()))
      this->shape_error("d_out of shape " + d_out.shape().str() + " does not match the output " +
                        this->output_shape().with_batch(in.batch()).str());
  }

  ///@{
  /// The input's height * width and its channels (set when the output shape is computed).
  Index pixels_ = 0, channels_ = 0;
  ///@}

 private:
  bool keepdims_;
};

/// Keras' GlobalAveragePooling2D: the mean over height and width per channel (keepdims optional).
template <class Scalar>
class GlobalAveragePooling2D : public GlobalPooling2D<Scalar> {
 public:
  /// Keras' `keepdims` (keep the pooled dimensions as size 1) and the layer's `name`.
  explicit GlobalAveragePooling2D(bool keepdims = false, std::string name = "")
      : GlobalPooling2D<Scalar>(keepdims, std::move(name)) {}

  std::string class_name() const override { return "GlobalAveragePooling2D"; }
  std::string name_stem() const override { return "global_average_pooling2d"; }

  /// The sum down each column (pixel after pixel, as the reference of a mean), divided by H*W.
  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode /*mode*/) override {
    this->check_input(in);
    out.resize(this->output_shape().with_batch(in.batch()));
    const Index P = this->pixels_, C = this->channels_;
    const Scalar count = static_cast<Scalar>(P);
    parallel_for(
        in.batch(),
        [&](Index n) {
          const Scalar* x = in.data() + n * P * C;
          Scalar* y = out.data() + n * C;
          std::copy(x, x + C, y);
          for (Index p = 1; p < P; ++p)
            for (Index c = 0; c < C; ++c) y[c] += x[p * C + c];
          for (Index c = 0; c < C; ++c) y[c] /= count;
        },
        static_cast<double>(P * C));
  }

  /// Every pixel of a channel gets d_out / (H*W).
  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    this->check_input(in);
    this->check_d_out(in, out, d_out);
    if (!d_in) return;
    d_in->resize(in.shape());
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

  /// Builds the layer from its Keras config.
  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& /*input*/) {
    const bool keepdims = GlobalPooling2D<Scalar>::keepdims_from_config(c);
    return configured(std::make_unique<GlobalAveragePooling2D>(keepdims, c.name), c);
  }

  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(*this); }
};

/// The gradient of a max that several pixels reach is split evenly between them, as Keras 3's ops.max does on every
/// backend (TF's reduce_max gradient, JAX, torch.amax); MaxPooling2D's windows instead give it all to the first
/// (TF's MaxPoolGrad). backward finds the maxima from `out`, so it keeps no state between the passes.
template <class Scalar>
class GlobalMaxPooling2D : public GlobalPooling2D<Scalar> {
 public:
  /// Keras' `keepdims` (keep the pooled dimensions as size 1) and the layer's `name`.
  explicit GlobalMaxPooling2D(bool keepdims = false, std::string name = "")
      : GlobalPooling2D<Scalar>(keepdims, std::move(name)) {}

  std::string class_name() const override { return "GlobalMaxPooling2D"; }
  std::string name_stem() const override { return "global_max_pooling2d"; }

  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode /*mode*/) override {
    this->check_input(in);
    out.resize(this->output_shape().with_batch(in.batch()));
    const Index P = this->pixels_, C = this->channels_;
    parallel_for(
        in.batch(),
        [&](Index n) {
          const Scalar* x = in.data() + n * P * C;
          Scalar* y = out.data() + n * C;
          std::copy(x, x + C, y);
          for (Index p = 1; p < P; ++p)
            for (Index c = 0; c < C; ++c) y[c] = std::max(y[c], x[p * C + c]);
        },
        static_cast<double>(P * C));
  }

  /// Two passes per sample: count the pixels equal to each channel's max, then give each of them d_out / count.
  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    this->check_input(in);
    this->check_d_out(in, out, d_out);
    if (!d_in) return;
    d_in->resize(in.shape());
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

  /// Builds the layer from its Keras config.
  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& /*input*/) {
    const bool keepdims = GlobalPooling2D<Scalar>::keepdims_from_config(c);
    return configured(std::make_unique<GlobalMaxPooling2D>(keepdims, c.name), c);
  }

  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(*this); }
};

/// Keras exports both under a short name too.
template <class Scalar>
using GlobalAvgPool2D = GlobalAveragePooling2D<Scalar>;
template <class Scalar>
/// Keras' GlobalMaxPool2D: the short name of GlobalMaxPooling2D.
using GlobalMaxPool2D = GlobalMaxPooling2D<Scalar>;

}  // namespace nnlite
