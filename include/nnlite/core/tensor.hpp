// nnlite/core/tensor.hpp: a dense row-major tensor whose rank is known at run time, in Keras layouts
// (NHWC activations, HWIO conv kernels, (in, out) dense kernels), with zero-copy Eigen views.
#pragma once

#include <Eigen/Core>
#include <unsupported/Eigen/CXX11/Tensor>

#include <cstddef>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "error.hpp"

namespace nnlite {

/// Eigen's signed index type, used for every size and dimension.
using Index = Eigen::Index;

/// Dimensions, outermost first. A layer's shapes omit the batch; a Tensor's include it.
class Shape {
 public:
  Shape() = default;
  /// A shape from its dimensions: Shape{28, 28, 1}.
  Shape(std::initializer_list<Index> dims) : dims_(dims) {}
  /// A shape from a vector of dimensions.
  explicit Shape(std::vector<Index> dims) : dims_(std::move(dims)) {}

  /// The number of dimensions.
  std::size_t rank() const { return dims_.size(); }
  /// Dimension i (bounds-checked).
  Index operator[](std::size_t i) const { return dims_.at(i); }
  /// Dimension i, writable (bounds-checked).
  Index& operator[](std::size_t i) { return dims_.at(i); }
  /// All dimensions.
  const std::vector<Index>& dims() const { return dims_; }
  /// True for a rank-0 shape.
  bool empty() const { return dims_.empty(); }

  /// The number of elements: the product of the dimensions (1 for rank 0).
  Index size() const {
    Index n = 1;
    for (Index d : dims_) n *= d;
    return n;
  }

  /// The same shape with a batch dimension in front.
  Shape with_batch(Index batch) const {
    std::vector<Index> d{batch};
    d.insert(d.end(), dims_.begin(), dims_.end());
    return Shape(std::move(d));
  }
  /// The shape without its first (batch) dimension.
  Shape without_batch() const {
    if (dims_.empty()) return {};
    return Shape(std::vector<Index>(dims_.begin() + 1, dims_.end()));
  }

  /// Same dimensions.
  friend bool operator==(const Shape& a, const Shape& b) { return a.dims_ == b.dims_; }
  /// Different dimensions.
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

  /// "(28, 28, 1)", or "(None, 28, 28, 1)" for a per-sample shape printed the way Keras does.
  std::string str(bool keras_batch = false) const {
    std::ostringstream os;
    os << '(';
    bool first = true;
    if (keras_batch) {
      os << "None";
      first = false;
    }
    for (Index d : dims_) {
      if (!first) os << ", ";
      os << d;
      first = false;
    }
    if (dims_.size() == 1 && !keras_batch) os << ',';
    os << ')';
    return os.str();
  }

 private:
  std::vector<Index> dims_;
};

/// A dynamic row-major Eigen matrix (the layout of every nnlite buffer).
template <class Scalar>
using RowMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
/// A writable row-major matrix view of existing memory.
template <class Scalar>
using MatrixMap = Eigen::Map<RowMatrix<Scalar>>;
/// A read-only row-major matrix view of existing memory.
template <class Scalar>
using ConstMatrixMap = Eigen::Map<const RowMatrix<Scalar>>;
/// A writable column-vector view of existing memory.
template <class Scalar>
using VectorMap = Eigen::Map<Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>;
/// A read-only column-vector view of existing memory.
template <class Scalar>
using ConstVectorMap = Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>;
/// A writable row-major Eigen::TensorMap of the given rank.
template <class Scalar, int Rank>
using TensorMap = Eigen::TensorMap<Eigen::Tensor<Scalar, Rank, Eigen::RowMajor>>;
/// A read-only row-major Eigen::TensorMap of the given rank.
template <class Scalar, int Rank>
using ConstTensorMap = Eigen::TensorMap<Eigen::Tensor<const Scalar, Rank, Eigen::RowMajor>>;

/// Owns contiguous, aligned, row-major storage. resize() keeps the allocation when the new size fits,
/// so buffers sized on the first batch are reused for every later batch (and the smaller last one).
template <class Scalar>
class Tensor {
 public:
  /// The element type (float or double).
  using value_type = Scalar;

  Tensor() = default;
  /// A tensor of this shape, every element 0.
  explicit Tensor(Shape shape) { resize(std::move(shape)); }
  /// A tensor of this shape with every element `fill`.
  Tensor(Shape shape, Scalar fill) {
    resize(std::move(shape));
    setConstant(fill);
  }

