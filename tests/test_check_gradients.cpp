// Tests for check_gradients.hpp: Dense passes (linear, relu, softmax), a deliberately wrong backward fails, and the
// checker leaves the layer's buffers as it found them.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <nnlite/model/check_gradients.hpp>
#include <nnlite/layers/dense.hpp>
#include <nnlite/layers/dropout.hpp>
#include <string>
#include <vector>

namespace test_check_gradients {

using nnlite::Activation;
using nnlite::Dense;
using nnlite::Index;
using nnlite::Mode;
using nnlite::Shape;
using nnlite::Tensor;

namespace {

template <class T>
void fill_uniform(Tensor<T>& t, std::uint64_t seed) {
  nnlite::Rng rng(seed);
  for (T& v : t) v = static_cast<T>(rng.uniform(-1, 1));
}

// out = w * in elementwise, with one parameter w. backward scales d_in by `input_error` (1 is right) and the
// parameter gradient by `param_error`, so the checker has something to find.
class ScaleLayer : public nnlite::Layer<double> {
 public:
  ScaleLayer(double input_error, double param_error) : input_error_(input_error), param_error_(param_error) {}
  std::string class_name() const override { return "Scale"; }
  std::string name_stem() const override { return "scale"; }
  std::vector<nnlite::ParamSpec> param_specs() const override {
    return {{"kernel", Shape{1}, nnlite::Initializer::ones}};
  }
  void forward(const Tensor<double>& in, Tensor<double>& out, Mode) override {
    check_input(in);
    out.resize(in.shape());
    for (Index i = 0; i < in.size(); ++i) out[i] = weight(0)[0] * in[i];
  }
  void backward(const Tensor<double>& in, const Tensor<double>&, const Tensor<double>& d_out,
                Tensor<double>* d_in) override {
    double g = 0;
    for (Index i = 0; i < in.size(); ++i) g += d_out[i] * in[i];
    weight_grad(0)[0] = g * param_error_;
    if (!d_in) return;
    d_in->resize(in.shape());
    for (Index i = 0; i < in.size(); ++i) (*d_in)[i] = d_out[i] * weight(0)[0] * input_error_;
  }
  std::unique_ptr<nnlite::Layer<double>> clone() const override { return nnlite::clone_layer(*this); }

 protected:
  Shape compute_output_shape(const Shape& s) override { return s; }

