// Weight regularizers (core/regularizers.hpp): L1, L2, L1L2 penalties and derivatives worked out here, the total loss
// (compiled loss + penalties) in compute_gradients / train_on_batch / evaluate / fit, a central-difference check of the
// gradients in double through Dense, Conv2D, DepthwiseConv2D and SeparableConv2D, and the configs both ways (Keras 3
// and tf.keras 2 forms, identifiers, .h5 and .keras round trips, unknown classes, a user's registered class).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <nnlite/io/keras_h5.hpp>
#include <nnlite/nnlite.hpp>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace test_regularizers {

using nnlite::Conv2D;
using nnlite::Conv2DOptions;
using nnlite::Dense;
using nnlite::DepthwiseConv2D;
using nnlite::DepthwiseConv2DOptions;
using nnlite::Index;
using nnlite::json;
using nnlite::SeparableConv2D;
using nnlite::Sequential;
using nnlite::Shape;
using nnlite::Tensor;
using test_support::contains;
using test_support::message_of;
namespace regularizers = nnlite::regularizers;

namespace {

double sign(double v) { return v > 0 ? 1.0 : v < 0 ? -1.0 : 0.0; }

// l1 * sum|w| + l2 * sum w^2, and its derivative, from the definition.
double penalty_of(const std::vector<double>& w, double l1, double l2) {
  double p = 0;
  for (double v : w) p += l1 * std::abs(v) + l2 * v * v;
  return p;
}

}  // namespace

TEST_CASE("Regularizers: L1, L2, L1L2 penalties and derivatives, Keras 3 defaults, float and double") {
  const std::vector<double> w = {1.5, -2.0, 0.0, 0.25, -0.125};
  const std::vector<float> wf(w.begin(), w.end());
  const Index n = static_cast<Index>(w.size());
  struct Case {
    nnlite::RegularizerPtr r;
    double l1, l2;
  };
  for (const Case& c : {Case{regularizers::l1(0.3), 0.3, 0.0}, Case{regularizers::l2(0.1), 0.0, 0.1},
                        Case{regularizers::l1_l2(0.2, 0.05), 0.2, 0.05}}) {
    CAPTURE(c.r->class_name());
    const double want = penalty_of(w, c.l1, c.l2);
    CHECK(c.r->penalty(w.data(), n) == doctest::Approx(want).epsilon(1e-15));
    CHECK(c.r->penalty(wf.data(), n) == doctest::Approx(want).epsilon(1e-6));
    std::vector<double> g(w.size(), 1.0);  // add_gradient adds to what is there
    std::vector<float> gf(w.size(), 1.0f);
    c.r->add_gradient(w.data(), g.data(), n);
    c.r->add_gradient(wf.data(), gf.data(), n);
    for (std::size_t i = 0; i < w.size(); ++i) {
      const double d = 1.0 + c.l1 * sign(w[i]) + 2 * c.l2 * w[i];  // d|x|/dx = 0 at 0, as TensorFlow's abs
      CHECK(g[i] == doctest::Approx(d).epsilon(1e-15));
      CHECK(gf[i] == doctest::Approx(d).epsilon(1e-6));
    }
  }
  // Keras' docstring: L2(2.) on ones((5, 5)) is 50 (no 1/2 in L2).
  const std::vector<double> ones(25, 1.0);
  CHECK(nnlite::L2(2.0).penalty(ones.data(), 25) == 50.0);
  CHECK(nnlite::L1().l1() == 0.01);
  CHECK(nnlite::L2().l2() == 0.01);
  CHECK(nnlite::L1L2().l1() == 0.0);
  CHECK(nnlite::L1L2().l2() == 0.0);
  CHECK(nnlite::L1L2(0.0, 0.0).penalty(w.data(), n) == 0.0);

  // Keras' validate_float_arg: finite and non-negative.
  const std::string m = message_of<nnlite::ArgumentError>([] { nnlite::L1(-0.5); });
  CHECK(contains(m, "L1"));
  CHECK(contains(m, "l1=-0.5"));
  CHECK(contains(message_of<nnlite::ArgumentError>([] { nnlite::L1L2(0.1, std::nan("")); }), "argument l2"));
  CHECK_THROWS_AS(nnlite::L2{INFINITY}, nnlite::ArgumentError);
}

