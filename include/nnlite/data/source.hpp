// nnlite/data/source.hpp: where fit() and evaluate() get their batches. A source fills a batch from sample
// indices, so data may stay compact (uint8 images) and be converted one batch at a time.
#pragma once

#include <algorithm>
#include <cstring>

#include "../core/error.hpp"
#include "../core/tensor.hpp"

namespace nnlite {

template <class Scalar>
class DataSource {
 public:
  virtual ~DataSource() = default;
  virtual Index size() const = 0;
  virtual Shape sample_shape() const = 0;  // one input, without the batch dimension
  virtual Shape target_shape() const = 0;  // one label, e.g. (10,) one-hot
  // Writes samples indices[0..count) into x (count, sample_shape...) and y (count, target_shape...).
  virtual void fill(const Index* indices, Index count, Tensor<Scalar>& x, Tensor<Scalar>& y) const = 0;
};

// In-memory tensors: x (n, ...) and y (n, classes).
template <class Scalar>
class TensorSource : public DataSource<Scalar> {
 public:
  TensorSource(const Tensor<Scalar>& x, const Tensor<Scalar>& y) : x_(x), y_(y) {
    if (x.rank() < 2 || y.rank() != 2)
      throw ShapeError("data: inputs need shape (samples, ...) and labels (samples, classes); got " +
                       x.shape().str() + " and " + y.shape().str());
    if (x.batch() != y.batch())
      throw ShapeError("data: " + std::to_string(x.batch()) + " inputs " + x.shape().str() + " but " +
                       std::to_string(y.batch()) + " labels " + y.shape().str());
  }
  Index size() const override { return x_.batch(); }
  Shape sample_shape() const override { return x_.shape().without_batch(); }
  Shape target_shape() const override { return y_.shape().without_batch(); }
  void fill(const Index* indices, Index count, Tensor<Scalar>& x, Tensor<Scalar>& y) const override {
    x.resize(sample_shape().with_batch(count));
    y.resize(target_shape().with_batch(count));
    const Index xs = x_.sample_size(), ys = y_.sample_size();
    for (Index i = 0; i < count; ++i) {
      std::memcpy(x.data() + i * xs, x_.data() + indices[i] * xs, sizeof(Scalar) * static_cast<std::size_t>(xs));
      std::memcpy(y.data() + i * ys, y_.data() + indices[i] * ys, sizeof(Scalar) * static_cast<std::size_t>(ys));
    }
  }

 private:
  const Tensor<Scalar>& x_;
  const Tensor<Scalar>& y_;
};

}  // namespace nnlite
