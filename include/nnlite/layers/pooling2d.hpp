// nnlite/layers/pooling2d.hpp: what Keras' 2-D window poolings share (its BasePooling): pool_size, strides that
// default to the pool size, 'valid' or 'same' padding, the output shape and the config both ways. MaxPool2D
// (maxpool2d.hpp) and AveragePooling2D (average_pooling2d.hpp) add only their arithmetic.
#pragma once

#include <initializer_list>

#include "../kernels/conv2d_geometry.hpp"
#include "../kernels/pool_reference.hpp"
#include "layer.hpp"

namespace nnlite {

/// What MaxPooling2D and AveragePooling2D share: constructors, pool size, strides, padding, output shape and config
/// both ways. `Derived` (the layer) names itself in argument errors through `Derived::keras_class`.
template <class Scalar, class Derived>
class Pooling2D : public Layer<Scalar> {
 public:
  /// Strides default to the pool size, as in Keras (strides=None).
  explicit Pooling2D(Size2 pool_size = {2, 2}, Padding padding = Padding::valid, std::string name = "")
      : Pooling2D(pool_size, pool_size, padding, std::move(name)) {}
  /// Pools windows of Keras' `pool_size` moved by `strides`, with `padding` ('valid' or 'same'), as layer `name`.
  explicit Pooling2D(Size2 pool_size, Size2 strides, Padding padding = Padding::valid, std::string name = "")
      : pool_size_(pool_size), strides_(strides), padding_(padding) {
    if (pool_size.h < 1 || pool_size.w < 1)
      throw ArgumentError(std::string(Derived::keras_class) + ": pool_size must be >= 1, got " + pool_size.str());
    if (strides.h < 1 || strides.w < 1)
      throw ArgumentError(std::string(Derived::keras_class) + ": strides must be >= 1, got " + strides.str());
    this->set_name(std::move(name));
  }
  /// MaxPool2D<float>({2, 2}) like Keras' MaxPooling2D((2, 2)). Without this overload a braced pair could also
  /// convert to "pool 2, stride 2" through the copy constructor, and the call would be ambiguous.
  explicit Pooling2D(std::initializer_list<Index> pool_size, Padding padding = Padding::valid, std::string name = "")
      : Pooling2D(size_from_list(Derived::keras_class, pool_size), padding, std::move(name)) {}
  /// MaxPool2D<float>({2, 2}, {1, 1}, "same"), with Keras' padding names.
  Pooling2D(Size2 pool_size, Size2 strides, const std::string& padding, std::string name = "")
      : Pooling2D(pool_size, strides, parse_padding(padding), std::move(name)) {}

  /// Keras' class name ("MaxPooling2D", "AveragePooling2D"), as the registry and the config spell it.
  std::string class_name() const override { return Derived::keras_class; }

  /// Keras' `pool_size`: the (height, width) of the pooling window.
  Size2 pool_size() const { return pool_size_; }
  /// Keras' `strides`: how far the pooling window moves for each pooling step, as (height, width).
  Size2 strides() const { return strides_; }
  /// Keras' `padding`: 'valid' (no padding) or 'same' (output size = ceil(input / strides)).
  Padding padding() const { return padding_; }

  /// The kernels' view of this layer for a batch of `batch` samples (valid after build()).
  Pool2DGeometry geometry(Index batch) const {
    return Pool2DGeometry::make(batch, in_h_, in_w_, channels_, pool_size_, strides_, padding_);
  }

  /// Keras' get_config(): name, trainable, dtype, pool_size, padding, strides and data_format.
  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    c["pool_size"] = {pool_size_.h, pool_size_.w};
    c["padding"] = padding_name(padding_);
    c["strides"] = {strides_.h, strides_.w};
    c["data_format"] = "channels_last";
    return c;
  }

 protected:
  /// A Size2 from a braced list of one or two values; throws ArgumentError naming `keras_class` otherwise.
  static Size2 size_from_list(const char* keras_class, std::initializer_list<Index> v) {
    if (v.size() == 1) return Size2(*v.begin());
    if (v.size() == 2) return Size2(*v.begin(), *(v.begin() + 1));
    throw ArgumentError(std::string(keras_class) + ": pool_size needs 1 or 2 values, got " + std::to_string(v.size()));
  }

  /// The options of a Keras config (tf.keras 2 and Keras 3 write the same keys), checked.
  struct Options {
    ///@{
    /// Keras' `pool_size` and `strides` (strides default to the pool size).
    Size2 pool_size, strides;
    ///@}
    /// Keras' `padding`: 'valid' or 'same'.
    Padding padding;
  };
  /// Reads and checks pool_size, strides, padding and data_format from a Keras config.
  static Options options_from_config(const ConfigReader& c) {
    const Index cap = c.limits.max_tensor_elements;
    const Size2 pool = c.pair("pool_size", cap, Size2(2, 2));
    const Size2 strides = c.pair("strides", cap, pool);  // null: the pool size, as in Keras
    const Padding padding = c.padding();
    c.check_channels_last();
    return {pool, strides, padding};
  }

 public:
  /// Builds the layer from its Keras config.
  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& /*input*/) {
    const Options o = options_from_config(c);
    return configured(std::make_unique<Derived>(o.pool_size, o.strides, o.padding, c.name), c);
  }

 protected:
  /// Reads the previous state's dimensions, so derived layers call this and then drop state of their own.
  Shape compute_output_shape(const Shape& input_shape) override {
    this->check_image_input(input_shape);
    const Pool2DGeometry g =
        Pool2DGeometry::make(1, input_shape[0], input_shape[1], input_shape[2], pool_size_, strides_, padding_);
    const Shape out{g.out_h, g.out_w, g.channels};
    if (g.out_h < 1 || g.out_w < 1)
      this->shape_error("input " + input_shape.str(true) + " is too small for pool_size " + pool_size_.str() +
                        " with padding '" + padding_name(padding_) + "': the output would be " + out.str(true));
    in_h_ = g.in_h;
    in_w_ = g.in_w;
    channels_ = g.channels;
    return out;
  }

 private:
  Size2 pool_size_, strides_;
  Padding padding_;
  Index in_h_ = 0, in_w_ = 0, channels_ = 0;
};

}  // namespace nnlite