TEST_CASE("Regularizers: Keras 3 serialized form, tf.keras 2 form, identifiers, bad configs, unknown classes") {
  const json k3 = nnlite::regularizer_config(regularizers::l2(0.25).get());
  CHECK(k3 == json{{"module", "keras.regularizers"},
                   {"class_name", "L2"},
                   {"config", {{"l2", 0.25}}},
                   {"registered_name", nullptr}});
  CHECK(nnlite::regularizer_config(regularizers::l1_l2(0.5, 0.0).get())["config"] == json{{"l1", 0.5}, {"l2", 0.0}});
  CHECK(nnlite::regularizer_config(regularizers::l1(0.125).get())["config"] == json{{"l1", 0.125}});
  CHECK(nnlite::regularizer_config(nullptr).is_null());

  // Keras 3's form reads back to the same regularizer.
  auto r = nnlite::make_regularizer(k3);
  REQUIRE(r);
  REQUIRE(dynamic_cast<const nnlite::L2*>(r.get()));
  CHECK(dynamic_cast<const nnlite::L2*>(r.get())->l2() == 0.25);
  // tf.keras 2: no module / registered_name, float32 factors written as doubles.
  r = nnlite::make_regularizer(
      json::parse(R"({"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.009999999776482582}})"));
  REQUIRE(dynamic_cast<const nnlite::L1L2*>(r.get()));
  CHECK(r->class_name() == "L1L2");
  CHECK(static_cast<const nnlite::L1L2&>(*r).l1() == 0.0);
  CHECK(static_cast<const nnlite::L1L2&>(*r).l2() == 0.009999999776482582);
  // A null factor is the default (Keras: None -> 0.01 for L1/L2, 0 for L1L2); a missing config too.
  r = nnlite::make_regularizer(json::parse(R"({"class_name": "L1", "config": {"l1": null}})"));
  CHECK(static_cast<const nnlite::L1&>(*r).l1() == 0.01);
  r = nnlite::make_regularizer(json::parse(R"({"class_name": "L2"})"));
  CHECK(static_cast<const nnlite::L2&>(*r).l2() == 0.01);

  // Identifiers as keras.regularizers.get() takes them: class names and their snake case.
  struct Identifier {
    std::string id, cls;
    double l1, l2;
  };
  for (const Identifier& c : std::vector<Identifier>{{"l1", "L1", 0.01, 0.0},
                                                     {"L1", "L1", 0.01, 0.0},
                                                     {"l2", "L2", 0.0, 0.01},
                                                     {"L2", "L2", 0.0, 0.01},
                                                     {"l1l2", "L1L2", 0.0, 0.0},
                                                     {"L1L2", "L1L2", 0.0, 0.0}}) {
    CAPTURE(c.id);
    r = nnlite::make_regularizer(json(c.id));
    REQUIRE(r);
    CHECK(r->class_name() == c.cls);
    CHECK(static_cast<const nnlite::L1L2&>(*r).l1() == c.l1);
    CHECK(static_cast<const nnlite::L1L2&>(*r).l2() == c.l2);
  }
  CHECK(nnlite::make_regularizer(json(nullptr)) == nullptr);

  // Unknown classes (Keras 3's OrthogonalRegularizer too, and "l1_l2", which Keras 3's get() does not know either).
  for (const char* unknown : {"OrthogonalRegularizer", "l1_l2", "MyReg"}) {
    CAPTURE(unknown);
    const std::string m = message_of<nnlite::UnsupportedError>([&] {
      nnlite::make_regularizer(json{{"class_name", unknown}, {"config", json::object()}});
    });
    CHECK(contains(m, std::string("unknown regularizer '") + unknown + "'"));
    CHECK(contains(m, "supported: L1, L1L2, L2"));
  }
  // Bad values are FormatErrors naming the argument.
  CHECK(contains(message_of<nnlite::FormatError>(
                     [] { nnlite::make_regularizer(json::parse(R"({"class_name": "L2", "config": {"l2": -1}})")); }),
                 "argument l2"));
  CHECK(contains(message_of<nnlite::FormatError>(
                     [] { nnlite::make_regularizer(json::parse(R"({"class_name": "L2", "config": {"l2": "big"}})")); }),
                 "'l2' must be a number"));
  CHECK(contains(message_of<nnlite::FormatError>([] {
                   nnlite::make_regularizer(json::parse(R"({"class_name": "L2", "config": {"l2": 0.1, "l1": 0.2}})"));
                 }),
                 "unexpected keyword argument 'l1'"));
  CHECK(contains(message_of<nnlite::FormatError>([] { nnlite::make_regularizer(json(5)); }),
                 "could not interpret regularizer identifier: 5"));
  CHECK_THROWS_AS(nnlite::make_regularizer(json::parse(R"({"class_name": "L2", "config": [1]})")), nnlite::FormatError);
}

