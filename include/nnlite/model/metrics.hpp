// nnlite/model/metrics.hpp: Keras' metrics (accumulated over an epoch, reported in the History and the logs) and the
// metric registry; the confusion matrix and per-class precision, recall and F1 for reports.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/registry.hpp"
#include "../core/tensor.hpp"

namespace nnlite {

namespace metric_detail {
template <class Scalar>
ShapeError shape_mismatch(const std::string& name, const Tensor<Scalar>& output, const Tensor<Scalar>& target) {
  return ShapeError(name + ": labels of shape " + target.shape().str() + " do not match predictions of shape " +
                    output.shape().str());
}
/// Calls f(i, weight) for every value i of `output` (weight: its sample's, 1 without sample weights); ShapeError
/// when the labels do not have as many values.
template <class Scalar, class F>
void for_each_weighted_value(const std::string& name, const Tensor<Scalar>& output, const Tensor<Scalar>& target,
                             const Scalar* w, F&& f) {
  if (output.size() != target.size()) throw shape_mismatch(name, output, target);
  const Index per = output.batch() ? output.size() / output.batch() : 1;
  for (Index i = 0; i < output.size(); ++i) f(i, w ? static_cast<double>(w[i / per]) : 1.0);
}
}  // namespace metric_detail

/// Index of the largest value in a row; the first one on ties, like numpy/TF argmax.
template <class Scalar>
Index argmax_row(const Scalar* row, Index k) {
  Index best = 0;
  for (Index j = 1; j < k; ++j)
    if (row[j] > row[best]) best = j;
  return best;
}

/// The argmax of every sample of a (batch, classes) tensor: predicted class indices.
template <class Scalar>
std::vector<int> argmax_rows(const Tensor<Scalar>& t) {
  std::vector<int> out(static_cast<std::size_t>(t.batch()));
  const Index k = t.sample_size();
  for (Index i = 0; i < t.batch(); ++i) out[static_cast<std::size_t>(i)] = static_cast<int>(argmax_row(t.data() + i * k, k));
  return out;
}

/// Number of positions (the last axis is the class axis; one position per sample for a (batch, classes) output)
/// where prediction and one-hot label agree on the argmax.
template <class Scalar>
Index count_correct(const Tensor<Scalar>& predictions, const Tensor<Scalar>& targets) {
  if (predictions.shape() != targets.shape()) throw metric_detail::shape_mismatch("accuracy", predictions, targets);
  const Index k = predictions.rank() ? predictions.dim(predictions.shape().rank() - 1) : 0;
  Index correct = 0;
  for (Index p = 0; k > 0 && p < predictions.size() / k; ++p)
    correct += argmax_row(predictions.data() + p * k, k) == argmax_row(targets.data() + p * k, k);
  return correct;
}

/// A Keras metric: accumulates over batches (update), reports the running value (result), starts over (reset).
template <class Scalar>
class Metric {
 public:
  virtual ~Metric() = default;
  /// Keras' metric.name, the History / logs key: "accuracy".
  virtual std::string name() const = 0;
  /// Keras' reset_state(): starts the accumulation over (fit() does at each epoch).
  virtual void reset() = 0;
  /// Keras' update_state(y_true, y_pred, sample_weight): adds a batch; `sample_weight` is null or one per sample.
  virtual void update(const Tensor<Scalar>& output, const Tensor<Scalar>& target, const Scalar* sample_weight) = 0;
  /// Keras' result(): the value over every batch since the last reset.
  virtual double result() const = 0;
  /// An independent copy with the same options and state.
  virtual std::unique_ptr<Metric> clone() const = 0;
  /// The state as state_size() numbers that add up over batches (every Keras metric's state is sums: totals, counts,
  /// confusion counts), so data-parallel fit() sums them over ranks and sets the sum back. 0: not reducible.
  virtual Index state_size() const { return 0; }
  /// Writes the state_size() numbers of the state to `out`.
  virtual void get_state(double* /*out*/) const {}
  /// Sets the state from state_size() numbers (as get_state() writes them).
  virtual void set_state(const double* /*in*/) {}
};

/// What a metric creator knows at compile(): the loss's name and the per-sample shapes of the output and of the
/// labels the loss takes (Keras resolves "accuracy" from these).
struct MetricContext {
  std::string loss;  ///< The loss's name as compile() was given it: "categorical_crossentropy".
  Shape output;      ///< The model's per-sample output shape, e.g. (10,) or (1,).
  Shape target;      ///< The labels' per-sample shape, e.g. (10,) one-hot, () sparse.
};

namespace metric_detail {
inline Index last_dim(const Shape& s) { return s.rank() ? s[s.rank() - 1] : 1; }
/// Keras' rule for "accuracy": binary when the output has one value per position, sparse when the labels lack the
/// class axis (or keep it with size 1 while the output has more), categorical otherwise.
inline std::string resolve_accuracy(const MetricContext& c) {
  if (c.output.rank() > 0 && last_dim(c.output) == 1) return "binary_accuracy";
  if (c.target.rank() + 1 == c.output.rank() ||
      (c.target.rank() > 0 && last_dim(c.target) == 1 && last_dim(c.output) > 1))
    return "sparse_categorical_accuracy";
  return "categorical_accuracy";
}
}  // namespace metric_detail

/// The mean of a per-position value over every position seen (Keras' MeanMetricWrapper): subclasses give the value
/// of one position (k output values against its labels).
template <class Scalar>
class MeanPositionMetric : public Metric<Scalar> {
 public:
  /// A mean reported under `name`.
  explicit MeanPositionMetric(std::string name) : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  void reset() override { total_ = count_ = 0; }
  void update(const Tensor<Scalar>& output, const Tensor<Scalar>& target, const Scalar* w) override {
    const Index k = output.rank() > 1 ? output.dim(output.shape().rank() - 1) : 1;
    const Index positions = output.size() / k, tk = target.size() == positions ? 1 : k;
    if (target.size() != positions * tk || target.batch() != output.batch())
      throw metric_detail::shape_mismatch(name_, output, target);
    accumulate(output, target, w, k, tk);
  }
  double result() const override { return count_ > 0 ? total_ / count_ : 0.0; }
  Index state_size() const override { return 2; }
  void get_state(double* out) const override { out[0] = total_, out[1] = count_; }
  void set_state(const double* in) override { total_ = in[0], count_ = in[1]; }

