// Keras' other losses (sparse categorical and binary cross-entropy, MSE, MAE, Huber, KL divergence, categorical hinge):
// each reported value equals one worked out here from Keras' definitions (long double), each gradient is the exact
// derivative of the reported loss (central differences in double, through the whole model), for every option;
// sample_weight and class_weight follow Keras' rules; bad labels are clear errors.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <nnlite/nnlite.hpp>

namespace test_losses_breadth {

using nnlite::Index;
using nnlite::Sequential;
using nnlite::Shape;
using nnlite::Tensor;
using LD = long double;

namespace {

void fill_uniform(Tensor<double>& t, std::uint64_t seed, double lo = -1, double hi = 1) {
  nnlite::Rng rng(seed);
  for (double& v : t) v = rng.uniform(lo, hi);
}

Tensor<double> class_indices(Index n, Index k, std::uint64_t seed) {
  Tensor<double> y(Shape{n});
  nnlite::Rng rng(seed);
  for (Index i = 0; i < n; ++i) y[i] = static_cast<double>(rng.below(static_cast<std::uint64_t>(k)));
  return y;
}

// Largest relative error of compute_gradients' parameter gradients against central differences of its loss.
double max_gradient_error(Sequential<double>& m, const Tensor<double>& x, const Tensor<double>& y,
                          const Tensor<double>* w = nullptr, Index checks = 60) {
  m.compute_gradients(x, y, w);
  const std::vector<double> analytic(m.grads(), m.grads() + m.trainable_size());
  nnlite::Rng rng(99);
  std::vector<double> a, n;
  const double h = 1e-5;
  for (Index c = 0; c < checks; ++c) {
    const auto i = static_cast<Index>(rng.below(static_cast<std::uint64_t>(m.trainable_size())));
    const double saved = m.params()[i];
    m.params()[i] = saved + h;
    const double up = m.compute_gradients(x, y, w);
    m.params()[i] = saved - h;
    const double down = m.compute_gradients(x, y, w);
    m.params()[i] = saved;
    a.push_back(analytic[static_cast<std::size_t>(i)]);
    n.push_back((up - down) / (2 * h));
  }
  double scale = 0, worst = 0;
  for (std::size_t k = 0; k < a.size(); ++k) scale = std::max(scale, std::abs(a[k]) + std::abs(n[k]));
  REQUIRE(scale > 0);
  for (std::size_t k = 0; k < a.size(); ++k)
    worst = std::max(worst, std::abs(a[k] - n[k]) / std::max(std::abs(a[k]) + std::abs(n[k]), 1e-3 * scale));
  return worst;
}

// 6 inputs -> Dense 8 relu -> Dense k (activation), compiled with `loss`.
Sequential<double> model(const std::string& activation, Index k, const nnlite::Loss<double>& loss, std::uint64_t seed,
                         double last_bias = 0) {
  Sequential<double> m(Shape{6});
  m.set_seed(seed);
  m.add(nnlite::Dense<double>(8, "relu"));
  m.add(nnlite::Dense<double>(k, activation));
  m.compile(nnlite::SGD<double>(), loss, {});
  if (last_bias != 0)
    for (auto& w : m.weights(1))
      if (w.name == "bias") std::fill(w.data, w.data + w.shape.size(), last_bias);
  return m;
}

// The last Dense layer's pre-activation values for x, computed here from its weights and the first layer's output.
Tensor<double> logits_of(Sequential<double>& m, const Tensor<double>& x) {
  m.forward(x, nnlite::Mode::inference);
  Sequential<double> first(Shape{6});
  first.add(nnlite::Dense<double>(8, "relu"));
  first.set_weights({m.get_weights()[0], m.get_weights()[1]});
  const Tensor<double> h = first.predict(x);
  const auto w = m.weights(1);
  const Index units = w[0].shape[1];
  Tensor<double> z(Shape{x.batch(), units});
  for (Index i = 0; i < x.batch(); ++i)
    for (Index j = 0; j < units; ++j) {
      LD s = w[1].data[j];
      for (Index q = 0; q < 8; ++q) s += static_cast<LD>(h.at(i, q)) * w[0].data[q * units + j];
      z.at(i, j) = static_cast<double>(s);
    }
  return z;
}

LD clip(LD v, LD lo, LD hi) { return std::min(std::max(v, lo), hi); }
constexpr LD eps = 1e-7L;

// The mean over rows of f(row of predictions, row of labels).
LD mean_rows(const Tensor<double>& p, const Tensor<double>& y, Index k, Index tk,
             const std::function<LD(const double*, const double*)>& f, const Tensor<double>* w = nullptr) {
  LD total = 0;
  const Index n = p.batch();
  for (Index i = 0; i < n; ++i) total += (w ? (*w)[i] : 1.0L) * f(p.data() + i * k, y.data() + i * tk);
  return total / n;
}

}  // namespace

TEST_CASE("sparse_categorical_crossentropy: integer labels, softmax from its logits, other outputs clipped") {
  const Index n = 7, k = 5;
  Tensor<double> x(Shape{n, 6});
  fill_uniform(x, 1);
  const Tensor<double> y = class_indices(n, k, 2);
  auto lse_loss = [&](const double* z, const double* lab) {
    LD mx = z[0], s = 0;
    for (Index j = 1; j < k; ++j) mx = std::max<LD>(mx, z[j]);
    for (Index j = 0; j < k; ++j) s += std::exp(static_cast<LD>(z[j]) - mx);
    return mx + std::log(s) - z[static_cast<Index>(*lab)];
  };
  SUBCASE("softmax output: the loss from its logits") {
    auto m = model("softmax", k, nnlite::SparseCategoricalCrossentropy<double>(), 3);
    const double loss = m.compute_gradients(x, y);
    CHECK(loss == doctest::Approx(static_cast<double>(mean_rows(logits_of(m, x), y, k, 1, lse_loss))).epsilon(1e-12));
    CHECK(max_gradient_error(m, x, y) < 1e-6);
    // Equal to categorical cross-entropy on the equivalent one-hot labels.
    Tensor<double> onehot(Shape{n, k}, 0.0);
    for (Index i = 0; i < n; ++i) onehot.at(i, static_cast<Index>(y[i])) = 1;
    auto c = model("softmax", k, nnlite::CategoricalCrossentropy<double>(), 3);
    CHECK(c.compute_gradients(x, onehot) == doctest::Approx(loss).epsilon(1e-12));
    // A trailing axis of size 1 is the same labels.
    Tensor<double> y1(Shape{n, 1});
    for (Index i = 0; i < n; ++i) y1[i] = y[i];
    CHECK(m.compute_gradients(x, y1) == doctest::Approx(loss).epsilon(1e-15));
  }
  SUBCASE("from_logits on a linear output, with extreme logits") {
    auto m = model("linear", k, nnlite::SparseCategoricalCrossentropy<double>(true), 4);
    const double loss = m.compute_gradients(x, y);
    CHECK(loss == doctest::Approx(static_cast<double>(mean_rows(m.predict(x), y, k, 1, lse_loss))).epsilon(1e-12));
    CHECK(max_gradient_error(m, x, y) < 1e-6);
    nnlite::SparseCategoricalCrossentropy<double> l(true);
    Tensor<double> z(Shape{2, 3}), lab(Shape{2}), g;
    z.at(0, 0) = 100, z.at(0, 1) = -100, z.at(0, 2) = 0, lab[0] = 1;  // very wrong: loss 200
    z.at(1, 0) = 100, z.at(1, 1) = -100, z.at(1, 2) = 0, lab[1] = 0;  // very right: ~e^-100
    const double v = l.compute({z, lab}, &g);
    CHECK(v == doctest::Approx((200 + std::log1p(std::exp(-100.0) + std::exp(-200.0)) + std::exp(-100.0)) / 2));
    for (double gv : g) CHECK(std::isfinite(gv));
  }
  SUBCASE("a relu output: clipped to [1e-7, 1 - 1e-7], log(sum c) - log(c_label)") {
    auto m = model("relu", k, nnlite::SparseCategoricalCrossentropy<double>(), 5, 0.1);
    const Tensor<double> p = m.predict(x);
    Index zeros = 0;
    for (double v : p) zeros += v == 0;
    REQUIRE(zeros > 0);  // some clipped values, where the gradient is 0
    const double loss = m.compute_gradients(x, y);
    const LD expected = mean_rows(p, y, k, 1, [&](const double* q, const double* lab) {
      LD s = 0;
      for (Index j = 0; j < k; ++j) s += clip(q[j], eps, 1 - eps);
      return std::log(s) - std::log(clip(q[static_cast<Index>(*lab)], eps, 1 - eps));
    });
    CHECK(loss == doctest::Approx(static_cast<double>(expected)).epsilon(1e-12));
    CHECK(max_gradient_error(m, x, y) < 1e-6);
  }
  SUBCASE("labels that are not class indices are errors naming the label") {
    auto m = model("softmax", k, nnlite::SparseCategoricalCrossentropy<double>(), 6);
    Tensor<double> bad = y;
    bad[3] = 1.5;
    CHECK_THROWS_WITH_AS(m.compute_gradients(x, bad), doctest::Contains("label 1.5"), nnlite::ArgumentError);
    bad[3] = 5;
    CHECK_THROWS_WITH_AS(m.compute_gradients(x, bad), doctest::Contains("[0, 5)"), nnlite::ArgumentError);
    bad[3] = -1;
    CHECK_THROWS_AS(m.train_on_batch(x, bad), nnlite::ArgumentError);
    Tensor<double> onehot(Shape{n, k}, 0.0);
    CHECK_THROWS_WITH_AS(m.train_on_batch(x, onehot), doctest::Contains("integer class indices"), nnlite::ShapeError);
  }
}

TEST_CASE("binary_crossentropy: fused sigmoid, from_logits, clipped probabilities, label smoothing") {
  const Index n = 7, k = 3;
  Tensor<double> x(Shape{n, 6});
  fill_uniform(x, 11);
  Tensor<double> y(Shape{n, k});
  fill_uniform(y, 12, 0, 1);
  for (Index i = 0; i < n; ++i) y.at(i, 0) = y.at(i, 0) > 0.5 ? 1 : 0;  // hard and soft labels
  for (double ls : {0.0, 0.2}) {
    CAPTURE(ls);
    auto target = [&](double v) { return static_cast<LD>(v) * (1 - ls) + 0.5L * ls; };
    auto from_logits = [&](const double* z, const double* t) {
      LD s = 0;  // -(t log sigmoid(z) + (1 - t) log(1 - sigmoid(z))) = log(1 + e^z) - t z
      for (Index j = 0; j < k; ++j) s += std::log1p(std::exp(static_cast<LD>(z[j]))) - target(t[j]) * z[j];
      return s / k;
    };
    SUBCASE("sigmoid output: the loss from its logits") {
      auto m = model("sigmoid", k, nnlite::BinaryCrossentropy<double>(false, ls), 13);
      const double loss = m.compute_gradients(x, y);
      CHECK(loss == doctest::Approx(static_cast<double>(mean_rows(logits_of(m, x), y, k, k, from_logits))).epsilon(1e-12));
      CHECK(max_gradient_error(m, x, y) < 1e-6);
    }
    SUBCASE("from_logits on a linear output") {
      auto m = model("linear", k, nnlite::BinaryCrossentropy<double>(true, ls), 14);
      const double loss = m.compute_gradients(x, y);
      CHECK(loss == doctest::Approx(static_cast<double>(mean_rows(m.predict(x), y, k, k, from_logits))).epsilon(1e-12));
      CHECK(max_gradient_error(m, x, y) < 1e-6);
    }
    SUBCASE("probabilities from a relu (not fused): clipped, Keras 3's formula") {
      auto m = model("relu", k, nnlite::BinaryCrossentropy<double>(false, ls), 15, 0.3);
      // relu: outputs at 0 are clipped to 1e-7 (gradient 0 there)
      const Tensor<double> p = m.predict(x);
      Index clipped = 0;
      for (double v : p) clipped += v < 1e-7 || v > 1 - 1e-7;
      REQUIRE(clipped > 0);
      const double loss = m.compute_gradients(x, y);
      const LD expected = mean_rows(p, y, k, k, [&](const double* q, const double* t) {
        LD s = 0;
        for (Index j = 0; j < k; ++j) {
          const LD c = clip(q[j], eps, 1 - eps);
          s -= target(t[j]) * std::log(c) + (1 - target(t[j])) * std::log(1 - c);
        }
        return s / k;
      });
      // 1e-9: 1 - c at the clip bound rounds differently in double than in long double.
      CHECK(loss == doctest::Approx(static_cast<double>(expected)).epsilon(1e-9));
      CHECK(max_gradient_error(m, x, y) < 1e-6);
    }
  }
  SUBCASE("extreme logits stay finite") {
    nnlite::BinaryCrossentropy<double> l(true);
    Tensor<double> z(Shape{1, 4}), t(Shape{1, 4}), g;
    z[0] = 100, z[1] = -100, z[2] = 100, z[3] = -100;
    t[0] = 1, t[1] = 0, t[2] = 0, t[3] = 1;
    const double v = l.compute({z, t}, &g);
    CHECK(v == doctest::Approx((2 * std::log1p(std::exp(-100.0)) + 200) / 4));
    CHECK(g[2] == doctest::Approx(0.25));
    CHECK(g[3] == doctest::Approx(-0.25));
  }
}

TEST_CASE("mean_squared_error, mean_absolute_error, huber: regression losses, per position and per pixel") {
  const Index n = 7, k = 3;
  Tensor<double> x(Shape{n, 6});
  fill_uniform(x, 21);
  Tensor<double> y(Shape{n, k});
  fill_uniform(y, 22, -2, 2);
  struct Case {
    std::string name;
    std::function<LD(LD)> f;  // of e = p - y
  };
  const double delta = 0.7;
  for (const Case& c : {Case{"mean_squared_error", [](LD e) { return e * e; }},
                        Case{"mean_absolute_error", [](LD e) { return std::abs(e); }},
                        Case{"huber", [&](LD e) {
                               return std::abs(e) <= delta ? 0.5L * e * e : delta * std::abs(e) - 0.5L * delta * delta;
                             }}}) {
    CAPTURE(c.name);
    std::unique_ptr<nnlite::Loss<double>> loss =
        c.name == "huber" ? std::make_unique<nnlite::Huber<double>>(delta) : nnlite::make_loss<double>(c.name);
    auto m = model("linear", k, *loss, 23);
    for (Index i = 0; i < m.count_params(); ++i) m.params()[i] *= 2;  // errors on both sides of delta
    const Tensor<double> p = m.predict(x);
    auto per_row = [&](const double* q, const double* t) {
      LD s = 0;
      for (Index j = 0; j < k; ++j) s += c.f(static_cast<LD>(q[j]) - t[j]);
      return s / k;
    };
    CHECK(m.compute_gradients(x, y) == doctest::Approx(static_cast<double>(mean_rows(p, y, k, k, per_row))).epsilon(1e-12));
    CHECK(max_gradient_error(m, x, y) < 1e-6);
    // sample weights: sum(w l) / N (Keras' sum_over_batch_size), and the gradient of that.
    Tensor<double> w(Shape{n});
    fill_uniform(w, 24, 0, 2);
    w[2] = 0;
    CHECK(m.compute_gradients(x, y, &w) ==
          doctest::Approx(static_cast<double>(mean_rows(p, y, k, k, per_row, &w))).epsilon(1e-12));
    CHECK(max_gradient_error(m, x, y, &w) < 1e-6);
  }
  // Huber: both branches were exercised.
  auto m = model("linear", k, nnlite::Huber<double>(delta), 23);
  for (Index i = 0; i < m.count_params(); ++i) m.params()[i] *= 2;
  const Tensor<double> p = m.predict(x);
  Index small = 0, large = 0;
  for (Index i = 0; i < p.size(); ++i) (std::abs(p[i] - y[i]) <= delta ? small : large)++;
  CHECK(small > 0);
  CHECK(large > 0);
  CHECK_THROWS_AS(nnlite::Huber<double>(0), nnlite::ArgumentError);
  // A per-pixel regression output: the mean over (sample, pixel) positions.
  Sequential<double> px(Shape{3, 3, 2});
  px.set_seed(25);
  px.add(nnlite::Conv2D<double>(2, {2, 2}, nnlite::Conv2DOptions{}.padding("same")));
  px.compile(nnlite::SGD<double>(), "mse", {"mae"});
  Tensor<double> xi(Shape{2, 3, 3, 2}), yi(Shape{2, 3, 3, 2});
  fill_uniform(xi, 26);
  fill_uniform(yi, 27);
  const Tensor<double> pi = px.predict(xi);
  LD se = 0, ae = 0;
  for (Index i = 0; i < pi.size(); ++i) se += (static_cast<LD>(pi[i]) - yi[i]) * (pi[i] - yi[i]), ae += std::abs(pi[i] - yi[i]);
  const nnlite::Evaluation e = px.evaluate(xi, yi);
  CHECK(e.loss == doctest::Approx(static_cast<double>(se / pi.size())).epsilon(1e-12));
  CHECK(e["mae"] == doctest::Approx(static_cast<double>(ae / pi.size())).epsilon(1e-12));
  CHECK(max_gradient_error(px, xi, yi) < 1e-6);
}

TEST_CASE("kl_divergence and categorical_hinge: values from Keras' definitions and exact gradients") {
  const Index n = 7, k = 4;
  Tensor<double> x(Shape{n, 6});
  fill_uniform(x, 31);
  Tensor<double> y(Shape{n, k}, 0.0);
  nnlite::Rng rng(32);
  for (Index i = 0; i < n; ++i) y.at(i, static_cast<Index>(rng.below(k))) = 1;  // one-hot: zeros clipped to 1e-7
  SUBCASE("kl_divergence on a softmax output") {
    auto m = model("softmax", k, *nnlite::make_loss<double>("kl_divergence"), 33);
    const Tensor<double> p = m.predict(x);
    const LD expected = mean_rows(p, y, k, k, [&](const double* q, const double* t) {
      LD s = 0;
      for (Index j = 0; j < k; ++j) {
        const LD tc = clip(t[j], eps, 1), qc = clip(q[j], eps, 1);
        s += tc * std::log(tc / qc);
      }
      return s;
    });
    CHECK(m.compute_gradients(x, y) == doctest::Approx(static_cast<double>(expected)).epsilon(1e-12));
    CHECK(max_gradient_error(m, x, y) < 1e-6);
  }
  SUBCASE("categorical_hinge on a linear output, active and inactive hinges") {
    auto m = model("linear", k, *nnlite::make_loss<double>("categorical_hinge"), 34);
    for (Index i = 0; i < m.count_params(); ++i) m.params()[i] *= 10;
    const Tensor<double> p = m.predict(x);
    Index active = 0, inactive = 0;
    const LD expected = mean_rows(p, y, k, k, [&](const double* q, const double* t) {
      LD pos = 0, neg = -1e300L;
      for (Index j = 0; j < k; ++j) pos += static_cast<LD>(t[j]) * q[j], neg = std::max<LD>(neg, (1 - t[j]) * q[j]);
      (neg - pos + 1 > 0 ? active : inactive)++;
      return std::max<LD>(neg - pos + 1, 0);
    });
    CHECK(active > 0);
    // An inactive hinge (sum(y p) - max((1 - y) p) >= 1): loss and gradient 0.
    nnlite::CategoricalHinge<double> hinge;
    Tensor<double> pi(Shape{1, 4}, 0.0), yi(Shape{1, 4}, 0.0), gi;
    pi[0] = 5, pi[1] = 0.5, yi[0] = 1;
    CHECK(hinge.compute({pi, yi}, &gi) == 0.0);
    for (double v : gi) CHECK(v == 0.0);
    pi[0] = 1.2;  // active: 0.5 - 1.2 + 1 = 0.3, gradient -1 at the label, +1 at the largest other
    CHECK(hinge.compute({pi, yi}, &gi) == doctest::Approx(0.3));
    CHECK(gi[0] == -1.0);
    CHECK(gi[1] == 1.0);
    CHECK(m.compute_gradients(x, y) == doctest::Approx(static_cast<double>(expected)).epsilon(1e-12));
    CHECK(max_gradient_error(m, x, y) < 1e-6);
  }
}

TEST_CASE("losses by name and object: the registry, configs and training_config round trip") {
  for (const char* name : {"sparse_categorical_crossentropy", "binary_crossentropy", "mean_squared_error",
                           "mean_absolute_error", "huber", "kl_divergence", "categorical_hinge", "mse", "mae", "bce",
                           "kld", "Huber", "BinaryCrossentropy", "huber_loss"}) {
    CAPTURE(name);
    auto l = nnlite::make_loss<float>(name);
    auto again = nnlite::make_loss<float>(nlohmann::json{{"class_name", l->class_name()}, {"config", l->config()}});
    CHECK(again->name() == l->name());
    CHECK(again->config() == l->config());
  }
  CHECK(nnlite::make_loss<float>("mse")->name() == "mean_squared_error");
  CHECK(nnlite::Huber<float>(2.0).config()["name"] == "huber_loss");
  const auto bce = nnlite::make_loss<float>(nlohmann::json::parse(
      R"({"module": "keras.losses", "class_name": "BinaryCrossentropy", "config": {"name": "binary_crossentropy",
          "reduction": "sum_over_batch_size", "from_logits": true, "label_smoothing": 0.1, "axis": -1},
          "registered_name": null})"));
  CHECK(bce->config()["from_logits"] == true);
  CHECK(bce->config()["label_smoothing"] == 0.1);
  const std::string msg = [] {
    try {
      nnlite::make_loss<float>("poisson");
    } catch (const nnlite::UnsupportedError& e) {
      return std::string(e.what());
    }
    return std::string();
  }();
  CHECK(msg.find("unknown loss 'poisson'") != std::string::npos);
  CHECK(msg.find("categorical_hinge") != std::string::npos);  // the supported list comes from the registry
  CHECK_THROWS_AS(nnlite::make_loss<float>(nlohmann::json::parse(
                      R"({"class_name": "SparseCategoricalCrossentropy", "config": {"ignore_class": 3}})")),
                  nnlite::UnsupportedError);
#ifdef NNLITE_WITH_IO
  for (const nlohmann::json& spec : {nlohmann::json("sparse_categorical_crossentropy"), nlohmann::json("huber"),
                                    nlohmann::json{{"class_name", "Huber"}, {"config", {{"delta", 2.5}}}}}) {
    Sequential<float> m(Shape{4});
    m.add(nnlite::Dense<float>(3, "softmax"));
    m.compile(nnlite::Adam<float>(), spec, {});
    const nlohmann::json tc = nnlite::keras_training_config(m);
    if (spec.is_string()) {
      CHECK(tc["loss"] == nnlite::make_loss<float>(spec)->name());
    } else {
      CHECK(tc["loss"]["class_name"] == "Huber");
      CHECK(tc["loss"]["config"]["delta"] == 2.5);
    }
    const auto back = nnlite::loss_from_training_config<float>(tc, "test");
    CHECK(back->config() == m.loss().config());
  }
#endif
}