TEST_CASE("Regularizers: Dense, Conv2D, DepthwiseConv2D, SeparableConv2D configs both ways") {
  const auto l1l2 = regularizers::l1_l2(0.02, 0.03);
  Dense<float> dense(4, "relu");
  dense.kernel_regularizer(l1l2).bias_regularizer("l2");
  json c = dense.config();
  CHECK(c["kernel_regularizer"] == nnlite::regularizer_config(l1l2.get()));
  CHECK(c["bias_regularizer"] == nnlite::regularizer_config(regularizers::l2(0.01).get()));
  CHECK(c["activity_regularizer"].is_null());
  CHECK(Dense<float>(3).config()["kernel_regularizer"].is_null());
  CHECK(dense.weight_regularizer(0) == l1l2.get());
  CHECK(Dense<float>(3, "linear", false).bias_regularizer("l1").weight_regularizer(1) == nullptr);  // no bias weight

  auto from = [](const json& cfg, const std::string& cls, const Shape& in) {
    nnlite::ConfigReader reader{cfg, cls, cfg.value("name", std::string("x")), "test.h5"};
    return nnlite::layer_from_config<float>(reader, in);
  };
  // nnlite's own config (Keras 3's form) reads back to the same config.
  CHECK(from(c, "Dense", Shape{3})->config() == c);

  const Conv2D<float> conv(2, {3, 3},
                           Conv2DOptions{}.kernel_regularizer(regularizers::l1(0.5)).bias_regularizer("l1l2"));
  CHECK(conv.config()["kernel_regularizer"]["config"] == json{{"l1", 0.5}});
  CHECK(conv.config()["bias_regularizer"]["class_name"] == "L1L2");
  CHECK(from(conv.config(), "Conv2D", Shape{5, 5, 1})->config() == conv.config());
  const DepthwiseConv2D<float> dw({3, 3}, DepthwiseConv2DOptions{}.depthwise_regularizer("l2").bias_regularizer("l1"));
  CHECK(dw.config()["depthwise_regularizer"]["class_name"] == "L2");
  CHECK(dw.config()["bias_regularizer"]["class_name"] == "L1");
  CHECK(from(dw.config(), "DepthwiseConv2D", Shape{5, 5, 2})->config() == dw.config());
  const SeparableConv2D<float> sep(3, {3, 3},
                                   DepthwiseConv2DOptions{}
                                       .depthwise_regularizer("l1")
                                       .pointwise_regularizer(regularizers::l2(0.5))
                                       .bias_regularizer("l2"));
  CHECK(sep.config()["pointwise_regularizer"]["config"] == json{{"l2", 0.5}});
  CHECK(from(sep.config(), "SeparableConv2D", Shape{5, 5, 2})->config() == sep.config());
  CHECK(contains(message_of<nnlite::ArgumentError>([] {
                   DepthwiseConv2D<float>({3, 3}, DepthwiseConv2DOptions{}.pointwise_regularizer("l2"));
                 }),
                 "pointwise_regularizer"));

  // tf.keras 2's form and an identifier string in a layer config.
  json tf2 = json::parse(R"({"name": "d", "units": 2, "activation": "linear", "use_bias": true,
      "kernel_regularizer": {"class_name": "L1L2", "config": {"l1": 0.009999999776482582, "l2": 0.0}},
      "bias_regularizer": "l2", "activity_regularizer": null})");
  auto layer = from(tf2, "Dense", Shape{3});
  const auto& d = dynamic_cast<const Dense<float>&>(*layer);
  REQUIRE(d.kernel_regularizer());
  CHECK(d.kernel_regularizer()->class_name() == "L1L2");
  CHECK(static_cast<const nnlite::L1L2*>(d.kernel_regularizer())->l1() == 0.009999999776482582);
  REQUIRE(d.bias_regularizer());
  CHECK(static_cast<const nnlite::L2*>(d.bias_regularizer())->l2() == 0.01);

  // An unknown class names itself, the key and the layer; activity_regularizer is refused.
  json bad = tf2;
  bad["kernel_regularizer"] = {{"module", "keras.regularizers"},
                               {"class_name", "OrthogonalRegularizer"},
                               {"config", {{"factor", 0.01}, {"mode", "rows"}}},
                               {"registered_name", nullptr}};
  std::string m = message_of<nnlite::UnsupportedError>([&] { from(bad, "Dense", Shape{3}); });
  CHECK(contains(m, "test.h5: layer 'd' (Dense): 'kernel_regularizer': unknown regularizer 'OrthogonalRegularizer'"));
  bad = tf2;
  bad["bias_regularizer"] = {{"class_name", "L2"}, {"config", {{"l2", -3}}}};
  m = message_of<nnlite::FormatError>([&] { from(bad, "Dense", Shape{3}); });
  CHECK(contains(m, "layer 'd' (Dense)"));
  CHECK(contains(m, "bias_regularizer"));
  for (const char* cls : {"Dense", "Conv2D", "DepthwiseConv2D", "SeparableConv2D"}) {
    CAPTURE(cls);
    json a = std::string(cls) == "Dense" ? tf2 : json::parse(R"({"name": "c", "filters": 2, "kernel_size": [1, 1]})");
    a["activity_regularizer"] = {{"class_name", "L2"}, {"config", {{"l2", 0.01}}}};
    m = message_of<nnlite::UnsupportedError>([&] {
      from(a, cls, std::string(cls) == "Dense" ? Shape{3} : Shape{4, 4, 2});
    });
    CHECK(contains(m, "'activity_regularizer'"));
    CHECK(contains(m, "not supported"));
  }
}