 protected:
  /// One position: k predictions, tk label values (1 for a sparse label).
  virtual double value(const Scalar* p, const Scalar* y, Index k, Index tk) const = 0;
  /// Adds value() of every position (k predictions, tk label values each), weighted by its sample's weight.
  void accumulate(const Tensor<Scalar>& output, const Tensor<Scalar>& target, const Scalar* w, Index k, Index tk) {
    const Index positions = output.size() / k, per = output.batch() ? positions / output.batch() : 1;
    for (Index p = 0; p < positions; ++p) {
      const double weight = w ? static_cast<double>(w[p / per]) : 1.0;
      total_ += weight * value(output.data() + p * k, target.data() + p * tk, k, tk);
      count_ += weight;
    }
  }

 private:
  std::string name_;
  double total_ = 0, count_ = 0;
};

/// Keras' categorical_accuracy: the weighted share of positions whose argmax matches the one-hot label's.
template <class Scalar>
class CategoricalAccuracy : public MeanPositionMetric<Scalar> {
 public:
  /// A categorical accuracy reported under `name`.
  explicit CategoricalAccuracy(std::string name = "accuracy") : MeanPositionMetric<Scalar>(std::move(name)) {}
  void update(const Tensor<Scalar>& output, const Tensor<Scalar>& target, const Scalar* w) override {
    if (output.shape() != target.shape()) throw metric_detail::shape_mismatch(this->name(), output, target);
    const Index k = output.dim(output.shape().rank() - 1);
    this->accumulate(output, target, w, k, k);
  }
  std::unique_ptr<Metric<Scalar>> clone() const override { return std::make_unique<CategoricalAccuracy>(*this); }

