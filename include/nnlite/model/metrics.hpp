// nnlite/model/metrics.hpp: Keras' metrics (accumulated over an epoch, reported in the History and the logs) and the
// metric registry; the confusion matrix and per-class precision, recall and F1 for reports.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/registry.hpp"
#include "../core/tensor.hpp"

namespace nnlite {

// Index of the largest value in a row; the first one on ties, like numpy/TF argmax.
template <class Scalar>
Index argmax_row(const Scalar* row, Index k) {
  Index best = 0;
  for (Index j = 1; j < k; ++j)
    if (row[j] > row[best]) best = j;
  return best;
}

template <class Scalar>
std::vector<int> argmax_rows(const Tensor<Scalar>& t) {
  std::vector<int> out(static_cast<std::size_t>(t.batch()));
  const Index k = t.sample_size();
  for (Index i = 0; i < t.batch(); ++i) out[static_cast<std::size_t>(i)] = static_cast<int>(argmax_row(t.data() + i * k, k));
  return out;
}

// Number of positions (the last axis is the class axis; one position per sample for a (batch, classes) output)
// where prediction and one-hot label agree on the argmax.
template <class Scalar>
Index count_correct(const Tensor<Scalar>& predictions, const Tensor<Scalar>& targets) {
  if (predictions.shape() != targets.shape())
    throw ShapeError("accuracy: labels of shape " + targets.shape().str() + " do not match predictions of shape " +
                     predictions.shape().str());
  const Index k = predictions.rank() ? predictions.dim(predictions.shape().rank() - 1) : 0;
  Index correct = 0;
  for (Index p = 0; k > 0 && p < predictions.size() / k; ++p)
    correct += argmax_row(predictions.data() + p * k, k) == argmax_row(targets.data() + p * k, k);
  return correct;
}

// A Keras metric: accumulates over batches (update), reports the running value (result), starts over (reset).
template <class Scalar>
class Metric {
 public:
  virtual ~Metric() = default;
  virtual std::string name() const = 0;  // the History / logs key: "accuracy"
  virtual void reset() = 0;
  virtual void update(const Tensor<Scalar>& output, const Tensor<Scalar>& target, const Scalar* sample_weight) = 0;
  virtual double result() const = 0;
  virtual std::unique_ptr<Metric> clone() const = 0;
};

// Keras' categorical_accuracy: the weighted share of positions whose argmax matches the one-hot label's.
template <class Scalar>
class CategoricalAccuracy : public Metric<Scalar> {
 public:
  explicit CategoricalAccuracy(std::string name = "accuracy") : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  void reset() override { total_ = count_ = 0; }
  void update(const Tensor<Scalar>& output, const Tensor<Scalar>& target, const Scalar* w) override {
    if (output.shape() != target.shape())
      throw ShapeError(name_ + ": labels of shape " + target.shape().str() + " do not match predictions of shape " +
                       output.shape().str());
    const Index k = output.dim(output.shape().rank() - 1), positions = output.size() / k;
    const Index per = output.batch() ? positions / output.batch() : 1;
    for (Index p = 0; p < positions; ++p) {
      const double weight = w ? static_cast<double>(w[p / per]) : 1.0;
      total_ += weight * (argmax_row(output.data() + p * k, k) == argmax_row(target.data() + p * k, k) ? 1.0 : 0.0);
      count_ += weight;
    }
  }
  double result() const override { return count_ > 0 ? total_ / count_ : 0.0; }
  std::unique_ptr<Metric<Scalar>> clone() const override { return std::make_unique<CategoricalAccuracy>(*this); }

 private:
  std::string name_;
  double total_ = 0, count_ = 0;
};

// Builds a metric from the name compile() was given, knowing the loss ("accuracy" means categorical, sparse or
// binary accuracy depending on it, as in Keras).
template <class Scalar>
using MetricCreator = std::function<std::unique_ptr<Metric<Scalar>>(const std::string& name, const std::string& loss)>;

template <class Scalar>
Registry<MetricCreator<Scalar>>& metric_registry() {
  static Registry<MetricCreator<Scalar>> registry = [] {
    Registry<MetricCreator<Scalar>> r("metric");
    auto accuracy = [](const std::string& name, const std::string& /*loss*/) -> std::unique_ptr<Metric<Scalar>> {
      return std::make_unique<CategoricalAccuracy<Scalar>>(name == "acc" ? "acc" : name == "categorical_accuracy"
                                                                                     ? "categorical_accuracy"
                                                                                     : "accuracy");
    };
    r.add("accuracy", accuracy, {"acc"});
    r.add("categorical_accuracy", accuracy);
    return r;
  }();
  return registry;
}

template <class Scalar>
void register_metric(const std::string& name, MetricCreator<Scalar> creator,
                     const std::vector<std::string>& aliases = {}) {
  metric_registry<Scalar>().add(name, std::move(creator), aliases);
}

template <class Scalar>
std::unique_ptr<Metric<Scalar>> make_metric(const std::string& name, const std::string& loss) {
  return metric_registry<Scalar>().at(name)(name, loss);
}

struct ClassReport {
  double precision = 0, recall = 0, f1 = 0;
  long support = 0;
};

// confusion[true][predicted]
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

// Precision, recall and F1 per class from a confusion matrix (0 where undefined, like scikit-learn's zero_division=0).
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