TEST_CASE("Regularizers: the loss is the compiled loss plus the penalties, and so are its gradients") {
  const double l1 = 0.2, l2 = 0.3, lb = 0.5, lr = 0.1;
  Sequential<double> m(Shape{3});
  m.add(Dense<double>(2).kernel_regularizer(regularizers::l1_l2(l1, l2)).bias_regularizer(regularizers::l2(lb)));
  m.compile(nnlite::SGD<double>(lr), json("mse"), {});
  const std::vector<double> K = {0.5, -1.0, 2.0, 0.25, -0.75, 1.5}, b = {0.1, -0.2};
  Tensor<double> kt(Shape{3, 2}), bt(Shape{2});
  std::copy(K.begin(), K.end(), kt.data());
  std::copy(b.begin(), b.end(), bt.data());
  m.set_weights({kt, bt});
  Tensor<double> x(Shape{2, 3}), y(Shape{2, 2});
  const double xs[] = {1.0, 0.5, -1.0, -0.5, 2.0, 0.25}, ys[] = {0.0, 1.0, 1.0, -1.0};
  std::copy(std::begin(xs), std::end(xs), x.data());
  std::copy(std::begin(ys), std::end(ys), y.data());

  // mse by hand: the mean over the 4 outputs of (x.K + b - y)^2, and its derivative.
  auto data_loss = [&](const std::vector<double>& Kw, const std::vector<double>& bw, const Tensor<double>& xx,
                       const Tensor<double>& yy, std::vector<double>* dK, std::vector<double>* db) {
    const Index n = xx.batch();
    double s = 0;
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < 2; ++j) {
        double p = bw[static_cast<std::size_t>(j)];
        for (Index k = 0; k < 3; ++k) p += xx.at(i, k) * Kw[static_cast<std::size_t>(k * 2 + j)];
        const double e = p - yy.at(i, j);
        s += e * e;
        const double g = 2 * e / static_cast<double>(n * 2);
        if (db) (*db)[static_cast<std::size_t>(j)] += g;
        if (dK)
          for (Index k = 0; k < 3; ++k) (*dK)[static_cast<std::size_t>(k * 2 + j)] += g * xx.at(i, k);
      }
    return s / static_cast<double>(n * 2);
  };
  auto penalty = [&](const std::vector<double>& Kw, const std::vector<double>& bw) {
    return penalty_of(Kw, l1, l2) + penalty_of(bw, 0, lb);
  };
  std::vector<double> dK(6, 0.0), db(2, 0.0);
  const double data = data_loss(K, b, x, y, &dK, &db);
  const double pen = penalty(K, b);
  REQUIRE(pen > 0.1 * data);  // large enough that leaving it out would show

  CHECK(m.regularization_loss() == doctest::Approx(pen).epsilon(1e-14));
  const std::vector<double> each = m.losses();
  REQUIRE(each.size() == 2);
  CHECK(each[0] == doctest::Approx(penalty_of(K, l1, l2)).epsilon(1e-14));
  CHECK(each[1] == doctest::Approx(penalty_of(b, 0, lb)).epsilon(1e-14));

  CHECK(m.compute_gradients(x, y) == doctest::Approx(data + pen).epsilon(1e-14));
  for (std::size_t k = 0; k < 6; ++k) {
    CAPTURE(k);
    const Index at = m.weights(0)[0].data - m.params() + static_cast<Index>(k);
    CHECK(m.grads()[at] == doctest::Approx(dK[k] + l1 * sign(K[k]) + 2 * l2 * K[k]).epsilon(1e-13));
  }
  for (std::size_t j = 0; j < 2; ++j) {
    const Index at = m.weights(0)[1].data - m.params() + static_cast<Index>(j);
    CHECK(m.grads()[at] == doctest::Approx(db[j] + 2 * lb * b[j]).epsilon(1e-13));
  }
  CHECK(m.compute_loss(y, m.predict(x)) == doctest::Approx(data + pen).epsilon(1e-14));
  CHECK(m.evaluate(x, y).loss == doctest::Approx(data + pen).epsilon(1e-14));
  CHECK(m.evaluate(x, y, 1).loss == doctest::Approx(data + pen).epsilon(1e-14));  // per batch, weighted by its size

  // fit: the epoch's loss is the one before the step; val_loss is evaluated with the stepped weights.
  Tensor<double> xv(Shape{1, 3}), yv(Shape{1, 2});
  const double xvs[] = {0.25, -1.0, 0.5}, yvs[] = {0.5, 0.5};
  std::copy(std::begin(xvs), std::end(xvs), xv.data());
  std::copy(std::begin(yvs), std::end(yvs), yv.data());
  nnlite::FitOptions<double> o;
  o.batch_size = 2;
  o.shuffle = false;
  o.verbose = 0;
  const nnlite::History h = m.fit(x, y, xv, yv, o);
  std::vector<double> K1(6), b1(2);
  for (std::size_t k = 0; k < 6; ++k) K1[k] = K[k] - lr * (dK[k] + l1 * sign(K[k]) + 2 * l2 * K[k]);
  for (std::size_t j = 0; j < 2; ++j) b1[j] = b[j] - lr * (db[j] + 2 * lb * b[j]);
  const std::vector<Tensor<double>> after = m.get_weights();
  for (std::size_t k = 0; k < 6; ++k) CHECK(after[0][static_cast<Index>(k)] == doctest::Approx(K1[k]).epsilon(1e-13));
  CHECK(h["loss"].at(0) == doctest::Approx(data + pen).epsilon(1e-14));
  CHECK(h["val_loss"].at(0) ==
        doctest::Approx(data_loss(K1, b1, xv, yv, nullptr, nullptr) + penalty(K1, b1)).epsilon(1e-13));

  // train_on_batch reports the total before its step.
  m.set_weights({kt, bt});
  CHECK(m.train_on_batch(x, y).loss == doctest::Approx(data + pen).epsilon(1e-14));

  // A frozen layer has no trainable weights, so no penalty (Keras regularizes trainable_weights only).
  m.set_weights({kt, bt});
  m.layer(0).set_trainable(false);
  m.compile(nnlite::SGD<double>(lr), json("mse"), {});
  CHECK(m.regularization_loss() == 0.0);
  CHECK(m.losses().empty());
  CHECK(m.evaluate(x, y).loss == doctest::Approx(data).epsilon(1e-14));

  // Keras' docstring: Dense(5) with a kernel of ones and L1(0.01) has layer.losses == 0.25.
  Sequential<double> k(Shape{5});
  k.add(Dense<double>(5, "linear", false).kernel_regularizer(regularizers::l1(0.01)));
  Tensor<double> ones(Shape{5, 5}, 1.0);
  k.set_weights({ones});
  REQUIRE(k.losses().size() == 1);
  CHECK(k.losses()[0] == doctest::Approx(0.25).epsilon(1e-15));
  Sequential<double> plain(Shape{5});
  plain.add(Dense<double>(5));
  plain.build();
  CHECK(plain.regularization_loss() == 0.0);
  CHECK(plain.losses().empty());
}

