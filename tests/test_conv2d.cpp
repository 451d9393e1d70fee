// Tests for layers/conv2d.hpp and kernels/conv2d_*.hpp: values by hand, reference vs im2col and vs Eigen Tensor at
// the study's shapes and odd ones, gradient checks, shape inference, parameter counts, config and shape errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <nnlite/model/check_gradients.hpp>
#include <nnlite/layers/conv2d.hpp>
#include <nnlite/layers/registry.hpp>
#include <string>
#include <vector>

#include "conv_kernels.hpp"

namespace test_conv2d {

using nnlite::Activation;
using nnlite::Conv2D;
using nnlite::Conv2DGeometry;
using nnlite::Conv2DKernel;
using nnlite::Index;
using nnlite::Padding;
using nnlite::Shape;
using nnlite::Tensor;

namespace {

using conv_test::ConvCase;
using conv_test::fill_uniform;
using conv_test::rel_diff;

template <class T>
double tight() {
  return std::is_same_v<T, float> ? 1e-5 : 1e-12;
}

// The study's three conv shapes, then odd sizes, even kernels with 'same' (asymmetric padding), 1x1 kernels
// (the pointwise shortcut), strides larger than the kernel and kernels larger than the input.
const std::vector<ConvCase> kAgreementCases = {
    {2, 28, 28, 1, {3, 3}, 32, {1, 1}, Padding::valid},
    {2, 13, 13, 32, {3, 3}, 64, {1, 1}, Padding::valid},
    {2, 11, 11, 64, {3, 3}, 64, {1, 1}, Padding::valid},
    {3, 7, 5, 3, {3, 3}, 4, {2, 2}, Padding::same},
    {3, 7, 5, 3, {3, 3}, 5, {2, 2}, Padding::valid},
    {2, 9, 9, 2, {5, 5}, 3, {1, 1}, Padding::same},
    {2, 6, 6, 3, {4, 4}, 2, {2, 2}, Padding::same},
    {2, 8, 7, 3, {2, 3}, 4, {1, 2}, Padding::same},
    {2, 5, 7, 3, {1, 1}, 4, {1, 1}, Padding::valid},
    {2, 5, 7, 3, {1, 1}, 4, {2, 2}, Padding::same},
    {2, 4, 4, 2, {2, 2}, 3, {3, 3}, Padding::valid},
    {2, 3, 3, 2, {5, 5}, 2, {1, 1}, Padding::same},
    {1, 1, 1, 3, {3, 3}, 2, {1, 1}, Padding::same},
};

// Forward, d_in, d_kernel and d_bias from the im2col (also in small chunks), direct and Eigen Tensor kernels against
// the reference for one geometry; outputs are overwritten, also without d_in and d_bias.
template <class T>
void check_agreement(const ConvCase& cc) {
  const Conv2DGeometry g = cc.geometry();
  CAPTURE(g.in_h);
  CAPTURE(g.in_w);
  CAPTURE(g.in_c);
  CAPTURE(g.k_h);
  CAPTURE(g.k_w);
  CAPTURE(g.out_c);
  CAPTURE(g.stride_h);
  CAPTURE(g.out_h);
  CAPTURE(g.out_w);
  REQUIRE(g.out_h >= 1);
  using conv_test::Impl;
  const auto ref = conv_test::run<T>(cc, Impl::reference);
  for (Impl impl : {Impl::im2col, Impl::im2col_chunked, Impl::direct, Impl::eigen_tensor}) {
    CAPTURE(conv_test::impl_name(impl));
    conv_test::check_close(conv_test::run<T>(cc, impl), ref, tight<T>());
    conv_test::check_close(conv_test::run<T>(cc, impl, {false, /*d_in=*/false, /*d_bias=*/false}), ref, tight<T>());
  }
}

// A built layer bound to owned parameter/gradient buffers.
template <class T>
struct BoundConv {
  Conv2D<T> layer;
  std::vector<T> params, grads;
  BoundConv(Conv2D<T> l, const Shape& in_shape, std::uint64_t seed) : layer(std::move(l)) {
    layer.build(in_shape);
    params.resize(static_cast<std::size_t>(layer.param_count()));
    grads.resize(params.size());
    fill_uniform(params.data(), Index(params.size()), seed, -0.5, 0.5);
    layer.bind(params.data(), grads.data());
  }
};

}  // namespace

TEST_CASE("Conv2D: known values by hand") {
  // Input 3x3 = 1..9, kernel 2x2 = [[1, 2], [3, 4]] (HWIO with one channel in and out), bias 0.5.
  Tensor<double> x(Shape{1, 3, 3, 1});
  for (Index i = 0; i < 9; ++i) x[i] = double(i + 1);
  std::vector<double> params = {1, 2, 3, 4, 0.5}, grads(5);
  for (Conv2DKernel kernel : {Conv2DKernel::reference, Conv2DKernel::im2col, Conv2DKernel::eigen_tensor}) {
    CAPTURE(nnlite::conv2d_kernel_name(kernel));
    SUBCASE("valid, stride 1") {
      Conv2D<double> conv(1, {2, 2});
      conv.set_kernel(kernel);
      CHECK(conv.build(Shape{3, 3, 1}) == Shape{2, 2, 1});
      conv.bind(params.data(), grads.data());
      Tensor<double> y;
      conv.forward(x, y, nnlite::Mode::inference);
      REQUIRE(y.shape() == Shape{1, 2, 2, 1});
      CHECK(y.at(0, 0, 0, 0) == doctest::Approx(1 + 4 + 12 + 20 + 0.5));
      CHECK(y.at(0, 0, 1, 0) == doctest::Approx(2 + 6 + 15 + 24 + 0.5));
      CHECK(y.at(0, 1, 0, 0) == doctest::Approx(4 + 10 + 21 + 32 + 0.5));
      CHECK(y.at(0, 1, 1, 0) == doctest::Approx(5 + 12 + 24 + 36 + 0.5));

      // d_out = 1 everywhere: d_bias = 4, d_kernel[i][j] = sum of the 2x2 block the tap sees, d_in = taps covering it.
      Tensor<double> dy(y.shape(), 1.0), dx;
      conv.backward(x, y, dy, &dx);
      CHECK(grads[4] == doctest::Approx(4));
      CHECK(grads[0] == doctest::Approx(1 + 2 + 4 + 5));
      CHECK(grads[3] == doctest::Approx(5 + 6 + 8 + 9));
      CHECK(dx.at(0, 0, 0, 0) == doctest::Approx(1));
      CHECK(dx.at(0, 1, 1, 0) == doctest::Approx(1 + 2 + 3 + 4));
      CHECK(dx.at(0, 2, 2, 0) == doctest::Approx(4));
    }
    SUBCASE("same, stride 2: the odd padded row and column go bottom/right") {
      Conv2D<double> conv(1, {2, 2}, Activation::linear, Padding::same, 2);
      conv.set_kernel(kernel);
      CHECK(conv.build(Shape{3, 3, 1}) == Shape{2, 2, 1});
      conv.bind(params.data(), grads.data());
      Tensor<double> y;
      conv.forward(x, y, nnlite::Mode::inference);
      CHECK(y.at(0, 0, 0, 0) == doctest::Approx(1 * 1 + 2 * 2 + 4 * 3 + 5 * 4 + 0.5));
      CHECK(y.at(0, 0, 1, 0) == doctest::Approx(3 * 1 + 6 * 3 + 0.5));
      CHECK(y.at(0, 1, 0, 0) == doctest::Approx(7 * 1 + 8 * 2 + 0.5));
      CHECK(y.at(0, 1, 1, 0) == doctest::Approx(9 * 1 + 0.5));
    }
  }
}

TEST_CASE("Conv2D: known values with two channels in and out (HWIO order)") {
  // kernel (1, 1, 2, 2): out0 = x0 + 2 x1, out1 = -x0 + 0.5 x1; no bias.
  Tensor<double> x(Shape{1, 2, 2, 2});
  for (Index i = 0; i < 8; ++i) x[i] = double(i + 1);
  std::vector<double> params = {1, -1, 2, 0.5}, grads(4);
  for (Conv2DKernel kernel : {Conv2DKernel::reference, Conv2DKernel::im2col, Conv2DKernel::eigen_tensor}) {
    Conv2D<double> conv(2, 1, Activation::linear, Padding::valid, 1, /*use_bias=*/false);
    conv.set_kernel(kernel);
    conv.build(Shape{2, 2, 2});
    REQUIRE(conv.param_count() == 4);
    conv.bind(params.data(), grads.data());
    Tensor<double> y;
    conv.forward(x, y, nnlite::Mode::inference);
    const std::vector<double> expected = {5, 0, 11, -1, 17, -2, 23, -3};
    for (Index i = 0; i < 8; ++i) CHECK(y[i] == doctest::Approx(expected[std::size_t(i)]));
  }
}

TEST_CASE("Conv2D: relu and softmax activations are applied over the channels") {
  Tensor<double> x(Shape{1, 1, 2, 1});
  x[0] = 1;
  x[1] = -2;
  std::vector<double> params = {1, -1, 0, 0}, grads(4);  // kernel (1,1,1,2) = [1, -1], bias 0
  Conv2D<double> relu(2, 1, "relu");
  relu.build(Shape{1, 2, 1});
  relu.bind(params.data(), grads.data());
  Tensor<double> y;
  relu.forward(x, y, nnlite::Mode::inference);
  CHECK(y[0] == 1);
  CHECK(y[1] == 0);
  CHECK(y[2] == 0);
  CHECK(y[3] == 2);
  Conv2D<double> softmax(2, 1, "softmax");
  softmax.build(Shape{1, 2, 1});
  softmax.bind(params.data(), grads.data());
  CHECK(softmax.output_activation() == nnlite::Activation::softmax);
  softmax.forward(x, y, nnlite::Mode::inference);
  CHECK(y[0] + y[1] == doctest::Approx(1));
  CHECK(y[0] == doctest::Approx(std::exp(1.0) / (std::exp(1.0) + std::exp(-1.0))));
}

TEST_CASE_TEMPLATE("Conv2D: reference, im2col and Eigen Tensor kernels agree", T, float, double) {
  for (const ConvCase& cc : kAgreementCases) check_agreement<T>(cc);
}

TEST_CASE_TEMPLATE("Conv2D: the layer gives the same results with either kernel, for any batch", T, float, double) {
  for (Padding padding : {Padding::valid, Padding::same}) {
    BoundConv<T> ref(Conv2D<T>(5, {3, 2}, Activation::relu, padding, {2, 1}), Shape{9, 8, 3}, 11);
    BoundConv<T> fast(Conv2D<T>(5, {3, 2}, Activation::relu, padding, {2, 1}), Shape{9, 8, 3}, 11);
    ref.layer.set_kernel(Conv2DKernel::reference);
    CHECK(fast.layer.kernel_impl() == Conv2DKernel::im2col);  // the default
    for (Index batch : {4, 1, 3}) {  // shrinking, then growing again within the first allocation
      Tensor<T> x(Shape{batch, 9, 8, 3}), y_ref, y_fast, dx_ref, dx_fast;
      fill_uniform(x.data(), x.size(), 100 + std::uint64_t(batch));
      ref.layer.forward(x, y_ref, nnlite::Mode::training);
      fast.layer.forward(x, y_fast, nnlite::Mode::training);
      REQUIRE(y_fast.shape() == y_ref.shape());
      CHECK(rel_diff(y_fast.data(), y_ref.data(), y_ref.size()) <= tight<T>());
      Tensor<T> dy(y_ref.shape());
      fill_uniform(dy.data(), dy.size(), 200);
      ref.layer.backward(x, y_ref, dy, &dx_ref);
      fast.layer.backward(x, y_fast, dy, &dx_fast);
      CHECK(rel_diff(dx_fast.data(), dx_ref.data(), dx_ref.size()) <= tight<T>());
      CHECK(rel_diff(fast.grads.data(), ref.grads.data(), Index(ref.grads.size())) <= tight<T>());
      // The first layer of a model passes no d_in: the parameter gradients must not change.
      std::vector<T> grads_with_input = fast.grads;
      fast.layer.backward(x, y_fast, dy, nullptr);
      CHECK(fast.grads == grads_with_input);
    }
  }
}

TEST_CASE("Conv2D: gradient check (double)") {
  struct GradCase {
    Shape in;
    nnlite::Size2 kernel;
    Index filters;
    nnlite::Size2 strides;
    Padding padding;
  };
  const std::vector<GradCase> cases = {
      {Shape{7, 6, 3}, {3, 3}, 4, {1, 1}, Padding::valid}, {Shape{7, 6, 3}, {3, 3}, 4, {1, 1}, Padding::same},
      {Shape{7, 6, 3}, {3, 3}, 4, {2, 2}, Padding::valid}, {Shape{7, 6, 3}, {3, 3}, 4, {2, 2}, Padding::same},
      {Shape{5, 8, 2}, {2, 3}, 3, {2, 1}, Padding::same},  {Shape{6, 6, 2}, {4, 4}, 3, {2, 2}, Padding::same},
      {Shape{5, 5, 3}, {1, 1}, 2, {1, 1}, Padding::valid},
  };
  for (const GradCase& gc : cases) {
    for (Activation act : {Activation::linear, Activation::relu}) {
      for (Conv2DKernel kernel : {Conv2DKernel::im2col, Conv2DKernel::reference, Conv2DKernel::eigen_tensor}) {
        CAPTURE(gc.in.str());
        CAPTURE(gc.kernel.str());
        CAPTURE(gc.strides.str());
        CAPTURE(nnlite::padding_name(gc.padding));
        CAPTURE(nnlite::activation_name(act));
        CAPTURE(nnlite::conv2d_kernel_name(kernel));
        BoundConv<double> conv(Conv2D<double>(gc.filters, gc.kernel, act, gc.padding, gc.strides), gc.in, 5);
        conv.layer.set_kernel(kernel);
        Tensor<double> x(gc.in.with_batch(2));
        fill_uniform(x.data(), x.size(), 6);
        if (act == Activation::relu) {
          // Central differences are only meaningful away from relu's kink: keep every pre-activation clear of 0.
          BoundConv<double> pre(Conv2D<double>(gc.filters, gc.kernel, Activation::linear, gc.padding, gc.strides),
                                gc.in, 5);
          Tensor<double> z;
          pre.layer.forward(x, z, nnlite::Mode::training);
          double closest = 1e9;
          for (double v : z) closest = std::min(closest, std::abs(v));
          REQUIRE(closest > 1e-4);
        }
        const nnlite::GradientCheckResult r = nnlite::check_gradients<double>(conv.layer, x);
        INFO(r.str());
        CHECK(r.ok());
        CHECK(r.input.max_error < 1e-6);
        CHECK(r.params.max_error < 1e-6);
        CHECK(r.input.checked == x.size());
        CHECK(r.params.checked == conv.layer.param_count());
      }
    }
  }
}

TEST_CASE("Conv2D: gradient check of a first layer (no input gradient) and without bias") {
  Conv2D<double> conv(3, {3, 3}, nnlite::Conv2DOptions{}.padding("same").use_bias(false));
  conv.build(Shape{5, 4, 2});
  Tensor<double> x(Shape{2, 5, 4, 2});
  fill_uniform(x.data(), x.size(), 9);
  nnlite::GradientCheckOptions opt;
  opt.check_input = false;
  const auto r = nnlite::check_gradients(conv, x, opt);
  INFO(r.str());
  CHECK(r.ok());
  CHECK(r.input.checked == 0);
  CHECK(r.params.checked == 3 * 3 * 2 * 3);
  CHECK(!conv.bound());  // the checker's own buffers are unbound again
}

TEST_CASE("Conv2D: float gradient check with the float defaults") {
  Conv2D<float> conv(4, {3, 3}, "linear", Padding::same, 2);
  conv.build(Shape{6, 5, 3});
  Tensor<float> x(Shape{2, 6, 5, 3});
  fill_uniform(x.data(), x.size(), 10);
  const auto r = nnlite::check_gradients(conv, x);
  INFO(r.str());
  CHECK(r.ok());
}

TEST_CASE("Conv2D: output shapes, parameter counts and specs") {
  Conv2D<float> c1(32, {3, 3}, "relu");
  CHECK(c1.build(Shape{28, 28, 1}) == Shape{26, 26, 32});
  CHECK(c1.param_count() == 320);
  Conv2D<float> c2(64, {3, 3}, "relu");
  CHECK(c2.build(Shape{13, 13, 32}) == Shape{11, 11, 64});
  CHECK(c2.param_count() == 3 * 3 * 32 * 64 + 64);
  Conv2D<float> c3(64, 3, "relu");
  CHECK(c3.build(Shape{11, 11, 64}) == Shape{9, 9, 64});

  Conv2D<float> same(8, {3, 3}, Activation::linear, Padding::same, 2);
  CHECK(same.build(Shape{28, 28, 1}) == Shape{14, 14, 8});
  CHECK(same.build(Shape{7, 5, 3}) == Shape{4, 3, 8});
  Conv2D<float> strided(8, {3, 3}, Activation::linear, Padding::valid, {2, 3});
  CHECK(strided.build(Shape{9, 10, 1}) == Shape{4, 3, 8});

  Conv2D<double> nobias(16, std::array<Index, 2>{5, 3}, Activation::relu, Padding::valid, 1, false);
  nobias.build(Shape{10, 10, 4});
  CHECK(nobias.param_count() == 5 * 3 * 4 * 16);
  const auto specs = nobias.param_specs();
  REQUIRE(specs.size() == 1);
  CHECK(specs[0].name == "kernel");
  CHECK(specs[0].shape == Shape{5, 3, 4, 16});
  CHECK(specs[0].init == nnlite::Initializer::glorot_uniform);

  const auto specs1 = c1.param_specs();
  REQUIRE(specs1.size() == 2);
  CHECK(specs1[0].shape == Shape{3, 3, 1, 32});
  CHECK(specs1[1].name == "bias");
  CHECK(specs1[1].shape == Shape{32});
  CHECK(specs1[1].init == nnlite::Initializer::zeros);
}

TEST_CASE("Conv2D: constructors and options") {
  Conv2D<float> a(64, {3, 3}, nnlite::Conv2DOptions{}.padding("same").strides(2).activation("relu").name("c"));
  CHECK(a.filters() == 64);
  CHECK(a.kernel_size() == nnlite::Size2{3, 3});
  CHECK(a.padding() == Padding::same);
  CHECK(a.strides() == nnlite::Size2{2, 2});
  CHECK(a.activation() == Activation::relu);
  CHECK(a.use_bias());
  CHECK(a.name() == "c");
  CHECK(a.class_name() == "Conv2D");
  CHECK(a.name_stem() == "conv2d");

  Conv2D<float> b(8, {5, 3}, "softmax", Padding::valid, {1, 2}, false, "b");
  CHECK(b.kernel_size() == nnlite::Size2{5, 3});
  CHECK(b.strides() == nnlite::Size2{1, 2});
  CHECK_FALSE(b.use_bias());

  CHECK(nnlite::parse_padding("SAME") == Padding::same);
  CHECK(nnlite::parse_conv2d_kernel("reference") == Conv2DKernel::reference);
  CHECK(nnlite::parse_conv2d_kernel("eigen_tensor") == Conv2DKernel::eigen_tensor);
  CHECK_THROWS_AS(nnlite::parse_padding("causal"), nnlite::ArgumentError);
  CHECK_THROWS_AS(nnlite::parse_conv2d_kernel("winograd"), nnlite::ArgumentError);
  CHECK_THROWS_AS(Conv2D<float>(0, {3, 3}), nnlite::ArgumentError);
  CHECK_THROWS_AS(Conv2D<float>(4, {0, 3}), nnlite::ArgumentError);
  CHECK_THROWS_AS(Conv2D<float>(4, {3, 3}, Activation::linear, Padding::valid, 0), nnlite::ArgumentError);
  CHECK_THROWS_AS(Conv2D<float>(4, {3, 3}, "sparsemax"), nnlite::UnsupportedError);

  auto copy = a.clone();
  CHECK(copy->class_name() == "Conv2D");
  CHECK(!copy->bound());
}

TEST_CASE("Conv2D: Keras config") {
  Conv2D<float> conv(32, {3, 3}, "relu", Padding::same, {2, 1}, true, "conv2d_1");
  const nlohmann::json c = conv.config();
  CHECK(c["name"] == "conv2d_1");
  CHECK(c["trainable"] == true);
  CHECK(c["dtype"] == "float32");
  CHECK(c["filters"] == 32);
  CHECK(c["kernel_size"] == nlohmann::json::array({3, 3}));
  CHECK(c["strides"] == nlohmann::json::array({2, 1}));
  CHECK(c["padding"] == "same");
  CHECK(c["data_format"] == "channels_last");
  CHECK(c["dilation_rate"] == nlohmann::json::array({1, 1}));
  CHECK(c["groups"] == 1);
  CHECK(c["activation"] == "relu");
  CHECK(c["use_bias"] == true);
  CHECK(c["kernel_initializer"]["class_name"] == "GlorotUniform");
  CHECK(c["bias_initializer"]["class_name"] == "Zeros");
  for (const char* key : {"kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
                          "bias_constraint"})
    CHECK(c[key].is_null());
}

TEST_CASE("Conv2D: shape errors name the layer and the shapes") {
  Conv2D<float> conv(8, {3, 3}, "relu", Padding::valid, 1, true, "conv_a");
  CHECK_THROWS_WITH_AS(conv.build(Shape{28, 28}), doctest::Contains("Conv2D layer 'conv_a'"), nnlite::ShapeError);
  CHECK_THROWS_WITH_AS(conv.build(Shape{28, 28}), doctest::Contains("(None, 28, 28)"), nnlite::ShapeError);
  CHECK_THROWS_WITH_AS(conv.build(Shape{28, 28, 1, 1}), doctest::Contains("(None, height, width, channels)"),
                       nnlite::ShapeError);
  CHECK_THROWS_AS(conv.build(Shape{0, 28, 1}), nnlite::ShapeError);
  try {
    conv.build(Shape{2, 5, 1});
    FAIL("expected a ShapeError");
  } catch (const nnlite::ShapeError& e) {
    const std::string what = e.what();
    CHECK(what.find("conv_a") != std::string::npos);
    CHECK(what.find("(None, 2, 5, 1)") != std::string::npos);
    CHECK(what.find("(None, 0, 3, 8)") != std::string::npos);
  }
  CHECK_FALSE(conv.built());
  // 'same' never shrinks below one output.
  Conv2D<float> same(8, {5, 5}, "relu", Padding::same);
  CHECK(same.build(Shape{2, 1, 1}) == Shape{2, 1, 8});

  // A tensor that does not match the built shape never reaches a kernel.
  conv.build(Shape{6, 6, 1});
  std::vector<float> params(std::size_t(conv.param_count())), grads(params.size());
  conv.bind(params.data(), grads.data());
  Tensor<float> wrong(Shape{2, 6, 5, 1}), y;
  CHECK_THROWS_WITH_AS(conv.forward(wrong, y, nnlite::Mode::inference), doctest::Contains("(2, 6, 5, 1)"),
                       nnlite::ShapeError);
}

// Dilation and groups: Keras' Conv2D(dilation_rate=..., groups=...). The im2col kernel (and the dispatch, which sends
// such geometries to it whatever kernel the layer names) against the reference loops.
TEST_CASE_TEMPLATE("Conv2D kernels agree with the reference: dilation and groups", T, float, double) {
  using conv_test::Impl;
  std::vector<ConvCase> cases = {
      {2, 9, 8, 3, {3, 3}, 4, {1, 1}, Padding::valid, {2, 2}, 1},
      {2, 9, 8, 3, {3, 3}, 4, {1, 1}, Padding::same, {2, 3}, 1},
      {2, 7, 7, 2, {2, 2}, 3, {1, 1}, Padding::same, {3, 1}, 1},  // even kernel, odd padding at bottom
      {2, 6, 5, 4, {3, 3}, 6, {1, 1}, Padding::valid, {1, 1}, 2},
      {2, 6, 5, 4, {3, 2}, 4, {2, 2}, Padding::same, {1, 1}, 4},   // depthwise-like: one channel per group
      {2, 5, 5, 6, {1, 1}, 6, {1, 1}, Padding::valid, {1, 1}, 3},  // 1x1 grouped: not the pointwise shortcut
      {2, 8, 8, 4, {3, 3}, 8, {1, 1}, Padding::same, {2, 2}, 2},   // both
      {1, 3, 3, 2, {3, 3}, 2, {1, 1}, Padding::same, {3, 3}, 2},   // every tap but the centre in the padding
  };
  for (const ConvCase& cc : cases) {
    const Conv2DGeometry g = cc.geometry();
    CAPTURE(g.dil_h);
    CAPTURE(g.dil_w);
    CAPTURE(g.groups);
    CAPTURE(g.out_h);
    CAPTURE(g.out_w);
    REQUIRE(g.out_h >= 1);
    const auto ref = conv_test::run<T>(cc, Impl::reference);
    for (Impl impl : {Impl::im2col, Impl::im2col_chunked}) {
      CAPTURE(conv_test::impl_name(impl));
      conv_test::check_close(conv_test::run<T>(cc, impl), ref, tight<T>());
      conv_test::check_close(conv_test::run<T>(cc, impl, {false, /*d_in=*/false, /*d_bias=*/false}), ref, tight<T>());
    }
    // Direct and eigen_tensor refuse such a geometry when called directly...
    CHECK_THROWS_AS(conv_test::run<T>(cc, Impl::direct), nnlite::UnsupportedError);
    CHECK_THROWS_AS(conv_test::run<T>(cc, Impl::eigen_tensor), nnlite::UnsupportedError);
    // ...and the dispatch routes them to im2col.
    for (Conv2DKernel kind : {Conv2DKernel::direct, Conv2DKernel::eigen_tensor, Conv2DKernel::im2col}) {
      CAPTURE(nnlite::conv2d_kernel_name(kind));
      Tensor<T> x(Shape{cc.batch, cc.h, cc.w, cc.c}), k(Shape{cc.kernel.h, cc.kernel.w, cc.c / cc.groups, cc.filters}),
          b(Shape{cc.filters}), dy(Shape{cc.batch, g.out_h, g.out_w, cc.filters}), ws;
      fill_uniform(x.data(), x.size(), 1);
      fill_uniform(k.data(), k.size(), 2);
      fill_uniform(b.data(), b.size(), 3);
      fill_uniform(dy.data(), dy.size(), 4);
      Tensor<T> y(dy.shape()), dx(x.shape()), dk(k.shape()), db(b.shape());
      nnlite::conv2d_forward(kind, g, x.data(), k.data(), b.data(), y.data(), ws, false);
      nnlite::conv2d_backward(kind, g, x.data(), k.data(), dy.data(), dx.data(), dk.data(), db.data(), ws);
      CHECK(rel_diff(y.data(), ref.y.data(), y.size()) <= tight<T>());
      CHECK(rel_diff(dx.data(), ref.dx.data(), dx.size()) <= tight<T>());
      CHECK(rel_diff(dk.data(), ref.dk.data(), dk.size()) <= tight<T>());
      CHECK(rel_diff(db.data(), ref.db.data(), db.size()) <= tight<T>());
    }
  }
}

TEST_CASE("Conv2D: known values with dilation_rate 2") {
  // Input 5x5 = 1..25 (row-major), kernel 2x2 = [[1, 2], [3, 4]] dilated by 2: taps 2 cells apart, extent 3.
  Tensor<double> x(Shape{1, 5, 5, 1});
  for (Index i = 0; i < 25; ++i) x[i] = double(i + 1);
  std::vector<double> params = {1, 2, 3, 4, 0.5}, grads(5);
  for (Conv2DKernel kernel :
       {Conv2DKernel::reference, Conv2DKernel::im2col, Conv2DKernel::direct, Conv2DKernel::eigen_tensor}) {
    CAPTURE(nnlite::conv2d_kernel_name(kernel));
    SUBCASE("valid") {
      Conv2D<double> conv(1, {2, 2}, nnlite::Conv2DOptions{}.dilation_rate({2, 2}));
      conv.set_kernel(kernel);
      CHECK(conv.build(Shape{5, 5, 1}) == Shape{3, 3, 1});
      conv.bind(params.data(), grads.data());
      Tensor<double> y;
      conv.forward(x, y, nnlite::Mode::inference);
      // out(0, 0) = 1 x(0,0) + 2 x(0,2) + 3 x(2,0) + 4 x(2,2) = 1 + 6 + 33 + 52; out(1, 2) reads x(1,2), x(1,4),
      // x(3,2), x(3,4) = 8, 10, 18, 20.
      CHECK(y.at(0, 0, 0, 0) == doctest::Approx(92.5));
      CHECK(y.at(0, 1, 2, 0) == doctest::Approx(8 + 20 + 54 + 80 + 0.5));
      // d_out = 1: d_kernel[0][0] sums x over rows 0..2, cols 0..2 (the cells tap (0,0) visits) = 63;
      // d_in(2, 2) is visited by all four taps (from outputs (2,2), (2,0), (0,2), (0,0)) = 1 + 2 + 3 + 4.
      Tensor<double> dy(y.shape(), 1.0), dx;
      conv.backward(x, y, dy, &dx);
      CHECK(grads[0] == doctest::Approx(1 + 2 + 3 + 6 + 7 + 8 + 11 + 12 + 13));
      CHECK(grads[4] == doctest::Approx(9));
      CHECK(dx.at(0, 2, 2, 0) == doctest::Approx(10));
      CHECK(dx.at(0, 0, 0, 0) == doctest::Approx(1));
      CHECK(dx.at(0, 4, 4, 0) == doctest::Approx(4));
    }
    SUBCASE("same: padding from the dilated extent") {
      Conv2D<double> conv(1, {2, 2}, nnlite::Conv2DOptions{}.dilation_rate(2).padding("same"));
      conv.set_kernel(kernel);
      CHECK(conv.build(Shape{5, 5, 1}) == Shape{5, 5, 1});
      conv.bind(params.data(), grads.data());
      Tensor<double> y;
      conv.forward(x, y, nnlite::Mode::inference);
      // Extent 3: one padded cell before, one after. out(0, 0) taps (-1,-1), (-1,1), (1,-1), (1,1): only x(1,1) = 7.
      CHECK(y.at(0, 0, 0, 0) == doctest::Approx(4 * 7 + 0.5));
      // out(4, 4) taps (3,3), (3,5), (5,3), (5,5): only x(3,3) = 19 under weight 1.
      CHECK(y.at(0, 4, 4, 0) == doctest::Approx(19 + 0.5));
    }
  }
}

TEST_CASE("Conv2D: known values with groups") {
  // 4 channels in 2 groups, 2 filters (one per group), kernel (1, 1, 2, 2) = [[1, 2], [3, 4]] in (c, o):
  // out0 = 1 x0 + 3 x1 (group 0 reads channels 0, 1), out1 = 2 x2 + 4 x3 (group 1 reads channels 2, 3).
  Tensor<double> x(Shape{1, 1, 1, 4});
  for (Index i = 0; i < 4; ++i) x[i] = double(i + 1);
  std::vector<double> params = {1, 2, 3, 4, 0, 0}, grads(6);
  for (Conv2DKernel kernel : {Conv2DKernel::reference, Conv2DKernel::im2col}) {
    CAPTURE(nnlite::conv2d_kernel_name(kernel));
    Conv2D<double> conv(2, {1, 1}, nnlite::Conv2DOptions{}.groups(2));
    conv.set_kernel(kernel);
    CHECK(conv.build(Shape{1, 1, 4}) == Shape{1, 1, 2});
    CHECK(conv.param_count() == 1 * 1 * 2 * 2 + 2);
    conv.bind(params.data(), grads.data());
    Tensor<double> y;
    conv.forward(x, y, nnlite::Mode::inference);
    CHECK(y[0] == doctest::Approx(1 * 1 + 3 * 2));
    CHECK(y[1] == doctest::Approx(2 * 3 + 4 * 4));
    Tensor<double> dy(y.shape()), dx;
    dy[0] = 1;
    dy[1] = 10;
    conv.backward(x, y, dy, &dx);
    // d_x0 = w(0,0) dy0, d_x1 = w(1,0) dy0, d_x2 = w(0,1) dy1, d_x3 = w(1,1) dy1; d_w(c, o) = x(group o's c) dy_o.
    CHECK(dx[0] == doctest::Approx(1));
    CHECK(dx[1] == doctest::Approx(3));
    CHECK(dx[2] == doctest::Approx(20));
    CHECK(dx[3] == doctest::Approx(40));
    CHECK(grads[0] == doctest::Approx(1));   // w(0, 0): x0 dy0
    CHECK(grads[1] == doctest::Approx(30));  // w(0, 1): x2 dy1
    CHECK(grads[2] == doctest::Approx(2));   // w(1, 0): x1 dy0
    CHECK(grads[3] == doctest::Approx(40));  // w(1, 1): x3 dy1
  }
}

TEST_CASE("Conv2D: dilation_rate and groups in the config, and Keras' refusals") {
  Conv2D<float> conv(6, {3, 3}, nnlite::Conv2DOptions{}.dilation_rate({2, 3}).groups(3).name("g"));
  CHECK(conv.dilation_rate() == nnlite::Size2{2, 3});
  CHECK(conv.groups() == 3);
  const nlohmann::json c = conv.config();
  CHECK(c["dilation_rate"] == nlohmann::json::array({2, 3}));
  CHECK(c["groups"] == 3);
  CHECK(conv.build(Shape{9, 9, 6}) == Shape{5, 3, 6});
  CHECK(conv.param_specs()[0].shape == Shape{3, 3, 2, 6});
  {
    nnlite::ConfigReader r{c, "Conv2D", "g", "test"};
    auto back = nnlite::layer_from_config<float>(r, Shape{9, 9, 6});
    CHECK(back->config() == c);
  }

  using nnlite::Conv2DOptions;
  // Keras: "`strides > 1` not supported in conjunction with `dilation_rate > 1`"; filters and channels divisible.
  CHECK_THROWS_WITH_AS(Conv2D<float>(4, {3, 3}, Conv2DOptions{}.dilation_rate(2).strides(2)),
                       doctest::Contains("dilation_rate"), nnlite::ArgumentError);
  CHECK_THROWS_WITH_AS(Conv2D<float>(5, {3, 3}, Conv2DOptions{}.groups(2)), doctest::Contains("groups=2, filters=5"),
                       nnlite::ArgumentError);
  CHECK_THROWS_AS(Conv2D<float>(4, {3, 3}, Conv2DOptions{}.groups(0)), nnlite::ArgumentError);
  CHECK_THROWS_AS(Conv2D<float>(4, {3, 3}, Conv2DOptions{}.dilation_rate({1, 0})), nnlite::ArgumentError);
  Conv2D<float> grouped(4, {3, 3}, Conv2DOptions{}.groups(2).name("gc"));
  CHECK_THROWS_WITH_AS(grouped.build(Shape{5, 5, 3}), doctest::Contains("'gc'"), nnlite::ShapeError);
  CHECK_THROWS_WITH_AS(grouped.build(Shape{5, 5, 3}), doctest::Contains("groups=2"), nnlite::ShapeError);

  auto refused = [](nlohmann::json cfg, const Shape& input) {
    nnlite::ConfigReader r{cfg, "Conv2D", "bad", "test"};
    try {
      nnlite::layer_from_config<float>(r, input);
    } catch (const nnlite::FormatError& e) {
      return std::string(e.what());
    }
    return std::string("no FormatError");
  };
  nlohmann::json base = Conv2D<float>(4, {3, 3}).config();
  base["name"] = "bad";
  nlohmann::json strided = base;
  strided["strides"] = {2, 2};
  strided["dilation_rate"] = {2, 2};
  CHECK(refused(strided, Shape{9, 9, 2}).find("'bad'") != std::string::npos);
  CHECK(refused(strided, Shape{9, 9, 2}).find("dilation_rate > 1") != std::string::npos);
  nlohmann::json bad_filters = base;
  bad_filters["groups"] = 3;
  CHECK(refused(bad_filters, Shape{9, 9, 3}).find("groups=3, filters=4") != std::string::npos);
  nlohmann::json bad_channels = base;
  bad_channels["groups"] = 2;
  CHECK(refused(bad_channels, Shape{9, 9, 3}).find("input has 3 channels") != std::string::npos);
}

}  // namespace test_conv2d
