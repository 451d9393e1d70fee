// nnlite/data/source.hpp: where fit() and evaluate() get their batches. A source fills a batch from sample
// indices, so data may stay compact (uint8 images) and be converted one batch at a time.
#pragma once

#include <algorithm>
#include <cstring>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"

namespace nnlite {

/// Where fit() and evaluate() get their batches: sample and target shapes, and a fill() by indices.
template <class Scalar>
class DataSource {
 public:
  virtual ~DataSource() = default;
  /// The number of samples.
  virtual Index size() const = 0;
  /// The shape of one input, without the batch dimension.
  virtual Shape sample_shape() const = 0;
  /// The shape of one label: (10,) one-hot, () or (1,) for an integer label.
  virtual Shape target_shape() const = 0;
  /// Writes samples indices[0..count) into x (count, sample_shape...) and y (count, target_shape...).
  virtual void fill(const Index* indices, Index count, Tensor<Scalar>& x, Tensor<Scalar>& y) const = 0;
  /// Keras' sample_weight: one weight per sample (loss only), or none (every weight 1).
  virtual bool has_sample_weights() const { return false; }
  /// Writes the weights of samples indices[0..count) into w (count,); only called when has_sample_weights().
  virtual void fill_sample_weights(const Index* /*indices*/, Index /*count*/, Tensor<Scalar>& /*w*/) const {}
};

/// In-memory tensors: x (n, ...), y (n, ...) and optionally sample weights (n,).
template <class Scalar>
class TensorSource : public DataSource<Scalar> {
 public:
  /// Refers to (does not copy) x, y and sample_weight, which must outlive the source; ShapeError when their sample
  /// counts differ.
  TensorSource(const Tensor<Scalar>& x, const Tensor<Scalar>& y, const Tensor<Scalar>* sample_weight = nullptr)
      : x_(x), y_(y), w_(sample_weight) {
    if (x.rank() < 2 || y.rank() < 1)
      throw ShapeError("data: inputs need shape (samples, ...) and labels (samples, ...); got " + x.shape().str() +
                       " and " + y.shape().str());
    if (x.batch() != y.batch())
      throw ShapeError("data: " + std::to_string(x.batch()) + " inputs " + x.shape().str() + " but " +
                       std::to_string(y.batch()) + " labels " + y.shape().str());
    if (w_ && (w_->rank() != 1 || w_->size() != x.batch()))
      throw ShapeError("data: sample_weight of shape " + w_->shape().str() + " for " + std::to_string(x.batch()) +
                       " samples (expected (" + std::to_string(x.batch()) + ",))");
  }
  Index size() const override { return x_.batch(); }
  Shape sample_shape() const override { return x_.shape().without_batch(); }
  Shape target_shape() const override { return y_.shape().without_batch(); }
  void fill(const Index* indices, Index count, Tensor<Scalar>& x, Tensor<Scalar>& y) const override {
    x.resize(sample_shape().with_batch(count));
    y.resize(target_shape().with_batch(count));
    const Index xs = x_.sample_size(), ys = y_.size() / y_.batch();
    for (Index i = 0; i < count; ++i) {
      std::memcpy(x.data() + i * xs, x_.data() + indices[i] * xs, sizeof(Scalar) * static_cast<std::size_t>(xs));
      std::memcpy(y.data() + i * ys, y_.data() + indices[i] * ys, sizeof(Scalar) * static_cast<std::size_t>(ys));
    }
  }
  bool has_sample_weights() const override { return w_ != nullptr; }
  void fill_sample_weights(const Index* indices, Index count, Tensor<Scalar>& w) const override {
    w.resize(Shape{count});
    for (Index i = 0; i < count; ++i) w[i] = (*w_)[indices[i]];
  }

 private:
  const Tensor<Scalar>& x_;
  const Tensor<Scalar>& y_;
  const Tensor<Scalar>* w_;
};

/// The samples `indices` of another source, renumbered 0..n-1 (a validation split, a train/test split, one shard).
template <class Scalar>
class SubsetSource : public DataSource<Scalar> {
 public:
  /// Samples `indices` of `base` (which must outlive the subset); ArgumentError for an index outside it.
  SubsetSource(const DataSource<Scalar>& base, std::vector<Index> indices) : base_(base), idx_(std::move(indices)) {
    for (Index i : idx_)
      if (i < 0 || i >= base.size())
        throw ArgumentError("SubsetSource: index " + std::to_string(i) + " is outside the " +
                            std::to_string(base.size()) + " samples of the source");
  }
  Index size() const override { return static_cast<Index>(idx_.size()); }
  Shape sample_shape() const override { return base_.sample_shape(); }
  Shape target_shape() const override { return base_.target_shape(); }
  /// The base source's index of each sample.
  const std::vector<Index>& indices() const { return idx_; }
  void fill(const Index* indices, Index count, Tensor<Scalar>& x, Tensor<Scalar>& y) const override {
    base_.fill(map(indices, count), count, x, y);
  }
  bool has_sample_weights() const override { return base_.has_sample_weights(); }
  void fill_sample_weights(const Index* indices, Index count, Tensor<Scalar>& w) const override {
    base_.fill_sample_weights(map(indices, count), count, w);
  }

 private:
  const Index* map(const Index* indices, Index count) const {
    mapped_.resize(static_cast<std::size_t>(count));  // grows once to the batch size, then reused
    for (Index i = 0; i < count; ++i) mapped_[static_cast<std::size_t>(i)] = idx_[static_cast<std::size_t>(indices[i])];
    return mapped_.data();
  }

  const DataSource<Scalar>& base_;
  std::vector<Index> idx_;
  mutable std::vector<Index> mapped_;
};

}  // namespace nnlite