namespace {

// Conv2D -> DepthwiseConv2D -> SeparableConv2D -> Flatten -> Dense, with or without regularizers on every weight
// (L1 away from 0: every weight is at least 0.05 from it). The layers' weights are set from one seed either way.
Sequential<double> conv_net(bool regularized) {
  Sequential<double> m(Shape{6, 6, 2});
  m.set_seed(7);
  auto reg = [&](const nnlite::RegularizerPtr& r) { return regularized ? r : nnlite::RegularizerPtr(); };
  m.add(Conv2D<double>(3, {3, 3},
                       Conv2DOptions{}
                           .activation("tanh")
                           .kernel_regularizer(reg(regularizers::l1(0.05)))
                           .bias_regularizer(reg(regularizers::l2(0.2)))));
  m.add(DepthwiseConv2D<double>({2, 2}, DepthwiseConv2DOptions{}
                                            .activation("tanh")
                                            .depthwise_regularizer(reg(regularizers::l1_l2(0.03, 0.04)))
                                            .bias_regularizer(reg(regularizers::l1(0.02)))));
  m.add(SeparableConv2D<double>(2, {2, 2},
                                DepthwiseConv2DOptions{}
                                    .activation("tanh")
                                    .depthwise_regularizer(reg(regularizers::l2(0.1)))
                                    .pointwise_regularizer(reg(regularizers::l1(0.06)))
                                    .bias_regularizer(reg(regularizers::l1_l2(0.01, 0.3)))));
  m.add(nnlite::Flatten<double>());
  m.add(Dense<double>(3)
            .kernel_regularizer(reg(regularizers::l1_l2(0.05, 0.1)))
            .bias_regularizer(reg(regularizers::l1(0.1))));
  m.compile(nnlite::SGD<double>(0.01), json("mse"), {});
  nnlite::Rng rng(11);
  for (Index i = 0; i < m.count_params(); ++i) m.params()[i] = (rng.uniform() < 0.5 ? -1 : 1) * rng.uniform(0.05, 0.6);
  return m;
}

}  // namespace

