// nnlite/nnlite.hpp: the umbrella include. Everything of the core (Eigen + nlohmann_json + OpenMP);
// the Keras .h5 and IDX readers come along when the nnlite::io target is linked (it defines NNLITE_WITH_IO).
#pragma once

#include "activation.hpp"
#include "callbacks.hpp"
#include "check_gradients.hpp"
#include "checkpoint.hpp"
#include "data/source.hpp"
#include "error.hpp"
#include "history.hpp"
#include "initializers.hpp"
#include "layers/activations.hpp"
#include "layers/conv2d.hpp"
#include "layers/dense.hpp"
#include "layers/dropout.hpp"
#include "layers/flatten.hpp"
#include "layers/layer.hpp"
#include "layers/maxpool2d.hpp"
#include "losses.hpp"
#include "metrics.hpp"
#include "optim/adam.hpp"
#include "optim/sgd.hpp"
#include "parallel.hpp"
#include "progress.hpp"
#include "random.hpp"
#include "sequential.hpp"
#include "tensor.hpp"

#ifdef NNLITE_WITH_IO
#include "io/idx.hpp"
#include "io/keras_h5.hpp"
#endif
