// Tests for the speed paths: the direct small-patch Conv2D kernel, the threaded im2col kernel (per-thread slices,
// partial gradients summed in thread order), the Eigen Tensor kernel and the thread pool in parallel.hpp. Each kernel must agree with the
// reference loops to 1e-5 relative in float, and repeat itself bitwise for a given thread count.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <nnlite/layers/conv2d.hpp>
#include <nnlite/core/parallel.hpp>
#include <stdexcept>
#include <vector>

#include "conv_kernels.hpp"

namespace test_kernels_speedpaths {

using nnlite::Conv2DGeometry;
using nnlite::Index;
using nnlite::Padding;
using nnlite::Shape;
using nnlite::Tensor;

namespace {

using Case = conv_test::ConvCase;
using conv_test::fill_uniform;
using conv_test::Impl;
using conv_test::rel_diff;

// The study's conv layers (batch 32: large enough to run threaded), then odd ones: 'same' padding, strides, a
// channel count that is not a multiple of 16, two input channels (still a small patch), a 1x1 kernel, and 'valid'
// with strides that leave the last input row and column unread (8 rows: windows at 0, 2, 4; 10 columns: 0, 3, 6).
const std::vector<Case> kCases = {
    {32, 28, 28, 1, {3, 3}, 32, {1, 1}, Padding::valid}, {32, 28, 28, 1, {3, 3}, 64, {1, 1}, Padding::valid},
    {32, 13, 13, 32, {3, 3}, 64, {1, 1}, Padding::valid}, {5, 9, 8, 1, {3, 3}, 21, {2, 1}, Padding::same},
    {3, 7, 6, 2, {2, 3}, 5, {1, 2}, Padding::same},       {4, 6, 6, 3, {1, 1}, 7, {1, 1}, Padding::valid},
    {3, 8, 10, 2, {3, 3}, 6, {2, 3}, Padding::valid},
};

conv_test::Results<float> run(const Case& cc, Impl impl, bool relu) { return conv_test::run<float>(cc, impl, {relu}); }
void check_close(const conv_test::Results<float>& a, const conv_test::Results<float>& ref) {
  conv_test::check_close(a, ref, 1e-5);
}
using conv_test::same;

struct ThreadScope {  // restores the default thread count however a test case ends
  explicit ThreadScope(int n) { nnlite::set_num_threads(n); }
  ~ThreadScope() { nnlite::set_num_threads(0); }
};

}  // namespace

TEST_CASE("speed paths: direct, threaded im2col and Eigen Tensor agree with the reference (float, 1e-5), +- relu") {
  for (int threads : {1, 2, 3}) {
    ThreadScope scope(threads);
    for (const Case& cc : kCases) {
      for (bool relu : {false, true}) {
        CAPTURE(threads);
        CAPTURE(cc.batch);
        CAPTURE(cc.c);
        CAPTURE(cc.filters);
        CAPTURE(relu);
        const auto ref = run(cc, Impl::reference, relu);
        check_close(run(cc, Impl::im2col, relu), ref);
        check_close(run(cc, Impl::im2col_chunked, relu), ref);  // one sample per GEMM
        check_close(run(cc, Impl::direct, relu), ref);
        check_close(run(cc, Impl::eigen_tensor, relu), ref);
      }
    }
  }
}

TEST_CASE("speed paths: a thread count repeats itself bitwise") {
  for (int threads : {1, 2}) {
    ThreadScope scope(threads);
    for (const Case& cc : kCases) {
      CAPTURE(threads);
      CAPTURE(cc.c);
      CHECK(same(run(cc, Impl::im2col, true), run(cc, Impl::im2col, true)));
      CHECK(same(run(cc, Impl::direct, true), run(cc, Impl::direct, true)));
    }
  }
}

TEST_CASE("speed paths: the Conv2D layer picks the direct kernel for small patches and fuses relu") {
  ThreadScope scope(2);
  for (nnlite::Conv2DKernel kernel :
       {nnlite::Conv2DKernel::im2col, nnlite::Conv2DKernel::direct, nnlite::Conv2DKernel::eigen_tensor}) {
    CAPTURE(nnlite::conv2d_kernel_name(kernel));
    nnlite::Conv2D<float> fast(16, {3, 3}, "relu"), ref(16, {3, 3}, "relu");
    fast.build(Shape{10, 10, 1});
    ref.build(Shape{10, 10, 1});
    std::vector<float> params(static_cast<std::size_t>(fast.param_count())), g1(params.size()), g2(params.size());
    fill_uniform(params.data(), Index(params.size()), 9);
    fast.bind(params.data(), g1.data());
    ref.bind(params.data(), g2.data());
    fast.set_kernel(kernel);
    ref.set_kernel(nnlite::Conv2DKernel::reference);
    Tensor<float> x(Shape{8, 10, 10, 1}), y1, y2, dx1, dx2;
    fill_uniform(x.data(), x.size(), 10);
    fast.forward(x, y1, nnlite::Mode::training);
    ref.forward(x, y2, nnlite::Mode::training);
    CHECK(rel_diff(y1.data(), y2.data(), y2.size()) <= 1e-5);
    CHECK(*std::min_element(y1.begin(), y1.end()) == 0.0f);
    Tensor<float> dy(y1.shape());
    fill_uniform(dy.data(), dy.size(), 11);
    fast.backward(x, y1, dy, &dx1);
    ref.backward(x, y2, dy, &dx2);
    CHECK(rel_diff(dx1.data(), dx2.data(), dx2.size()) <= 1e-5);
    CHECK(rel_diff(g1.data(), g2.data(), Index(g2.size())) <= 1e-5);
    // As a model's first layer: parameter gradients only (the default kernel then runs direct's backward too).
    std::fill(g1.begin(), g1.end(), 0.0f);
    fast.backward(x, y1, dy, nullptr);
    CHECK(rel_diff(g1.data(), g2.data(), Index(g2.size())) <= 1e-5);
  }
  // The default hands 3x3 windows on 1 channel (patch 9) to the direct kernel and keeps conv2's patch 288 on GEMM.
  CHECK(nnlite::conv2d_direct_pays(Conv2DGeometry::make(32, 28, 28, 1, {3, 3}, 32, {1, 1}, Padding::valid)));
  CHECK_FALSE(nnlite::conv2d_direct_pays(Conv2DGeometry::make(32, 13, 13, 32, {3, 3}, 64, {1, 1}, Padding::valid)));
  CHECK(nnlite::parse_conv2d_kernel("direct") == nnlite::Conv2DKernel::direct);
  CHECK(nnlite::parse_conv2d_kernel("eigen_tensor") == nnlite::Conv2DKernel::eigen_tensor);
  CHECK(nnlite::conv2d_kernel_name(nnlite::Conv2DKernel::eigen_tensor) == "eigen_tensor");
}

TEST_CASE("parallel: slices cover the range once, exceptions reach the caller, nesting runs serially") {
  ThreadScope scope(3);
  std::vector<int> hits(1000, 0);
  nnlite::parallel_slices(1000, 3, [&](int, Index b, Index e) {
    for (Index i = b; i < e; ++i) ++hits[static_cast<std::size_t>(i)];
  });
  CHECK(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; }));
  for (int rep = 0; rep < 200; ++rep) {  // many fork/joins in a row: no lost wake-up
    std::atomic<int> count{0};
    nnlite::parallel_slices(8, 2, [&](int, Index b, Index e) { count += static_cast<int>(e - b); });
    REQUIRE(count.load() == 8);
  }
  std::atomic<int> inner{0};
  nnlite::parallel_slices(4, 2, [&](int, Index, Index) {
    nnlite::parallel_slices(4, 2, [&](int, Index b, Index e) { inner += static_cast<int>(e - b); });
  });
  CHECK(inner.load() == 8);
  CHECK_THROWS_AS(nnlite::parallel_slices(4, 2, [](int t, Index, Index) {
                    if (t == 1) throw std::runtime_error("boom");
                  }),
                  std::runtime_error);
  std::atomic<int> after{0};
  nnlite::parallel_slices(4, 2, [&](int, Index b, Index e) { after += static_cast<int>(e - b); });
  CHECK(after.load() == 4);  // the pool still works after an exception
}

TEST_CASE("parallel: the default thread count honours OMP_NUM_THREADS") {
  const char* old = std::getenv("OMP_NUM_THREADS");
  const std::string saved = old ? old : "";
  setenv("OMP_NUM_THREADS", "3", 1);
  nnlite::set_num_threads(0);
  CHECK(nnlite::num_threads() == 3);
  setenv("OMP_NUM_THREADS", "not a number", 1);
  nnlite::set_num_threads(0);
  CHECK(nnlite::num_threads() == nnlite::hardware_threads());
  if (old)
    setenv("OMP_NUM_THREADS", saved.c_str(), 1);
  else
    unsetenv("OMP_NUM_THREADS");
  nnlite::set_num_threads(0);
}

}  // namespace test_kernels_speedpaths
