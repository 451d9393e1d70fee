// tests/keras_zip_models.hpp: a Sequential holding every registered layer class that fits in one, shared by
// test_keras_zip.cpp and keras_writer.cpp so that the C++ and Python checks see the same model.
#pragma once

#include <cstdint>

#include <nnlite/nnlite.hpp>

namespace keras_zip_test {

// (8, 8, 2) -> 3 classes through all 22 registered classes (Conv2D and Dense twice, so optimizer slots interleave
// over several weights).
template <class S>
nnlite::Sequential<S> every_layer_model(std::uint64_t seed = 3) {
  using namespace nnlite;
  Sequential<S> m(Shape{8, 8, 2}, "every_layer");
  m.set_seed(seed);
  m.add(ZeroPadding2D<S>(Padding2D(1, 0, 2, 1)));  // (9, 11, 2)
  m.add(Rescaling<S>(0.5, -0.25));
  m.add(Conv2D<S>(4, {3, 3}, Activation::relu));  // (7, 9, 4)
  m.add(BatchNormalization<S>());
  m.add(ReLU<S>());
  m.add(DepthwiseConv2D<S>({3, 3}, DepthwiseConv2DOptions{}.padding("same")));     // (7, 9, 4)
  m.add(SeparableConv2D<S>(4, {3, 3}, DepthwiseConv2DOptions{}.padding("same")));  // (7, 9, 4)
  m.add(LeakyReLU<S>(0.1));
  m.add(ELU<S>());
  m.add(SpatialDropout2D<S>(0.2));
  m.add(MaxPool2D<S>({2, 2}));  // (3, 4, 4)
  m.add(GaussianNoise<S>(0.1));
  m.add(AveragePooling2D<S>(Size2(2, 2), Size2(1, 1), Padding::same));  // (3, 4, 4)
  m.add(Conv2D<S>(3, {1, 1}));                                          // (3, 4, 3)
  m.add(GlobalAveragePooling2D<S>(true));                               // (1, 1, 3)
  m.add(GlobalMaxPooling2D<S>());                                       // (3)
  m.add(Dense<S>(6, Activation::relu));
  m.add(PReLU<S>());
  m.add(Dropout<S>(0.3));
  m.add(Reshape<S>({2, 3}));
  m.add(Flatten<S>());
  m.add(ActivationOf<S>("sigmoid"));
  m.add(Dense<S>(3));
  m.add(Softmax<S>());
  m.build();
  return m;
}

// n samples of (8, 8, 2) in [-1, 1) and their one-hot labels (class i % 3), the same on every platform.
template <class S>
nnlite::Tensor<S> fixed_input(nnlite::Index n, std::uint64_t seed = 5) {
  nnlite::Tensor<S> x(nnlite::Shape{n, 8, 8, 2});
  nnlite::Rng rng(seed);
  for (nnlite::Index i = 0; i < x.size(); ++i) x[i] = static_cast<S>(rng.uniform(-1.0, 1.0));
  return x;
}
template <class S>
nnlite::Tensor<S> fixed_labels(nnlite::Index n) {
  nnlite::Tensor<S> y(nnlite::Shape{n, 3}, S(0));
  for (nnlite::Index i = 0; i < n; ++i) y.at(i, i % 3) = S(1);
  return y;
}

}  // namespace keras_zip_test
