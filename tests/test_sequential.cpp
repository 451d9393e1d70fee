// Sequential end to end: shapes, names, summary, whole-network gradients, learning, determinism, errors.
#include <doctest/doctest.h>

#include <cmath>
#include <nnlite/nnlite.hpp>

#include "../examples/fashion_mnist/study_models.hpp"

namespace test_sequential {

using nnlite::Index;
using nnlite::Shape;
using nnlite::Tensor;

namespace {

// Two classes of 12x12 images: a bright vertical bar (class 0) or horizontal bar (class 1), at random
// positions, with noise. Linearly inseparable in pixel space at random positions; easy for a conv net.
template <class Scalar>
void bars(Index n, std::uint64_t seed, Tensor<Scalar>& x, Tensor<Scalar>& y) {
  nnlite::Rng rng(seed);
  x.resize(Shape{n, 12, 12, 1});
  y.resize(Shape{n, 2});
  y.setZero();
  for (Index i = 0; i < n; ++i) {
    const int label = static_cast<int>(rng.below(2));
    const auto pos = static_cast<Index>(2 + rng.below(8));
    for (Index r = 0; r < 12; ++r)
      for (Index c = 0; c < 12; ++c) {
        const bool on = label == 0 ? c == pos : r == pos;
        x.at(i, r, c, 0) = static_cast<Scalar>((on ? 0.9 : 0.0) + 0.1 * rng.uniform());
      }
    y.at(i, label) = 1;
  }
}

template <class Scalar>
nnlite::Sequential<Scalar> small_conv_net(std::uint64_t seed) {
  nnlite::Sequential<Scalar> model(Shape{12, 12, 1});
  model.set_seed(seed);
  model.add(nnlite::Conv2D<Scalar>(8, {3, 3}, "relu"));
  model.add(nnlite::MaxPool2D<Scalar>(2));
  model.add(nnlite::Dropout<Scalar>(0.1));
  model.add(nnlite::Flatten<Scalar>());
  model.add(nnlite::Dense<Scalar>(16, "relu"));
  model.add(nnlite::Dense<Scalar>(2, "softmax"));
  return model;
}

}  // namespace

TEST_CASE("the study's models: Keras names, output shapes and parameter counts") {
  auto improved = study::improved_model<float>();
  CHECK(improved.count_params() == 225034);
  CHECK(improved.output_shape() == Shape{10});
  CHECK(improved.layer(0).name() == "conv2d");
  CHECK(improved.layer(3).name() == "conv2d_1");
  CHECK(improved.layer(4).name() == "max_pooling2d_1");
  CHECK(improved.layer(8).name() == "dropout_2");
  CHECK(improved.layer(9).name() == "dense_1");
  CHECK(improved.layer(6).output_shape() == Shape{1600});
  const std::string s = improved.summary();
  CHECK(s.find("Total params: 225,034") != std::string::npos);
  CHECK(s.find("conv2d (Conv2D)") != std::string::npos);
  CHECK(s.find("(None, 26, 26, 32)") != std::string::npos);
  CHECK(s.find("max_pooling2d (MaxPooling2D)") != std::string::npos);

  auto first = study::first_model<double>();
  CHECK(first.count_params() == 243786);
  CHECK(first.summary().find("Total params: 243,786") != std::string::npos);
}

TEST_CASE("a user-given name wins; duplicate names are refused") {
  nnlite::Sequential<float> model(Shape{4});
  model.add(nnlite::Dense<float>(3, "relu", true, "hidden"));
  model.add(nnlite::Dense<float>(2));
  CHECK(model.layer(0).name() == "hidden");
  CHECK(model.layer(1).name() == "dense");
  CHECK_THROWS_AS(model.add(nnlite::Dense<float>(2, "linear", true, "hidden")), nnlite::ArgumentError);
}

TEST_CASE("shape errors name the layer and both shapes") {
  nnlite::Sequential<float> model(Shape{28, 28, 1});
  model.add(nnlite::Flatten<float>());
  CHECK_THROWS_WITH_AS(model.add(nnlite::Conv2D<float>(4, {3, 3})), doctest::Contains("(None, 784)"),
                       nnlite::ShapeError);

  nnlite::Sequential<float> tiny(Shape{2, 2, 1});
  CHECK_THROWS_WITH_AS(tiny.add(nnlite::Conv2D<float>(4, {3, 3})), doctest::Contains("conv2d"), nnlite::ShapeError);

  auto net = small_conv_net<float>(1);
  net.compile(nnlite::Adam<float>());
  Tensor<float> wrong_x(Shape{4, 10, 12, 1}, 0.0f), y(Shape{4, 2}, 0.0f), x(Shape{4, 12, 12, 1}, 0.0f);
  CHECK_THROWS_WITH_AS(net.predict(wrong_x), doctest::Contains("(4, 10, 12, 1)"), nnlite::ShapeError);
  CHECK_THROWS_WITH_AS(net.predict(wrong_x), doctest::Contains("(None, 12, 12, 1)"), nnlite::ShapeError);
  Tensor<float> wrong_y(Shape{4, 3}, 0.0f);
  CHECK_THROWS_WITH_AS(net.train_on_batch(x, wrong_y), doctest::Contains("(4, 3)"), nnlite::ShapeError);
  CHECK_THROWS_WITH_AS(net.fit(x, wrong_y), doctest::Contains("dense_1"), nnlite::ShapeError);
  Tensor<float> empty_x(Shape{0, 12, 12, 1}), empty_y(Shape{0, 2});
  CHECK_THROWS_AS(net.fit(empty_x, empty_y), nnlite::ShapeError);
  Tensor<float> short_y(Shape{3, 2}, 0.0f);
  CHECK_THROWS_AS(net.fit(x, short_y), nnlite::ShapeError);
}

TEST_CASE("whole-network gradient check of the improved architecture (double, fixed dropout masks)") {
  // The improved stack on 12x12 inputs: 10x10x32 -> 5x5 -> 3x3x64 -> 1x1 -> 64 -> 128 -> 10.
  auto model = study::improved_model<double>(Shape{12, 12, 1});
  model.set_seed(11);
  model.compile(nnlite::Adam<double>(), "categorical_crossentropy");
  Tensor<double> x(Shape{3, 12, 12, 1}), y(Shape{3, 10}, 0.0);
  nnlite::Rng rng(5);
  for (auto& v : x) v = rng.uniform();
  for (Index i = 0; i < 3; ++i) y.at(i, static_cast<Index>(rng.below(10))) = 1;
  // Same masks in every pass: reseed the dropout layers before each forward.
  auto loss_at = [&]() {
    for (std::size_t i = 0; i < model.size(); ++i) model.layer(i).seed(100 + i);
    return model.compute_gradients(x, y);
  };
  loss_at();
  std::vector<double> analytic(model.grads(), model.grads() + model.count_params());
  // Compare on a random subset of 400 parameters spread over every layer.
  double worst = 0;
  const double h = 1e-5;
  for (int k = 0; k < 400; ++k) {
    const auto i = static_cast<Index>(rng.below(static_cast<std::uint64_t>(model.count_params())));
    const double saved = model.params()[i];
    model.params()[i] = saved + h;
    const double up = loss_at();
    model.params()[i] = saved - h;
    const double down = loss_at();
    model.params()[i] = saved;
    const double numeric = (up - down) / (2 * h);
    const double a = analytic[static_cast<std::size_t>(i)];
    // Relative error; the 1e-4 floor keeps round-off in the loss (~1e-16 / h) from dominating tiny gradients.
    const double err = std::abs(a - numeric) / std::max(std::abs(a) + std::abs(numeric), 1e-4);
    worst = std::max(worst, err);
  }
  CHECK(worst < 1e-6);
}

TEST_CASE("a small conv net learns a separable image task (> 95% training accuracy in a few epochs)") {
  Tensor<float> x, y;
  bars(512, 3, x, y);
  auto model = small_conv_net<float>(21);
  model.compile(nnlite::Adam<float>(3e-3));
  nnlite::FitOptions opt;
  opt.epochs = 5;
  opt.verbose = 0;
  const nnlite::History h = model.fit(x, y, opt);
  REQUIRE(h.size() == 5);
  CHECK(h["loss"].back() < h["loss"].front());
  CHECK(model.evaluate(x, y).accuracy > 0.95);
  Tensor<float> xt, yt;
  bars(256, 99, xt, yt);
  CHECK(model.evaluate(xt, yt).accuracy > 0.9);
  // predict gives probabilities
  const Tensor<float> p = model.predict(xt);
  CHECK(p.shape() == Shape{256, 2});
  CHECK(p.at(0, 0) + p.at(0, 1) == doctest::Approx(1.0f).epsilon(1e-5));
}

TEST_CASE("fit with validation data: Keras' History, running-mean training metrics, full-pass validation") {
  Tensor<float> x, y, xv, yv;
  bars(200, 4, x, y);
  bars(64, 5, xv, yv);
  auto model = small_conv_net<float>(2);
  model.compile(nnlite::Adam<float>(1e-3));
  nnlite::FitOptions opt;
  opt.epochs = 2;
  opt.verbose = 0;
  const auto h = model.fit(x, y, xv, yv, opt);
  REQUIRE(h["val_loss"].size() == 2);
  const auto v = model.evaluate(xv, yv);
  CHECK(h["val_loss"].back() == doctest::Approx(v.loss).epsilon(1e-6));
  CHECK(h["val_accuracy"].back() == doctest::Approx(v.accuracy));
  // validation_split holds out the last 25%
  auto model2 = small_conv_net<float>(2);
  model2.compile(nnlite::Adam<float>(1e-3));
  opt.validation_split = 0.25;
  const auto h2 = model2.fit(x, y, opt);
  CHECK(h2["val_loss"].size() == 2);
  CHECK(h2.to_csv().rfind("epoch,accuracy,loss,val_accuracy,val_loss,seconds", 0) == 0);
}

TEST_CASE("determinism: same seed and one thread give bitwise-identical weights; two threads agree in accuracy") {
  Tensor<float> x, y;
  bars(256, 8, x, y);
  auto train = [&](int threads) {
    nnlite::set_num_threads(threads);
    auto model = small_conv_net<float>(77);
    model.compile(nnlite::Adam<float>(3e-3));
    nnlite::FitOptions opt;
    opt.epochs = 3;
    opt.verbose = 0;
    model.fit(x, y, opt);
    return model;
  };
  auto a = train(1), b = train(1);
  REQUIRE(a.count_params() == b.count_params());
  CHECK(std::equal(a.params(), a.params() + a.count_params(), b.params()));
  auto c = train(2);
  CHECK(std::abs(a.evaluate(x, y).accuracy - c.evaluate(x, y).accuracy) < 0.05);
  auto other_seed = small_conv_net<float>(78);
  other_seed.build();
  CHECK(!std::equal(a.params(), a.params() + 50, other_seed.params()));
  nnlite::set_num_threads(0);
}

TEST_CASE("a copied model predicts the same and trains independently") {
  Tensor<float> x, y;
  bars(32, 1, x, y);
  auto model = small_conv_net<float>(5);
  model.compile(nnlite::Adam<float>());
  auto copy = model;
  const auto p1 = model.predict(x), p2 = copy.predict(x);
  CHECK(std::equal(p1.begin(), p1.end(), p2.begin()));
  copy.train_on_batch(x, y);
  const auto p3 = model.predict(x);
  CHECK(std::equal(p1.begin(), p1.end(), p3.begin()));
}

TEST_CASE("a NaN loss stops training with an error naming epoch and batch, before the update") {
  Tensor<float> x, y;
  bars(64, 1, x, y);
  x.at(40, 3, 3, 0) = std::nanf("");  // poisoned sample in the second batch of an unshuffled epoch
  auto model = small_conv_net<float>(5);
  model.compile(nnlite::Adam<float>());
  model.build();
  nnlite::FitOptions opt;
  opt.shuffle = false;
  opt.verbose = 0;
  CHECK_THROWS_WITH_AS(model.fit(x, y, opt), doctest::Contains("epoch 1, batch 2"), nnlite::NumericError);
  for (Index i = 0; i < model.count_params(); ++i) REQUIRE(std::isfinite(model.params()[i]));
}

}  // namespace test_sequential