 protected:
  double value(const Scalar* p, const Scalar* y, Index k, Index) const override {
    return argmax_row(p, k) == argmax_row(y, k) ? 1.0 : 0.0;
  }
};

/// Keras' sparse_categorical_accuracy: argmax of the prediction == the integer label.
template <class Scalar>
class SparseCategoricalAccuracy : public MeanPositionMetric<Scalar> {
 public:
  /// A sparse categorical accuracy reported under `name`.
  explicit SparseCategoricalAccuracy(std::string name = "sparse_categorical_accuracy")
      : MeanPositionMetric<Scalar>(std::move(name)) {}
  std::unique_ptr<Metric<Scalar>> clone() const override { return std::make_unique<SparseCategoricalAccuracy>(*this); }

 protected:
  double value(const Scalar* p, const Scalar* y, Index k, Index) const override {
    return static_cast<double>(argmax_row(p, k)) == static_cast<double>(y[0]) ? 1.0 : 0.0;
  }
};

/// Keras' binary_accuracy(threshold=0.5): the share of values where (p > threshold) equals the label.
template <class Scalar>
class BinaryAccuracy : public MeanPositionMetric<Scalar> {
 public:
  /// Keras' BinaryAccuracy(name, threshold).
  explicit BinaryAccuracy(std::string name = "binary_accuracy", double threshold = 0.5)
      : MeanPositionMetric<Scalar>(std::move(name)), threshold_(threshold) {}
  std::unique_ptr<Metric<Scalar>> clone() const override { return std::make_unique<BinaryAccuracy>(*this); }

 protected:
  double value(const Scalar* p, const Scalar* y, Index k, Index) const override {
    double hits = 0;
    for (Index j = 0; j < k; ++j)
      hits += (static_cast<double>(p[j]) > threshold_ ? 1.0 : 0.0) == static_cast<double>(y[j]) ? 1.0 : 0.0;
    return hits / static_cast<double>(k);
  }

 private:
  double threshold_;
};

/// Keras' top_k_categorical_accuracy(k=5): the one-hot label's class (its argmax) is among the k largest predictions
/// (TensorFlow's in_top_k: fewer than k classes strictly above it, so classes tied with the k-th largest count as
/// inside; a row with a NaN or infinite prediction is a miss).
template <class Scalar>
class TopKCategoricalAccuracy : public MeanPositionMetric<Scalar> {
 public:
  /// Keras' TopKCategoricalAccuracy(k, name).
  explicit TopKCategoricalAccuracy(std::string name = "top_k_categorical_accuracy", Index k = 5)
      : MeanPositionMetric<Scalar>(std::move(name)), k_(k) {}
  std::unique_ptr<Metric<Scalar>> clone() const override { return std::make_unique<TopKCategoricalAccuracy>(*this); }

 protected:
  double value(const Scalar* p, const Scalar* y, Index k, Index tk) const override {
    const Index label = tk == 1 ? static_cast<Index>(y[0]) : argmax_row(y, k);
    Index above = 0;
    for (Index j = 0; j < k; ++j) {
      if (!std::isfinite(static_cast<double>(p[j]))) return 0.0;
      above += p[j] > p[label];
    }
    return above < k_ ? 1.0 : 0.0;
  }

 private:
  Index k_;
};

/// Keras' mae / mse metrics: the mean over the last axis of |p - y| or (p - y)^2, averaged over positions.
template <class Scalar>
class MeanErrorMetric : public MeanPositionMetric<Scalar> {
 public:
  /// Mean absolute error, or mean squared error when `squared`, reported under `name`.
  MeanErrorMetric(std::string name, bool squared) : MeanPositionMetric<Scalar>(std::move(name)), squared_(squared) {}
  std::unique_ptr<Metric<Scalar>> clone() const override { return std::make_unique<MeanErrorMetric>(*this); }

