// tests/test_dataset.cpp: train/test split (sizes, coverage, seeding) and the byte -> float / one-hot batch
// conversions, by known values and, when Debian's Fashion-MNIST is installed, on its first images.
#include <doctest/doctest.h>

#include <nnlite/data/dataset.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#ifdef NNLITE_WITH_IO
#include <nnlite/data/fashion_mnist.hpp>
#include <nnlite/io/idx.hpp>
#endif

namespace test_dataset {

using nnlite::Index;

namespace {
// True if train and test are disjoint and together are exactly 0..n-1.
bool partitions(const nnlite::SplitIndices& s, Index n) {
  std::vector<Index> all = s.train;
  all.insert(all.end(), s.test.begin(), s.test.end());
  std::sort(all.begin(), all.end());
  return all == nnlite::all_indices(n);
}
}  // namespace

TEST_CASE("train_test_split: sklearn's sizes, disjoint and covering") {
  const nnlite::SplitIndices s = nnlite::train_test_split(60000, 0.2, 42);
  CHECK(s.train.size() == 48000u);
  CHECK(s.test.size() == 12000u);
  CHECK(partitions(s, 60000));
  // Shuffled, not a block of the original order.
  CHECK_FALSE(std::is_sorted(s.test.begin(), s.test.end()));

  // sklearn rounds the test size up: ceil(n * f).
  CHECK(nnlite::train_test_split(10, 0.25, 0).test.size() == 3u);    // ceil(2.5)
  CHECK(nnlite::train_test_split(10, 0.01, 0).test.size() == 1u);    // ceil(0.1)
  CHECK(nnlite::train_test_split(7, 0.5, 0).train.size() == 3u);     // 7 - ceil(3.5)
  CHECK(nnlite::train_test_split(100, 0.1, 0).test.size() == 10u);   // 0.1 * 100 is exactly 10 in double
  CHECK(partitions(nnlite::train_test_split(7, 0.5, 3), 7));
}

TEST_CASE("train_test_split: the same seed gives the same split, different seeds differ") {
  const auto a = nnlite::train_test_split(60000, 0.2, 1);
  const auto b = nnlite::train_test_split(60000, 0.2, 1);
  const auto c = nnlite::train_test_split(60000, 0.2, 2);
  CHECK(a.train == b.train);
  CHECK(a.test == b.test);
  CHECK(a.test != c.test);
  CHECK(a.train != c.train);
  // Different as sets too, not just in order.
  std::vector<Index> ta = a.test, tc = c.test;
  std::sort(ta.begin(), ta.end());
  std::sort(tc.begin(), tc.end());
  CHECK(ta != tc);
}

TEST_CASE("train_test_split: arguments sklearn also rejects") {
  CHECK_THROWS_AS(nnlite::train_test_split(100, 0.0, 0), nnlite::ArgumentError);
  CHECK_THROWS_AS(nnlite::train_test_split(100, 1.0, 0), nnlite::ArgumentError);
  CHECK_THROWS_AS(nnlite::train_test_split(100, -0.1, 0), nnlite::ArgumentError);
  CHECK_THROWS_AS(nnlite::train_test_split(100, std::numeric_limits<double>::quiet_NaN(), 0), nnlite::ArgumentError);
  CHECK_THROWS_AS(nnlite::train_test_split(1, 0.5, 0), nnlite::ArgumentError);
  CHECK_THROWS_AS(nnlite::train_test_split(2, 0.6, 0), nnlite::ArgumentError);  // ceil(1.2) = 2 leaves no training
}

TEST_CASE("to_float_images: pixel / 255 in NHWC, picked by index, buffer reused") {
  // Three 2x3 images, the first with the byte values whose quotients are checked below.
  std::vector<std::uint8_t> images = {0,   1,   51,  77, 128, 255,   //
                                      10,  20,  30,  40, 50,  60,    //
                                      254, 253, 252, 3,  2,   1};
  nnlite::Tensor<float> out;
  nnlite::to_float_images(images.data(), std::vector<Index>{0, 2}, 2, 3, out);
  REQUIRE(out.shape() == nnlite::Shape({2, 2, 3, 1}));
  // Nearest floats to v / 255, computed with Python's exact fractions (and equal to numpy's float32 / 255):
  CHECK(out.at(0, 0, 0, 0) == 0.0f);
  CHECK(out.at(0, 0, 1, 0) == 0x1.010102p-8f);  // 1 / 255
  CHECK(out.at(0, 0, 2, 0) == 0.2f);            // 51 / 255 is exactly 0.2
  CHECK(out.at(0, 1, 0, 0) == 0x1.353536p-2f);  // 77 / 255
  CHECK(out.at(0, 1, 1, 0) == 0x1.010102p-1f);  // 128 / 255
  CHECK(out.at(0, 1, 2, 0) == 1.0f);
  CHECK(out.at(1, 0, 0, 0) == 0x1.fdfdfep-1f);  // 254 / 255, from image 2
  CHECK(out.at(1, 1, 2, 0) == 0x1.010102p-8f);

  // A smaller batch in the same buffer keeps the allocation.
  const float* before = out.data();
  nnlite::to_float_images(images.data(), std::vector<Index>{1}, 2, 3, out);
  CHECK(out.shape() == nnlite::Shape({1, 2, 3, 1}));
  CHECK(out.data() == before);
  CHECK(out[5] == 60.0f / 255.0f);

  // A slice of an index vector, as a batch of an epoch's order is.
  const std::vector<Index> order = {2, 0, 1};
  nnlite::to_float_images(images.data(), nnlite::IndexSpan(order.data() + 1, 2), 2, 3, out);
  CHECK(out.batch() == 2);
  CHECK(out[1] == 1.0f / 255.0f);
  CHECK(out[6] == 10.0f / 255.0f);

  // Double precision follows the same rule.
  nnlite::Tensor<double> outd;
  nnlite::to_float_images(images.data(), std::vector<Index>{0}, 2, 3, outd);
  CHECK(outd[4] == 128.0 / 255.0);
}

TEST_CASE("to_float_images: every byte value equals static_cast<float>(v) / 255.0f") {
  std::vector<std::uint8_t> all(256);
  for (int v = 0; v < 256; ++v) all[v] = static_cast<std::uint8_t>(v);
  nnlite::Tensor<float> out;
  nnlite::to_float_images(all.data(), std::vector<Index>{0}, 16, 16, out);
  for (int v = 0; v < 256; ++v) CHECK(out[v] == static_cast<float>(v) / 255.0f);
  CHECK_THROWS_AS(nnlite::to_float_images(all.data(), std::vector<Index>{0}, 0, 16, out), nnlite::ArgumentError);
}

TEST_CASE("to_one_hot: known values, and labels outside the classes are refused") {
  const std::vector<std::uint8_t> labels = {3, 0, 9, 1};
  nnlite::Tensor<float> y;
  nnlite::to_one_hot(labels.data(), std::vector<Index>{2, 0, 1}, 10, y);
  REQUIRE(y.shape() == nnlite::Shape({3, 10}));
  for (Index b = 0; b < 3; ++b)
    for (Index c = 0; c < 10; ++c) {
      const Index want = b == 0 ? 9 : b == 1 ? 3 : 0;
      CHECK(y.at(b, c) == (c == want ? 1.0f : 0.0f));
    }
  // Reusing the buffer clears the previous ones.
  nnlite::to_one_hot(labels.data(), std::vector<Index>{3}, 10, y);
  CHECK(y.shape() == nnlite::Shape({1, 10}));
  CHECK(y.flat().sum() == 1.0f);
  CHECK(y.at(0, 1) == 1.0f);

  CHECK_THROWS_WITH_AS(nnlite::to_one_hot(labels.data(), std::vector<Index>{2}, 5, y),
                       "to_one_hot: label 9 of sample 2 is not below num_classes = 5", nnlite::ArgumentError);
  CHECK_THROWS_AS(nnlite::to_one_hot(labels.data(), std::vector<Index>{0}, 0, y), nnlite::ArgumentError);
}

TEST_CASE("Dataset overloads check indices and sizes") {
  nnlite::Dataset d;
  d.n = 2;
  d.h = 1;
  d.w = 2;
  d.images = {0, 255, 51, 0};
  d.labels = {1, 0};
  nnlite::Tensor<float> x, y;
  nnlite::to_float_images(d, nnlite::all_indices(d.n), x);
  CHECK(x.shape() == nnlite::Shape({2, 1, 2, 1}));
  CHECK(x[1] == 1.0f);
  CHECK(x[2] == 0.2f);
  nnlite::to_one_hot(d, nnlite::all_indices(d.n), 2, y);
  CHECK(y.at(0, 1) == 1.0f);
  CHECK(y.at(1, 0) == 1.0f);

  CHECK_THROWS_WITH_AS(nnlite::to_float_images(d, std::vector<Index>{2}, x),
                       "to_float_images: index 2 is outside a dataset of 2 samples", nnlite::ArgumentError);
  CHECK_THROWS_AS(nnlite::to_one_hot(d, std::vector<Index>{-1}, 2, y), nnlite::ArgumentError);
  d.images.pop_back();
  CHECK_THROWS_AS(nnlite::to_float_images(d, std::vector<Index>{0}, x), nnlite::ArgumentError);
}

#ifdef NNLITE_WITH_IO
TEST_CASE("Fashion-MNIST from Debian's package: a split and a converted batch") {
  const std::string dir = nnlite::debian_fashion_mnist_dir();
  if (!nnlite::holds_mnist_files(dir)) {
    MESSAGE("skipped: " << dir << " does not hold Fashion-MNIST (install the dataset-fashion-mnist package)");
    return;
  }
  const nnlite::MnistData data = nnlite::load_fashion_mnist(dir);
  const nnlite::SplitIndices s = nnlite::train_test_split(data.train.n, 0.2, 42);
  CHECK(s.train.size() == 48000u);
  CHECK(s.test.size() == 12000u);

  // Image 0 sums to 76247 (see test_idx.cpp), so its floats sum to about 76247 / 255.
  nnlite::Tensor<float> x, y;
  nnlite::to_float_images(data.train, std::vector<Index>{0, 1}, x);
  CHECK(x.shape() == nnlite::Shape({2, 28, 28, 1}));
  double sum0 = 0;
  for (Index i = 0; i < 784; ++i) sum0 += x[i];
  CHECK(sum0 == doctest::Approx(76247.0 / 255.0).epsilon(1e-6));
  nnlite::to_one_hot(data.train, std::vector<Index>{0, 1}, 10, y);
  CHECK(y.at(0, 9) == 1.0f);  // Ankle boot
  CHECK(y.at(1, 0) == 1.0f);  // T-shirt/top

  // Whole-set conversion of the test set: 10000 x 28 x 28 x 1 floats.
  nnlite::to_float_images(data.test, nnlite::all_indices(data.test.n), x);
  CHECK(x.shape() == nnlite::Shape({10000, 28, 28, 1}));
  CHECK(x.flat().maxCoeff() == 1.0f);
}
#endif

}  // namespace test_dataset
