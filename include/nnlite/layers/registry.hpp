// nnlite/layers/registry.hpp: the layer registry: Keras class name -> the layer's from_config(), which validates a
// config and builds the layer. Model loaders read it; register your own layer classes (a custom Keras layer with a
// C++ twin) with register_layer, without editing nnlite.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "../core/registry.hpp"
#include "activation_layers.hpp"
#include "average_pooling2d.hpp"
#include "batch_normalization.hpp"
#include "conv2d.hpp"
#include "depthwise_conv2d.hpp"
#include "separable_conv2d.hpp"
#include "dense.hpp"
#include "dropout.hpp"
#include "flatten.hpp"
#include "gaussian_noise.hpp"
#include "global_pooling2d.hpp"
#include "layer.hpp"
#include "maxpool2d.hpp"
#include "rescaling.hpp"
#include "reshape.hpp"
#include "spatial_dropout2d.hpp"
#include "zero_padding2d.hpp"

namespace nnlite {

/// Builds a layer from its Keras config, given the per-sample shape it will receive (checked before anything is
/// sized from the config). Throws FormatError / UnsupportedError naming the layer (ConfigReader's bad/unsupported).
template <class Scalar>
using LayerCreator = std::function<std::unique_ptr<Layer<Scalar>>(const ConfigReader&, const Shape& input)>;

/// The layer registry: Keras class name (or alias: "Convolution2D", "MaxPool2D", ...) -> from_config.
template <class Scalar>
Registry<LayerCreator<Scalar>>& layer_registry() {
  static Registry<LayerCreator<Scalar>> registry = [] {
    Registry<LayerCreator<Scalar>> r("layer class");
    // One line per Keras class, with the aliases Keras accepts.
    r.add("Conv2D", &Conv2D<Scalar>::from_config, {"Convolution2D"});
    r.add("DepthwiseConv2D", &DepthwiseConv2D<Scalar>::from_config);
    r.add("SeparableConv2D", &SeparableConv2D<Scalar>::from_config, {"SeparableConvolution2D"});
    r.add("MaxPooling2D", &MaxPool2D<Scalar>::from_config, {"MaxPool2D"});
    r.add("Dense", &Dense<Scalar>::from_config);
    r.add("Dropout", &Dropout<Scalar>::from_config);
    r.add("Flatten", &Flatten<Scalar>::from_config);
    r.add("Activation", &ActivationOf<Scalar>::from_config);
    r.add("ReLU", &ReLU<Scalar>::from_config);
    r.add("Softmax", &Softmax<Scalar>::from_config);
    r.add("LeakyReLU", &LeakyReLU<Scalar>::from_config);
    r.add("ELU", &ELU<Scalar>::from_config);
    r.add("PReLU", &PReLU<Scalar>::from_config);
    r.add("BatchNormalization", &BatchNormalization<Scalar>::from_config);
    r.add("AveragePooling2D", &AveragePooling2D<Scalar>::from_config, {"AvgPool2D"});
    r.add("GlobalAveragePooling2D", &GlobalAveragePooling2D<Scalar>::from_config, {"GlobalAvgPool2D"});
    r.add("GlobalMaxPooling2D", &GlobalMaxPooling2D<Scalar>::from_config, {"GlobalMaxPool2D"});
    r.add("ZeroPadding2D", &ZeroPadding2D<Scalar>::from_config);
    r.add("Reshape", &Reshape<Scalar>::from_config);
    r.add("Rescaling", &Rescaling<Scalar>::from_config);
    r.add("SpatialDropout2D", &SpatialDropout2D<Scalar>::from_config);
    r.add("GaussianNoise", &GaussianNoise<Scalar>::from_config);
    return r;
  }();
  return registry;
}

/// Registers (or replaces) a Keras layer class for Sequential<Scalar> models; call it once per Scalar you load.
template <class Scalar>
void register_layer(const std::string& class_name, LayerCreator<Scalar> creator,
                    const std::vector<std::string>& aliases = {}) {
  layer_registry<Scalar>().add(class_name, std::move(creator), aliases);
}

/// The layer a Keras config entry describes: the registry's creator for `reader.cls`, after the checks every
/// layer shares (dtype). Unknown classes are an UnsupportedError listing the supported ones.
template <class Scalar>
std::unique_ptr<Layer<Scalar>> layer_from_config(const ConfigReader& reader, const Shape& input) {
  const auto* create = layer_registry<Scalar>().find(reader.cls);
  if (!create)
    throw UnsupportedError(reader.source + ": layer '" + reader.name + "' has class " + reader.cls +
                           ", which nnlite does not support (supported: InputLayer, " +
                           layer_registry<Scalar>().supported() + ")");
  reader.check_dtype();
  return (*create)(reader, input);
}

}  // namespace nnlite