 protected:
  double value(const Scalar* p, const Scalar* y, Index k, Index) const override {
    double s = 0;
    for (Index j = 0; j < k; ++j) {
      const double e = static_cast<double>(p[j]) - static_cast<double>(y[j]);
      s += squared_ ? e * e : std::abs(e);
    }
    return s / static_cast<double>(k);
  }

 private:
  bool squared_;
};

/// Keras' Precision / Recall (thresholds=0.5, top_k=None): over every value, predicted positive = p > 0.5, actual
/// positive = label != 0; precision TP / (TP + FP), recall TP / (TP + FN), 0 when the denominator is 0.
template <class Scalar>
class PrecisionRecall : public Metric<Scalar> {
 public:
  /// Keras' Precision (or Recall when `recall`) with `thresholds`, reported under `name`.
  PrecisionRecall(std::string name, bool recall, double threshold = 0.5)
      : name_(std::move(name)), recall_(recall), threshold_(threshold) {}
  std::string name() const override { return name_; }
  void reset() override { tp_ = fp_ = fn_ = 0; }
  void update(const Tensor<Scalar>& output, const Tensor<Scalar>& target, const Scalar* w) override {
    metric_detail::for_each_weighted_value(name_, output, target, w, [&](Index i, double weight) {
      const bool pred = static_cast<double>(output[i]) > threshold_, truth = target[i] != Scalar(0);
      tp_ += pred && truth ? weight : 0.0;
      fp_ += pred && !truth ? weight : 0.0;
      fn_ += !pred && truth ? weight : 0.0;
    });
  }
  double result() const override {
    const double d = recall_ ? tp_ + fn_ : tp_ + fp_;
    return d > 0 ? tp_ / d : 0.0;
  }
  std::unique_ptr<Metric<Scalar>> clone() const override { return std::make_unique<PrecisionRecall>(*this); }
  Index state_size() const override { return 3; }
  void get_state(double* out) const override { out[0] = tp_, out[1] = fp_, out[2] = fn_; }
  void set_state(const double* in) override { tp_ = in[0], fp_ = in[1], fn_ = in[2]; }

