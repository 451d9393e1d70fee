// nnlite/model/losses.hpp: categorical cross-entropy as Keras computes it (probabilities clipped to [1e-7, 1 - 1e-7]),
// with the fused softmax gradient (p - y) / batch that the model uses when its last layer ends in a softmax.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>

#include "../core/error.hpp"
#include "../core/tensor.hpp"

namespace nnlite {

enum class Loss { categorical_crossentropy };

inline Loss parse_loss(const std::string& name) {
  if (name == "categorical_crossentropy" || name == "CategoricalCrossentropy") return Loss::categorical_crossentropy;
  throw UnsupportedError("unsupported loss '" + name + "' (nnlite supports categorical_crossentropy)");
}
inline std::string loss_name(Loss) { return "categorical_crossentropy"; }

constexpr double keras_epsilon = 1e-7;

// Checks that labels are (batch, classes) like the predictions, naming both shapes when they are not.
template <class Scalar>
void check_targets(const Tensor<Scalar>& predictions, const Tensor<Scalar>& targets) {
  if (predictions.shape() != targets.shape())
    throw ShapeError("categorical_crossentropy: labels of shape " + targets.shape().str() +
                     " do not match predictions of shape " + predictions.shape().str() +
                     " (labels must be one-hot, one row per sample)");
}

// Per-sample losses summed over the batch (divide by batch for the mean): -sum(y * log(clip(p))), after
// renormalising p like Keras does for probabilities that are not exactly normalised.
template <class Scalar>
double categorical_crossentropy_sum(const Tensor<Scalar>& probs, const Tensor<Scalar>& targets) {
  check_targets(probs, targets);
  const Index n = probs.batch(), k = probs.sample_size();
  double total = 0;
  for (Index i = 0; i < n; ++i) {
    const Scalar* p = probs.data() + i * k;
    const Scalar* y = targets.data() + i * k;
    double norm = 0;
    for (Index j = 0; j < k; ++j) norm += static_cast<double>(p[j]);
    if (!(norm > 0)) norm = 1;
    double sample = 0;
    for (Index j = 0; j < k; ++j) {
      if (y[j] == Scalar(0)) continue;
      const double q = std::clamp(static_cast<double>(p[j]) / norm, keras_epsilon, 1.0 - keras_epsilon);
      sample -= static_cast<double>(y[j]) * std::log(q);
    }
    total += sample;
  }
  return total;
}

// d(mean loss)/d(probabilities), for a last layer that does not end in a softmax (clipped like the value).
template <class Scalar>
void categorical_crossentropy_grad(const Tensor<Scalar>& probs, const Tensor<Scalar>& targets, Tensor<Scalar>& grad) {
  check_targets(probs, targets);
  grad.resize(probs.shape());
  const Scalar inv_batch = Scalar(1) / static_cast<Scalar>(probs.batch());
  for (Index i = 0; i < probs.size(); ++i) {
    const Scalar p = probs[i];
    const bool clipped = p < Scalar(keras_epsilon) || p > Scalar(1 - keras_epsilon);
    grad[i] = clipped ? Scalar(0) : -targets[i] / p * inv_batch;
  }
}

// The fused gradient: d(mean loss)/d(logits) of softmax + cross-entropy, exact and stable: (p - y) / batch.
template <class Scalar>
void softmax_crossentropy_logits_grad(const Tensor<Scalar>& probs, const Tensor<Scalar>& targets,
                                      Tensor<Scalar>& grad) {
  check_targets(probs, targets);
  grad.resize(probs.shape());
  const Scalar inv_batch = Scalar(1) / static_cast<Scalar>(probs.batch());
  grad.flat() = (probs.flat() - targets.flat()) * inv_batch;
}

}  // namespace nnlite
