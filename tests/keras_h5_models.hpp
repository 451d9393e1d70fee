// tests/keras_h5_models.hpp: the two Fashion-MNIST study models and a fixed input batch, shared by
// test_keras_h5.cpp and keras_writer.cpp so that the C++ and Python checks see the same models.
#pragma once

#include <cstdint>

#include <nnlite/layers/activation_layers.hpp>
#include <nnlite/layers/conv2d.hpp>
#include <nnlite/layers/dense.hpp>
#include <nnlite/layers/dropout.hpp>
#include <nnlite/layers/flatten.hpp>
#include <nnlite/layers/maxpool2d.hpp>
#include <nnlite/optim/adam.hpp>
#include <nnlite/optim/schedules.hpp>
#include <nnlite/optim/sgd.hpp>
#include <nnlite/core/random.hpp>
#include <nnlite/model/sequential.hpp>

#include "../examples/fashion_mnist/study_models.hpp"

namespace keras_h5_test {

// The study's two models (examples/fashion_mnist/study_models.hpp), seeded and compiled; improved gets a
// non-default learning rate so the files' training_config is checked with a value that must be carried over.
template <class S>
nnlite::Sequential<S> first_model(std::uint64_t seed = 1) {
  auto m = study::first_model<S>();
  m.set_seed(seed);
  m.compile(nnlite::Adam<S>(1e-3));
  return m;
}

template <class S>
nnlite::Sequential<S> improved_model(std::uint64_t seed = 2) {
  auto m = study::improved_model<S>();
  m.set_seed(seed);
  m.compile(nnlite::Adam<S>(5e-4, 0.9, 0.999, 1e-7));
  return m;
}

// A small dense model compiled with SGD (momentum) whose learning rate is a staircase ExponentialDecay, so the
// files' training_config holds a serialized schedule (tests/keras_h5_check.py reads its Keras field names).
template <class S>
nnlite::Sequential<S> scheduled_model(std::uint64_t seed = 3) {
  nnlite::Sequential<S> m(nnlite::Shape{4}, "scheduled");
  m.add(nnlite::Dense<S>(8, "relu"));
  m.add(nnlite::Dense<S>(3, "softmax"));
  m.set_seed(seed);
  m.compile(nnlite::SGD<S>(nnlite::ExponentialDecay(0.1, 3, 0.5, true), 0.9));
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