 private:
  std::string name_;
  bool recall_;
  double threshold_;
  double tp_ = 0, fp_ = 0, fn_ = 0;
};

/// Keras' AUC(num_thresholds=200, curve='ROC', summation_method='interpolation'): thresholds -1e-7, 1/199, ...,
/// 198/199, 1 + 1e-7; at each, TP/FP/TN/FN of (p > threshold) over every value (labels != 0 are positive); the area is
/// the trapezoidal sum over consecutive thresholds of (FPR_i - FPR_i+1) (TPR_i + TPR_i+1) / 2. Predictions are
/// bucketed as Keras does for evenly spaced thresholds (bucket ceil(p (n - 1)) - 1, at least 0), in the model's
/// Scalar as Keras computes it in the prediction's dtype, so a float prediction on a threshold lands where Keras'.
template <class Scalar>
class AUC : public Metric<Scalar> {
 public:
  /// Keras' AUC(num_thresholds, name); ArgumentError for num_thresholds <= 1.
  explicit AUC(std::string name = "auc", int num_thresholds = 200) : name_(std::move(name)), n_(num_thresholds) {
    if (num_thresholds <= 1) throw ArgumentError("AUC: num_thresholds must be > 1, got " + std::to_string(num_thresholds));
    reset();
  }
  std::string name() const override { return name_; }
  void reset() override {
    pos_.assign(static_cast<std::size_t>(n_), 0.0);
    neg_.assign(static_cast<std::size_t>(n_), 0.0);
  }
  void update(const Tensor<Scalar>& output, const Tensor<Scalar>& target, const Scalar* w) override {
    metric_detail::for_each_weighted_value(name_, output, target, w, [&](Index i, double weight) {
      const Scalar p = std::clamp(output[i], Scalar(0), Scalar(1));
      const Scalar scaled = p * static_cast<Scalar>(n_ - 1);
      const auto b = static_cast<std::size_t>(std::max(0.0, std::ceil(static_cast<double>(scaled)) - 1));
      (target[i] != Scalar(0) ? pos_ : neg_)[std::min(b, static_cast<std::size_t>(n_ - 1))] += weight;
    });
  }
  double result() const override {
    // A value in bucket b is above thresholds 0..b: counts at threshold i are sums over buckets >= i.
    std::vector<double> tpr(static_cast<std::size_t>(n_)), fpr(static_cast<std::size_t>(n_));
    double tp = 0, fp = 0, all_p = 0, all_n = 0;
    for (int i = 0; i < n_; ++i) all_p += pos_[static_cast<std::size_t>(i)], all_n += neg_[static_cast<std::size_t>(i)];
    for (int i = n_ - 1; i >= 0; --i) {
      const auto u = static_cast<std::size_t>(i);
      // The last threshold (1 + 1e-7) has nothing above it.
      if (i < n_ - 1) tp += pos_[u], fp += neg_[u];
      tpr[u] = all_p > 0 ? tp / all_p : 0.0;
      fpr[u] = all_n > 0 ? fp / all_n : 0.0;
    }
    double area = 0;
    for (std::size_t i = 0; i + 1 < static_cast<std::size_t>(n_); ++i)
      area += (fpr[i] - fpr[i + 1]) * (tpr[i] + tpr[i + 1]) / 2;
    return area;
  }
  std::unique_ptr<Metric<Scalar>> clone() const override { return std::make_unique<AUC>(*this); }
  Index state_size() const override { return 2 * n_; }
  void get_state(double* out) const override {
    std::copy(pos_.begin(), pos_.end(), out);
    std::copy(neg_.begin(), neg_.end(), out + n_);
  }
  void set_state(const double* in) override {
    std::copy(in, in + n_, pos_.begin());
    std::copy(in + n_, in + 2 * n_, neg_.begin());
  }