 private:
  double input_error_, param_error_;
};

}  // namespace

TEST_CASE("check_gradients: Dense passes for linear, relu and softmax (double)") {
  for (Activation act : {Activation::linear, Activation::relu, Activation::softmax}) {
    for (const Shape& in_shape : {Shape{5}, Shape{3, 4}}) {
      CAPTURE(nnlite::activation_name(act));
      CAPTURE(in_shape.str());
      Dense<double> dense(3, act);
      dense.build(in_shape);
      Tensor<double> x(in_shape.with_batch(4));
      fill_uniform(x, 1);
      const auto r = nnlite::check_gradients(dense, x);  // the checker binds and initialises the parameters
      INFO(r.str());
      CHECK(r.ok());
      CHECK(r.input.max_error < 1e-6);
      CHECK(r.params.max_error < 1e-6);
      CHECK(r.input.checked == x.size());
      CHECK(r.params.checked == dense.param_count());
      CHECK(!dense.bound());  // and unbinds them again
    }
  }
}

TEST_CASE("check_gradients: Dense relu with bound parameters, away from the kink") {
  Dense<double> dense(6, Activation::relu), linear(6, Activation::linear);
  dense.build(Shape{5});
  linear.build(Shape{5});
  std::vector<double> params(std::size_t(dense.param_count())), grads(params.size());
  nnlite::Rng rng(12);
  for (double& p : params) p = rng.uniform(-1, 1);
  dense.bind(params.data(), grads.data());
  linear.bind(params.data(), grads.data());
  Tensor<double> x(Shape{4, 5}), z;
  fill_uniform(x, 13);
  // Central differences are meaningless at relu's kink: make sure no pre-activation is near 0, and some are dead.
  linear.forward(x, z, Mode::training);
  double closest = 1e9;
  Index dead = 0;
  for (double v : z) {
    closest = std::min(closest, std::abs(v));
    dead += v < 0;
  }
  REQUIRE(closest > 1e-4);
  CHECK(dead > 0);
  const auto r = nnlite::check_gradients(dense, x);
  INFO(r.str());
  CHECK(r.ok());
  CHECK(r.input.max_error < 1e-6);
  CHECK(r.params.max_error < 1e-6);
}

TEST_CASE("check_gradients: float instantiation passes with the float defaults") {
  Dense<float> dense(4, "softmax");
  dense.build(Shape{6});
  Tensor<float> x(Shape{3, 6});
  fill_uniform(x, 2);
  const auto r = nnlite::check_gradients(dense, x);
  INFO(r.str());
  CHECK(r.ok());
  CHECK(r.tolerance == doctest::Approx(1e-2));
}

TEST_CASE("check_gradients: a wrong backward is caught and reported") {
  Tensor<double> x(Shape{2, 3});
  fill_uniform(x, 3);
  SUBCASE("right gradients pass") {
    ScaleLayer layer(1.0, 1.0);
    layer.build(Shape{3});
    CHECK(nnlite::check_gradients<double>(layer, x).ok());
  }
  SUBCASE("input gradient off by 1%") {
    ScaleLayer layer(1.01, 1.0);
    layer.build(Shape{3});
    const auto r = nnlite::check_gradients<double>(layer, x);
    CHECK_FALSE(r.ok());
    CHECK_FALSE(static_cast<bool>(r));
    CHECK(r.input.max_error == doctest::Approx(0.01 / 2.01).epsilon(1e-3));
    CHECK(r.params.max_error < 1e-6);
    CHECK(r.str().find("FAILED") != std::string::npos);
    CHECK(r.str().find("Scale") != std::string::npos);
  }
  SUBCASE("parameter gradient with the wrong sign") {
    ScaleLayer layer(1.0, -1.0);
    layer.build(Shape{3});
    const auto r = nnlite::check_gradients<double>(layer, x);
    CHECK_FALSE(r.ok());
    CHECK(r.params.max_error == doctest::Approx(1.0));
    CHECK(r.params.worst == 0);
  }
}

TEST_CASE("check_gradients: bound parameters are restored exactly and the buffers stay bound") {
  Dense<double> dense(3, Activation::relu);
  dense.build(Shape{4});
  std::vector<double> params(std::size_t(dense.param_count())), grads(params.size(), 0.0);
  nnlite::Rng rng(4);
  for (double& p : params) p = rng.uniform(-1, 1);
  const std::vector<double> before = params;
  dense.bind(params.data(), grads.data());
  Tensor<double> x(Shape{2, 4});
  fill_uniform(x, 5);
  const Tensor<double> x_before = x;
  const auto r = nnlite::check_gradients(dense, x);
  INFO(r.str());
  CHECK(r.ok());
  CHECK(params == before);
  CHECK(dense.weight(0) == params.data());
  CHECK(dense.weight_grad(0) == grads.data());
  CHECK(std::equal(x.begin(), x.end(), x_before.begin()));
}

TEST_CASE("check_gradients: options") {
  Dense<double> dense(5);
  dense.build(Shape{7});
  Tensor<double> x(Shape{3, 7});
  fill_uniform(x, 6);
  nnlite::GradientCheckOptions opt;
  opt.max_checks = 4;
  opt.mode = Mode::inference;
  auto r = nnlite::check_gradients(dense, x, opt);
  CHECK(r.ok());
  CHECK(r.input.checked == 4);
  CHECK(r.params.checked == 4);
  opt.check_input = false;
  r = nnlite::check_gradients(dense, x, opt);
  CHECK(r.ok());
  CHECK(r.input.checked == 0);
  CHECK(r.input.worst == -1);

  Dense<double> unbuilt(2);
  CHECK_THROWS_AS(nnlite::check_gradients(unbuilt, x), nnlite::Error);
  CHECK_THROWS_AS(nnlite::check_gradients(dense, Tensor<double>(Shape{3, 6})), nnlite::ShapeError);
  CHECK(!dense.bound());  // unbound again even though forward threw
}

TEST_CASE("check_gradients: Dropout in training mode repeats its mask because the checker reseeds it") {
  nnlite::Dropout<double> dropout(0.5);
  dropout.build(Shape{4, 3});
  Tensor<double> x(Shape{2, 4, 3});
  fill_uniform(x, 7);
  const auto r = nnlite::check_gradients(dropout, x);  // Mode::training by default
  INFO(r.str());
  CHECK(r.ok());
  nnlite::GradientCheckOptions opt;
  opt.reseed_layer = false;  // a fresh mask on every forward: the differences are noise
  CHECK_FALSE(nnlite::check_gradients(dropout, x, opt).ok());
  nnlite::Dropout<double> fresh(0.5);  // a layer that has not run a training pass: inference is the identity
  fresh.build(Shape{4, 3});
  CHECK(nnlite::check_gradients(fresh, x, Mode::inference).ok());
}

}  // namespace test_check_gradients
