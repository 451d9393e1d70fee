// nnlite/data/dataset.hpp: image datasets kept as raw uint8 bytes, a scikit-learn style train/test split,
// and the conversions that turn a batch (or the whole set) of bytes into float NHWC images and one-hot labels.
#pragma once

#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/random.hpp"
#include "../core/tensor.hpp"

namespace nnlite {

/// n grayscale images of h x w pixels and their class labels, both as the bytes found on disk. Fashion-MNIST
/// is 47 MB this way and 188 MB as float32, so the app keeps bytes and converts one batch at a time.
struct Dataset {
  std::vector<std::uint8_t> images;  ///< n * h * w bytes, image-major, row-major pixels.
  std::vector<std::uint8_t> labels;  ///< n class labels.
  ///@{
  /// The number of images, their height and width.
  Index n = 0, h = 0, w = 0;
  ///@}

  /// h * w.
  Index pixels_per_image() const { return h * w; }
  /// The first pixel of image i.
  const std::uint8_t* image(Index i) const { return images.data() + i * h * w; }
};

/// A view of indices that a batch is made of: a whole vector, or a slice of an epoch's shuffled order.
struct IndexSpan {
  const Index* ptr = nullptr;  ///< The first index.
  Index count = 0;             ///< How many indices.

  IndexSpan() = default;
  /// The n indices at p.
  IndexSpan(const Index* p, Index n) : ptr(p), count(n) {}
  /// All of v (implicit, so a vector can be passed where a span is taken).
  IndexSpan(const std::vector<Index>& v) : ptr(v.data()), count(static_cast<Index>(v.size())) {}  // NOLINT