  /// Sets the shape, keeping the allocation when the new size fits; the contents are not cleared.
  void resize(Shape shape) {
    shape_ = std::move(shape);
    data_.resize(static_cast<std::size_t>(shape_.size()));
  }

  /// The shape, batch first.
  const Shape& shape() const { return shape_; }
  /// The number of elements.
  Index size() const { return static_cast<Index>(data_.size()); }
  /// The number of dimensions.
  Index rank() const { return static_cast<Index>(shape_.rank()); }
  /// Dimension i.
  Index dim(std::size_t i) const { return shape_[i]; }
  /// The first dimension (0 for rank 0).
  Index batch() const { return shape_.rank() ? shape_[0] : 0; }
  /// Elements per sample: everything but the first dimension.
  Index sample_size() const { return batch() ? size() / batch() : 0; }

  /// The first element.
  Scalar* data() { return data_.data(); }
  /// The first element, read-only.
  const Scalar* data() const { return data_.data(); }
  /// Element i of the flat storage.
  Scalar& operator[](Index i) { return data_[static_cast<std::size_t>(i)]; }
  /// Element i of the flat storage, read-only.
  const Scalar& operator[](Index i) const { return data_[static_cast<std::size_t>(i)]; }
  /// The first element, for range-for loops.
  Scalar* begin() { return data(); }
  /// Past the last element.
  Scalar* end() { return data() + size(); }
  /// The first element, read-only.
  const Scalar* begin() const { return data(); }
  /// Past the last element, read-only.
  const Scalar* end() const { return data() + size(); }

  /// Sets every element to 0.
  void setZero() { std::fill(data_.begin(), data_.end(), Scalar(0)); }
  /// Sets every element to v.
  void setConstant(Scalar v) { std::fill(data_.begin(), data_.end(), v); }

  /// (batch, everything else) as a row-major matrix.
  MatrixMap<Scalar> matrix() { return MatrixMap<Scalar>(data(), batch(), sample_size()); }
  /// (batch, everything else) as a read-only row-major matrix.
  ConstMatrixMap<Scalar> matrix() const { return ConstMatrixMap<Scalar>(data(), batch(), sample_size()); }
  /// All elements as one column vector.
  VectorMap<Scalar> flat() { return VectorMap<Scalar>(data(), size()); }
  /// All elements as one read-only column vector.
  ConstVectorMap<Scalar> flat() const { return ConstVectorMap<Scalar>(data(), size()); }

  /// An Eigen::TensorMap of the given rank over the same storage (throws if the rank differs).
  template <int Rank>
  TensorMap<Scalar, Rank> view() {
    return TensorMap<Scalar, Rank>(data(), dims_array<Rank>());
  }
  /// A read-only Eigen::TensorMap of the given rank (throws if the rank differs).
  template <int Rank>
  ConstTensorMap<Scalar, Rank> view() const {
    return ConstTensorMap<Scalar, Rank>(data(), dims_array<Rank>());
  }

  /// Element access by full index, for tests and reference code.
  template <class... I>
  Scalar& at(I... idx) {
    return data_[static_cast<std::size_t>(offset({static_cast<Index>(idx)...}))];
  }
  /// Read-only element access by full index (ShapeError when out of range).
  template <class... I>
  const Scalar& at(I... idx) const {
    return data_[static_cast<std::size_t>(offset({static_cast<Index>(idx)...}))];
  }

 private:
  template <int Rank>
  Eigen::array<Index, Rank> dims_array() const {
    if (static_cast<int>(shape_.rank()) != Rank)
      throw ShapeError("tensor of shape " + shape_.str() + " viewed with rank " + std::to_string(Rank));
    Eigen::array<Index, Rank> d;
    for (int i = 0; i < Rank; ++i) d[i] = shape_[static_cast<std::size_t>(i)];
    return d;
  }
  Index offset(std::initializer_list<Index> idx) const {
    if (idx.size() != shape_.rank())
      throw ShapeError("tensor of shape " + shape_.str() + " indexed with " + std::to_string(idx.size()) +
                       " indices");
    Index off = 0;
    std::size_t i = 0;
    for (Index v : idx) {
      if (v < 0 || v >= shape_[i]) throw ShapeError("index out of range for tensor of shape " + shape_.str());
      off = off * shape_[i] + v;
      ++i;
    }
    return off;
  }

  Shape shape_;
  std::vector<Scalar, Eigen::aligned_allocator<Scalar>> data_;
};

}  // namespace nnlite