TEST_CASE("class_weight and sample_weight in fit and evaluate, with Keras' rules") {
  const Index n = 8, k = 3;
  Tensor<double> x(Shape{n, 6});
  fill_uniform(x, 41);
  const Tensor<double> labels = class_indices(n, k, 42);
  Tensor<double> onehot(Shape{n, k}, 0.0);
  for (Index i = 0; i < n; ++i) onehot.at(i, static_cast<Index>(labels[i])) = 1;
  const std::map<int, double> cw{{0, 2.0}, {2, 0.25}};  // class 1 not listed: weight 1
  Tensor<double> w(Shape{n});
  for (Index i = 0; i < n; ++i) w[i] = labels[i] == 0 ? 2.0 : labels[i] == 2 ? 0.25 : 1.0;
  for (const bool sparse : {false, true}) {
    CAPTURE(sparse);
    const Tensor<double>& y = sparse ? labels : onehot;
    std::unique_ptr<nnlite::Loss<double>> loss;
    if (sparse)
      loss = std::make_unique<nnlite::SparseCategoricalCrossentropy<double>>();
    else
      loss = std::make_unique<nnlite::CategoricalCrossentropy<double>>();
    auto m = model("softmax", k, *loss, 43);
    // The expected weighted loss, from the unweighted per-sample losses: sum(w l) / n.
    LD expected = 0;
    for (Index i = 0; i < n; ++i) {
      Tensor<double> xi(Shape{1, 6}), yi = sparse ? Tensor<double>(Shape{1}) : Tensor<double>(Shape{1, k});
      std::copy(x.data() + i * 6, x.data() + (i + 1) * 6, xi.data());
      std::copy(y.data() + i * yi.size(), y.data() + (i + 1) * yi.size(), yi.data());
      expected += w[i] * m.compute_gradients(xi, yi);
    }
    expected /= n;
    nnlite::FitOptions<double> o;
    o.epochs = 1;
    o.batch_size = n;  // one batch: the epoch's loss is the loss before the one step
    o.verbose = 0;
    o.shuffle = false;
    o.class_weight = cw;
    Sequential<double> a = m;
    const nnlite::History h = a.fit(x, y, o);
    CHECK(h["loss"][0] == doctest::Approx(static_cast<double>(expected)).epsilon(1e-12));
    // The same step as explicit sample weights.
    Sequential<double> b = m;
    nnlite::TensorSource<double> weighted(x, y, &w);
    nnlite::FitOptions<double> ob = o;
    ob.class_weight.clear();
    const nnlite::History hb = b.fit(weighted, nullptr, ob);
    CHECK(hb["loss"][0] == doctest::Approx(static_cast<double>(expected)).epsilon(1e-12));
    CHECK(std::equal(a.params(), a.params() + a.count_params(), b.params()));
    // evaluate with sample weights; plain evaluate is unweighted.
    Sequential<double> c = m;
    CHECK(c.evaluate(weighted, 3).loss == doctest::Approx(static_cast<double>(expected)).epsilon(1e-12));
    // Both at once is refused, as in Keras 3.
    o.class_weight = cw;
    CHECK_THROWS_WITH_AS(c.fit(weighted, nullptr, o), doctest::Contains("class_weight"), nnlite::ArgumentError);
  }
}

