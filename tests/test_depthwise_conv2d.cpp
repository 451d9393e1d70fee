// Tests for layers/depthwise_conv2d.hpp and kernels/depthwise_conv2d.hpp: values by hand, the direct kernel against
// the reference loops (a grouped conv with one group per channel), config keys and Keras' refusals.
#include <doctest/doctest.h>

#include <nnlite/layers/depthwise_conv2d.hpp>
#include <nnlite/layers/registry.hpp>
#include <string>
#include <vector>

#include "conv_kernels.hpp"

namespace test_depthwise_conv2d {

using nnlite::DepthwiseConv2D;
using nnlite::DepthwiseConv2DOptions;
using nnlite::Index;
using nnlite::Padding;
using nnlite::Shape;
using nnlite::Tensor;

TEST_CASE("DepthwiseConv2D: known values by hand") {
  // Two channels, depth_multiplier 2; input 2x2 with channel 0 = 1, 2, 3, 4 and channel 1 = 10, 20, 30, 40.
  // Kernel 2x2, (kh, kw, c, m): for channel 0, m=0 all ones and m=1 = [[1, 0], [0, 0]]; channel 1, m=0 = [[0, 0],
  // [0, 1]], m=1 all 2. One output pixel with channels (c0 m0, c0 m1, c1 m0, c1 m1).
  Tensor<double> x(Shape{1, 2, 2, 2});
  const double ch0[4] = {1, 2, 3, 4}, ch1[4] = {10, 20, 30, 40};
  for (Index p = 0; p < 4; ++p) {
    x[p * 2] = ch0[p];
    x[p * 2 + 1] = ch1[p];
  }
  std::vector<double> params(16 + 4, 0.0), grads(params.size());
  for (Index tap = 0; tap < 4; ++tap) {
    params[tap * 4 + 0] = 1;         // c0 m0
    params[tap * 4 + 1] = tap == 0;  // c0 m1
    params[tap * 4 + 2] = tap == 3;  // c1 m0
    params[tap * 4 + 3] = 2;         // c1 m1
  }
  params[16] = 0.5;  // bias of channel c0 m0
  for (auto kernel : {nnlite::DepthwiseKernel::direct, nnlite::DepthwiseKernel::reference}) {
    DepthwiseConv2D<double> dw({2, 2}, DepthwiseConv2DOptions{}.depth_multiplier(2));
    dw.set_kernel(kernel);
    CHECK(dw.build(Shape{2, 2, 2}) == Shape{1, 1, 4});
    CHECK(dw.param_specs()[0].name == "depthwise_kernel");
    CHECK(dw.param_specs()[0].shape == Shape{2, 2, 2, 2});
    CHECK(dw.param_specs()[1].shape == Shape{4});
    dw.bind(params.data(), grads.data());
    Tensor<double> y;
    dw.forward(x, y, nnlite::Mode::inference);
    CHECK(y[0] == doctest::Approx(1 + 2 + 3 + 4 + 0.5));
    CHECK(y[1] == doctest::Approx(1));
    CHECK(y[2] == doctest::Approx(40));
    CHECK(y[3] == doctest::Approx(2 * (10 + 20 + 30 + 40)));
    Tensor<double> dy(y.shape()), dx;
    dy[0] = 1;
    dy[1] = 2;
    dy[2] = 3;
    dy[3] = 4;
    dw.backward(x, y, dy, &dx);
    // d_x(pixel 0, c0) = 1 * 1 + 1 * 2; d_x(pixel 3, c1) = 1 * 3 + 2 * 4; d_w(tap, c, m) = x(tap, c) dy(c m).
    CHECK(dx[0] == doctest::Approx(3));
    CHECK(dx[2] == doctest::Approx(1));
    CHECK(dx[7] == doctest::Approx(11));
    CHECK(dx[1] == doctest::Approx(8));
    CHECK(grads[0] == doctest::Approx(1 * 1));    // tap 0, c0 m0
    CHECK(grads[3] == doctest::Approx(10 * 4));   // tap 0, c1 m1
    CHECK(grads[14] == doctest::Approx(40 * 3));  // tap 3, c1 m0
    CHECK(grads[16] == doctest::Approx(1));
    CHECK(grads[19] == doctest::Approx(4));
  }
}

// The direct kernel against the reference (conv2d_*_reference with one group per channel), odd shapes included.
TEST_CASE_TEMPLATE("DepthwiseConv2D: the direct kernel agrees with the reference", T, float, double) {
  struct Case {
    Index batch, h, w, c;
    nnlite::Size2 kernel;
    Index dm;
    nnlite::Size2 strides;
    Padding padding;
    nnlite::Size2 dilation;
  };
  const std::vector<Case> cases = {
      {3, 9, 8, 5, {3, 3}, 1, {1, 1}, Padding::valid, {1, 1}},  {3, 9, 8, 5, {3, 3}, 1, {1, 1}, Padding::same, {1, 1}},
      {2, 7, 6, 3, {3, 2}, 2, {2, 2}, Padding::same, {1, 1}},   {2, 7, 6, 3, {2, 2}, 3, {1, 1}, Padding::same, {2, 3}},
      {2, 9, 9, 4, {3, 3}, 2, {1, 1}, Padding::valid, {2, 2}},  {1, 2, 2, 1, {5, 5}, 2, {1, 1}, Padding::same, {1, 1}},
      {5, 6, 6, 32, {3, 3}, 1, {1, 1}, Padding::valid, {1, 1}},
  };
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  for (const Case& cc : cases) {
    const nnlite::Conv2DGeometry g =
        nnlite::depthwise_geometry(cc.batch, cc.h, cc.w, cc.c, cc.kernel, cc.dm, cc.strides, cc.padding, cc.dilation);
    CAPTURE(cc.c);
    CAPTURE(cc.dm);
    CAPTURE(g.dil_h);
    REQUIRE(g.out_h >= 1);
    Tensor<T> x(Shape{cc.batch, cc.h, cc.w, cc.c}), k(Shape{cc.kernel.h, cc.kernel.w, cc.c, cc.dm}),
        b(Shape{cc.c * cc.dm}), dy(Shape{cc.batch, g.out_h, g.out_w, cc.c * cc.dm}), ws;
    conv_test::fill_uniform(x.data(), x.size(), 1);
    conv_test::fill_uniform(k.data(), k.size(), 2);
    conv_test::fill_uniform(b.data(), b.size(), 3);
    conv_test::fill_uniform(dy.data(), dy.size(), 4);
    Tensor<T> y0(dy.shape()), y1(dy.shape(), T(7)), dx0(x.shape()), dx1(x.shape(), T(7)), dk0(k.shape()),
        dk1(k.shape(), T(7)), db0(b.shape()), db1(b.shape(), T(7));
    nnlite::conv2d_forward_reference(g, x.data(), k.data(), b.data(), y0.data());
    nnlite::conv2d_backward_reference(g, x.data(), k.data(), dy.data(), dx0.data(), dk0.data(), db0.data());
    nnlite::depthwise_conv2d_forward(g, x.data(), k.data(), b.data(), y1.data());
    nnlite::depthwise_conv2d_backward(g, x.data(), k.data(), dy.data(), dx1.data(), dk1.data(), db1.data(), ws);
    CHECK(conv_test::rel_diff(y1.data(), y0.data(), y0.size()) <= tol);
    CHECK(conv_test::rel_diff(dx1.data(), dx0.data(), dx0.size()) <= tol);
    CHECK(conv_test::rel_diff(dk1.data(), dk0.data(), dk0.size()) <= tol);
    CHECK(conv_test::rel_diff(db1.data(), db0.data(), db0.size()) <= tol);
    // Again with no d_in and no d_bias, into the same (dirty) workspace: d_kernel unchanged.
    Tensor<T> dk2(k.shape(), T(7));
    nnlite::depthwise_conv2d_backward(g, x.data(), k.data(), dy.data(), static_cast<T*>(nullptr), dk2.data(),
                                      static_cast<T*>(nullptr), ws);
    CHECK(conv_test::rel_diff(dk2.data(), dk0.data(), dk0.size()) <= tol);
  }
}

TEST_CASE("DepthwiseConv2D: Keras config and refusals") {
  DepthwiseConv2D<float> dw({3, 3},
                            DepthwiseConv2DOptions{}.depth_multiplier(2).padding("same").activation("relu").name("dw"));
  const nlohmann::json c = dw.config();
  CHECK(c["name"] == "dw");
  CHECK(c["kernel_size"] == nlohmann::json::array({3, 3}));
  CHECK(c["depth_multiplier"] == 2);
  CHECK(c["dilation_rate"] == nlohmann::json::array({1, 1}));
  CHECK(c["padding"] == "same");
  CHECK(c["activation"] == "relu");
  CHECK(c["depthwise_initializer"]["class_name"] == "GlorotUniform");
  CHECK(c["bias_initializer"]["class_name"] == "Zeros");
  CHECK(c["depthwise_regularizer"].is_null());
  CHECK_FALSE(c.contains("filters"));
  {
    nnlite::ConfigReader r{c, "DepthwiseConv2D", "dw", "test"};
    auto back = nnlite::layer_from_config<float>(r, Shape{8, 8, 3});
    CHECK(back->config() == c);
  }
  CHECK_THROWS_WITH_AS(DepthwiseConv2D<float>({3, 3}, DepthwiseConv2DOptions{}.depth_multiplier(0)),
                       doctest::Contains("depth_multiplier=0"), nnlite::ArgumentError);
  CHECK_THROWS_WITH_AS(DepthwiseConv2D<float>({3, 3}, DepthwiseConv2DOptions{}.strides(2).dilation_rate(2)),
                       doctest::Contains("dilation_rate"), nnlite::ArgumentError);
  auto refused = [](nlohmann::json cfg) {
    nnlite::ConfigReader r{cfg, "DepthwiseConv2D", "bad", "test"};
    try {
      nnlite::layer_from_config<float>(r, Shape{9, 9, 2});
    } catch (const nnlite::FormatError& e) {
      return std::string(e.what());
    }
    return std::string("no FormatError");
  };
  nlohmann::json zero = c;
  zero["name"] = "bad";
  zero["depth_multiplier"] = 0;
  CHECK(refused(zero).find("'bad'") != std::string::npos);
  CHECK(refused(zero).find("depth_multiplier") != std::string::npos);
  nlohmann::json strided = c;
  strided["strides"] = {2, 2};
  strided["dilation_rate"] = {2, 2};
  CHECK(refused(strided).find("dilation_rate > 1") != std::string::npos);
  DepthwiseConv2D<float> small({3, 3}, DepthwiseConv2DOptions{}.name("s"));
  CHECK_THROWS_WITH_AS(small.build(Shape{2, 2, 1}), doctest::Contains("'s'"), nnlite::ShapeError);
}

}  // namespace test_depthwise_conv2d