TEST_CASE("Regularizers: central differences of the total loss match the gradients (double, every layer kind)") {
  Sequential<double> m = conv_net(true), plain = conv_net(false);
  REQUIRE(m.count_params() == plain.count_params());
  Tensor<double> x(Shape{2, 6, 6, 2}), y(Shape{2, 3});
  nnlite::Rng rng(3);
  for (double& v : x) v = rng.uniform(-1, 1);
  for (double& v : y) v = rng.uniform(-1, 1);

  const double total = m.compute_gradients(x, y);
  const std::vector<double> analytic(m.grads(), m.grads() + m.trainable_size());
  const double data = plain.compute_gradients(x, y);
  CHECK(m.regularization_loss() > 0.1 * data);
  CHECK(total == doctest::Approx(data + m.regularization_loss()).epsilon(1e-14));

  // The regularized gradient minus the plain one is the penalties' derivative, worked out weight by weight.
  const std::vector<double> l1s = {0.05, 0.0, 0.03, 0.02, 0.0, 0.06, 0.01, 0.05, 0.1};
  const std::vector<double> l2s = {0.0, 0.2, 0.04, 0.0, 0.1, 0.0, 0.3, 0.1, 0.0};
  std::size_t w = 0;
  for (std::size_t i = 0; i < m.size(); ++i)
    for (const auto& view : m.weights(i)) {
      CAPTURE(m.layer(i).name());
      CAPTURE(view.name);
      REQUIRE(w < l1s.size());
      const Index at = view.data - m.params();
      for (Index j = 0; j < view.shape.size(); ++j) {
        const double v = view.data[j];
        const double want = l1s[w] * sign(v) + 2 * l2s[w] * v;
        CHECK(analytic[static_cast<std::size_t>(at + j)] - plain.grads()[at + j] ==
              doctest::Approx(want).epsilon(1e-10));
      }
      ++w;
    }
  CHECK(w == l1s.size());

  // Central differences of the total loss over every parameter.
  const double h = 1e-6;
  std::vector<double> numeric(analytic.size());
  for (Index i = 0; i < m.trainable_size(); ++i)
    numeric[static_cast<std::size_t>(i)] = test_support::central_difference(m, x, y, i, h);
  const double worst = test_support::max_relative_error(analytic, numeric);
  MESSAGE("max relative gradient error " << worst << " over " << analytic.size() << " parameters");
  CHECK(worst < 1e-6);
}

