// The layer roster: every layer class, in several configurations, float and double, runs one checklist:
//   1. gradient check (inputs and trainable parameters) by central differences: tight in double, coarse in float
//   2. config() -> layer registry -> a layer with the identical config
//   3. .h5 save / load (one-layer model): weights and predictions bit-exact (when the IO target is built)
//   4. clone(): same outputs, independent weights
//   5. a wrong input shape, and a wrong d_out in backward, is a ShapeError that names the layer
//   6. its summary() row: "name (Class)" and its parameter count
// Adding a layer to the roster is one ROSTER(...) line.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <memory>
#include <nnlite/layers/registry.hpp>
#include <nnlite/model/check_gradients.hpp>
#include <nnlite/model/sequential.hpp>
#include <string>
#include <vector>

#include "test_support.hpp"

#ifdef NNLITE_WITH_IO
#include <nnlite/io/keras_h5.hpp>
#endif

namespace test_layers {

using namespace nnlite;

namespace {

struct Entry {
  std::string label;
  Shape input;
  std::function<std::unique_ptr<Layer<float>>()> make_float;
  std::function<std::unique_ptr<Layer<double>>()> make_double;
  template <class S>
  std::unique_ptr<Layer<S>> make() const {
    if constexpr (std::is_same_v<S, float>)
      return make_float();
    else
      return make_double();
  }
};

// ROSTER("label", input shape, layer expression written with the scalar type S)
#define ROSTER(label, shape, ...)                                              \
  Entry {                                                                      \
    label, shape, [] {                                                         \
      using S = float;                                                         \
      return std::unique_ptr<Layer<S>>(new __VA_ARGS__);                       \
    },                                                                         \
        [] {                                                                   \
          using S = double;                                                    \
          return std::unique_ptr<Layer<S>>(new __VA_ARGS__);                   \
        }                                                                      \
  }

const std::vector<Entry>& roster() {
  static const std::vector<Entry> r = {
      ROSTER("Dense linear", (Shape{5}), Dense<S>(3)),
      ROSTER("Dense relu no bias", (Shape{4}), Dense<S>(3, Activation::relu, false)),
      ROSTER("Dense softmax", (Shape{6}), Dense<S>(4, Activation::softmax)),
      ROSTER("Dense sigmoid on rank 2", (Shape{2, 3}), Dense<S>(2, Activation::sigmoid)),
      ROSTER("Conv2D valid", (Shape{5, 5, 2}), Conv2D<S>(3, {3, 3})),
      ROSTER("Conv2D same strided relu", (Shape{6, 5, 2}),
             Conv2D<S>(2, {3, 2}, Activation::relu, Padding::same, {2, 2})),
      ROSTER("Conv2D no bias", (Shape{4, 4, 1}),
             Conv2D<S>(2, {2, 2}, Activation::linear, Padding::valid, {1, 1}, false)),
      ROSTER("Conv2D dilated same", (Shape{6, 5, 2}),
             Conv2D<S>(3, {3, 2}, Conv2DOptions{}.dilation_rate({2, 1}).padding("same"))),
      ROSTER("Conv2D dilated valid relu", (Shape{7, 7, 1}),
             Conv2D<S>(2, {3, 3}, Conv2DOptions{}.dilation_rate(2).activation("relu"))),
      ROSTER("Conv2D groups 2", (Shape{5, 5, 4}), Conv2D<S>(6, {3, 3}, Conv2DOptions{}.groups(2))),
      ROSTER("Conv2D groups strided same", (Shape{5, 6, 3}),
             Conv2D<S>(3, {2, 3}, Conv2DOptions{}.groups(3).strides(2).padding("same"))),
      ROSTER("DepthwiseConv2D valid", (Shape{5, 5, 3}), DepthwiseConv2D<S>({3, 3})),
      ROSTER("DepthwiseConv2D same strided dm 2 tanh", (Shape{6, 5, 2}),
             DepthwiseConv2D<S>(
                 {3, 2}, DepthwiseConv2DOptions{}.padding("same").strides(2).depth_multiplier(2).activation("tanh"))),
      ROSTER("DepthwiseConv2D dilated no bias", (Shape{7, 6, 2}),
             DepthwiseConv2D<S>({2, 2},
                                DepthwiseConv2DOptions{}.dilation_rate({2, 3}).use_bias(false).depth_multiplier(3))),
      ROSTER("SeparableConv2D valid", (Shape{5, 5, 2}), SeparableConv2D<S>(3, {3, 3})),
      ROSTER(
          "SeparableConv2D same strided dm 2 tanh", (Shape{6, 5, 3}),
          SeparableConv2D<S>(
              2, {3, 2}, DepthwiseConv2DOptions{}.padding("same").strides(2).depth_multiplier(2).activation("tanh"))),
      ROSTER("SeparableConv2D dilated no bias", (Shape{6, 6, 2}),
             SeparableConv2D<S>(4, {2, 2}, DepthwiseConv2DOptions{}.dilation_rate(2).use_bias(false))),
      ROSTER("MaxPooling2D", (Shape{4, 4, 2}), MaxPool2D<S>({2, 2})),
      ROSTER("MaxPooling2D same stride 1", (Shape{5, 5, 1}), MaxPool2D<S>(Size2(3, 3), Size2(1, 1), Padding::same)),
      ROSTER("Flatten", (Shape{2, 3, 2}), Flatten<S>()),
      ROSTER("Dropout 0.4", (Shape{10}), Dropout<S>(0.4)),
      ROSTER("Activation relu", (Shape{7}), ActivationOf<S>("relu")),
      ROSTER("Activation sigmoid", (Shape{2, 3}), ActivationOf<S>("sigmoid")),
      ROSTER("Activation softmax", (Shape{3, 4}), ActivationOf<S>("softmax")),
      ROSTER("ReLU", (Shape{3, 3, 2}), ReLU<S>()),
      ROSTER("Softmax", (Shape{5}), Softmax<S>()),
      // every activation of the registry as Activation("name") (hard_sigmoid: tests/test_activations.cpp, its
      // meaning follows the file's keras_version), a few fused into Dense/Conv2D, and the activation layers
      ROSTER("Activation relu6", (Shape{3, 4}), ActivationOf<S>("relu6")),
      ROSTER("Activation leaky_relu", (Shape{6}), ActivationOf<S>("leaky_relu")),
      ROSTER("Activation elu", (Shape{2, 3, 2}), ActivationOf<S>("elu")),
      ROSTER("Activation selu", (Shape{6}), ActivationOf<S>("selu")),
      ROSTER("Activation gelu", (Shape{2, 2, 3}), ActivationOf<S>("gelu")),
      ROSTER("Activation gelu_approximate", (Shape{6}), ActivationOf<S>(activations::gelu(true))),
      ROSTER("Activation hard_silu", (Shape{6}), ActivationOf<S>("hard_silu")),
      ROSTER("Activation tanh", (Shape{6}), ActivationOf<S>("tanh")),
      ROSTER("Activation softplus", (Shape{6}), ActivationOf<S>("softplus")),
      ROSTER("Activation softsign", (Shape{6}), ActivationOf<S>("softsign")),
      ROSTER("Activation swish", (Shape{6}), ActivationOf<S>("silu")),
      ROSTER("Activation mish", (Shape{6}), ActivationOf<S>("mish")),
      ROSTER("Activation exponential", (Shape{6}), ActivationOf<S>("exponential")),
      ROSTER("Activation log_softmax", (Shape{2, 4}), ActivationOf<S>("log_softmax")),
      ROSTER("Activation linear", (Shape{6}), ActivationOf<S>("linear")),
      ROSTER("Dense gelu", (Shape{5}), Dense<S>(3, "gelu")),
      ROSTER("Dense swish", (Shape{5}), Dense<S>(3, "swish")),
      ROSTER("Dense log_softmax", (Shape{5}), Dense<S>(4, "log_softmax")),
      ROSTER("Dense tanh no bias", (Shape{4}), Dense<S>(3, "tanh", false)),
      ROSTER("Conv2D mish", (Shape{4, 4, 2}), Conv2D<S>(2, {3, 3}, "mish")),
      ROSTER("Conv2D same softplus", (Shape{4, 3, 1}), Conv2D<S>(3, {2, 2}, "softplus", Padding::same)),
      ROSTER("Conv2D gelu_approximate", (Shape{4, 4, 1}), Conv2D<S>(2, {2, 2}, activations::gelu(true))),
      ROSTER("ReLU max_value slope threshold", (Shape{3, 3, 2}), ReLU<S>(0.5, 0.1, 0.25)),
      ROSTER("ReLU max_value 6", (Shape{6}), ReLU<S>(6.0)),
      ROSTER("LeakyReLU", (Shape{3, 2}), LeakyReLU<S>()),
      ROSTER("LeakyReLU 0.05", (Shape{2, 2, 2}), LeakyReLU<S>(0.05)),
      ROSTER("ELU", (Shape{6}), ELU<S>()),
      ROSTER("ELU alpha 0.5", (Shape{2, 3}), ELU<S>(0.5)),
      ROSTER("PReLU", (Shape{5}), PReLU<S>()),
      ROSTER("PReLU shared_axes 1 2", (Shape{3, 3, 2}), PReLU<S>({1, 2})),
      ROSTER("PReLU shared_axes 2", (Shape{2, 3}), PReLU<S>({2})),
      ROSTER("Softmax axis 1", (Shape{3, 4}), Softmax<S>(1)),
      ROSTER("Softmax axis 2 of 4-D", (Shape{2, 3, 2}), Softmax<S>(2)),
      ROSTER("Softmax axis 3 of 4-D", (Shape{2, 2, 3}), Softmax<S>(3)),
      ROSTER("BatchNormalization 2-D", (Shape{4}), BatchNormalization<S>()),
      ROSTER("BatchNormalization 4-D no center", (Shape{3, 3, 2}),
             BatchNormalization<S>(BatchNormalizationOptions{}.center(false).momentum(0.9))),
      ROSTER("BatchNormalization no scale", (Shape{2, 3}),
             BatchNormalization<S>(BatchNormalizationOptions{}.scale(false).epsilon(1e-2))),
      ROSTER("AveragePooling2D", (Shape{4, 4, 2}), AveragePooling2D<S>({2, 2})),
      ROSTER("AveragePooling2D same strided", (Shape{5, 4, 2}),
             AveragePooling2D<S>(Size2(3, 2), Size2(2, 1), Padding::same)),
      ROSTER("GlobalAveragePooling2D", (Shape{3, 2, 3}), GlobalAveragePooling2D<S>()),
      ROSTER("GlobalAveragePooling2D keepdims", (Shape{2, 2, 2}), GlobalAveragePooling2D<S>(true)),
      ROSTER("GlobalMaxPooling2D", (Shape{3, 2, 3}), GlobalMaxPooling2D<S>()),
      ROSTER("GlobalMaxPooling2D keepdims", (Shape{2, 3, 2}), GlobalMaxPooling2D<S>(true)),
      ROSTER("ZeroPadding2D", (Shape{2, 3, 2}), ZeroPadding2D<S>()),
      ROSTER("ZeroPadding2D asymmetric", (Shape{2, 2, 1}), ZeroPadding2D<S>(Padding2D(1, 0, 2, 1))),
      ROSTER("Reshape", (Shape{2, 3, 2}), Reshape<S>({3, -1})),
      ROSTER("Rescaling", (Shape{5}), Rescaling<S>(0.5, -1.0)),
      ROSTER("SpatialDropout2D 0.5", (Shape{2, 2, 4}), SpatialDropout2D<S>(0.5)),
      ROSTER("GaussianNoise 0.1", (Shape{6}), GaussianNoise<S>(0.1)),
  };
  return r;
}

template <class S>
Tensor<S> random_input(const Shape& shape, Index batch, std::uint64_t seed) {
  Tensor<S> x(shape.with_batch(batch));
  Rng rng(seed);
  for (S& v : x) v = static_cast<S>(rng.uniform(-1.0, 1.0));
  return x;
}

template <class S>
void bind_random(Layer<S>& layer, std::vector<S>& params, std::vector<S>& grads, std::uint64_t seed) {
  Rng rng(seed);
  params.resize(static_cast<std::size_t>(layer.param_count()));
  grads.assign(params.size(), S(0));
  std::size_t k = 0;
  for (const auto& spec : layer.param_specs())
    for (Index j = 0; j < spec.shape.size(); ++j)  // a variance must stay positive
      params[k++] = static_cast<S>(spec.name == "moving_variance" ? rng.uniform(0.5, 1.5) : rng.uniform(-0.5, 0.5));
  layer.bind(params.data(), grads.data());
}

// Distinct values (i + 1/4) * 2/n - 1 in a random order: no two within 2/n of each other and none within 1/(2n) of 0,
// so neither a max-pool tie nor relu's kink falls inside a central-difference step, even float's.
template <class S>
Tensor<S> spread_input(const Shape& shape, Index batch, std::uint64_t seed) {
  Tensor<S> x(shape.with_batch(batch));
  const Index n = x.size();
  for (Index i = 0; i < n; ++i) x[i] = static_cast<S>((static_cast<double>(i) + 0.25) * 2.0 / static_cast<double>(n) - 1.0);
  Rng rng(seed);
  for (Index i = n - 1; i > 0; --i)
    std::swap(x[i], x[static_cast<Index>(rng.below(static_cast<std::uint64_t>(i + 1)))]);
  return x;
}

using test_support::contains;

template <class S>
void run_checklist(const Entry& e) {
  CAPTURE(e.label);
  const std::string scalar = std::is_same_v<S, double> ? "double" : "float";
  CAPTURE(scalar);
  // 1. gradients
  {
    auto layer = e.make<S>();
    layer->set_name("layer_under_test");
    layer->build(e.input);
    const Tensor<S> x = spread_input<S>(e.input, 3, 42);
    const GradientCheckResult r = check_gradients(*layer, x);
    INFO(r.str());
    CHECK(r.ok());
    CHECK(r.input.checked == x.size());
    if (layer->trainable_param_count() > 0) CHECK(r.params.checked > 0);
  }
  // 2. config -> registry -> identical layer
  {
    auto layer = e.make<S>();
    layer->set_name("roundtrip");
    layer->build(e.input);
    const nlohmann::json cfg = layer->config();
    ConfigReader reader{cfg, layer->class_name(), "roundtrip", "test_layers"};
    auto back = layer_from_config<S>(reader, e.input);
    back->build(e.input);
    CHECK(back->class_name() == layer->class_name());
    CHECK(back->config() == cfg);
    CHECK(back->output_shape() == layer->output_shape());
    CHECK(back->param_count() == layer->param_count());
    // and it computes the same function
    std::vector<S> p, g;
    bind_random(*layer, p, g, 5);
    back->bind(p.data(), g.data());
    const Tensor<S> x = random_input<S>(e.input, 2, 6);
    Tensor<S> y1, y2;
    layer->forward(x, y1, Mode::inference);
    back->forward(x, y2, Mode::inference);
    REQUIRE(y1.shape() == y2.shape());
    for (Index i = 0; i < y1.size(); ++i) CHECK(y1[i] == y2[i]);
  }
  // 3. .h5 round trip
#ifdef NNLITE_WITH_IO
  {
    Sequential<S> model(e.input, "roster");
    model.set_seed(9);
    model.add(e.make<S>());
    model.build();
    for (std::size_t i = 0; i < model.size(); ++i)
      for (const auto& w : model.weights(i)) {
        Rng rng(13);
        for (Index j = 0; j < w.shape.size(); ++j)
          w.data[j] = static_cast<S>(w.name == "moving_variance" ? rng.uniform(0.5, 1.5) : rng.uniform(-1.0, 1.0));
      }
    const std::string dir = test_support::scratch_dir("layers");
    std::string file = e.label;
    for (char& ch : file)
      if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    const std::string path = dir + "/" + file + (std::is_same_v<S, double> ? "_f64" : "_f32") + ".h5";
    save_model(model, path);
    Sequential<S> loaded = load_model<S>(path);
    REQUIRE(loaded.size() == 1);
    CHECK(loaded.layer(0).class_name() == model.layer(0).class_name());
    CHECK(loaded.layer(0).config() == model.layer(0).config());
    const auto w1 = model.get_weights(), w2 = loaded.get_weights();
    REQUIRE(w1.size() == w2.size());
    for (std::size_t k = 0; k < w1.size(); ++k)
      for (Index j = 0; j < w1[k].size(); ++j) CHECK(w1[k][j] == w2[k][j]);
    const Tensor<S> x = random_input<S>(e.input, 4, 21);
    const Tensor<S> p1 = model.predict(x), p2 = loaded.predict(x);
    for (Index j = 0; j < p1.size(); ++j) CHECK(p1[j] == p2[j]);
  }
#endif
  // 4. clone independence
  {
    auto layer = e.make<S>();
    layer->build(e.input);
    std::vector<S> p, g;
    bind_random(*layer, p, g, 3);
    auto copy = layer->clone();
    CHECK_FALSE(copy->bound());
    std::vector<S> p2 = p, g2(g.size());
    copy->bind(p2.empty() ? nullptr : p2.data(), g2.empty() ? nullptr : g2.data());
    const Tensor<S> x = random_input<S>(e.input, 2, 8);
    Tensor<S> y1, y2, y3;
    layer->forward(x, y1, Mode::inference);
    copy->forward(x, y2, Mode::inference);
    for (Index i = 0; i < y1.size(); ++i) CHECK(y1[i] == y2[i]);
    for (S& v : p2) v = v * S(2) + S(0.25);  // the copy's weights change, the original's output does not
    if (!p2.empty()) {
      layer->forward(x, y3, Mode::inference);
      for (Index i = 0; i < y1.size(); ++i) CHECK(y3[i] == y1[i]);
    }
  }
  // 5. a wrong input shape names the layer
  {
    auto layer = e.make<S>();
    layer->set_name("the_layer");
    layer->build(e.input);
    std::vector<S> p, g;
    bind_random(*layer, p, g, 1);
    std::vector<Index> dims = e.input.with_batch(2).dims();
    dims.back() += 1;
    Tensor<S> wrong{Shape(dims)}, y;
    CHECK_THROWS_WITH_AS(layer->forward(wrong, y, Mode::inference), doctest::Contains("'the_layer'"), ShapeError);
    // and so is a d_out that is not of the output's shape, in backward() and backward_from_logits(), whether or
    // not d_in is wanted (a first layer's d_in is null)
    const Tensor<S> x = random_input<S>(e.input, 2, 4);
    layer->forward(x, y, Mode::training);
    std::vector<Index> out_dims = y.shape().dims();
    out_dims.back() += 1;
    const Tensor<S> wrong_d_out{Shape(out_dims)};
    Tensor<S> d_in;
    for (Tensor<S>* d : {&d_in, static_cast<Tensor<S>*>(nullptr)}) {
      CHECK_THROWS_WITH_AS(layer->backward(x, y, wrong_d_out, d), doctest::Contains("'the_layer'"), ShapeError);
      if (layer->output_activation().kind() != Activation::linear)
        CHECK_THROWS_WITH_AS(layer->backward_from_logits(x, wrong_d_out, d), doctest::Contains("'the_layer'"),
                             ShapeError);
    }
  }
  // 6. summary row
  {
    Sequential<S> model(e.input, "roster");
    Layer<S>& l = model.add(e.make<S>());
    model.build();
    const std::string s = model.summary();
    CHECK(contains(s, l.name() + " (" + l.class_name() + ")"));
    CHECK(contains(s, l.output_shape().str(true)));
    CHECK(model.count_params() == l.param_count());
  }
}

}  // namespace

TEST_CASE("layer roster: every class in double") {
  for (const Entry& e : roster()) run_checklist<double>(e);
}

TEST_CASE("layer roster: every class in float") {
  for (const Entry& e : roster()) run_checklist<float>(e);
}

TEST_CASE("layer roster: every registered Keras class is in the roster") {
  std::vector<std::string> covered;
  for (const Entry& e : roster()) covered.push_back(e.make<double>()->class_name());
  for (const std::string& cls : layer_registry<double>().names()) {
    CAPTURE(cls);
    CHECK(std::find(covered.begin(), covered.end(), cls) != covered.end());
  }
}

}  // namespace test_layers
