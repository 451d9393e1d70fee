// Tests for layers/maxpool2d.hpp and kernels/pool_reference.hpp: values by hand, 'same' padding that never wins,
// the tie rule, stored vs recomputed argmax, gradient checks, shapes, config and shape errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <nnlite/model/check_gradients.hpp>
#include <nnlite/kernels/pool_reference.hpp>
#include <nnlite/layers/maxpool2d.hpp>
#include <numeric>
#include <string>
#include <vector>

namespace test_maxpool2d {

using nnlite::Index;
using nnlite::MaxPool2D;
using nnlite::Mode;
using nnlite::Padding;
using nnlite::Pool2DGeometry;
using nnlite::Shape;
using nnlite::Tensor;

namespace {

template <class T>
Tensor<T> tensor_of(const Shape& shape, const std::vector<double>& values) {
  Tensor<T> t(shape);
  REQUIRE(t.size() == Index(values.size()));
  for (Index i = 0; i < t.size(); ++i) t[i] = static_cast<T>(values[std::size_t(i)]);
  return t;
}

// Distinct values 0.01 apart in random order: no ties, and no two cells within a gradient-check step.
template <class T>
void fill_distinct(Tensor<T>& t, std::uint64_t seed) {
  std::vector<Index> order(std::size_t(t.size()));
  std::iota(order.begin(), order.end(), Index(0));
  nnlite::Rng rng(seed);
  rng.shuffle(order);
  for (Index i = 0; i < t.size(); ++i) t[i] = static_cast<T>(0.01 * double(order[std::size_t(i)]) - 1.0);
}

}  // namespace

TEST_CASE_TEMPLATE("MaxPool2D: known values by hand", T, float, double) {
  const Tensor<T> x = tensor_of<T>(Shape{1, 4, 4, 1}, {1, 5, 2, 0,  //
                                                       3, 4, 8, 1,  //
                                                       9, 0, 6, 7,  //
                                                       2, 11, 3, 5});
  MaxPool2D<T> pool;
  CHECK(pool.build(Shape{4, 4, 1}) == Shape{2, 2, 1});
  Tensor<T> y, dx;
  pool.forward(x, y, Mode::training);
  REQUIRE(y.shape() == Shape{1, 2, 2, 1});
  CHECK(y[0] == 5);
  CHECK(y[1] == 8);
  CHECK(y[2] == 11);
  CHECK(y[3] == 7);
  const Tensor<T> dy = tensor_of<T>(y.shape(), {1, 2, 3, 4});
  for (Mode mode : {Mode::training, Mode::inference}) {  // stored argmax, then recomputed
    pool.forward(x, y, mode);
    pool.backward(x, y, dy, &dx);
    const std::vector<double> expected = {0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 4, 0, 3, 0, 0};
    for (Index i = 0; i < 16; ++i) CHECK(double(dx[i]) == expected[std::size_t(i)]);
  }
}

TEST_CASE("MaxPool2D: 'same' padding cells never win, even over negative inputs") {
  const Tensor<double> x = tensor_of<double>(Shape{1, 3, 3, 1}, {-1, -2, -3, -4, -5, -6, -7, -8, -9});
  MaxPool2D<double> pool(2, Padding::same);  // strides default to the pool size
  CHECK(pool.build(Shape{3, 3, 1}) == Shape{2, 2, 1});
  Tensor<double> y;
  pool.forward(x, y, Mode::inference);
  CHECK(y[0] == -1);
  CHECK(y[1] == -3);  // the padded column is to the right (Keras/TF put the odd padding bottom/right)
  CHECK(y[2] == -7);
  CHECK(y[3] == -9);
}

TEST_CASE("MaxPool2D: channels pool independently") {
  // 1x2x2x2: channel 0 = 1, 4, 2, 3; channel 1 = 8, 5, 6, 7.
  const Tensor<double> x = tensor_of<double>(Shape{1, 2, 2, 2}, {1, 8, 4, 5, 2, 6, 3, 7});
  MaxPool2D<double> pool;
  pool.build(Shape{2, 2, 2});
  Tensor<double> y, dx;
  pool.forward(x, y, Mode::training);
  CHECK(y[0] == 4);
  CHECK(y[1] == 8);
  pool.backward(x, y, tensor_of<double>(y.shape(), {10, 20}), &dx);
  const std::vector<double> expected = {0, 20, 10, 0, 0, 0, 0, 0};
  for (Index i = 0; i < 8; ++i) CHECK(dx[i] == expected[std::size_t(i)]);
}

TEST_CASE("MaxPool2D: ties go to the first maximum in row-major window order") {
  for (Mode mode : {Mode::training, Mode::inference}) {
    MaxPool2D<double> pool;
    pool.build(Shape{2, 2, 1});
    Tensor<double> y, dx;
    const Tensor<double> ones = tensor_of<double>(Shape{1, 2, 2, 1}, {1, 1, 1, 1});
    pool.forward(ones, y, mode);
    pool.backward(ones, y, tensor_of<double>(y.shape(), {1}), &dx);
    CHECK(dx[0] == 1);
    CHECK(dx[1] + dx[2] + dx[3] == 0);
    const Tensor<double> x = tensor_of<double>(Shape{1, 2, 2, 1}, {0, 3, 3, 1});
    pool.forward(x, y, mode);
    pool.backward(x, y, tensor_of<double>(y.shape(), {1}), &dx);
    CHECK(dx[1] == 1);
    CHECK(dx[2] == 0);
  }
}

TEST_CASE_TEMPLATE("MaxPool2D: stored and recomputed argmax give the same gradient", T, float, double) {
  struct Case {
    Index h, w, c;
    nnlite::Size2 pool, strides;
    Padding padding;
  };
  const std::vector<Case> cases = {
      {26, 26, 32, {2, 2}, {2, 2}, Padding::valid}, {11, 11, 64, {2, 2}, {2, 2}, Padding::valid},
      {11, 11, 3, {2, 2}, {2, 2}, Padding::same},   {7, 5, 3, {3, 3}, {1, 1}, Padding::same},
      {7, 5, 3, {3, 3}, {1, 1}, Padding::valid},    {8, 9, 2, {3, 2}, {2, 1}, Padding::same},
      {5, 5, 2, {2, 2}, {3, 3}, Padding::valid},    {4, 4, 2, {4, 4}, {1, 1}, Padding::same},
  };
  for (const Case& cc : cases) {
    for (bool ties : {false, true}) {
      const Pool2DGeometry g = Pool2DGeometry::make(3, cc.h, cc.w, cc.c, cc.pool, cc.strides, cc.padding);
      CAPTURE(g.out_h);
      CAPTURE(g.out_w);
      CAPTURE(ties);
      std::vector<T> x(std::size_t(g.batch * g.in_sample())), y(std::size_t(g.out_size())), dy(y.size());
      nnlite::Rng rng(7);
      // With ties the values come from {0, 1, 2}, so the tie rule decides most windows.
      for (T& v : x) v = ties ? T(rng.below(3)) : T(rng.uniform(-1, 1));
      for (T& v : dy) v = T(rng.uniform(-1, 1));
      std::vector<Index> argmax(y.size());
      nnlite::maxpool2d_forward(g, x.data(), y.data(), argmax.data());
      std::vector<T> y2(y.size());
      nnlite::maxpool2d_forward(g, x.data(), y2.data());
      CHECK(y == y2);
      std::vector<T> dx1(x.size(), T(5)), dx2(x.size(), T(5));
      nnlite::maxpool2d_backward_argmax(g, argmax.data(), dy.data(), dx1.data());
      nnlite::maxpool2d_backward_recompute(g, x.data(), dy.data(), dx2.data());
      CHECK(dx1 == dx2);
      bool winners_hold_the_max = true;
      for (std::size_t i = 0; i < y.size(); ++i) winners_hold_the_max &= x[std::size_t(argmax[i])] == y[i];
      CHECK(winners_hold_the_max);
    }
  }
}

TEST_CASE("MaxPool2D: gradient check (double)") {
  struct Case {
    Shape in;
    nnlite::Size2 pool, strides;
    Padding padding;
  };
  const std::vector<Case> cases = {
      {Shape{6, 6, 2}, {2, 2}, {2, 2}, Padding::valid}, {Shape{7, 5, 3}, {2, 2}, {2, 2}, Padding::valid},
      {Shape{7, 5, 3}, {2, 2}, {2, 2}, Padding::same},  {Shape{7, 5, 3}, {3, 3}, {1, 1}, Padding::valid},
      {Shape{7, 5, 3}, {3, 3}, {1, 1}, Padding::same},  {Shape{7, 6, 2}, {3, 3}, {2, 2}, Padding::same},
      {Shape{6, 7, 2}, {2, 3}, {1, 2}, Padding::same},
  };
  for (const Case& cc : cases) {
    for (Mode mode : {Mode::training, Mode::inference}) {
      CAPTURE(cc.in.str());
      CAPTURE(cc.pool.str());
      CAPTURE(cc.strides.str());
      CAPTURE(nnlite::padding_name(cc.padding));
      CAPTURE(mode == Mode::training);
      MaxPool2D<double> pool(cc.pool, cc.strides, cc.padding);
      pool.build(cc.in);
      Tensor<double> x(cc.in.with_batch(2));
      fill_distinct(x, 3);
      const auto r = nnlite::check_gradients(pool, x, mode);
      INFO(r.str());
      CHECK(r.ok());
      CHECK(r.input.max_error < 1e-6);
      CHECK(r.input.checked == x.size());
      CHECK(r.params.checked == 0);
    }
  }
}

TEST_CASE("MaxPool2D: backward after an unrelated forward recomputes instead of using stale indices") {
  MaxPool2D<double> pool(3, 1, Padding::same);
  pool.build(Shape{5, 5, 2});
  Tensor<double> a(Shape{2, 5, 5, 2}), b(Shape{2, 5, 5, 2}), ya, yb, dy, dx, dx_fresh;
  fill_distinct(a, 1);
  fill_distinct(b, 2);
  pool.forward(a, ya, Mode::training);
  dy = ya;
  for (Index i = 0; i < dy.size(); ++i) dy[i] = double(i % 7) - 3;
  pool.backward(a, ya, dy, &dx_fresh);
  pool.forward(b, yb, Mode::training);  // overwrites the stored indices with b's
  pool.backward(a, ya, dy, &dx);
  CHECK(std::equal(dx.begin(), dx.end(), dx_fresh.begin()));
  pool.backward(a, ya, dy, nullptr);  // nothing to do for a first layer, and no crash
}

TEST_CASE("MaxPool2D: output shapes, config and names") {
  MaxPool2D<float> p1;
  CHECK(p1.build(Shape{26, 26, 32}) == Shape{13, 13, 32});
  CHECK(p1.param_count() == 0);
  CHECK(p1.param_specs().empty());
  MaxPool2D<float> p2(2);
  CHECK(p2.build(Shape{11, 11, 64}) == Shape{5, 5, 64});
  MaxPool2D<float> p3(2, Padding::same);
  CHECK(p3.build(Shape{11, 11, 64}) == Shape{6, 6, 64});
  MaxPool2D<float> p4(3, 1, Padding::same);
  CHECK(p4.build(Shape{11, 11, 4}) == Shape{11, 11, 4});
  MaxPool2D<float> p5({3, 2}, {2, 1}, "valid");
  CHECK(p5.build(Shape{9, 5, 1}) == Shape{4, 4, 1});
  nnlite::MaxPooling2D<float> alias({2, 2}, {1, 1}, "same", "pool");
  CHECK(alias.build(Shape{3, 3, 1}) == Shape{3, 3, 1});

  CHECK(p1.class_name() == "MaxPooling2D");
  CHECK(p1.name_stem() == "max_pooling2d");
  CHECK(p1.pool_size() == nnlite::Size2{2, 2});
  CHECK(p1.strides() == nnlite::Size2{2, 2});
  CHECK(p4.strides() == nnlite::Size2{1, 1});

  const nlohmann::json c = p5.config();
  CHECK(c["pool_size"] == nlohmann::json::array({3, 2}));
  CHECK(c["strides"] == nlohmann::json::array({2, 1}));
  CHECK(c["padding"] == "valid");
  CHECK(c["data_format"] == "channels_last");
  CHECK(c["trainable"] == true);
  CHECK(alias.config()["name"] == "pool");
  CHECK(alias.config()["padding"] == "same");

  CHECK_THROWS_AS(MaxPool2D<float>(0), nnlite::ArgumentError);
  CHECK_THROWS_AS(MaxPool2D<float>(2, 0), nnlite::ArgumentError);
  CHECK_THROWS_AS(MaxPool2D<float>(2, 2, "full"), nnlite::ArgumentError);
  CHECK(p5.clone()->class_name() == "MaxPooling2D");
}

TEST_CASE("MaxPool2D: shape errors name the layer and the shapes") {
  MaxPool2D<float> pool(2, Padding::valid, "pool_a");
  CHECK_THROWS_WITH_AS(pool.build(Shape{26, 26}), doctest::Contains("MaxPooling2D layer 'pool_a'"),
                       nnlite::ShapeError);
  CHECK_THROWS_WITH_AS(pool.build(Shape{26, 26}), doctest::Contains("(None, 26, 26)"), nnlite::ShapeError);
  CHECK_THROWS_WITH_AS(pool.build(Shape{1, 5, 3}), doctest::Contains("(None, 1, 5, 3)"), nnlite::ShapeError);
  CHECK_THROWS_WITH_AS(pool.build(Shape{1, 5, 3}), doctest::Contains("(None, 0, 2, 3)"), nnlite::ShapeError);
  MaxPool2D<float> same(2, Padding::same);
  CHECK(same.build(Shape{1, 1, 3}) == Shape{1, 1, 3});

  pool.build(Shape{4, 4, 1});
  Tensor<float> wrong(Shape{1, 4, 4, 2}), y;
  CHECK_THROWS_WITH_AS(pool.forward(wrong, y, Mode::inference), doctest::Contains("(1, 4, 4, 2)"),
                       nnlite::ShapeError);
}

}  // namespace test_maxpool2d
