// nnlite/model/metrics.hpp: accuracy as Keras' categorical_accuracy (argmax of prediction == argmax of label),
// and the confusion matrix / per-class precision, recall and F1 for reports.
#pragma once

#include <string>
#include <vector>

#include "../core/error.hpp"
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

// Number of rows where prediction and one-hot label agree on the argmax.
template <class Scalar>
Index count_correct(const Tensor<Scalar>& predictions, const Tensor<Scalar>& targets) {
  if (predictions.shape() != targets.shape())
    throw ShapeError("accuracy: labels of shape " + targets.shape().str() + " do not match predictions of shape " +
                     predictions.shape().str());
  const Index k = predictions.sample_size();
  Index correct = 0;
  for (Index i = 0; i < predictions.batch(); ++i)
    correct += argmax_row(predictions.data() + i * k, k) == argmax_row(targets.data() + i * k, k);
  return correct;
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
