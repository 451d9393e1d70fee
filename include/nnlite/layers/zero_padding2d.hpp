// nnlite/layers/zero_padding2d.hpp: Keras' ZeroPadding2D: rows of zeros above and below, columns of zeros left and
// right of an NHWC input. padding is an int (all four sides), a pair (height, width: each on both sides) or
// ((top, bottom), (left, right)), as in Keras; the config always stores the last form.
#pragma once

#include <algorithm>
#include <array>

#include "../core/parallel.hpp"
#include "layer.hpp"

namespace nnlite {

/// ((top, bottom), (left, right)).
struct Padding2D {
  ///@{
  /// The rows of zeros above and below, the columns left and right (1 each by default).
  Index top = 1, bottom = 1, left = 1, right = 1;
  ///@}
  Padding2D() = default;
  /// Keras' padding=n: `all` rows or columns of zeros on each of the four sides.
  Padding2D(Index all) : top(all), bottom(all), left(all), right(all) {}  // NOLINT: Keras' padding=1
  /// Keras' padding=(h, w): `height` rows above and below, `width` columns left and right.
  Padding2D(Index height, Index width) : top(height), bottom(height), left(width), right(width) {}
  /// Keras' padding=((t, b), (l, r)): the top, bottom, left and right padding each given.
  Padding2D(Index t, Index b, Index l, Index r) : top(t), bottom(b), left(l), right(r) {}
  /// The padding as Keras' config form: "((top, bottom), (left, right))".
  std::string str() const {
    return "((" + std::to_string(top) + ", " + std::to_string(bottom) + "), (" + std::to_string(left) + ", " +
           std::to_string(right) + "))";
  }
};

/// Keras' ZeroPadding2D: zero rows and columns around each image (top, bottom, left, right).
template <class Scalar>
class ZeroPadding2D : public Layer<Scalar> {
 public:
  /// Keras' `padding` (each side >= 0; 1 each by default) and the layer's name.
  explicit ZeroPadding2D(Padding2D padding = {}, std::string name = "") : padding_(padding) {
    if (padding.top < 0 || padding.bottom < 0 || padding.left < 0 || padding.right < 0)
      throw ArgumentError("ZeroPadding2D: padding must be >= 0, got " + padding.str());
    this->set_name(std::move(name));
  }

  std::string class_name() const override { return "ZeroPadding2D"; }
  std::string name_stem() const override { return "zero_padding2d"; }
  /// Keras' `padding`: the rows and columns of zeros added on each side.
  const Padding2D& padding() const { return padding_; }

  /// Zero rows above, then each input row between its zero columns, then zero rows below.
  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode /*mode*/) override {
    this->check_input(in);
    out.resize(this->output_shape().with_batch(in.batch()));
    const Index H = in_h_, W = in_w_, C = channels_, OW = W + padding_.left + padding_.right;
    const Index out_sample = (H + padding_.top + padding_.bottom) * OW * C;
    parallel_for(
        in.batch(),
        [&](Index n) {
          const Scalar* x = in.data() + n * H * W * C;
          Scalar* y = out.data() + n * out_sample;
          Scalar* row = y + padding_.top * OW * C;
          std::fill(y, row, Scalar(0));
          for (Index h = 0; h < H; ++h, row += OW * C) {
            std::fill(row, row + padding_.left * C, Scalar(0));
            std::copy(x + h * W * C, x + (h + 1) * W * C, row + padding_.left * C);
            std::fill(row + (padding_.left + W) * C, row + OW * C, Scalar(0));
          }
          std::fill(row, y + out_sample, Scalar(0));
        },
        static_cast<double>(out_sample));
  }

  /// The gradient of the input is d_out cropped back to the input's rows and columns.
  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    if (!this->wants_d_in(in, out, d_out, d_in)) return;
    const Index H = in_h_, W = in_w_, C = channels_, OW = W + padding_.left + padding_.right;
    const Index out_sample = (H + padding_.top + padding_.bottom) * OW * C;
    parallel_for(
        in.batch(),
        [&](Index n) {
          const Scalar* row = d_out.data() + n * out_sample + (padding_.top * OW + padding_.left) * C;
          Scalar* dx = d_in->data() + n * H * W * C;
          for (Index h = 0; h < H; ++h, row += OW * C) std::copy(row, row + W * C, dx + h * W * C);
        },
        static_cast<double>(H * W * C));
  }

  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    c["padding"] = {{padding_.top, padding_.bottom}, {padding_.left, padding_.right}};
    c["data_format"] = "channels_last";
    return c;
  }

  /// padding: n, [h, w] or [[top, bottom], [left, right]] (tf.keras 2 and Keras 3 write the last; both read all).
  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& /*input*/) {
    c.check_channels_last();
    const Index cap = c.limits.max_tensor_elements;
    Padding2D p;  // Keras' default (1, 1)
    if (c.has("padding")) {
      const json& v = c.at("padding");
      auto fail = [&]() {
        c.bad("'padding' must be a non-negative integer, a pair of them or a pair of (before, after) pairs, got " +
              dump_json(v));
      };
      // One entry: n (both sides) or [before, after], each in [0, cap].
      auto side = [&](const json& e, Index& before, Index& after) {
        if (ConfigReader::as_integer(e, before)) {
          after = before;
        } else if (!(e.is_array() && e.size() == 2 && ConfigReader::as_integer(e[0], before) &&
                     ConfigReader::as_integer(e[1], after))) {
          fail();
        }
        if (before < 0 || after < 0 || before > cap || after > cap) fail();
      };
      Index all = 0;
      if (ConfigReader::as_integer(v, all)) {
        side(v, p.top, p.bottom);
        p.left = p.top;
        p.right = p.bottom;
      } else if (v.is_array() && v.size() == 2) {
        side(v[0], p.top, p.bottom);
        side(v[1], p.left, p.right);
      } else {
        fail();
      }
    }
    return configured(std::make_unique<ZeroPadding2D>(p, c.name), c);
  }

  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(*this); }

 protected:
  Shape compute_output_shape(const Shape& input_shape) override {
    this->check_image_input(input_shape);
    in_h_ = input_shape[0];
    in_w_ = input_shape[1];
    channels_ = input_shape[2];
    return Shape{in_h_ + padding_.top + padding_.bottom, in_w_ + padding_.left + padding_.right, channels_};
  }

 private:
  Padding2D padding_;
  Index in_h_ = 0, in_w_ = 0, channels_ = 0;
};

}  // namespace nnlite