  /// How many indices.
  Index size() const { return count; }
  /// Index i of the span.
  Index operator[](Index i) const { return ptr[i]; }
  /// The first index, for range-for loops.
  const Index* begin() const { return ptr; }
  /// Past the last index.
  const Index* end() const { return ptr + count; }
};

/// 0, 1, ..., n-1: the indices of a whole set.
inline std::vector<Index> all_indices(Index n) {
  std::vector<Index> v(static_cast<std::size_t>(n > 0 ? n : 0));
  std::iota(v.begin(), v.end(), Index(0));
  return v;
}

/// The train and test indices of a random split (train_test_split).
struct SplitIndices {
  std::vector<Index> train;  ///< The training set's indices.
  std::vector<Index> test;   ///< The test set's indices.
};

/// The Rng stream train_test_split draws from, so a split seeded 42 shares no draws with anything else seeded 42.
inline constexpr std::uint64_t kSplitStream = 0x73706c6974ULL;  // "split"

/// Splits 0..n-1 the way sklearn.model_selection.train_test_split(test_size=f, shuffle=True) does: a random
/// permutation whose first ceil(n * f) entries are the test set and the rest the training set (both in permuted
/// order, disjoint, together covering 0..n-1). ceil(n * f) is computed in double exactly as sklearn does, so
/// 60000 at 0.2 gives 12000 / 48000. The permutation comes from nnlite::Rng and is the same on every platform
/// (it is not numpy's permutation for the same seed).
inline SplitIndices train_test_split(Index n, double test_fraction, std::uint64_t seed) {
  if (n < 2) throw ArgumentError("train_test_split: need at least 2 samples, got " + std::to_string(n));
  // Like sklearn: a float test size must lie strictly inside (0, 1); NaN fails both comparisons.
  if (!(test_fraction > 0.0 && test_fraction < 1.0))
    throw ArgumentError("train_test_split: test_fraction must be in (0, 1), got " + std::to_string(test_fraction));
  const auto n_test = static_cast<Index>(std::ceil(test_fraction * static_cast<double>(n)));
  const Index n_train = n - n_test;
  if (n_train < 1)
    throw ArgumentError("train_test_split: with n = " + std::to_string(n) + " and test_fraction = " +
                        std::to_string(test_fraction) + " the training set would be empty");

  std::vector<Index> perm = all_indices(n);
  Rng rng(derive_seed(seed, kSplitStream));
  rng.shuffle(perm);
  SplitIndices s;
  s.test.assign(perm.begin(), perm.begin() + n_test);
  s.train.assign(perm.begin() + n_test, perm.end());
  return s;
}

/// Writes images[indices[b]] as pixel / 255 into out, shaped (batch, h, w, 1) NHWC. Each value is
/// static_cast<Scalar>(v) / Scalar(255): one correctly rounded IEEE division, so for float it is the float
/// nearest to v / 255, bit-identical to numpy's x.astype("float32") / 255 (checked for all 256 byte values);
/// 0 -> 0 and 255 -> 1 exactly. resize() keeps out's allocation, so a buffer reused per batch never reallocates.
/// `images` holds h * w bytes per image; every index must be below the number of images (see the Dataset
/// overload for a checked version).
template <class Scalar>
void to_float_images(const std::uint8_t* images, IndexSpan indices, Index h, Index w, Tensor<Scalar>& out) {
  if (h <= 0 || w <= 0)
    throw ArgumentError("to_float_images: image size must be positive, got " + std::to_string(h) + " x " +
                        std::to_string(w));
  const Index pixels = h * w;
  out.resize(Shape{indices.size(), h, w, 1});
  // A table instead of a division per pixel: same values, and the inner loop is a plain lookup.
  Scalar table[256];
  for (int v = 0; v < 256; ++v) table[v] = static_cast<Scalar>(v) / Scalar(255);
  Scalar* dst = out.data();
  for (Index b = 0; b < indices.size(); ++b) {
    const std::uint8_t* src = images + indices[b] * pixels;
    for (Index p = 0; p < pixels; ++p) dst[p] = table[src[p]];
    dst += pixels;
  }
}

/// Writes labels[indices[b]] one-hot into out, shaped (batch, num_classes). A label >= num_classes throws
/// ArgumentError instead of writing outside its row.
template <class Scalar>
void to_one_hot(const std::uint8_t* labels, IndexSpan indices, Index num_classes, Tensor<Scalar>& out) {
  if (num_classes < 1)
    throw ArgumentError("to_one_hot: num_classes must be >= 1, got " + std::to_string(num_classes));
  out.resize(Shape{indices.size(), num_classes});
  out.setZero();
  for (Index b = 0; b < indices.size(); ++b) {
    const Index label = labels[indices[b]];
    if (label >= num_classes)
      throw ArgumentError("to_one_hot: label " + std::to_string(label) + " of sample " +
                          std::to_string(indices[b]) + " is not below num_classes = " + std::to_string(num_classes));
    out[b * num_classes + label] = Scalar(1);
  }
}

namespace detail {
inline void check_indices(const char* what, IndexSpan indices, Index n) {
  for (Index i : indices)
    if (i < 0 || i >= n)
      throw ArgumentError(std::string(what) + ": index " + std::to_string(i) + " is outside a dataset of " +
                          std::to_string(n) + " samples");
}
inline void check_dataset(const char* what, const Dataset& d) {
  if (d.n < 0 || d.images.size() != static_cast<std::size_t>(d.n * d.h * d.w) ||
      d.labels.size() != static_cast<std::size_t>(d.n))
    throw ArgumentError(std::string(what) + ": dataset claims " + std::to_string(d.n) + " images of " +
                        std::to_string(d.h) + " x " + std::to_string(d.w) + " but holds " +
                        std::to_string(d.images.size()) + " image bytes and " + std::to_string(d.labels.size()) +
                        " labels");
}
}  // namespace detail

/// Checked versions over a Dataset: every index must name one of its samples.
template <class Scalar>
void to_float_images(const Dataset& d, IndexSpan indices, Tensor<Scalar>& out) {
  detail::check_dataset("to_float_images", d);
  detail::check_indices("to_float_images", indices, d.n);
  to_float_images(d.images.data(), indices, d.h, d.w, out);
}

/// to_one_hot() of a Dataset's labels, checked: every index must name a sample and every label be < num_classes.
template <class Scalar>
void to_one_hot(const Dataset& d, IndexSpan indices, Index num_classes, Tensor<Scalar>& out) {
  detail::check_dataset("to_one_hot", d);
  detail::check_indices("to_one_hot", indices, d.n);
  to_one_hot(d.labels.data(), indices, num_classes, out);
}

}  // namespace nnlite
