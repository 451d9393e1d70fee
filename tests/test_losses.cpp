// Losses: every path's gradient is the exact derivative of the loss nnlite reports (central differences of the
// reported loss, in double, through the whole model), and the reported values equal ones worked out here from the
// definitions (TensorFlow's Keras: softmax outputs from their logits; other outputs normalised and clipped).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <nnlite/nnlite.hpp>

#include "test_support.hpp"

namespace test_losses {

using nnlite::Activation;
using nnlite::Index;
using nnlite::Sequential;
using nnlite::Shape;
using nnlite::Tensor;

namespace {

void fill_uniform(Tensor<double>& t, std::uint64_t seed, double lo = -1, double hi = 1) {
  nnlite::Rng rng(seed);
  for (double& v : t) v = rng.uniform(lo, hi);
}

// Random one-hot labels over the last axis of `shape`.
Tensor<double> one_hot(const Shape& shape, std::uint64_t seed) {
  Tensor<double> y(shape, 0.0);
  const Index k = shape[shape.rank() - 1];
  nnlite::Rng rng(seed);
  for (Index p = 0; p < y.size() / k; ++p) y[p * k + static_cast<Index>(rng.below(static_cast<std::uint64_t>(k)))] = 1;
  return y;
}

// The largest relative error between compute_gradients' parameter gradients and central differences of the loss it
// reports, over up to `checks` sampled parameters (same error measure as nnlite::check_gradients, floor 1e-3).
double max_gradient_error(Sequential<double>& m, const Tensor<double>& x, const Tensor<double>& y, Index checks = 60) {
  m.compute_gradients(x, y);
  const std::vector<double> analytic(m.grads(), m.grads() + m.trainable_size());
  nnlite::Rng rng(99);
  std::vector<double> a, n;
  const double h = 1e-5;  // the losses are means over many positions: small gradients want a larger step
  for (Index c = 0; c < checks; ++c) {
    const auto i = static_cast<Index>(rng.below(static_cast<std::uint64_t>(m.trainable_size())));
    a.push_back(analytic[static_cast<std::size_t>(i)]);
    n.push_back(test_support::central_difference(m, x, y, i, h));
  }
  return test_support::max_relative_error(a, n);
}

// The loss worked out from the definitions, per position over the last axis, averaged over every position.
// From logits: logsumexp(z) - sum(y z) = sum(y (m - z)) + log(sum exp(z - m)), m the largest logit (sum(y) == 1),
// in long double. From probabilities: normalise, clip to [1e-7, 1 - 1e-7], -sum(y log q).
long double expected_from_logits(const Tensor<double>& z, const Tensor<double>& y) {
  const Index k = z.dim(z.shape().rank() - 1), positions = z.size() / k;
  long double total = 0;
  for (Index p = 0; p < positions; ++p) {
    long double m = z[p * k], s = 0, dot = 0;
    for (Index j = 1; j < k; ++j) m = std::max<long double>(m, z[p * k + j]);
    for (Index j = 0; j < k; ++j) {
      s += std::exp(static_cast<long double>(z[p * k + j]) - m);
      dot += static_cast<long double>(y[p * k + j]) * (m - z[p * k + j]);
    }
    total += dot + std::log(s);
  }
  return total / static_cast<long double>(positions);
}
long double expected_from_probabilities(const Tensor<double>& out, const Tensor<double>& y) {
  const Index k = out.dim(out.shape().rank() - 1), positions = out.size() / k;
  long double total = 0;
  for (Index p = 0; p < positions; ++p) {
    long double s = 0;
    for (Index j = 0; j < k; ++j) s += out[p * k + j];
    for (Index j = 0; j < k; ++j) {
      const long double q = std::clamp<long double>(out[p * k + j] / s, 1e-7L, 1 - 1e-7L);
      total -= static_cast<long double>(y[p * k + j]) * std::log(q);
    }
  }
  return total / static_cast<long double>(positions);
}

// The last layer's logits from the model's last forward pass (its own pre-activation buffer).
const Tensor<double>& last_logits(Sequential<double>& m, const Tensor<double>& x) {
  const auto* z = m.layer(m.size() - 1).logits(m.size() == 1 ? x : x);  // Dense/Conv2D keep their own
  REQUIRE(z != nullptr);
  return *z;
}

Sequential<double> dense_model(const std::string& last_activation, std::uint64_t seed, double last_bias = 0) {
  Sequential<double> m(Shape{6});
  m.set_seed(seed);
  m.add(nnlite::Dense<double>(8, "relu"));
  m.add(nnlite::Dense<double>(5, last_activation));
  m.compile(nnlite::Adam<double>(), "categorical_crossentropy", {"accuracy"});
  if (last_bias != 0)
    for (auto& w : m.weights(1))
      if (w.name == "bias") std::fill(w.data, w.data + w.shape.size(), last_bias);
  return m;
}

// (3, 3, 2) images -> per-pixel classes (3, 3, 4).
Sequential<double> pixel_model(const std::string& last_activation, std::uint64_t seed, double last_bias = 0) {
  Sequential<double> m(Shape{3, 3, 2});
  m.set_seed(seed);
  m.add(nnlite::Conv2D<double>(6, {2, 2}, nnlite::Conv2DOptions{}.padding("same").activation("relu")));
  m.add(nnlite::Conv2D<double>(4, {1, 1}, last_activation));
  m.compile(nnlite::Adam<double>(), "categorical_crossentropy", {"accuracy"});
  if (last_bias != 0)
    for (auto& w : m.weights(1))
      if (w.name == "bias") std::fill(w.data, w.data + w.shape.size(), last_bias);
  return m;
}

}  // namespace

TEST_CASE("categorical cross-entropy, softmax output: the loss from the logits and its exact gradient") {
  for (Index batch : {Index(1), Index(7)}) {
    CAPTURE(batch);
    auto m = dense_model("softmax", 3);
    Tensor<double> x(Shape{batch, 6});
    fill_uniform(x, 4);
    const Tensor<double> y = one_hot(Shape{batch, 5}, 5);
    const double loss = m.compute_gradients(x, y);
    CHECK(loss == doctest::Approx(static_cast<double>(expected_from_logits(last_logits(m, x), y))).epsilon(1e-12));
    CHECK(max_gradient_error(m, x, y) < 1e-6);
  }
}

TEST_CASE("categorical cross-entropy, saturated softmax: no clipping, the gradient still matches the loss") {
  // Weights scaled up until some probability falls below 1e-7 (and the true class is one of them): TensorFlow's
  // Keras reports logsumexp(z) - z_true there, where the clipped formula would report at most -log(1e-7) = 16.1.
  auto m = dense_model("softmax", 7);
  for (Index i = 0; i < m.count_params(); ++i) m.params()[i] *= 40;
  Tensor<double> x(Shape{7, 6});
  fill_uniform(x, 8);
  const Tensor<double> y = one_hot(Shape{7, 5}, 9);
  const double loss = m.compute_gradients(x, y);
  const Tensor<double> p = m.predict(x);
  m.compute_gradients(x, y);
  Index saturated = 0;
  for (double v : p) saturated += v < 1e-7 || v > 1 - 1e-7;
  REQUIRE(saturated > 0);
  const double expected = static_cast<double>(expected_from_logits(last_logits(m, x), y));
  CHECK(loss == doctest::Approx(expected).epsilon(1e-12));
  CHECK(expected != doctest::Approx(static_cast<double>(expected_from_probabilities(p, y))));  // really saturated
  CHECK(max_gradient_error(m, x, y) < 1e-6);
}

TEST_CASE("categorical cross-entropy, relu and linear outputs: normalise, clip, and the full gradient") {
  // relu: some outputs are exactly 0 and clipped (gradient 0 there); linear with a positive bias keeps every
  // output positive so the normalisation is well defined.
  for (const auto& setting : {std::pair<std::string, double>{"relu", 0.3}, {"linear", 2.0}}) {
    const std::string activation = setting.first;
    const double bias = setting.second;
    for (Index batch : {Index(1), Index(7)}) {
      CAPTURE(activation);
      CAPTURE(batch);
      auto m = dense_model(activation, 11, bias);
      Tensor<double> x(Shape{batch, 6});
      fill_uniform(x, 12);
      const Tensor<double> y = one_hot(Shape{batch, 5}, 13);
      const double loss = m.compute_gradients(x, y);
      const Tensor<double> out = m.predict(x);
      CHECK(loss == doctest::Approx(static_cast<double>(expected_from_probabilities(out, y))).epsilon(1e-12));
      CHECK(max_gradient_error(m, x, y) < 1e-6);
    }
  }
}

TEST_CASE("categorical cross-entropy, relu output with clipped probabilities: zero gradient where clipped") {
  // Negative biases kill most relu outputs: their q = 0 is clipped to 1e-7, and the true class is often one of
  // them. The reported loss counts -log(1e-7) for those; the gradient is the derivative of exactly that. Class 0's
  // positive bias keeps every row's sum positive (an all-zero row has no distribution: 0/0, NaN, as in Keras).
  auto m = dense_model("relu", 21);
  for (auto& w : m.weights(1))
    if (w.name == "bias")
      for (Index j = 0; j < 5; ++j) w.data[j] = j == 0 ? 5.0 : -0.3;
  Tensor<double> x(Shape{7, 6});
  fill_uniform(x, 22);
  const Tensor<double> y = one_hot(Shape{7, 5}, 23);
  const double loss = m.compute_gradients(x, y);
  const Tensor<double> out = m.predict(x);
  Index zeros = 0;
  for (double v : out) zeros += v == 0;
  REQUIRE(zeros > 0);
  CHECK(loss == doctest::Approx(static_cast<double>(expected_from_probabilities(out, y))).epsilon(1e-12));
  CHECK(max_gradient_error(m, x, y) < 1e-6);
}

TEST_CASE("categorical cross-entropy, an all-zero relu output: NaN as in Keras, and training stops before the step") {
  auto m = dense_model("relu", 24, -100.0);  // every output relu(...) = 0: q = 0 / 0
  Tensor<double> x(Shape{2, 6}, 0.1);
  const Tensor<double> y = one_hot(Shape{2, 5}, 25);
  CHECK(std::isnan(m.compute_gradients(x, y)));
  const std::vector<double> before(m.params(), m.params() + m.count_params());
  CHECK_THROWS_AS(m.train_on_batch(x, y), nnlite::NumericError);
  CHECK(std::equal(before.begin(), before.end(), m.params()));
}

TEST_CASE("categorical cross-entropy, per-pixel outputs: the mean over every (sample, pixel)") {
  for (const std::string activation : {"softmax", "linear"}) {
    for (Index batch : {Index(1), Index(7)}) {
      CAPTURE(activation);
      CAPTURE(batch);
      auto m = pixel_model(activation, 31, activation == "linear" ? 3.0 : 0.0);
      Tensor<double> x(Shape{batch, 3, 3, 2});
      fill_uniform(x, 32);
      const Tensor<double> y = one_hot(Shape{batch, 3, 3, 4}, 33);
      const double loss = m.compute_gradients(x, y);
      const Tensor<double> out = m.predict(x);
      m.compute_gradients(x, y);
      const long double expected =
          activation == "softmax" ? expected_from_logits(last_logits(m, x), y) : expected_from_probabilities(out, y);
      CHECK(loss == doctest::Approx(static_cast<double>(expected)).epsilon(1e-12));
      CHECK(max_gradient_error(m, x, y) < 1e-6);

      // evaluate, train_on_batch and fit take the same outputs and report the same loss; accuracy counts pixels.
      const nnlite::Evaluation e = m.evaluate(x, y, 3);
      CHECK(e.loss == doctest::Approx(loss).epsilon(1e-12));
      Index correct = 0;
      for (Index p = 0; p < out.size() / 4; ++p)
        correct += nnlite::argmax_row(out.data() + p * 4, 4) == nnlite::argmax_row(y.data() + p * 4, 4);
      CHECK(e.accuracy == doctest::Approx(static_cast<double>(correct) / static_cast<double>(out.size() / 4)));
      const nnlite::Evaluation t = m.train_on_batch(x, y);
      CHECK(t.loss == doctest::Approx(loss).epsilon(1e-12));
      nnlite::FitOptions<double> o;
      o.epochs = 2;
      o.batch_size = 3;
      o.verbose = 0;
      const nnlite::History h = m.fit(x, y, x, y, o);
      CHECK(h["loss"].size() == 2);
      CHECK(std::isfinite(h["val_loss"].back()));
    }
  }
}

TEST_CASE("categorical cross-entropy: a training run that saturates stays consistent (lr 0.01, batch 1)") {
  auto m = dense_model("softmax", 41);
  m.compile(nnlite::Adam<double>(0.01), "categorical_crossentropy", {"accuracy"});
  Tensor<double> x(Shape{1, 6});
  fill_uniform(x, 42, -5, 5);
  const Tensor<double> y = one_hot(Shape{1, 5}, 43);
  double min_p = 1;
  for (int step = 0; step < 1000 && min_p >= 1e-8; ++step) {
    m.train_on_batch(x, y);
    for (double v : m.predict(x)) min_p = std::min(min_p, v);
  }
  REQUIRE(min_p < 1e-7);  // the run did saturate
  const double loss = m.compute_gradients(x, y);
  CHECK(loss == doctest::Approx(static_cast<double>(expected_from_logits(last_logits(m, x), y))).epsilon(1e-9));
  CHECK(max_gradient_error(m, x, y) < 1e-6);
}

TEST_CASE("CategoricalCrossentropy(from_logits, label_smoothing): values worked out here and exact gradients") {
  // from_logits on a linear output: logsumexp(z) - sum(y' z), y' = y (1 - ls) + ls / k.
  for (double ls : {0.0, 0.1}) {
    CAPTURE(ls);
    Sequential<double> m(Shape{6});
    m.set_seed(51);
    m.add(nnlite::Dense<double>(8, "relu"));
    m.add(nnlite::Dense<double>(5));
    m.compile(nnlite::Adam<double>(), nnlite::CategoricalCrossentropy<double>(true, ls));
    Tensor<double> x(Shape{7, 6});
    fill_uniform(x, 52);
    const Tensor<double> y = one_hot(Shape{7, 5}, 53);
    const double loss = m.compute_gradients(x, y);
    const Tensor<double> z = m.predict(x);
    long double expected = 0;
    for (Index i = 0; i < 7; ++i) {
      long double mx = z.at(i, 0), s = 0, dot = 0;
      for (Index j = 1; j < 5; ++j) mx = std::max<long double>(mx, z.at(i, j));
      for (Index j = 0; j < 5; ++j) {
        s += std::exp(static_cast<long double>(z.at(i, j)) - mx);
        dot += (y.at(i, j) * (1 - ls) + ls / 5) * z.at(i, j);
      }
      expected += mx + std::log(s) - dot;
    }
    CHECK(loss == doctest::Approx(static_cast<double>(expected / 7)).epsilon(1e-12));
    CHECK(max_gradient_error(m, x, y) < 1e-6);
  }
  // Label smoothing on a softmax output (the fused path with soft labels).
  auto m = dense_model("softmax", 54);
  m.compile(nnlite::Adam<double>(), nnlite::CategoricalCrossentropy<double>(false, 0.2));
  Tensor<double> x(Shape{7, 6});
  fill_uniform(x, 55);
  const Tensor<double> y = one_hot(Shape{7, 5}, 56);
  Tensor<double> smooth = y;
  for (double& v : smooth) v = v * 0.8 + 0.2 / 5;
  const double loss = m.compute_gradients(x, y);
  CHECK(loss == doctest::Approx(static_cast<double>(expected_from_logits(last_logits(m, x), smooth))).epsilon(1e-12));
  CHECK(max_gradient_error(m, x, y) < 1e-6);
}

TEST_CASE("categorical cross-entropy: labels of another shape are a ShapeError naming both shapes") {
  auto m = dense_model("softmax", 61);
  Tensor<double> x(Shape{4, 6}, 0.1), y(Shape{4, 4}, 0.0);
  CHECK_THROWS_WITH_AS(m.compute_gradients(x, y), doctest::Contains("(4, 4)"), nnlite::ShapeError);
  CHECK_THROWS_WITH_AS(m.train_on_batch(x, y), doctest::Contains("(None, 5)"), nnlite::ShapeError);
  CHECK_THROWS_WITH_AS(m.evaluate(x, y), doctest::Contains("(4,)"), nnlite::ShapeError);
  auto px = pixel_model("softmax", 62);
  Tensor<double> xi(Shape{2, 3, 3, 2}, 0.1), yi(Shape{2, 3, 3, 3}, 0.0);
  CHECK_THROWS_WITH_AS(px.compute_gradients(xi, yi), doctest::Contains("(2, 3, 3, 3)"), nnlite::ShapeError);
  nnlite::CategoricalCrossentropy<float> cce;
  Tensor<float> p(Shape{4, 10}, 0.1f), yw(Shape{4, 9}, 0.0f);
  CHECK_THROWS_WITH_AS(cce.compute({p, yw}, nullptr), doctest::Contains("(4, 10)"), nnlite::ShapeError);
}

TEST_CASE("the NaN guard sees per-pixel losses too") {
  auto m = pixel_model("linear", 71);
  Tensor<double> x(Shape{2, 3, 3, 2}, std::numeric_limits<double>::quiet_NaN());
  const Tensor<double> y = one_hot(Shape{2, 3, 3, 4}, 72);
  const std::vector<double> before(m.params(), m.params() + m.count_params());
  CHECK_THROWS_AS(m.train_on_batch(x, y), nnlite::NumericError);
  CHECK(std::equal(before.begin(), before.end(), m.params()));
}

TEST_CASE("the loss registry: names, aliases, serialized losses and the supported list") {
  auto a = nnlite::make_loss<float>("categorical_crossentropy");
  auto b = nnlite::make_loss<float>("CategoricalCrossentropy");
  CHECK(a->name() == "categorical_crossentropy");
  CHECK(b->config() == a->config());
  auto c = nnlite::make_loss<float>(nnlite::json{{"class_name", "CategoricalCrossentropy"},
                                                 {"config", {{"from_logits", true}, {"label_smoothing", 0.1}}}});
  CHECK(c->config()["from_logits"] == true);
  CHECK(c->config()["label_smoothing"] == doctest::Approx(0.1));
  CHECK_THROWS_WITH_AS(nnlite::make_loss<float>("hinge_of_doom"), doctest::Contains("supported: "),
                       nnlite::UnsupportedError);
  // Users register their own.
  nnlite::register_loss<float>("my_cce", [](const nnlite::ConfigReader&) {
    return std::make_unique<nnlite::CategoricalCrossentropy<float>>(false, 0.5);
  });
  CHECK(nnlite::make_loss<float>("my_cce")->config()["label_smoothing"] == doctest::Approx(0.5));
  CHECK(nnlite::loss_registry<float>().supported().find("my_cce") != std::string::npos);
}

TEST_CASE("softmax, and cross-entropy on probabilities: known values") {
  nnlite::Tensor<double> p(nnlite::Shape{2, 3}), y(nnlite::Shape{2, 3}, 0.0);
  const double z[6] = {1, 2, 3, 0, 0, 1000};  // the 1000 checks the max-shift keeps exp() finite
  for (int i = 0; i < 6; ++i) p[i] = z[i];
  y.at(0, 2) = 1;
  y.at(1, 0) = 1;
  nnlite::apply_activation(nnlite::Activation::softmax, p.data(), 2, 3);
  const double s = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  CHECK(p.at(0, 0) == doctest::Approx(std::exp(1.0) / s));
  CHECK(p.at(0, 2) == doctest::Approx(std::exp(3.0) / s));
  CHECK(p.at(1, 2) == doctest::Approx(1.0));
  // Given as probabilities: sample 0 gives -log(e^3/s); sample 1 has p = 0 for its class, clipped to 1e-7 (Keras).
  nnlite::CategoricalCrossentropy<double> cce;
  const double expected = (-std::log(std::exp(3.0) / s) - std::log(1e-7)) / 2;
  CHECK(cce.compute({p, y}, nullptr) == doctest::Approx(expected));
  CHECK(nnlite::count_correct(p, y) == 1);
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

}  // namespace test_losses
