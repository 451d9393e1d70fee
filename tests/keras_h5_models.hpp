// tests/keras_h5_models.hpp: the two Fashion-MNIST study models and a fixed input batch, shared by
// test_keras_h5.cpp and keras_h5_writer.cpp so that the C++ and Python checks see the same models.
#pragma once

#include <cstdint>

#include <nnlite/layers/activations.hpp>
#include <nnlite/layers/conv2d.hpp>
#include <nnlite/layers/dense.hpp>
#include <nnlite/layers/dropout.hpp>
#include <nnlite/layers/flatten.hpp>
#include <nnlite/layers/maxpool2d.hpp>
#include <nnlite/optim/adam.hpp>
#include <nnlite/random.hpp>
#include <nnlite/sequential.hpp>

namespace keras_h5_test {

// Conv2D(64,3x3,relu) - MaxPool2D(2) - Conv2D(64,3x3,relu) - MaxPool2D(2) - Flatten - Dense(128,relu) -
// Dropout(0.2) - Dense(10,softmax) on (28, 28, 1): 243,786 parameters.
template <class S>
nnlite::Sequential<S> first_model(std::uint64_t seed = 1) {
  using namespace nnlite;
  Sequential<S> m(Shape{28, 28, 1});
  m.set_seed(seed);
  m.add(Conv2D<S>(64, {3, 3}, "relu"));
  m.add(MaxPool2D<S>(Size2(2, 2)));
  m.add(Conv2D<S>(64, {3, 3}, "relu"));
  m.add(MaxPool2D<S>(Size2(2, 2)));
  m.add(Flatten<S>());
  m.add(Dense<S>(128, "relu"));
  m.add(Dropout<S>(0.2));
  m.add(Dense<S>(10, "softmax"));
  m.compile(Adam<S>(1e-3));
  return m;
}

// Conv2D(32,3x3,relu) - MaxPool2D - Dropout(0.25) - Conv2D(64,3x3,relu) - MaxPool2D - Dropout(0.3) - Flatten -
// Dense(128,relu) - Dropout(0.3) - Dense(10,softmax): 225,034 parameters.
template <class S>
nnlite::Sequential<S> improved_model(std::uint64_t seed = 2) {
  using namespace nnlite;
  Sequential<S> m(Shape{28, 28, 1});
  m.set_seed(seed);
  m.add(Conv2D<S>(32, {3, 3}, "relu"));
  m.add(MaxPool2D<S>(Size2(2, 2)));
  m.add(Dropout<S>(0.25));
  m.add(Conv2D<S>(64, {3, 3}, "relu"));
  m.add(MaxPool2D<S>(Size2(2, 2)));
  m.add(Dropout<S>(0.3));
  m.add(Flatten<S>());
  m.add(Dense<S>(128, "relu"));
  m.add(Dropout<S>(0.3));
  m.add(Dense<S>(10, "softmax"));
  m.compile(Adam<S>(5e-4, 0.9, 0.999, 1e-7));
  return m;
}

// n images of 28 x 28 x 1 "pixels" in [0, 1), the same on every platform.
template <class S>
nnlite::Tensor<S> fixed_input(nnlite::Index n, std::uint64_t seed = 7) {
  nnlite::Tensor<S> x(nnlite::Shape{n, 28, 28, 1});
  nnlite::Rng rng(seed);
  for (nnlite::Index i = 0; i < x.size(); ++i) x[i] = static_cast<S>(rng.uniform());
  return x;
}

}  // namespace keras_h5_test
