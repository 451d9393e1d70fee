// Builds, trains and evaluates a tiny model through the public umbrella header; exit code 0 when it learned.
#include <nnlite/nnlite.hpp>

#include <iostream>

int main() {
  nnlite::Sequential<float> model(nnlite::Shape{6, 6, 1});
  model.set_seed(7);
  model.add(nnlite::Conv2D<float>(4, {3, 3}, "relu"));
  model.add(nnlite::Flatten<float>());
  model.add(nnlite::Dense<float>(2, "softmax"));
  model.compile(nnlite::Adam<float>(0.01));
  // Class 1 images are bright on the left half, class 0 on the right half.
  nnlite::Tensor<float> x(nnlite::Shape{64, 6, 6, 1}), y(nnlite::Shape{64, 2}, 0.0f);
  for (nnlite::Index i = 0; i < 64; ++i) {
    const int label = static_cast<int>(i % 2);
    for (nnlite::Index r = 0; r < 6; ++r)
      for (nnlite::Index c = 0; c < 6; ++c) x.at(i, r, c, 0) = ((c < 3) == (label == 1)) ? 1.0f : 0.0f;
    y.at(i, label) = 1.0f;
  }
  nnlite::FitOptions options;
  options.epochs = 20;
  options.batch_size = 8;
  options.verbose = 0;
  model.fit(x, y, options);
  const auto result = model.evaluate(x, y);
  std::cout << "consumer: accuracy " << result.accuracy << "\n";
  return result.accuracy > 0.95 ? 0 : 1;
}
