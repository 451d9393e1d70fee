// nnlite/nnlite.hpp: the umbrella include. Everything of the core (Eigen + nlohmann_json: Keras configs and
// checkpoints included); the .h5 format and the IDX reader come along when the nnlite::io target is linked (it
// defines NNLITE_WITH_IO).
#pragma once

#include "core/activation_functions.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/initializers.hpp"
#include "core/parallel.hpp"
#include "core/random.hpp"
#include "core/registry.hpp"
#include "core/tensor.hpp"
#include "data/dataset.hpp"
#include "data/source.hpp"
#include "io/checkpoint.hpp"
#include "io/keras_config.hpp"
#include "layers/activation_layers.hpp"
#include "layers/batch_normalization.hpp"
#include "layers/conv2d.hpp"
#include "layers/dense.hpp"
#include "layers/dropout.hpp"
#include "layers/flatten.hpp"
#include "layers/layer.hpp"
#include "layers/maxpool2d.hpp"
#include "layers/registry.hpp"
#include "model/callbacks.hpp"
#include "model/check_gradients.hpp"
#include "model/fold.hpp"
#include "model/history.hpp"
#include "model/losses.hpp"
#include "model/metrics.hpp"
#include "model/progress.hpp"
#include "model/sequential.hpp"
#include "model/training.hpp"
#include "optim/adam.hpp"
#include "optim/registry.hpp"
#include "optim/sgd.hpp"

#ifdef NNLITE_WITH_IO
#include "io/idx.hpp"
#include "data/fashion_mnist.hpp"
#include "io/keras_h5.hpp"
#endif
