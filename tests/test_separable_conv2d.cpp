// Tests for layers/separable_conv2d.hpp: a value by hand, agreement with DepthwiseConv2D followed by a 1x1 Conv2D
// holding the same weights (both on the reference loops), config keys and Keras' refusals.
#include <doctest/doctest.h>

#include <nnlite/layers/conv2d.hpp>
#include <nnlite/layers/registry.hpp>
#include <nnlite/layers/separable_conv2d.hpp>
#include <string>
#include <vector>

#include "conv_kernels.hpp"

namespace test_separable_conv2d {

using nnlite::DepthwiseConv2DOptions;
using nnlite::Index;
using nnlite::SeparableConv2D;
using nnlite::Shape;
using nnlite::Tensor;

TEST_CASE("SeparableConv2D: a value by hand") {
  // One channel 2x2 = 1..4, depthwise 2x2 of ones -> 10; pointwise (1, 1, 1, 2) = [2, -1]; bias [0.5, 0].
  Tensor<double> x(Shape{1, 2, 2, 1});
  for (Index i = 0; i < 4; ++i) x[i] = double(i + 1);
  std::vector<double> params = {1, 1, 1, 1, 2, -1, 0.5, 0}, grads(params.size());
  SeparableConv2D<double> sep(2, {2, 2});
  CHECK(sep.build(Shape{2, 2, 1}) == Shape{1, 1, 2});
  const auto specs = sep.param_specs();
  REQUIRE(specs.size() == 3);
  CHECK(specs[0].name == "depthwise_kernel");
  CHECK(specs[0].shape == Shape{2, 2, 1, 1});
  CHECK(specs[1].name == "pointwise_kernel");
  CHECK(specs[1].shape == Shape{1, 1, 1, 2});
  CHECK(specs[2].name == "bias");
  sep.bind(params.data(), grads.data());
  Tensor<double> y;
  sep.forward(x, y, nnlite::Mode::inference);
  CHECK(y[0] == doctest::Approx(20.5));
  CHECK(y[1] == doctest::Approx(-10));
  Tensor<double> dy(y.shape()), dx;
  dy[0] = 1;
  dy[1] = 3;
  sep.backward(x, y, dy, &dx);
  // d_mid = 2 * 1 + (-1) * 3 = -1; d_x = d_mid * 1 everywhere; d_depthwise = x * d_mid; d_pointwise = mid * dy.
  for (Index i = 0; i < 4; ++i) CHECK(dx[i] == doctest::Approx(-1));
  CHECK(grads[0] == doctest::Approx(-1));
  CHECK(grads[3] == doctest::Approx(-4));
  CHECK(grads[4] == doctest::Approx(10));
  CHECK(grads[5] == doctest::Approx(30));
  CHECK(grads[6] == doctest::Approx(1));
  CHECK(grads[7] == doctest::Approx(3));
}

TEST_CASE("SeparableConv2D = DepthwiseConv2D then a 1x1 Conv2D") {
  const Index batch = 3, h = 7, w = 6, c = 3, dm = 2, filters = 4;
  const auto o = DepthwiseConv2DOptions{}.padding("same").depth_multiplier(dm).use_bias(false);
  SeparableConv2D<double> sep(filters, {3, 3}, DepthwiseConv2DOptions{}.padding("same").depth_multiplier(dm));
  nnlite::DepthwiseConv2D<double> dw({3, 3}, o);
  nnlite::Conv2D<double> pw(filters, {1, 1});
  dw.set_kernel(nnlite::DepthwiseKernel::reference);
  pw.set_kernel(nnlite::Conv2DKernel::reference);
  REQUIRE(sep.build(Shape{h, w, c}) == Shape{h, w, filters});
  REQUIRE(dw.build(Shape{h, w, c}) == Shape{h, w, c * dm});
  REQUIRE(pw.build(Shape{h, w, c * dm}) == Shape{h, w, filters});
  const Index nd = 3 * 3 * c * dm, np = c * dm * filters;
  std::vector<double> params(std::size_t(nd + np + filters)), grads(params.size());
  conv_test::fill_uniform(params.data(), Index(params.size()), 9);
  std::vector<double> dwp(params.begin(), params.begin() + nd), pwp(params.begin() + nd, params.end());
  std::vector<double> dwg(dwp.size()), pwg(pwp.size());
  sep.bind(params.data(), grads.data());
  dw.bind(dwp.data(), dwg.data());
  pw.bind(pwp.data(), pwg.data());
  Tensor<double> x(Shape{batch, h, w, c}), y, mid, y2, dy, dx, dmid, dx2;
  conv_test::fill_uniform(x.data(), x.size(), 1);
  sep.forward(x, y, nnlite::Mode::training);
  dw.forward(x, mid, nnlite::Mode::training);
  pw.forward(mid, y2, nnlite::Mode::training);
  REQUIRE(y.shape() == y2.shape());
  CHECK(conv_test::rel_diff(y.data(), y2.data(), y.size()) <= 1e-12);
  dy = Tensor<double>(y.shape());
  conv_test::fill_uniform(dy.data(), dy.size(), 4);
  sep.backward(x, y, dy, &dx);
  pw.backward(mid, y2, dy, &dmid);
  dw.backward(x, mid, dmid, &dx2);
  CHECK(conv_test::rel_diff(dx.data(), dx2.data(), dx.size()) <= 1e-12);
  CHECK(conv_test::rel_diff(grads.data(), dwg.data(), nd) <= 1e-12);
  CHECK(conv_test::rel_diff(grads.data() + nd, pwg.data(), Index(pwg.size())) <= 1e-12);
}

TEST_CASE("SeparableConv2D: Keras config and refusals") {
  SeparableConv2D<float> sep(8, {3, 3}, DepthwiseConv2DOptions{}.depth_multiplier(2).name("sep"));
  const nlohmann::json c = sep.config();
  CHECK(c["filters"] == 8);
  CHECK(c["depth_multiplier"] == 2);
  CHECK(c["pointwise_initializer"]["class_name"] == "GlorotUniform");
  CHECK(c["depthwise_initializer"]["class_name"] == "GlorotUniform");
  CHECK(c["pointwise_regularizer"].is_null());
  {
    nnlite::ConfigReader r{c, "SeparableConv2D", "sep", "test"};
    CHECK(nnlite::layer_from_config<float>(r, Shape{8, 8, 3})->config() == c);
  }
  CHECK_THROWS_WITH_AS(SeparableConv2D<float>(4, {3, 3}, DepthwiseConv2DOptions{}.depth_multiplier(0)),
                       doctest::Contains("SeparableConv2D"), nnlite::ArgumentError);
  CHECK_THROWS_WITH_AS(SeparableConv2D<float>(4, {3, 3}, DepthwiseConv2DOptions{}.strides(2).dilation_rate(2)),
                       doctest::Contains("dilation_rate"), nnlite::ArgumentError);
  CHECK_THROWS_AS(SeparableConv2D<float>(0, {3, 3}), nnlite::ArgumentError);
  nlohmann::json zero = c;
  zero["depth_multiplier"] = 0;
  nnlite::ConfigReader r{zero, "SeparableConv2D", "sep", "test"};
  CHECK_THROWS_WITH_AS(nnlite::layer_from_config<float>(r, Shape{8, 8, 3}), doctest::Contains("depth_multiplier"),
                       nnlite::FormatError);
}

}  // namespace test_separable_conv2d