 private:
  std::string name_;
  int n_;
  std::vector<double> pos_, neg_;  // weight of positive / negative values per bucket
};

/// Builds a metric from the name compile() was given (which is also its logs key, as in Keras), knowing the loss
/// and the shapes ("accuracy" means categorical, sparse categorical or binary accuracy depending on them).
template <class Scalar>
using MetricCreator = std::function<std::unique_ptr<Metric<Scalar>>(const std::string& name, const MetricContext&)>;

/// The metric registry: compile()'s metric name (or alias: "acc", "mae", ...) -> creator.
template <class Scalar>
Registry<MetricCreator<Scalar>>& metric_registry() {
  static Registry<MetricCreator<Scalar>> registry = [] {
    using Ptr = std::unique_ptr<Metric<Scalar>>;
    Registry<MetricCreator<Scalar>> r("metric");
    auto of_kind = [](const std::string& kind, const std::string& name) -> Ptr {
      if (kind == "binary_accuracy") return std::make_unique<BinaryAccuracy<Scalar>>(name);
      if (kind == "sparse_categorical_accuracy") return std::make_unique<SparseCategoricalAccuracy<Scalar>>(name);
      return std::make_unique<CategoricalAccuracy<Scalar>>(name);
    };
    r.add("accuracy", [of_kind](const std::string& name, const MetricContext& c) {
      return of_kind(metric_detail::resolve_accuracy(c), name);
    }, {"acc"});
    for (const char* kind : {"categorical_accuracy", "sparse_categorical_accuracy", "binary_accuracy"})
      r.add(kind, [of_kind, kind](const std::string& name, const MetricContext&) { return of_kind(kind, name); });
    r.add("top_k_categorical_accuracy", [](const std::string& name, const MetricContext&) -> Ptr {
      return std::make_unique<TopKCategoricalAccuracy<Scalar>>(name);
    });
    r.add("mean_absolute_error", [](const std::string& name, const MetricContext&) -> Ptr {
      return std::make_unique<MeanErrorMetric<Scalar>>(name, false);
    }, {"mae", "MAE", "MeanAbsoluteError"});
    r.add("mean_squared_error", [](const std::string& name, const MetricContext&) -> Ptr {
      return std::make_unique<MeanErrorMetric<Scalar>>(name, true);
    }, {"mse", "MSE", "MeanSquaredError"});
    r.add("AUC", [](const std::string& name, const MetricContext&) -> Ptr {
      return std::make_unique<AUC<Scalar>>(name);
    }, {"auc"});
    r.add("Precision", [](const std::string& name, const MetricContext&) -> Ptr {
      return std::make_unique<PrecisionRecall<Scalar>>(name, false);
    }, {"precision"});
    r.add("Recall", [](const std::string& name, const MetricContext&) -> Ptr {
      return std::make_unique<PrecisionRecall<Scalar>>(name, true);
    }, {"recall"});
    return r;
  }();
  return registry;
}

/// Adds (or replaces) a metric name for compile() and make_metric.
template <class Scalar>
void register_metric(const std::string& name, MetricCreator<Scalar> creator,
                     const std::vector<std::string>& aliases = {}) {
  metric_registry<Scalar>().add(name, std::move(creator), aliases);
}

/// The metric compile() makes for `name`; unknown names: UnsupportedError listing the registered ones.
template <class Scalar>
std::unique_ptr<Metric<Scalar>> make_metric(const std::string& name, const MetricContext& context) {
  return metric_registry<Scalar>().at(name, "compile: ")(name, context);
}

/// Per-class precision, recall and F1 with the confusion matrix, from predictions and labels.
struct ClassReport {
  double precision = 0;  ///< TP / (TP + FP), 0 when nothing was predicted as the class.
  double recall = 0;     ///< TP / (TP + FN), 0 when the class has no samples.
  double f1 = 0;         ///< The harmonic mean of precision and recall, 0 when both are 0.
  long support = 0;      ///< Samples whose label is the class.
};

/// The confusion matrix, counts indexed [true class][predicted class]; ArgumentError for a class out of range.
inline std::vector<std::vector<long>> confusion_matrix(const std::vector<int>& truth, const std::vector<int>& predicted,
                                                       int num_classes) {
  if (truth.size() != predicted.size())
    throw ShapeError("confusion_matrix: " + std::to_string(truth.size()) + " labels but " +
                     std::to_string(predicted.size()) + " predictions");
  std::vector<std::vector<long>> m(static_cast<std::size_t>(num_classes), std::vector<long>(static_cast<std::size_t>(num_classes), 0));
  for (std::size_t i = 0; i < truth.size(); ++i) {
    if (truth[i] < 0 || truth[i] >= num_classes || predicted[i] < 0 || predicted[i] >= num_classes)
      throw ArgumentError("confusion_matrix: class index out of range at sample " + std::to_string(i));
    ++m[static_cast<std::size_t>(truth[i])][static_cast<std::size_t>(predicted[i])];
  }
  return m;
}

/// Precision, recall and F1 per class from a confusion matrix (0 where undefined, like scikit-learn's zero_division=0).
inline std::vector<ClassReport> per_class_report(const std::vector<std::vector<long>>& confusion) {
  const std::size_t k = confusion.size();
  std::vector<ClassReport> out(k);
  for (std::size_t c = 0; c < k; ++c) {
    long tp = confusion[c][c], predicted = 0, actual = 0;
    for (std::size_t j = 0; j < k; ++j) {
      predicted += confusion[j][c];
      actual += confusion[c][j];
    }
    auto& r = out[c];
    r.support = actual;
    r.precision = predicted ? static_cast<double>(tp) / static_cast<double>(predicted) : 0.0;
    r.recall = actual ? static_cast<double>(tp) / static_cast<double>(actual) : 0.0;
    r.f1 = r.precision + r.recall > 0 ? 2 * r.precision * r.recall / (r.precision + r.recall) : 0.0;
  }
  return out;
}

}  // namespace nnlite