TEST_CASE("Regularizers: save_model / load_model (.h5 and .keras) and Keras JSON model configs keep them") {
  Sequential<double> m = conv_net(true);
  const test_support::TempDir dir("nnlite_regularizers");
  for (const char* name : {"reg.h5", "reg.keras"}) {
    CAPTURE(name);
    nnlite::save_model(m, dir.file(name));
    Sequential<double> back = nnlite::load_model<double>(dir.file(name));
    REQUIRE(back.size() == m.size());
    for (std::size_t i = 0; i < m.size(); ++i) CHECK(back.layer(i).config() == m.layer(i).config());
    CHECK(back.regularization_loss() == m.regularization_loss());
    CHECK(back.losses() == m.losses());
  }
  // What the files hold: Keras 3's serialized form.
  const json mc = nnlite::keras_model_config(m);
  CHECK(mc["config"]["layers"][5]["config"]["kernel_regularizer"] == json{{"module", "keras.regularizers"},
                                                                          {"class_name", "L1L2"},
                                                                          {"config", {{"l1", 0.05}, {"l2", 0.1}}},
                                                                          {"registered_name", nullptr}});

  // A tf.keras 2 model_config (as tf.keras 2.11 writes it) and a Keras 3 one.
  const json tf2 = json::parse(R"({"class_name": "Sequential", "keras_version": "2.11.0", "backend": "tensorflow",
    "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "dtype": "float32", "name": "in"}},
      {"class_name": "Dense", "config": {"name": "dense", "trainable": true, "dtype": "float32", "units": 2,
        "activation": "linear", "use_bias": true,
        "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": null}},
        "bias_initializer": {"class_name": "Zeros", "config": {}},
        "kernel_regularizer": {"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.009999999776482582}},
        "bias_regularizer": {"class_name": "L1", "config": {"l1": 0.5}},
        "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null}}]}})");
  const json k3 = json::parse(R"({"module": "keras", "class_name": "Sequential", "registered_name": null,
    "config": {"name": "s", "trainable": true, "layers": [
      {"module": "keras.layers", "class_name": "InputLayer", "registered_name": null,
       "config": {"batch_shape": [null, 4], "dtype": "float32", "sparse": false, "name": "input_layer"}},
      {"module": "keras.layers", "class_name": "Dense", "registered_name": null,
       "build_config": {"input_shape": [null, 4]},
       "config": {"name": "dense", "trainable": true,
         "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
         "units": 2, "activation": "linear", "use_bias": true,
         "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null},
                                "registered_name": null},
         "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null},
         "kernel_regularizer": {"module": "keras.regularizers", "class_name": "L1L2",
                                "config": {"l1": 0.0, "l2": 0.009999999776482582}, "registered_name": null},
         "bias_regularizer": {"module": "keras.regularizers", "class_name": "L1", "config": {"l1": 0.5},
                              "registered_name": null},
         "kernel_constraint": null, "bias_constraint": null}}]}})");
  for (const json* cfg : {&tf2, &k3}) {
    Sequential<double> s = nnlite::model_from_keras_config<double>(*cfg);
    const auto& d = dynamic_cast<const Dense<double>&>(s.layer(0));
    REQUIRE(d.kernel_regularizer());
    REQUIRE(d.bias_regularizer());
    CHECK(d.kernel_regularizer()->class_name() == "L1L2");
    CHECK(static_cast<const nnlite::L1L2*>(d.kernel_regularizer())->l2() == 0.009999999776482582);
    CHECK(d.bias_regularizer()->class_name() == "L1");
    std::vector<double> kernel(s.weights(0)[0].data, s.weights(0)[0].data + 8);
    std::vector<double> bias(s.weights(0)[1].data, s.weights(0)[1].data + 2);
    CHECK(s.regularization_loss() ==
          doctest::Approx(penalty_of(kernel, 0.0, 0.009999999776482582) + penalty_of(bias, 0.5, 0.0)).epsilon(1e-14));
  }
}