TEST_CASE("learning beyond classification: sigmoid + binary_crossentropy and linear + mean_squared_error reach bars") {
  nnlite::FitOptions<float> opt;
  opt.verbose = 0;
  opt.batch_size = 32;
  nnlite::Rng rng(5);
  {
    // Points in [-1, 1]^2, label 1 inside the circle of radius 0.7 (about 38% of them): not linearly separable.
    const Index n = 600;
    Tensor<float> x(Shape{n, 2}), y(Shape{n, 1});
    for (Index i = 0; i < n; ++i) {
      const double a = rng.uniform(-1.0, 1.0), b = rng.uniform(-1.0, 1.0);
      x.at(i, 0) = static_cast<float>(a);
      x.at(i, 1) = static_cast<float>(b);
      y.at(i, 0) = a * a + b * b < 0.49 ? 1.0f : 0.0f;
    }
    Sequential<float> m(Shape{2}, "circle");
    m.set_seed(3);
    m.add(nnlite::Dense<float>(32, "relu"));
    m.add(nnlite::Dense<float>(1, "sigmoid"));
    m.compile(nnlite::Adam<float>(1e-2), "binary_crossentropy", {"accuracy"});
    opt.epochs = 60;
    m.fit(x, y, opt);
    const auto e = m.evaluate(x, y);
    INFO("binary accuracy " << e["accuracy"] << ", loss " << e.loss);
    CHECK(e["accuracy"] > 0.95);  // chance (always 0) is about 0.62
    CHECK(e.loss < 0.2);
  }
  {
    // y = 2 a - 3 b + 0.5 plus noise of standard deviation 0.01: the best MSE is the noise's, 1e-4.
    const Index n = 400;
    Tensor<float> x(Shape{n, 2}), y(Shape{n, 1});
    for (Index i = 0; i < n; ++i) {
      const double a = rng.uniform(-1.0, 1.0), b = rng.uniform(-1.0, 1.0);
      x.at(i, 0) = static_cast<float>(a);
      x.at(i, 1) = static_cast<float>(b);
      y.at(i, 0) = static_cast<float>(2 * a - 3 * b + 0.5 + 0.01 * rng.uniform(-1.7320508, 1.7320508));
    }
    Sequential<float> m(Shape{2}, "line");
    m.set_seed(4);
    m.add(nnlite::Dense<float>(1));
    m.compile(nnlite::Adam<float>(5e-2), "mean_squared_error", {"mae"});
    opt.epochs = 60;
    m.fit(x, y, opt);
    const auto e = m.evaluate(x, y);
    INFO("mse " << e.loss << ", mae " << e["mae"]);
    CHECK(e.loss < 1e-3);  // the labels' own variance is about 4.3
    CHECK(e["mae"] < 0.03);
    const auto w = m.get_weights();  // kernel (2, 1), bias (1)
    CHECK(w[0][0] == doctest::Approx(2.0).epsilon(0.02));
    CHECK(w[0][1] == doctest::Approx(-3.0).epsilon(0.02));
    CHECK(w[1][0] == doctest::Approx(0.5).epsilon(0.04));
  }
}

}  // namespace test_losses_breadth
