// Tests for the pooling and reshaping layers of the Keras layer-breadth issue: AveragePooling2D (kernels/pool_fast.hpp
// against the reference loops), GlobalAveragePooling2D, GlobalMaxPooling2D, ZeroPadding2D, Reshape, Rescaling,
// SpatialDropout2D and GaussianNoise. Values worked out by hand; statistics of the random layers; refused configs;
// Keras configs in the tf.keras 2 and the Keras 3 spelling. (Gradient checks, config and .h5 round trips of every
// class run in tests/test_layers.cpp's roster.)
#include <doctest/doctest.h>

#include <cmath>
#include <nnlite/io/keras_config.hpp>
#include <nnlite/kernels/pool_reference.hpp>
#include <nnlite/layers/average_pooling2d.hpp>
#include <nnlite/layers/gaussian_noise.hpp>
#include <nnlite/layers/global_pooling2d.hpp>
#include <nnlite/layers/registry.hpp>
#include <nnlite/layers/rescaling.hpp>
#include <nnlite/layers/reshape.hpp>
#include <nnlite/layers/spatial_dropout2d.hpp>
#include <nnlite/layers/zero_padding2d.hpp>
#include <nnlite/model/check_gradients.hpp>
#include <string>
#include <vector>

namespace test_pooling {

using namespace nnlite;

namespace {

template <class T>
Tensor<T> tensor_of(const Shape& shape, const std::vector<double>& values) {
  Tensor<T> t(shape);
  REQUIRE(t.size() == Index(values.size()));
  for (Index i = 0; i < t.size(); ++i) t[i] = static_cast<T>(values[std::size_t(i)]);
  return t;
}

template <class T>
void check_values(const Tensor<T>& t, const std::vector<double>& expected) {
  REQUIRE(t.size() == Index(expected.size()));
  for (Index i = 0; i < t.size(); ++i) {
    CAPTURE(i);
    CHECK(double(t[i]) == doctest::Approx(expected[std::size_t(i)]).epsilon(1e-6));
  }
}

// One layer from a Keras config dict, as a loader builds it.
std::unique_ptr<Layer<double>> from_keras(const std::string& cls, const json& cfg, const Shape& input) {
  ConfigReader reader{cfg, cls, cfg.value("name", std::string("layer")), "test_pooling"};
  auto layer = layer_from_config<double>(reader, input);
  layer->set_name(reader.name);
  layer->build(input);
  return layer;
}

}  // namespace

TEST_CASE_TEMPLATE("AveragePooling2D 'same': border windows average only their cells inside the input", T, float,
                   double) {
  // 3x3, pool 2, stride 2, 'same': one padded row below and one padded column to the right (TF's rule), so the
  // windows hold 4, 2, 2 and 1 input cells.
  const Tensor<T> x = tensor_of<T>(Shape{1, 3, 3, 1}, {1, 2, 3,  //
                                                       4, 5, 6,  //
                                                       7, 8, 9});
  AveragePooling2D<T> pool(2, Padding::same);
  CHECK(pool.build(Shape{3, 3, 1}) == Shape{2, 2, 1});
  Tensor<T> y, dx;
  pool.forward(x, y, Mode::training);
  check_values(y, {(1 + 2 + 4 + 5) / 4.0, (3 + 6) / 2.0, (7 + 8) / 2.0, 9});
  // Each window shares its gradient among its own cells: 4/4, 6/2, 8/2, 5/1.
  pool.backward(x, y, tensor_of<T>(y.shape(), {4, 6, 8, 5}), &dx);
  check_values(dx, {1, 1, 3,  //
                    1, 1, 3,  //
                    4, 4, 5});
}

TEST_CASE("AveragePooling2D: defaults, overlapping windows, channels apart") {
  AveragePooling2D<double> defaults;
  CHECK(defaults.pool_size() == Size2(2, 2));
  CHECK(defaults.strides() == Size2(2, 2));  // strides=None: the pool size
  CHECK(defaults.padding() == Padding::valid);
  CHECK(defaults.config()["strides"] == json::array({2, 2}));

  // 3x3x2, pool 2, stride 1, valid: channel 0 holds 1..9, channel 1 holds 10 * (1..9).
  std::vector<double> v;
  for (int i = 1; i <= 9; ++i) v.insert(v.end(), {double(i), 10.0 * i});
  const Tensor<double> x = tensor_of<double>(Shape{1, 3, 3, 2}, v);
  AveragePooling2D<double> pool(Size2(2, 2), Size2(1, 1));
  CHECK(pool.build(Shape{3, 3, 2}) == Shape{2, 2, 2});
  Tensor<double> y, dx;
  pool.forward(x, y, Mode::inference);
  check_values(y, {3, 30, 4, 40, 6, 60, 7, 70});
  // d_out all 4: each cell receives 1 from every window holding it (1, 2 or 4 windows).
  pool.backward(x, y, Tensor<double>(y.shape(), 4.0), &dx);
  check_values(dx, {1, 1, 2, 2, 1, 1, 2, 2, 4, 4, 2, 2, 1, 1, 2, 2, 1, 1});
}

TEST_CASE_TEMPLATE("AveragePooling2D: the fast kernels equal the reference loops bit for bit", T, float, double) {
  struct Case {
    Index h, w, c;
    Size2 pool, strides;
    Padding padding;
  };
  const std::vector<Case> cases = {
      {26, 26, 32, {2, 2}, {2, 2}, Padding::valid}, {11, 11, 64, {2, 2}, {2, 2}, Padding::valid},
      {11, 11, 3, {2, 2}, {2, 2}, Padding::same},   {7, 5, 3, {3, 3}, {1, 1}, Padding::same},
      {7, 5, 3, {3, 3}, {1, 1}, Padding::valid},    {8, 9, 2, {3, 2}, {2, 1}, Padding::same},
      {5, 5, 2, {2, 2}, {3, 3}, Padding::valid},    {4, 4, 70, {4, 4}, {1, 1}, Padding::same},
      {9, 9, 130, {3, 3}, {2, 2}, Padding::same},   {6, 6, 1, {1, 1}, {1, 1}, Padding::valid},
  };
  for (const Case& k : cases) {
    CAPTURE(k.h);
    CAPTURE(k.w);
    CAPTURE(k.c);
    const Pool2DGeometry g = Pool2DGeometry::make(3, k.h, k.w, k.c, k.pool, k.strides, k.padding);
    Tensor<T> x(Shape{3, k.h, k.w, k.c}), dy(Shape{3, g.out_h, g.out_w, k.c});
    Rng rng(k.h * 100 + k.c);
    for (T& v : x) v = static_cast<T>(rng.uniform(-1, 1));
    for (T& v : dy) v = static_cast<T>(rng.uniform(-1, 1));
    std::vector<T> y_fast(std::size_t(dy.size())), y_ref(y_fast.size()), dx_fast(std::size_t(x.size()), T(7)),
        dx_ref(dx_fast.size());
    avgpool2d_forward(g, x.data(), y_fast.data());
    avgpool2d_forward_reference(g, x.data(), y_ref.data());
    avgpool2d_backward(g, dy.data(), dx_fast.data());  // overwrites the 7s
    avgpool2d_backward_reference(g, dy.data(), dx_ref.data());
    bool same_y = true, same_dx = true;
    for (std::size_t i = 0; i < y_fast.size(); ++i) same_y = same_y && y_fast[i] == y_ref[i];
    for (std::size_t i = 0; i < dx_fast.size(); ++i) same_dx = same_dx && dx_fast[i] == dx_ref[i];
    CHECK(same_y);
    CHECK(same_dx);
  }
}

TEST_CASE("AveragePooling2D: gradient check on a 'same' strided geometry with many channels (the fast paths)") {
  for (auto [pool, strides] : {std::pair{Size2(2, 2), Size2(2, 2)}, std::pair{Size2(3, 3), Size2(2, 2)}}) {
    AveragePooling2D<double> layer(pool, strides, Padding::same);
    layer.build(Shape{5, 6, 70});
    Tensor<double> x(Shape{2, 5, 6, 70});
    Rng rng(3);
    for (double& v : x) v = rng.uniform(-1, 1);
    GradientCheckOptions o;
    o.max_checks = 300;
    const GradientCheckResult r = check_gradients(layer, x, o);
    INFO(r.str());
    CHECK(r.ok());
  }
}

TEST_CASE("AveragePooling2D: a too small input and bad arguments name the layer and the option") {
  AveragePooling2D<double> pool(3);
  pool.set_name("avg");
  CHECK_THROWS_WITH_AS(pool.build(Shape{2, 5, 1}), doctest::Contains("'avg'"), ShapeError);
  CHECK_THROWS_WITH_AS(AveragePooling2D<double>(Size2(0, 2)), doctest::Contains("pool_size"), ArgumentError);
  CHECK_THROWS_WITH_AS(AveragePooling2D<double>(Size2(2, 2), Size2(2, 0)), doctest::Contains("strides"), ArgumentError);
}

TEST_CASE_TEMPLATE("GlobalAveragePooling2D: per-channel means, keepdims, gradient spread evenly", T, float, double) {
  // 1x2x2x2: channel 0 holds 1, 2, 3, 4 and channel 1 holds 10, 20, 30, 60.
  const Tensor<T> x = tensor_of<T>(Shape{1, 2, 2, 2}, {1, 10, 2, 20, 3, 30, 4, 60});
  for (bool keepdims : {false, true}) {
    GlobalAveragePooling2D<T> pool(keepdims);
    CHECK(pool.build(Shape{2, 2, 2}) == (keepdims ? Shape{1, 1, 2} : Shape{2}));
    Tensor<T> y, dx;
    pool.forward(x, y, Mode::training);
    CHECK(y.shape() == (keepdims ? Shape{1, 1, 1, 2} : Shape{1, 2}));
    check_values(y, {2.5, 30});
    pool.backward(x, y, tensor_of<T>(y.shape(), {4, 8}), &dx);
    check_values(dx, {1, 2, 1, 2, 1, 2, 1, 2});
  }
  CHECK(GlobalAveragePooling2D<T>().config()["keepdims"] == false);  // Keras' default
}

TEST_CASE_TEMPLATE("GlobalMaxPooling2D: per-channel maxima; tied maxima share the gradient", T, float, double) {
  // channel 0: 5, 5, 1, 5 (three pixels reach the max); channel 1: 1, 2, 3, 3 (two do).
  const Tensor<T> x = tensor_of<T>(Shape{1, 2, 2, 2}, {5, 1, 5, 2, 1, 3, 5, 3});
  for (bool keepdims : {false, true}) {
    GlobalMaxPooling2D<T> pool(keepdims);
    CHECK(pool.build(Shape{2, 2, 2}) == (keepdims ? Shape{1, 1, 2} : Shape{2}));
    Tensor<T> y, dx;
    pool.forward(x, y, Mode::inference);
    check_values(y, {5, 3});
    pool.backward(x, y, tensor_of<T>(y.shape(), {6, 4}), &dx);
    check_values(dx, {2, 0, 2, 0, 0, 2, 2, 2});  // 6 / 3 to each 5, 4 / 2 to each 3
  }
  // A single maximum takes the whole gradient, also below zero and with many channels (two blocks of 64).
  GlobalMaxPooling2D<double> pool;
  pool.build(Shape{3, 1, 70});
  Tensor<double> xs(Shape{2, 3, 1, 70}), y, dx;
  for (Index i = 0; i < xs.size(); ++i) xs[i] = -1.0 - double((i * 7) % 11);
  pool.forward(xs, y, Mode::inference);
  pool.backward(xs, y, Tensor<double>(y.shape(), 1.0), &dx);
  double total = 0;
  for (double v : dx) total += v;
  CHECK(total == doctest::Approx(140));  // every (sample, channel) hands on exactly its 1
  for (Index n = 0; n < 2; ++n)
    for (Index c = 0; c < 70; ++c) {
      double best = -1e9;
      for (Index p = 0; p < 3; ++p) best = std::max(best, xs[(n * 3 + p) * 70 + c]);
      CHECK(y[n * 70 + c] == best);
    }
}

TEST_CASE_TEMPLATE("ZeroPadding2D: ((top, bottom), (left, right)) zeros around the input; backward crops", T, float,
                   double) {
  const Tensor<T> x = tensor_of<T>(Shape{1, 2, 2, 1}, {1, 2, 3, 4});
  ZeroPadding2D<T> pad(Padding2D(1, 0, 2, 1));
  CHECK(pad.build(Shape{2, 2, 1}) == Shape{3, 5, 1});
  Tensor<T> y, dx;
  pad.forward(x, y, Mode::inference);
  check_values(y, {0, 0, 0, 0, 0,  //
                   0, 0, 1, 2, 0,  //
                   0, 0, 3, 4, 0});
  std::vector<double> d(15);
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = double(i);
  pad.backward(x, y, tensor_of<T>(y.shape(), d), &dx);
  check_values(dx, {7, 8, 12, 13});
  CHECK(pad.config()["padding"] == json::parse("[[1, 0], [2, 1]]"));
  // The default is Keras' (1, 1) on every side; two channels stay interleaved.
  ZeroPadding2D<T> one;
  CHECK(one.build(Shape{1, 1, 2}) == Shape{3, 3, 2});
  one.forward(tensor_of<T>(Shape{1, 1, 1, 2}, {5, 6}), y, Mode::inference);
  std::vector<double> expected(18, 0.0);
  expected[8] = 5;
  expected[9] = 6;
  check_values(y, expected);
}

TEST_CASE("ZeroPadding2D: the three Keras spellings of padding") {
  const Shape in{2, 3, 1};
  CHECK(from_keras("ZeroPadding2D", {{"padding", 2}}, in)->output_shape() == Shape{6, 7, 1});
  CHECK(from_keras("ZeroPadding2D", {{"padding", {1, 3}}}, in)->output_shape() == Shape{4, 9, 1});
  auto l = from_keras("ZeroPadding2D", {{"padding", json::parse("[[0, 1], [2, 0]]")}}, in);
  CHECK(l->output_shape() == Shape{3, 5, 1});
  CHECK(l->config()["padding"] == json::parse("[[0, 1], [2, 0]]"));
  CHECK(from_keras("ZeroPadding2D", json::object(), in)->output_shape() == Shape{4, 5, 1});  // default (1, 1)
}

TEST_CASE("Reshape: -1 is inferred, order is kept, a mismatch names the layer") {
  Reshape<double> r({-1, 4});
  CHECK(r.build(Shape{2, 3, 2}) == Shape{3, 4});
  CHECK(r.config()["target_shape"] == json::array({-1, 4}));  // kept as given, like Keras
  std::vector<double> v(24);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = double(i);
  const Tensor<double> x = tensor_of<double>(Shape{2, 2, 3, 2}, v);
  Tensor<double> y, dx;
  r.forward(x, y, Mode::inference);
  CHECK(y.shape() == Shape{2, 3, 4});
  check_values(y, v);
  r.backward(x, y, y, &dx);
  CHECK(dx.shape() == x.shape());
  CHECK(Reshape<double>({2, -1, 3}).build(Shape{12}) == Shape{2, 2, 3});

  Reshape<double> bad({5, -1}, "rs");
  CHECK_THROWS_WITH_AS(bad.build(Shape{12}), doctest::Contains("'rs'"), ShapeError);
  Reshape<double> wrong({2, 2}, "rs2");
  CHECK_THROWS_WITH_AS(wrong.build(Shape{2, 3}), doctest::Contains("'rs2'"), ShapeError);
  CHECK_THROWS_AS(Reshape<double>({-1, -1}), ArgumentError);
  CHECK_THROWS_AS(Reshape<double>({0, 2}), ArgumentError);
}

TEST_CASE_TEMPLATE("Rescaling: x * scale + offset in both modes; gradient d_out * scale", T, float, double) {
  Rescaling<T> r(1.0 / 127.5, -1.0);
  r.build(Shape{3});
  const Tensor<T> x = tensor_of<T>(Shape{1, 3}, {0, 127.5, 255});
  Tensor<T> y, dx;
  for (Mode mode : {Mode::training, Mode::inference}) {
    r.forward(x, y, mode);
    check_values(y, {-1, 0, 1});
  }
  r.backward(x, y, tensor_of<T>(y.shape(), {255, 127.5, 0}), &dx);
  check_values(dx, {2, 1, 0});
  CHECK(Rescaling<T>(0.5).config()["offset"] == 0.0);
}

TEST_CASE("SpatialDropout2D: drops whole channels per sample, keeps 1 - rate of them, mean preserved") {
  const double rate = 0.25;
  SpatialDropout2D<float> drop(rate);
  drop.build(Shape{4, 4, 8});
  drop.seed(11);
  const Index batch = 1000;
  Tensor<float> x(Shape{batch, 4, 4, 8}, 1.0f), y, dx;
  drop.forward(x, y, Mode::training);
  const float scale = 1.0f / 0.75f;
  long kept = 0;
  bool whole_channels = true, values_ok = true;
  std::vector<int> kept_in_sample(std::size_t(batch), 0);
  for (Index n = 0; n < batch; ++n)
    for (Index c = 0; c < 8; ++c) {
      const float first = y[(n * 16) * 8 + c];
      values_ok = values_ok && (first == 0.0f || first == scale);
      for (Index p = 1; p < 16; ++p) whole_channels = whole_channels && y[(n * 16 + p) * 8 + c] == first;
      kept += first != 0.0f;
      kept_in_sample[std::size_t(n)] += first != 0.0f;
    }
  CHECK(whole_channels);
  CHECK(values_ok);
  // 8000 (sample, channel) draws: the kept fraction within 0.025 of 0.75 (about 5 standard deviations).
  CHECK(std::abs(double(kept) / 8000.0 - (1 - rate)) < 0.025);
  double sum = 0;
  for (float v : y) sum += v;
  CHECK(std::abs(sum / double(y.size()) - 1.0) < 0.035);  // inverted dropout keeps the expected value
  // Samples get their own draws: not every sample keeps the same number of channels.
  CHECK(std::count(kept_in_sample.begin(), kept_in_sample.end(), kept_in_sample[0]) < batch);
  // Backward uses the same mask.
  drop.backward(x, y, Tensor<float>(x.shape(), 2.0f), &dx);
  bool grad_ok = true;
  for (Index i = 0; i < y.size(); ++i) grad_ok = grad_ok && dx[i] == 2.0f * y[i];
  CHECK(grad_ok);
  // Inference is the identity, and so is the backward after it.
  drop.forward(x, y, Mode::inference);
  drop.backward(x, y, Tensor<float>(x.shape(), 3.0f), &dx);
  bool identity = true;
  for (Index i = 0; i < y.size(); ++i) identity = identity && y[i] == 1.0f && dx[i] == 3.0f;
  CHECK(identity);
  // Same seed, same mask.
  SpatialDropout2D<float> again(rate);
  again.build(Shape{4, 4, 8});
  again.seed(11);
  Tensor<float> y2, y3;
  again.forward(x, y2, Mode::training);
  drop.seed(11);
  drop.forward(x, y3, Mode::training);
  bool same = true;
  for (Index i = 0; i < y2.size(); ++i) same = same && y2[i] == y3[i];
  CHECK(same);
}

TEST_CASE("GaussianNoise: training adds N(0, stddev^2), inference is the identity, the gradient passes unchanged") {
  GaussianNoise<double> noise(0.5);
  noise.build(Shape{1001});
  noise.seed(5);
  const Tensor<double> x(Shape{200, 1001}, 2.0);
  Tensor<double> y, dx;
  noise.forward(x, y, Mode::training);
  double sum = 0, sq = 0, fourth = 0;
  for (double v : y) {
    sum += v - 2.0;
    sq += (v - 2.0) * (v - 2.0);
    fourth += std::pow(v - 2.0, 4);
  }
  const double n = double(y.size()), mean = sum / n, var = sq / n;
  CHECK(std::abs(mean) < 0.005);                                          // sd of the mean 0.5 / sqrt(200200) = 0.0011
  CHECK(std::abs(std::sqrt(var) - 0.5) < 0.005);                          // sd of the sd about 0.0008
  CHECK(fourth / n / (var * var) == doctest::Approx(3.0).epsilon(0.05));  // a normal's kurtosis
  noise.backward(x, y, Tensor<double>(x.shape(), 1.5), &dx);
  bool identity = true;
  for (double v : dx) identity = identity && v == 1.5;
  CHECK(identity);
  noise.forward(x, y, Mode::inference);
  for (double v : y) identity = identity && v == 2.0;
  CHECK(identity);
}

TEST_CASE("Bad configs: the exception names the layer and the option") {
  auto refuses = [](const std::string& cls, const json& cfg, const Shape& in, const std::string& option) {
    CAPTURE(cls);
    CAPTURE(option);
    CHECK_THROWS_WITH_AS(from_keras(cls, cfg, in), doctest::Contains(("'" + option + "'").c_str()), FormatError);
    try {
      from_keras(cls, cfg, in);
    } catch (const FormatError& e) {
      CHECK(std::string(e.what()).find("layer 'the_layer' (" + cls + ")") != std::string::npos);
    }
  };
  const Shape img{6, 6, 2};
  auto named = [](json cfg) {
    cfg["name"] = "the_layer";
    return cfg;
  };
  refuses("ZeroPadding2D", named({{"padding", -1}}), img, "padding");
  refuses("ZeroPadding2D", named({{"padding", {1, -2}}}), img, "padding");
  refuses("ZeroPadding2D", named({{"padding", json::parse("[[0, 1], [-1, 0]]")}}), img, "padding");
  refuses("ZeroPadding2D", named({{"padding", {1, 2, 3}}}), img, "padding");
  refuses("AveragePooling2D", named({{"pool_size", 0}}), img, "pool_size");
  refuses("AveragePooling2D", named({{"pool_size", {2, 0}}}), img, "pool_size");
  refuses("AveragePooling2D", named({{"pool_size", 2}, {"strides", {0, 1}}}), img, "strides");
  refuses("SpatialDropout2D", named({{"rate", 1.0}}), img, "rate");
  refuses("SpatialDropout2D", named({{"rate", -0.1}}), img, "rate");
  refuses("SpatialDropout2D", named(json::object()), img, "rate");
  refuses("GaussianNoise", named({{"stddev", -0.5}}), img, "stddev");
  refuses("Reshape", named({{"target_shape", {-1, -1}}}), img, "target_shape");
  refuses("Reshape", named({{"target_shape", {0, 72}}}), img, "target_shape");
  refuses("Reshape", named({{"target_shape", "72"}}), img, "target_shape");
  refuses("Rescaling", named({{"offset", 1.0}}), img, "scale");  // scale has no default in Keras
  refuses("GlobalMaxPooling2D", named({{"keepdims", "yes"}}), img, "keepdims");
  // A Reshape whose size does not fit is a ShapeError naming the layer.
  CHECK_THROWS_WITH_AS(from_keras("Reshape", named({{"target_shape", {5, 5}}}), img), doctest::Contains("'the_layer'"),
                       ShapeError);
  // Options nnlite does not implement are UnsupportedError.
  CHECK_THROWS_AS(from_keras("AveragePooling2D", named({{"data_format", "channels_first"}}), img), UnsupportedError);
  CHECK_THROWS_AS(from_keras("GlobalAveragePooling2D", named({{"data_format", "channels_first"}}), img),
                  UnsupportedError);
  CHECK_THROWS_AS(from_keras("SpatialDropout2D", named({{"rate", 0.5}, {"noise_shape", {1, 1, 1, 2}}}), img),
                  UnsupportedError);
  CHECK_THROWS_AS(from_keras("Rescaling", named({{"scale", {0.5, 0.25}}}), Shape{2}), UnsupportedError);
  // Arguments in C++ are ArgumentError.
  CHECK_THROWS_AS(ZeroPadding2D<double>(Padding2D(0, -1, 0, 0)), ArgumentError);
  CHECK_THROWS_AS(SpatialDropout2D<double>(1.0), ArgumentError);
  CHECK_THROWS_AS(GaussianNoise<double>(-1.0), ArgumentError);
  // Shapes: the 2-D layers want (height, width, channels).
  CHECK_THROWS_AS(from_keras("GlobalAveragePooling2D", named(json::object()), Shape{6, 2}), ShapeError);
  CHECK_THROWS_AS(from_keras("SpatialDropout2D", named({{"rate", 0.5}}), Shape{6}), ShapeError);
  CHECK_THROWS_AS(from_keras("ZeroPadding2D", named(json::object()), Shape{6, 6, 2, 1}), ShapeError);
}

// The same model written by tf.keras 2.x (string dtypes, batch_input_shape, noise_shape, no keepdims before 2.6) and
// by Keras 3 (DTypePolicy objects, batch_shape, the short class aliases are not written but are accepted).
TEST_CASE("Keras configs of the new layers load in the tf.keras 2 and the Keras 3 spelling") {
  const json tf2 = json::parse(R"({"class_name": "Sequential", "config": {"name": "seq", "layers": [
    {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 8, 8, 3], "dtype": "float32",
                                            "sparse": false, "ragged": false, "name": "input_1"}},
    {"class_name": "Rescaling", "config": {"name": "rescaling", "trainable": true, "dtype": "float32",
                                           "scale": 0.00392156862745098, "offset": 0.0}},
    {"class_name": "ZeroPadding2D", "config": {"name": "zero_padding2d", "trainable": true, "dtype": "float32",
                                               "padding": [[1, 1], [1, 1]], "data_format": "channels_last"}},
    {"class_name": "AveragePooling2D", "config": {"name": "average_pooling2d", "trainable": true,
        "dtype": "float32", "pool_size": [2, 2], "padding": "valid", "strides": [2, 2],
        "data_format": "channels_last"}},
    {"class_name": "SpatialDropout2D", "config": {"name": "spatial_dropout2d", "trainable": true,
        "dtype": "float32", "rate": 0.2, "noise_shape": null, "seed": null}},
    {"class_name": "GaussianNoise", "config": {"name": "gaussian_noise", "trainable": true, "dtype": "float32",
                                               "stddev": 0.1, "seed": null}},
    {"class_name": "GlobalMaxPooling2D", "config": {"name": "global_max_pooling2d", "trainable": true,
        "dtype": "float32", "data_format": "channels_last"}},
    {"class_name": "Reshape", "config": {"name": "reshape", "trainable": true, "dtype": "float32",
                                         "target_shape": [3, 1]}}]},
    "keras_version": "2.11.0", "backend": "tensorflow"})");
  const std::string policy = R"({"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
                                 "registered_name": null})";
  std::string k3text = R"({"class_name": "Sequential", "config": {"name": "seq", "trainable": true, "dtype": POLICY,
    "layers": [
    {"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 3], "dtype": "float32", "sparse": false,
                                            "ragged": false, "name": "input_layer", "optional": false}},
    {"class_name": "Rescaling", "config": {"name": "rescaling", "trainable": true, "dtype": POLICY,
                                           "scale": 0.00392156862745098, "offset": 0.0}},
    {"class_name": "ZeroPadding2D", "config": {"name": "zero_padding2d", "trainable": true, "dtype": POLICY,
                                               "padding": [[1, 1], [1, 1]], "data_format": "channels_last"}},
    {"class_name": "AvgPool2D", "config": {"name": "average_pooling2d", "trainable": true, "dtype": POLICY,
        "pool_size": [2, 2], "padding": "valid", "strides": [2, 2], "data_format": "channels_last"}},
    {"class_name": "SpatialDropout2D", "config": {"name": "spatial_dropout2d", "dtype": POLICY, "rate": 0.2,
                                                  "seed": null, "data_format": "channels_last"}},
    {"class_name": "GaussianNoise", "config": {"name": "gaussian_noise", "trainable": true, "dtype": POLICY,
                                               "stddev": 0.1, "seed": null}},
    {"class_name": "GlobalMaxPooling2D", "config": {"name": "global_max_pooling2d", "trainable": true,
        "dtype": POLICY, "data_format": "channels_last", "keepdims": false}},
    {"class_name": "Reshape", "config": {"name": "reshape", "trainable": true, "dtype": POLICY,
                                         "target_shape": [3, -1]}}]},
    "keras_version": "3.4.1", "backend": "tensorflow"})";
  for (std::size_t at; (at = k3text.find("POLICY")) != std::string::npos;) k3text.replace(at, 6, policy);
  const json k3 = json::parse(k3text);
  for (const json* cfg : {&tf2, &k3}) {
    Sequential<float> m = model_from_keras_config<float>(*cfg, "test_pooling");
    REQUIRE(m.size() == 7);
    const std::vector<std::string> classes = {"Rescaling",        "ZeroPadding2D", "AveragePooling2D",
                                              "SpatialDropout2D", "GaussianNoise", "GlobalMaxPooling2D",
                                              "Reshape"};
    for (std::size_t i = 0; i < classes.size(); ++i) CHECK(m.layer(i).class_name() == classes[i]);
    CHECK(m.layer(1).output_shape() == Shape{10, 10, 3});
    CHECK(m.layer(2).output_shape() == Shape{5, 5, 3});
    CHECK(m.layer(5).output_shape() == Shape{3});
    CHECK(m.output_shape() == Shape{3, 1});
    CHECK(static_cast<const SpatialDropout2D<float>&>(m.layer(3)).rate() == doctest::Approx(0.2));
    // Inference: all 255 -> 1 after Rescaling; padding adds zeros; the 2x2 means are 1, 0.5 or 0.25 at the
    // corners; the global max of each channel is 1.
    Tensor<float> x(Shape{2, 8, 8, 3}, 255.0f);
    const Tensor<float> y = m.predict(x);
    REQUIRE(y.shape() == Shape{2, 3, 1});
    for (float v : y) CHECK(v == doctest::Approx(1.0f));
    // And back out: the written config reads again to the same layers.
    Sequential<float> again = model_from_keras_config<float>(keras_model_config(m), "again");
    for (std::size_t i = 0; i < m.size(); ++i) CHECK(again.layer(i).config() == m.layer(i).config());
  }
}

}  // namespace test_pooling
