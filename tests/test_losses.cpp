// Cross-entropy, softmax and accuracy against values computed by hand.
#include <doctest/doctest.h>

#include <cmath>
#include <nnlite/core/activation_functions.hpp>
#include <nnlite/model/losses.hpp>
#include <nnlite/model/metrics.hpp>

TEST_CASE("softmax + cross-entropy: known values") {
  nnlite::Tensor<double> logits(nnlite::Shape{2, 3}), y(nnlite::Shape{2, 3}, 0.0), grad;
  const double z[6] = {1, 2, 3, 0, 0, 1000};  // the 1000 checks the max-shift keeps exp() finite
  for (int i = 0; i < 6; ++i) logits[i] = z[i];
  y.at(0, 2) = 1;
  y.at(1, 0) = 1;
  nnlite::apply_activation(nnlite::Activation::softmax, logits.data(), 2, 3);
  const double s = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  CHECK(logits.at(0, 0) == doctest::Approx(std::exp(1.0) / s));
  CHECK(logits.at(0, 2) == doctest::Approx(std::exp(3.0) / s));
  CHECK(logits.at(1, 2) == doctest::Approx(1.0));
  // sample 0: -log(e^3/s); sample 1: p = 0 for the true class, clipped to 1e-7 like Keras
  const double expected = -std::log(std::exp(3.0) / s) - std::log(1e-7);
  CHECK(nnlite::categorical_crossentropy_sum(logits, y) == doctest::Approx(expected));
  nnlite::softmax_crossentropy_logits_grad(logits, y, grad);
  CHECK(grad.at(0, 2) == doctest::Approx((std::exp(3.0) / s - 1) / 2));
  CHECK(grad.at(1, 0) == doctest::Approx(-0.5));
  CHECK(nnlite::count_correct(logits, y) == 1);
}

TEST_CASE("labels of the wrong width are a ShapeError naming both shapes") {
  nnlite::Tensor<float> p(nnlite::Shape{4, 10}, 0.1f), y(nnlite::Shape{4, 9}, 0.0f);
  CHECK_THROWS_WITH_AS(nnlite::categorical_crossentropy_sum(p, y), doctest::Contains("(4, 9)"), nnlite::ShapeError);
  CHECK_THROWS_WITH_AS(nnlite::count_correct(p, y), doctest::Contains("(4, 10)"), nnlite::ShapeError);
}

TEST_CASE("confusion matrix and per-class precision/recall/F1") {
  const std::vector<int> truth = {0, 0, 1, 1, 2, 2}, pred = {0, 1, 1, 1, 2, 0};
  const auto cm = nnlite::confusion_matrix(truth, pred, 3);
  CHECK(cm[0][0] == 1);
  CHECK(cm[0][1] == 1);
  CHECK(cm[1][1] == 2);
  CHECK(cm[2][0] == 1);
  const auto r = nnlite::per_class_report(cm);
  CHECK(r[0].precision == doctest::Approx(0.5));
  CHECK(r[0].recall == doctest::Approx(0.5));
  CHECK(r[1].precision == doctest::Approx(2.0 / 3));
  CHECK(r[1].recall == doctest::Approx(1.0));
  CHECK(r[1].f1 == doctest::Approx(0.8));
  CHECK(r[2].support == 2);
}
