// Dropout: keeps a unit with probability 1 - rate, scales kept units by 1 / (1 - rate), identity at inference.
#include <doctest/doctest.h>

#include <cmath>
#include <nnlite/layers/dropout.hpp>

namespace test_dropout {

TEST_CASE("Dropout: keep rate within 1% of 1 - rate over 1e6 units, kept units scaled by 1/(1 - rate)") {
  for (double rate : {0.2, 0.25, 0.5}) {
    nnlite::Dropout<float> drop(rate);
    drop.build(nnlite::Shape{1000});
    drop.seed(42);
    nnlite::Tensor<float> x(nnlite::Shape{1000, 1000}, 1.0f), y;
    drop.forward(x, y, nnlite::Mode::training);
    long kept = 0;
    const float scale = 1.0f / static_cast<float>(1.0 - rate);
    bool values_ok = true;
    for (float v : y) {
      if (v != 0.0f) {
        ++kept;
        values_ok = values_ok && v == scale;
      }
    }
    const double keep = static_cast<double>(kept) / 1e6;
    CHECK(values_ok);
    CHECK(std::abs(keep - (1 - rate)) < 0.01 * (1 - rate));
    // backward passes the gradient through the same mask
    nnlite::Tensor<float> dy(x.shape(), 1.0f), dx;
    drop.backward(x, y, dy, &dx);
    for (nnlite::Index i = 0; i < 1000; ++i) CHECK(dx[i] == y[i]);
  }
}

TEST_CASE("Dropout: units are dropped independently (neighbours, pairs from one draw, an odd-sized tail)") {
  // Two units share one 64-bit draw and neighbouring pairs come from consecutive counters: both kept must happen
  // at (1 - rate)^2, within 2% over 500k pairs of each kind, or the mask has structure a layer could learn.
  const double rate = 0.3, keep = 1 - rate;
  nnlite::Dropout<float> drop(rate);
  drop.build(nnlite::Shape{1000001});
  drop.seed(7);
  nnlite::Tensor<float> x(nnlite::Shape{1, 1000001}, 1.0f), y;
  drop.forward(x, y, nnlite::Mode::training);
  long same_draw = 0, next_draw = 0;
  for (nnlite::Index i = 0; i + 2 < y.size(); i += 2) {
    same_draw += y[i] != 0.0f && y[i + 1] != 0.0f;
    next_draw += y[i + 1] != 0.0f && y[i + 2] != 0.0f;
  }
  CHECK(std::abs(static_cast<double>(same_draw) / 500000 - keep * keep) < 0.02 * keep * keep);
  CHECK(std::abs(static_cast<double>(next_draw) / 500000 - keep * keep) < 0.02 * keep * keep);
  // The last, unpaired unit is drawn too: over 200 masks it is kept about 70% of the time, never always or never.
  int last_kept = 0;
  for (int call = 0; call < 200; ++call) {
    drop.forward(x, y, nnlite::Mode::training);
    last_kept += y[y.size() - 1] != 0.0f;
  }
  CHECK(last_kept > 110);
  CHECK(last_kept < 170);
}

TEST_CASE("Dropout: identity at inference, new masks per call, same seed same mask") {
  nnlite::Dropout<double> drop(0.5);
  drop.build(nnlite::Shape{3, 4});
  nnlite::Tensor<double> x(nnlite::Shape{2, 3, 4}), y1, y2, y3;
  for (nnlite::Index i = 0; i < x.size(); ++i) x[i] = static_cast<double>(i) - 7.5;
  drop.forward(x, y1, nnlite::Mode::inference);
  for (nnlite::Index i = 0; i < x.size(); ++i) CHECK(y1[i] == x[i]);
  drop.seed(1);
  drop.forward(x, y1, nnlite::Mode::training);
  drop.forward(x, y2, nnlite::Mode::training);
  drop.seed(1);
  drop.forward(x, y3, nnlite::Mode::training);
  bool differ = false, same = true;
  for (nnlite::Index i = 0; i < x.size(); ++i) {
    differ = differ || y1[i] != y2[i];
    same = same && y1[i] == y3[i];
  }
  CHECK(differ);
  CHECK(same);
}

TEST_CASE("Dropout: rate outside [0, 1) is an error") {
  CHECK_THROWS_AS(nnlite::Dropout<float>(1.0), nnlite::ArgumentError);
  CHECK_THROWS_AS(nnlite::Dropout<float>(-0.1), nnlite::ArgumentError);
}

TEST_CASE("Dropout: backward after an inference pass is the identity, even after a training pass") {
  nnlite::Dropout<double> drop(0.5);
  drop.build(nnlite::Shape{8});
  nnlite::Tensor<double> x(nnlite::Shape{4, 8}, 1.0), y, dy(nnlite::Shape{4, 8}, 2.0), dx;
  drop.forward(x, y, nnlite::Mode::training);
  drop.forward(x, y, nnlite::Mode::inference);
  drop.backward(x, y, dy, &dx);
  for (double v : dx) CHECK(v == 2.0);
}

}  // namespace test_dropout
