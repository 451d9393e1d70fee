// Adam and SGD against Keras' update rules, computed independently here in double.
#include <doctest/doctest.h>

#include <cmath>
#include <nnlite/layers/dense.hpp>
#include <nnlite/optim/adam.hpp>
#include <nnlite/optim/sgd.hpp>
#include <nnlite/model/sequential.hpp>
#include <vector>

namespace test_optim {

TEST_CASE("Adam: N steps equal Keras' formula with the step-count bias correction") {
  const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-7;
  nnlite::Adam<double> adam(lr, b1, b2, eps);
  std::vector<double> p = {0.5, -1.0, 2.0}, expected = p;
  std::vector<double> m(3, 0.0), v(3, 0.0);
  for (int t = 1; t <= 7; ++t) {
    // gradient of sum(p^2 * c) with varied c, evaluated at the current (nnlite) parameters
    std::vector<double> g(3);
    for (int i = 0; i < 3; ++i) g[i] = 2.0 * p[i] * (i + 1) + 0.1 * t;
    adam.step(p.data(), g.data(), 3);
    // Keras: m = b1 m + (1 - b1) g ; v = b2 v + (1 - b2) g^2 ; p -= lr sqrt(1-b2^t)/(1-b1^t) m / (sqrt v + eps)
    for (int i = 0; i < 3; ++i) {
      const double ge = 2.0 * expected[i] * (i + 1) + 0.1 * t;
      m[i] = b1 * m[i] + (1 - b1) * ge;
      v[i] = b2 * v[i] + (1 - b2) * ge * ge;
      const double alpha = lr * std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t));
      expected[i] -= alpha * m[i] / (std::sqrt(v[i]) + eps);
    }
  }
  CHECK(adam.iterations() == 7);
  for (int i = 0; i < 3; ++i) CHECK(p[i] == doctest::Approx(expected[i]).epsilon(1e-12));
}

TEST_CASE("Adam: the first step moves every parameter by about lr (bias correction applied)") {
  nnlite::Adam<double> adam;  // Keras defaults
  CHECK(adam.learning_rate() == 1e-3);
  CHECK(adam.beta_1() == 0.9);
  CHECK(adam.beta_2() == 0.999);
  CHECK(adam.epsilon() == 1e-7);
  std::vector<double> p = {1.0, 1.0}, g = {0.3, -20.0};
  adam.step(p.data(), g.data(), 2);
  CHECK(p[0] == doctest::Approx(1.0 - 1e-3).epsilon(1e-6));
  CHECK(p[1] == doctest::Approx(1.0 + 1e-3).epsilon(1e-6));
}

TEST_CASE("Adam inside a model counts optimizer steps, not weight tensors") {
  nnlite::Sequential<double> model(nnlite::Shape{4});
  model.set_seed(3);
  model.add(nnlite::Dense<double>(5, "relu"));
  model.add(nnlite::Dense<double>(3, "softmax"));  // 4 weight tensors in all
  model.compile(nnlite::Adam<double>(1e-2));
  nnlite::Tensor<double> x(nnlite::Shape{2, 4}, 0.5), y(nnlite::Shape{2, 3}, 0.0);
  y.at(0, 1) = 1;
  y.at(1, 2) = 1;
  for (int i = 0; i < 3; ++i) model.train_on_batch(x, y);
  CHECK(model.optimizer().iterations() == 3);
}

TEST_CASE("SGD: plain, momentum and Nesterov follow Keras' rules") {
  const double lr = 0.1, mu = 0.9;
  for (bool nesterov : {false, true}) {
    nnlite::SGD<double> sgd(lr, mu, nesterov);
    double p = 1.0, expected = 1.0, velocity = 0.0;
    for (int t = 0; t < 5; ++t) {
      const double g = 2 * p;
      sgd.step(&p, &g, 1);
      const double ge = 2 * expected;
      velocity = mu * velocity - lr * ge;
      expected += nesterov ? mu * velocity - lr * ge : velocity;
    }
    CHECK(p == doctest::Approx(expected).epsilon(1e-12));
  }
  nnlite::SGD<double> plain(0.5);
  double p = 2.0, g = 1.0;
  plain.step(&p, &g, 1);
  CHECK(p == 1.5);
}

TEST_CASE("Optimizers reject bad hyperparameters") {
  CHECK_THROWS_AS(nnlite::Adam<float>(-1.0), nnlite::ArgumentError);
  CHECK_THROWS_AS(nnlite::Adam<float>(1e-3, 1.0), nnlite::ArgumentError);
  CHECK_THROWS_AS(nnlite::SGD<float>(0.1, 1.5), nnlite::ArgumentError);
}

}  // namespace test_optim