namespace {

// A user's regularizer: factor * sum(x^4), registered under Keras' custom-object name.
class Quartic : public nnlite::RegularizerBase<Quartic> {
 public:
  explicit Quartic(double factor) : factor_(factor) {}
  std::string class_name() const override { return "Quartic"; }
  std::string registered_name() const override { return "my_package>Quartic"; }
  json config() const override { return {{"factor", factor_}}; }
  template <class S>
  double value(const S* w, Index n) const {
    double s = 0;
    for (Index i = 0; i < n; ++i) s += std::pow(static_cast<double>(w[i]), 4);
    return factor_ * s;
  }
  template <class S>
  void gradient(const S* w, S* g, Index n) const {
    for (Index i = 0; i < n; ++i) g[i] += static_cast<S>(4 * factor_ * std::pow(static_cast<double>(w[i]), 3));
  }

 private:
  double factor_;
};

}  // namespace

TEST_CASE("Regularizers: a user's registered regularizer is written, read back and trained with") {
  nnlite::register_regularizer("my_package>Quartic", [](const nnlite::ConfigReader& c) -> nnlite::RegularizerPtr {
    return std::make_shared<Quartic>(c.number("factor", 1.0));
  });
  Sequential<double> m(Shape{2});
  m.add(Dense<double>(1, "linear", false).kernel_regularizer(std::make_shared<Quartic>(0.25)));
  m.compile(nnlite::SGD<double>(0.1), json("mse"), {});
  Tensor<double> k(Shape{2, 1});
  k[0] = 2.0;
  k[1] = -1.0;
  m.set_weights({k});
  CHECK(m.regularization_loss() == doctest::Approx(0.25 * (16 + 1)).epsilon(1e-15));
  const json c = m.layer(0).config();
  CHECK(c["kernel_regularizer"] == json{{"module", nullptr},
                                        {"class_name", "Quartic"},
                                        {"config", {{"factor", 0.25}}},
                                        {"registered_name", "my_package>Quartic"}});
  Sequential<double> back = nnlite::model_from_keras_config<double>(nnlite::keras_model_config(m));
  back.set_weights(m.get_weights());
  CHECK(back.regularization_loss() == m.regularization_loss());
  Tensor<double> x(Shape{1, 2}, 0.0), y(Shape{1, 1}, 0.0);
  m.compute_gradients(x, y);  // zero input and label: the gradient is the penalty's alone
  CHECK(m.grads()[0] == doctest::Approx(4 * 0.25 * 8).epsilon(1e-15));
  CHECK(m.grads()[1] == doctest::Approx(4 * 0.25 * -1).epsilon(1e-15));
}

}  // namespace test_regularizers
