// Keras' activation functions and activation layers: values worked out from the definitions (Python's math module:
// erf/erfc, exp, log1p), derivatives against central differences, stability at large |x|, the registry (names,
// aliases, user entries), hard_sigmoid's two meanings, and the refusals.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <nnlite/layers/registry.hpp>
#include <nnlite/model/check_gradients.hpp>
#include <nnlite/model/sequential.hpp>
#include <string>
#include <vector>

#include "test_support.hpp"

#ifdef NNLITE_WITH_IO
#include <sys/stat.h>

#include <nnlite/io/keras_config.hpp>
#include <nnlite/io/keras_h5.hpp>
#endif

namespace test_activations {

using namespace nnlite;

namespace {

double f(const Activation& a, double x) {
  apply_activation(a, &x, 1, 1);
  return x;
}
double f(const std::string& name, double x) { return f(Activation(name), x); }

// dy/dx as backward computes it (the input passed only when the activation needs it, as Dense/Conv2D do).
template <class S = double>
S df(const Activation& a, S x) {
  S y = x, dy = 1, dx = 0;
  apply_activation(a, &y, 1, 1);
  activation_backward(a, a.needs_input() ? &x : nullptr, &y, &dy, &dx, 1, 1);
  return dx;
}

using test_support::contains;
using test_support::message_of;

std::vector<std::string> elementwise_names() {
  std::vector<std::string> out;
  for (const std::string& n : activation_registry().names())
    if (!Activation(n).rowwise() && Activation(n).kind() != Activation::custom) out.push_back(n);
  return out;
}

}  // namespace

TEST_CASE("activations: known values") {
  using doctest::Approx;
  CHECK(f("linear", -2.5) == -2.5);
  CHECK(f("relu", -2.0) == 0.0);
  CHECK(f("relu", 2.0) == 2.0);
  CHECK(f("relu6", 7.0) == 6.0);
  CHECK(f("relu6", 3.5) == 3.5);
  CHECK(f("leaky_relu", -1.0) == Approx(-0.2));  // Keras 3 keras.activations.leaky_relu: negative_slope 0.2
  CHECK(f("leaky_relu", 3.0) == 3.0);
  CHECK(f(activations::leaky_relu(0.5), -10.0) == -5.0);
  CHECK(f("elu", -1.0) == Approx(-0.6321205588285577).epsilon(1e-15));
  CHECK(f(activations::elu(0.5), -1.0) == Approx(-0.31606027941427883).epsilon(1e-15));
  CHECK(f("elu", 2.0) == 2.0);
  CHECK(f("selu", 1.0) == Approx(1.0507009873554805).epsilon(1e-15));
  CHECK(f("selu", -1.0) == Approx(-1.1113307378125625).epsilon(1e-14));
  CHECK(f("selu", -1000.0) == Approx(-1.7580993408473766).epsilon(1e-15));  // -scale * alpha
  CHECK(f("gelu", 1.0) == Approx(0.8413447460685429).epsilon(1e-15));
  CHECK(f("gelu", -1.0) == Approx(-0.15865525393145707).epsilon(1e-14));
  CHECK(f("gelu", 3.0) == Approx(2.99595030590511).epsilon(1e-14));
  CHECK(f("gelu", -10.0) == Approx(-7.619853024160593e-23).epsilon(1e-12));  // the tail, not 0
  CHECK(f(activations::gelu(true), 1.0) == Approx(0.8411919906082768).epsilon(1e-14));
  CHECK(f("gelu_approximate", -2.0) == Approx(-0.04540230591222494).epsilon(1e-13));
  CHECK(f("sigmoid", 0.0) == 0.5);
  CHECK(f("sigmoid", 1.0) == Approx(0.7310585786300049).epsilon(1e-15));
  CHECK(f("sigmoid", -1000.0) == 0.0);
  CHECK(f("sigmoid", 1000.0) == 1.0);
  CHECK(f("hard_sigmoid", 1.0) == Approx(4.0 / 6.0).epsilon(1e-15));  // Keras 3: relu6(x + 3) / 6
  CHECK(f("hard_sigmoid", -3.5) == 0.0);
  CHECK(f("hard_sigmoid", 3.5) == 1.0);
  CHECK(f(activations::hard_sigmoid(true), 1.0) == Approx(0.7).epsilon(1e-15));  // tf.keras 2: 0.2 x + 0.5
  CHECK(f(activations::hard_sigmoid(true), 2.6) == 1.0);
  CHECK(f("hard_silu", 1.0) == Approx(4.0 / 6.0).epsilon(1e-15));
  CHECK(f("hard_swish", -1.0) == Approx(-2.0 / 6.0).epsilon(1e-15));
  CHECK(f("hard_silu", -4.0) == 0.0);
  CHECK(f("hard_silu", 4.0) == 4.0);
  CHECK(f("tanh", 0.5) == Approx(0.46211715726000974).epsilon(1e-15));
  CHECK(f("softplus", 0.0) == Approx(0.6931471805599453).epsilon(1e-15));
  CHECK(f("softplus", 1.0) == Approx(1.3132616875182228).epsilon(1e-15));
  CHECK(f("softplus", 100.0) == 100.0);
  CHECK(f("softplus", 1000.0) == 1000.0);  // log(1 + e^1000) without overflow
  CHECK(f("softplus", -100.0) == Approx(3.720075976020836e-44).epsilon(1e-12));
  CHECK(f("softsign", 3.0) == 0.75);
  CHECK(f("softsign", -1.0) == -0.5);
  CHECK(f("swish", 1.0) == Approx(0.7310585786300049).epsilon(1e-15));
  CHECK(f("silu", -2.0) == Approx(-0.2384058440442351).epsilon(1e-14));
  CHECK(f("swish", -1000.0) == 0.0);
  CHECK(f("mish", 1.0) == Approx(0.8650983882673103).epsilon(1e-15));
  CHECK(f("mish", -2.0) == Approx(-0.2525014826957089).epsilon(1e-14));
  CHECK(f("mish", 1000.0) == 1000.0);
  CHECK(f("mish", -1000.0) == 0.0);
  CHECK(f("exponential", 1.0) == Approx(std::exp(1.0)).epsilon(1e-15));

  double row[3] = {1, 2, 3};
  apply_activation(Activation("log_softmax"), row, 1, 3);
  CHECK(row[0] == Approx(-2.40760596444438).epsilon(1e-13));
  CHECK(row[1] == Approx(-1.40760596444438).epsilon(1e-13));
  CHECK(row[2] == Approx(-0.40760596444438).epsilon(1e-13));
  double big[2] = {1000, 0};  // exp(1000) would overflow
  apply_activation(Activation("log_softmax"), big, 1, 2);
  CHECK(big[0] == 0.0);
  CHECK(big[1] == -1000.0);
  double even[2] = {1000, 1000};
  apply_activation(Activation("softmax"), even, 1, 2);
  CHECK(even[0] == 0.5);
  CHECK(even[1] == 0.5);
}

TEST_CASE("activations: known derivatives") {
  using doctest::Approx;
  CHECK(df(Activation("gelu"), 0.0) == Approx(0.5));
  CHECK(df(Activation("gelu"), 1.0) == Approx(1.0833154705876864).epsilon(1e-14));
  CHECK(df(Activation("gelu"), -2.0) == Approx(-0.0852318010781969).epsilon(1e-13));
  CHECK(df(Activation("swish"), 0.0) == Approx(0.5));
  CHECK(df(Activation("swish"), 1.0) == Approx(0.9276705118714869).epsilon(1e-14));
  CHECK(df(Activation("mish"), 0.0) == Approx(0.6).epsilon(1e-15));
  CHECK(df(Activation("softplus"), 0.0) == Approx(0.5).epsilon(1e-15));
  CHECK(df(Activation("tanh"), 0.0) == 1.0);
  CHECK(df(Activation("selu"), -1.0) == Approx(0.646768603034814).epsilon(1e-14));
  CHECK(df(Activation("selu"), 1.0) == Approx(1.0507009873554805).epsilon(1e-15));
  CHECK(df(Activation("elu"), -1.0) == Approx(std::exp(-1.0)).epsilon(1e-15));
  CHECK(df(Activation("leaky_relu"), -1.0) == Approx(0.2));
  CHECK(df(Activation("hard_sigmoid"), 0.5) == Approx(1.0 / 6.0));
  CHECK(df(activations::hard_sigmoid(true), 0.5) == Approx(0.2));
  CHECK(df(Activation("hard_sigmoid"), 4.0) == 0.0);
  CHECK(df(Activation("hard_silu"), 1.0) == Approx(5.0 / 6.0));  // (2x + 3) / 6
  CHECK(df(Activation("hard_silu"), 5.0) == 1.0);
  CHECK(df(Activation("softsign"), 1.0) == Approx(0.25));  // 1 / (1 + |x|)^2
  CHECK(df(Activation("relu6"), 7.0) == 0.0);
  CHECK(df(Activation("exponential"), 2.0) == Approx(std::exp(2.0)));
  // negative slopes/alphas make the output ambiguous: then the derivative comes from the input
  CHECK(df(activations::leaky_relu(-0.5), -1.0) == Approx(-0.5));
  CHECK(df(activations::leaky_relu(-0.5), 1.0) == 1.0);
  CHECK(df(activations::elu(-2.0), -1.0) == Approx(-2.0 * std::exp(-1.0)));
}

TEST_CASE("activations: every elementwise activation's derivative matches central differences") {
  for (const std::string& name : elementwise_names()) {
    CAPTURE(name);
    const Activation a(name);
    for (double x : {-5.3, -2.7, -1.1, -0.45, 0.35, 0.9, 1.7, 2.2, 4.6}) {
      CAPTURE(x);
      const double h = 1e-6;
      const double numeric = (f(a, x + h) - f(a, x - h)) / (2 * h);
      CHECK(df(a, x) == doctest::Approx(numeric).epsilon(1e-6).scale(1.0));
    }
  }
  for (const Activation& a : {activations::gelu(true), activations::hard_sigmoid(true), activations::elu(0.3),
                              activations::leaky_relu(0.05), activations::relu(0.1, 2.0, 0.5)})
    for (double x : {-3.1, -0.7, 0.3, 0.8, 1.4, 2.9}) {
      CAPTURE(a.name());
      CAPTURE(x);
      const double h = 1e-6;
      CHECK(df(a, x) == doctest::Approx((f(a, x + h) - f(a, x - h)) / (2 * h)).epsilon(1e-6).scale(1.0));
    }
}

TEST_CASE_TEMPLATE("activations: finite values and derivatives at large |x|", S, float, double) {
  const S big = std::is_same_v<S, float> ? S(1e30) : S(1e300);
  for (const std::string& name : elementwise_names()) {
    CAPTURE(name);
    const Activation a(name);
    for (S x : {-big, S(-1000), S(-90), S(-20), S(20), S(90), S(1000), big}) {
      CAPTURE(x);
      S y = x;
      apply_activation(a, &y, 1, 1);
      CHECK_FALSE(std::isnan(y));
      const S d = df<S>(a, x);
      CHECK_FALSE(std::isnan(d));
      if (name != "exponential") {  // e^x overflows by definition; nothing else may
        CHECK(std::isfinite(y));
        CHECK(std::isfinite(d));
      }
    }
  }
  // the unbounded ones are x itself far out, never inf/NaN from an intermediate overflow
  for (const char* name : {"gelu", "gelu_approximate", "softplus", "swish", "mish", "hard_silu"}) {
    CAPTURE(name);
    CHECK(f(name, 1e300) == 1e300);
    CHECK(f(name, -1e300) == 0.0);
  }
  CHECK(df<S>(Activation("gelu_approximate"), big) == S(1));
  CHECK(df<S>(Activation("gelu_approximate"), -big) == S(0));
  CHECK(df<S>(Activation("mish"), big) == S(1));
  CHECK(df<S>(Activation("swish"), -big) == S(0));
}

TEST_CASE("activations: registry names, aliases and user entries") {
  const std::string supported = activation_registry().supported();
  for (const char* n :
       {"linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "hard_sigmoid", "hard_silu", "tanh",
        "softplus", "softsign", "swish", "mish", "exponential", "softmax", "log_softmax"})
    CHECK(contains(supported, n));
  // aliases resolve to the same function and write the name every Keras reads
  CHECK(Activation("silu") == Activation(Activation::swish));
  CHECK(Activation("silu").name() == "swish");
  CHECK(Activation("hard_swish") == Activation(Activation::hard_silu));
  CHECK(Activation("hard_swish").name() == "hard_silu");
  CHECK(Dense<float>(2, "silu").config()["activation"] == "swish");
  CHECK(ActivationOf<float>("hard_swish").config()["activation"] == "hard_silu");

  // unknown: UnsupportedError listing the supported ones
  const std::string msg = message_of<UnsupportedError>([] { Activation("sparsemax"); });
  CHECK(contains(msg, "'sparsemax'"));
  CHECK(contains(msg, "supported: "));
  CHECK(contains(msg, "gelu"));
  CHECK(contains(msg, "mish"));
  CHECK_THROWS_AS(Dense<float>(2, "nope"), UnsupportedError);
  {
    const json cfg = {{"name", "d"}, {"units", 2}, {"activation", "nope"}};
    ConfigReader r{cfg, "Dense", "d", "test"};
    const std::string m = message_of<UnsupportedError>([&] { Dense<float>::from_config(r, Shape{3}); });
    CHECK(contains(m, "'d'"));
    CHECK(contains(m, "supported: "));
  }

  // a parametrised activation without a name of its own cannot be written (it would read back as the default)
  Dense<double> leaky(2, activations::leaky_relu(0.1));
  CHECK(contains(message_of<UnsupportedError>([&] { leaky.config(); }), "register_activation"));
  register_activation("leaky_relu_01", activations::leaky_relu(0.1));
  CHECK(Activation("leaky_relu_01") == activations::leaky_relu(0.1));
  Dense<double> named(2, "leaky_relu_01");
  CHECK(named.config()["activation"] == "leaky_relu_01");

  // a user's own function, with its derivative
  register_activation("cube",
                      activations::custom(
                          "cube", [](double x) { return x * x * x; }, [](double x, double) { return 3 * x * x; }));
  CHECK(f("cube", 2.0) == 8.0);
  CHECK(df(Activation("cube"), 2.0) == 12.0);
  Dense<double> cube(3, "cube");
  cube.build(Shape{4});
  Tensor<double> x(Shape{2, 4});
  for (Index i = 0; i < x.size(); ++i) x[i] = 0.1 * static_cast<double>(i) - 0.35;
  const GradientCheckResult r = check_gradients(cube, x);
  INFO(r.str());
  CHECK(r.ok());
  const json cfg = cube.config();
  ConfigReader reader{cfg, "Dense", "", "test"};
  CHECK(Dense<double>::from_config(reader, Shape{4})->config() == cfg);
}

TEST_CASE("activations: Dense and Conv2D keep the pre-activation only when the derivative needs it") {
  CHECK_FALSE(FusedActivation<float>(Activation::relu).keeps_input());
  CHECK_FALSE(FusedActivation<float>(Activation::linear).keeps_input());
  CHECK_FALSE(FusedActivation<float>(Activation("tanh")).keeps_input());
  CHECK_FALSE(FusedActivation<float>(Activation("elu")).keeps_input());
  CHECK(FusedActivation<float>(Activation::softmax).keeps_input());  // the logits
  for (const char* n : {"gelu", "swish", "mish", "hard_silu"})
    CHECK(FusedActivation<float>(Activation(n)).keeps_input());
  // and the fused activation equals the layer
  Dense<double> fused(3, "gelu"), linear(3);
  ActivationOf<double> gelu("gelu");
  fused.build(Shape{4});
  linear.build(Shape{4});
  gelu.build(Shape{3});
  std::vector<double> p(static_cast<std::size_t>(fused.param_count()));
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = std::sin(1.0 + static_cast<double>(i));
  fused.bind(p.data(), nullptr);
  linear.bind(p.data(), nullptr);
  Tensor<double> x(Shape{2, 4}), y1, z, y2;
  for (Index i = 0; i < x.size(); ++i) x[i] = std::cos(static_cast<double>(i));
  fused.forward(x, y1, Mode::inference);
  linear.forward(x, z, Mode::inference);
  gelu.forward(z, y2, Mode::inference);
  for (Index i = 0; i < y1.size(); ++i) CHECK(y1[i] == y2[i]);
}

TEST_CASE("activation layers: Keras' examples") {
  auto run = [](Layer<double>& l, const std::vector<double>& in) {
    l.build(Shape{static_cast<Index>(in.size())});
    Tensor<double> x(Shape{1, static_cast<Index>(in.size())}), y;
    for (std::size_t i = 0; i < in.size(); ++i) x[static_cast<Index>(i)] = in[i];
    l.forward(x, y, Mode::inference);
    return std::vector<double>(y.data(), y.data() + y.size());
  };
  const std::vector<double> x = {-10, -5, 0, 5, 10};
  LeakyReLU<double> leaky(0.5);
  CHECK(run(leaky, x) == std::vector<double>{-5, -2.5, 0, 5, 10});
  LeakyReLU<double> leaky_default;
  CHECK(leaky_default.negative_slope() == 0.3);  // the layer's default, unlike the function's 0.2
  CHECK(run(leaky_default, {-1})[0] == doctest::Approx(-0.3));
  ReLU<double> relu_a(10.0, 0.5, 0.0);
  CHECK(run(relu_a, x) == std::vector<double>{-5, -2.5, 0, 5, 10});
  ReLU<double> relu_max(5.0);
  CHECK(run(relu_max, x) == std::vector<double>{0, 0, 0, 5, 5});
  ReLU<double> relu_threshold(std::nullopt, 0.0, 5.0);
  CHECK(run(relu_threshold, x) == std::vector<double>{0, 0, 0, 0, 10});
  ReLU<double> relu_all(6.0, 0.5, 2.0);  // max_value above, x in between, slope * (x - threshold) below
  CHECK(run(relu_all, {-2, 1, 3, 7}) == std::vector<double>{-2, -0.5, 3, 6});
  ELU<double> elu(0.5);
  CHECK(run(elu, {-1, 2})[0] == doctest::Approx(-0.31606027941427883).epsilon(1e-15));
  CHECK(run(elu, {-1, 2})[1] == 2.0);

  // PReLU: alpha of the input's shape with shared_axes set to 1
  PReLU<double> prelu({1, 2});
  prelu.build(Shape{2, 2, 3});
  REQUIRE(prelu.param_specs().size() == 1);
  CHECK(prelu.param_specs()[0].name == "alpha");
  CHECK(prelu.param_specs()[0].shape == Shape{1, 1, 3});
  CHECK(prelu.param_specs()[0].init == Initializer::zeros);
  std::vector<double> alpha = {0.1, 0.2, 0.3}, grad(3);
  prelu.bind(alpha.data(), grad.data());
  Tensor<double> in(Shape{1, 2, 2, 3}), out, d_in;
  for (Index i = 0; i < in.size(); ++i) in[i] = (i % 2 ? 1.0 : -1.0) * static_cast<double>(i + 1);
  prelu.forward(in, out, Mode::inference);
  for (Index i = 0; i < in.size(); ++i)
    CHECK(out[i] == (in[i] > 0 ? in[i] : alpha[static_cast<std::size_t>(i % 3)] * in[i]));
  Tensor<double> ones(out.shape());
  for (double& v : ones) v = 1.0;
  prelu.backward(in, out, ones, &d_in);
  // d alpha_c = sum of the negative inputs of channel c: c0 gets -1, -7; c1 -5, -11; c2 -3, -9
  CHECK(grad[0] == -8.0);
  CHECK(grad[1] == -16.0);
  CHECK(grad[2] == -12.0);
  PReLU<double> full;
  full.build(Shape{2, 3});
  CHECK(full.param_specs()[0].shape == Shape{2, 3});

  // Softmax over axis 1 of (batch, 2, 3): each column of the 2x3 sample sums to 1
  Softmax<double> sm(1);
  sm.build(Shape{2, 3});
  CHECK(sm.output_activation() == Activation::linear);  // not the last axis: no logits for the loss
  Tensor<double> m(Shape{1, 2, 3}), p;
  const double vals[6] = {1, 2, 3, 3, 2, 0};
  for (Index i = 0; i < 6; ++i) m[i] = vals[i];
  sm.forward(m, p, Mode::inference);
  CHECK(p[0] == doctest::Approx(0.11920292202211755).epsilon(1e-15));
  CHECK(p[3] == doctest::Approx(0.8807970779778823).epsilon(1e-15));
  CHECK(p[1] == doctest::Approx(0.5));
  CHECK(p[2] == doctest::Approx(0.9525741268224334).epsilon(1e-15));
  CHECK(p[5] == doctest::Approx(0.04742587317756678).epsilon(1e-14));
  Softmax<double> last(-1);
  last.build(Shape{2, 3});
  CHECK(last.output_activation() == Activation::softmax);
}

TEST_CASE("activation layers: configs, tf.keras 2 spellings and refusals") {
  auto make = [](const std::string& cls, const json& cfg, const Shape& input) {
    ConfigReader r{cfg, cls, cfg.value("name", std::string("x")), "test"};
    return layer_from_config<double>(r, input);
  };
  // tf.keras 2: LeakyReLU's alpha
  auto leaky = make("LeakyReLU", {{"name", "lr"}, {"alpha", 0.1}}, Shape{3});
  CHECK(leaky->config()["negative_slope"] == 0.1);
  CHECK(make("LeakyReLU", {{"name", "lr"}}, Shape{3})->config()["negative_slope"] == 0.3);
  CHECK(make("ELU", {{"name", "e"}}, Shape{3})->config()["alpha"] == 1.0);
  CHECK(make("PReLU", {{"name", "p"}, {"shared_axes", 1}}, Shape{2, 3})->config()["shared_axes"] == json::array({1}));
  auto relu = make("ReLU", {{"name", "r"}, {"max_value", 6.0}}, Shape{3});
  CHECK(relu->config()["max_value"] == 6.0);

  auto format_error = [&](const std::string& cls, const json& cfg, const Shape& input, const char* option) {
    CAPTURE(cls);
    const std::string msg = message_of<FormatError>([&] { make(cls, cfg, input); });
    INFO(msg);
    CHECK(contains(msg, "'" + cfg["name"].get<std::string>() + "'"));
    CHECK(contains(msg, option));
  };
  format_error("ReLU", {{"name", "relu_1"}, {"max_value", -1.0}}, Shape{3}, "max_value");
  format_error("ReLU", {{"name", "relu_2"}, {"negative_slope", -0.5}}, Shape{3}, "negative_slope");
  format_error("ReLU", {{"name", "relu_3"}, {"threshold", -1}}, Shape{3}, "threshold");
  format_error("LeakyReLU", {{"name", "leaky"}, {"negative_slope", -0.1}}, Shape{3}, "negative_slope");
  format_error("PReLU", {{"name", "prelu"}, {"shared_axes", {1, 4}}}, Shape{3, 3, 2}, "shared_axes");
  format_error("PReLU", {{"name", "prelu0"}, {"shared_axes", {0}}}, Shape{3, 3, 2}, "shared_axes");
  format_error("Softmax", {{"name", "sm"}, {"axis", 4}}, Shape{3, 3, 2}, "axis");
  CHECK_THROWS_AS(make("Softmax", {{"name", "sm"}, {"axis", 0}}, Shape{3}), UnsupportedError);
  CHECK_THROWS_AS(make("Softmax", {{"name", "sm"}, {"axis", {1, 2}}}, Shape{3, 3}), UnsupportedError);
  CHECK_THROWS_AS(make("PReLU", {{"name", "p"}, {"alpha_initializer", "orthogonal"}}, Shape{3}), UnsupportedError);
  CHECK_THROWS_AS(make("PReLU", {{"name", "p"}, {"alpha_regularizer", "l2"}}, Shape{3}), UnsupportedError);
  {
    const std::string msg = message_of<UnsupportedError>([&] {
      make("Activation", {{"name", "act"}, {"activation", "sparsemax"}}, Shape{3});
    });
    CHECK(contains(msg, "'act'"));
    CHECK(contains(msg, "supported: "));
  }
  // the C++ constructors refuse the same
  CHECK_THROWS_AS(ReLU<float>(-1.0), ArgumentError);
  CHECK_THROWS_AS(LeakyReLU<float>(-0.1), ArgumentError);
  PReLU<float> bad_axes({3});
  CHECK_THROWS_WITH_AS(bad_axes.build(Shape{4, 2}), doctest::Contains("shared_axes"), ShapeError);
  Softmax<float> bad_axis(3);
  CHECK_THROWS_AS(bad_axis.build(Shape{4, 2}), ShapeError);
}

#ifdef NNLITE_WITH_IO
TEST_CASE("activations: hard_sigmoid follows the file's Keras generation") {
  auto model_config = [](const char* version) {
    json mc = json::parse(R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 1]}},
        {"class_name": "Activation", "config": {"name": "hs", "activation": "hard_sigmoid"}}]}})");
    if (version) mc["keras_version"] = version;
    return mc;
  };
  auto at_one = [](Sequential<double> m) {
    Tensor<double> x(Shape{1, 1});
    x[0] = 1.0;
    return m.predict(x)[0];
  };
  using doctest::Approx;
  CHECK(at_one(model_from_keras_config<double>(model_config("2.11.0"))) == Approx(0.7));
  CHECK(at_one(model_from_keras_config<double>(model_config("3.4.1"))) == Approx(4.0 / 6.0));
  CHECK(at_one(model_from_keras_config<double>(model_config(nullptr))) == Approx(4.0 / 6.0));  // .keras: Keras 3
  LoadOptions keras3;
  keras3.hard_sigmoid = HardSigmoidForm::keras3;
  CHECK(at_one(model_from_keras_config<double>(model_config("2.11.0"), "mc", keras3)) == Approx(4.0 / 6.0));
  LoadOptions tf2;
  tf2.hard_sigmoid = HardSigmoidForm::tf_keras2;
  CHECK(at_one(model_from_keras_config<double>(model_config("3.4.1"), "mc", tf2)) == Approx(0.7));

  // .h5: written under the version whose hard_sigmoid it is, refused under the other
  const std::string dir = test_support::scratch_dir("activations");
  Sequential<double> k3(Shape{1}, "k3");
  k3.add(ActivationOf<double>("hard_sigmoid"));
  k3.add(Dense<double>(2, "hard_sigmoid"));
  k3.build();
  const std::string msg = message_of<UnsupportedError>([&] { save_model(k3, dir + "/k3_as_2.h5"); });
  CHECK(contains(msg, "keras_version"));
  SaveOptions v3;
  v3.keras_version = "3.4.1";
  save_model(k3, dir + "/k3.h5", v3);
  Sequential<double> back3 = load_model<double>(dir + "/k3.h5");
  CHECK(static_cast<const ActivationLayer<double>&>(back3.layer(0)).activation() == activations::hard_sigmoid());
  CHECK(static_cast<const Dense<double>&>(back3.layer(1)).activation() == activations::hard_sigmoid());

  Sequential<double> k2(Shape{1}, "k2");
  k2.add(ActivationOf<double>(activations::hard_sigmoid(true)));
  k2.build();
  save_model(k2, dir + "/k2.h5");
  Sequential<double> back2 = load_model<double>(dir + "/k2.h5");
  CHECK(at_one(back2) == Approx(0.7));
  CHECK_THROWS_AS(save_model(k2, dir + "/k2_as_3.h5", v3), UnsupportedError);

  // and gradients of both, as layers and fused
  for (const Activation& a : {activations::hard_sigmoid(), activations::hard_sigmoid(true)}) {
    ActivationOf<double> layer(a);
    layer.build(Shape{5});
    Tensor<double> x(Shape{2, 5});
    for (Index i = 0; i < x.size(); ++i) x[i] = 0.9 * static_cast<double>(i) - 4.05;  // clear of the kinks
    const GradientCheckResult r = check_gradients(layer, x);
    INFO(r.str());
    CHECK(r.ok());
  }
}
#endif

}  // namespace test_activations
