// nnlite/model/losses.hpp: Keras' losses (categorical, sparse categorical and binary cross-entropy, mean squared and
// absolute error, Huber, KL divergence, categorical hinge), each one class whose per-position value and exact gradient sit side by
// side, the reduction Keras applies over positions and samples, and the loss registry (name -> creator).
//
// Every loss reduces the last axis (Keras' axis=-1) at each position of the output: (batch, classes) has one position
// per sample, a per-pixel (batch, H, W, classes) output has H * W. The batch's loss is Keras' `sum_over_batch_size`
// reduction: the (sample-weighted) per-position losses summed and divided by the number of positions.
//
// Which Keras backend nnlite follows: TensorFlow's (tf.keras 2.x, and Keras 3 on TensorFlow; the Fashion-MNIST study
// was trained there). When the model's last layer ends in a softmax (sigmoid) and the loss is categorical (binary)
// cross-entropy, TensorFlow computes the loss from that layer's logits, without clipping, and its gradient with
// respect to the logits is (sum(y) * p - y) / count. Any other output is normalised to sum 1 over the last axis,
// clipped to [1e-7, 1 - 1e-7] and fed to -sum(y log p); its gradient includes the normalisation and is zero where the
// clip is active. (Keras 3 on torch or JAX clips the softmax output as well; nnlite does not.)
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "../core/activation_functions.hpp"
#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../core/registry.hpp"
#include "../core/tensor.hpp"

namespace nnlite {

constexpr double keras_epsilon = 1e-7;

/// Keras' loss reductions.
enum class Reduction { sum_over_batch_size, sum };

inline std::string reduction_name(Reduction r) { return r == Reduction::sum ? "sum" : "sum_over_batch_size"; }
inline Reduction parse_reduction(const std::string& name) {
  if (name == "sum_over_batch_size" || name == "auto" || name.empty()) return Reduction::sum_over_batch_size;
  if (name == "sum") return Reduction::sum;
  throw UnsupportedError("unknown loss reduction '" + name + "' (supported: sum_over_batch_size, sum)");
}

/// What a loss sees of one batch.
template <class Scalar>
struct LossInputs {
  const Tensor<Scalar>& output;            // the model's output, (batch, ..., k)
  const Tensor<Scalar>& target;            // labels, (batch, target_shape...)
  const Tensor<Scalar>* logits = nullptr;  // the last layer's logits, when takes_logits() said so
  const Scalar* sample_weight = nullptr;   // one weight per sample, or null (all 1)
};

/// A Keras loss: value and exact gradient per position, reduced as Keras reduces (sum_over_batch_size).
template <class Scalar>
class Loss {
 public:
  virtual ~Loss() = default;

  /// Keras' function name ("categorical_crossentropy", what training_config stores) and class
  /// ("CategoricalCrossentropy").
  virtual std::string name() const = 0;
  virtual std::string class_name() const = 0;
  /// Keras' get_config().
  virtual nlohmann::json config() const { return {{"name", name()}, {"reduction", reduction_name(reduction_)}}; }
  virtual std::unique_ptr<Loss> clone() const = 0;

  /// Whether the loss works from the logits of a last layer whose output activation is `a` (TensorFlow's rule).
  virtual bool takes_logits(Activation /*a*/) const { return false; }
  /// The per-sample label shape for a per-sample output shape (sparse losses drop the class axis).
  virtual Shape target_shape(const Shape& output) const { return output; }
  /// Whether per-sample labels of shape `target` fit per-sample outputs of shape `output` (sparse losses also take
  /// the class axis kept with size 1, as Keras squeezes it).
  virtual bool accepts_target(const Shape& target, const Shape& output) const { return target == target_shape(output); }
  /// What the labels must look like, for messages: "one-hot labels of the output's shape".
  virtual std::string target_description() const { return "labels of the output's shape"; }

  Reduction reduction() const { return reduction_; }

  /// The batch's loss as Keras reports it; with `grad` not null, also its exact derivative with respect to the output
  /// (or to the logits, when in.logits is set). Per-position values are accumulated in double.
  double compute(const LossInputs<Scalar>& in, Tensor<Scalar>* grad) const {
    const Shape per_sample = in.output.shape().without_batch();
    if (in.target.rank() < 1 || in.target.batch() != in.output.batch() ||
        !accepts_target(in.target.shape().without_batch(), per_sample))
      throw ShapeError(name() + ": labels of shape " + in.target.shape().str() + " do not match predictions of shape " +
                       in.output.shape().str() + " (" + target_description() + ")");
    const Index k = per_sample.rank() ? per_sample[per_sample.rank() - 1] : 1;
    const Index positions = in.output.size() / k, batch = in.output.batch();
    const Index per = batch ? positions / batch : 0, tk = target_width(k);
    const double divisor = reduction_ == Reduction::sum ? 1.0 : static_cast<double>(positions);
    const Scalar* values = in.logits ? in.logits->data() : nullptr;
    if (grad) grad->resize(in.output.shape());
    double total = 0;
    for (Index p = 0; p < positions; ++p) {
      const double w = in.sample_weight ? static_cast<double>(in.sample_weight[p / per]) : 1.0;
      const double v = position(in.output.data() + p * k, values ? values + p * k : nullptr,
                                in.target.data() + p * tk, k, grad ? grad->data() + p * k : nullptr, w / divisor);
      total += w * v;
    }
    return total / divisor;
  }

 protected:
  explicit Loss(Reduction reduction = Reduction::sum_over_batch_size) : reduction_(reduction) {}

  /// The loss at one position: k values of the output (and their logits when the loss took them) against the label
  /// at `y`; when g is not null, writes d(loss)/d(values) * scale (w.r.t. the logits when they are given).
  virtual double position(const Scalar* out, const Scalar* logits, const Scalar* y, Index k, Scalar* g,
                          double scale) const = 0;
  /// Label values per position for k output values (1 for sparse labels).
  virtual Index target_width(Index k) const { return k; }

  Reduction reduction_;
};

namespace loss_detail {

inline double sigmoid(double z) { return z >= 0 ? 1 / (1 + std::exp(-z)) : std::exp(z) / (1 + std::exp(z)); }
/// tf.clip_by_value passes the gradient where lo <= v <= hi (both ends included) and none elsewhere.
inline bool inside(double v, double lo, double hi) { return v >= lo && v <= hi; }
inline Reduction reduction_of(const ConfigReader& c) {
  return parse_reduction(c.string("reduction", "sum_over_batch_size"));
}
/// The per-sample shape with its last (class) axis dropped.
inline Shape drop_last(const Shape& s) {
  if (s.rank() == 0) return s;
  return Shape(std::vector<Index>(s.dims().begin(), s.dims().end() - 1));
}

}  // namespace loss_detail

/// What Keras' categorical and binary cross-entropies share: from_logits, label_smoothing in [0, 1] and axis -1, in
/// the constructor, the config and from_config.
template <class Scalar>
class SmoothedCrossentropy : public Loss<Scalar> {
 public:
  bool from_logits() const { return from_logits_; }
  double label_smoothing() const { return label_smoothing_; }
  nlohmann::json config() const override {
    auto c = Loss<Scalar>::config();
    c["from_logits"] = from_logits_;
    c["label_smoothing"] = label_smoothing_;
    c["axis"] = -1;
    return c;
  }

 protected:
  SmoothedCrossentropy(const char* class_name, bool from_logits, double label_smoothing, Reduction reduction)
      : Loss<Scalar>(reduction), from_logits_(from_logits), label_smoothing_(label_smoothing) {
    if (!(label_smoothing >= 0 && label_smoothing <= 1))
      throw ArgumentError(std::string(class_name) + ": label_smoothing must be in [0, 1], got " +
                          std::to_string(label_smoothing));
  }
  /// Builds Derived(from_logits, label_smoothing, reduction) from a config, after the checks both share.
  template <class Derived>
  static std::unique_ptr<Loss<Scalar>> create(const ConfigReader& c) {
    if (c.integer("axis", -1, -1, -1) != -1) c.unsupported("'axis'");
    return std::make_unique<Derived>(c.boolean("from_logits", false), c.number_in("label_smoothing", 0.0, 0.0, 1.0),
                                     loss_detail::reduction_of(c));
  }

  bool from_logits_;
  double label_smoothing_;
};

/// Keras' categorical_crossentropy / CategoricalCrossentropy(from_logits, label_smoothing): one-hot (or soft) labels
/// of the output's shape. The two paths of the file comment, each with its exact derivative.
template <class Scalar>
class CategoricalCrossentropy : public SmoothedCrossentropy<Scalar> {
 public:
  explicit CategoricalCrossentropy(bool from_logits = false, double label_smoothing = 0.0,
                                   Reduction reduction = Reduction::sum_over_batch_size)
      : SmoothedCrossentropy<Scalar>("CategoricalCrossentropy", from_logits, label_smoothing, reduction) {}

  std::string name() const override { return "categorical_crossentropy"; }
  std::string class_name() const override { return "CategoricalCrossentropy"; }
  std::string target_description() const override { return "labels must be one-hot, of the output's shape"; }
  std::unique_ptr<Loss<Scalar>> clone() const override { return std::make_unique<CategoricalCrossentropy>(*this); }

  bool takes_logits(Activation a) const override { return !from_logits_ && a == Activation::softmax; }

  static std::unique_ptr<Loss<Scalar>> from_config(const ConfigReader& c) {
    c.require_null("ignore_class");
    return SmoothedCrossentropy<Scalar>::template create<CategoricalCrossentropy>(c);
  }

 protected:
  double position(const Scalar* out, const Scalar* logits, const Scalar* y, Index k, Scalar* g,
                  double scale) const override {
    const double ls = label_smoothing_, off = ls / static_cast<double>(k);
    auto label = [&](Index j) { return static_cast<double>(y[j]) * (1 - ls) + off; };
    if (logits || from_logits_) {
      // From logits z: -sum(y (z - logsumexp(z))); d/dz = sum(y) softmax(z) - y. The fused path takes softmax(z)
      // from the layer's output, as TensorFlow's kernel computes it. logsumexp(z) = m + log1p(sum of the others'
      // exp(z - m)) with m the largest logit, so a confident, correct prediction keeps its tiny loss exact instead of
      // cancelling two large numbers.
      const Scalar* z = logits ? logits : out;
      Index top = 0;
      for (Index j = 1; j < k; ++j)
        if (z[j] > z[top]) top = j;
      const double m = static_cast<double>(z[top]);
      double others = 0, sum_y = 0, loss = 0;
      for (Index j = 0; j < k; ++j) {
        if (j != top) others += std::exp(static_cast<double>(z[j]) - m);
        sum_y += label(j);
        loss += label(j) * (m - static_cast<double>(z[j]));
      }
      const double log_norm = std::log1p(others), lse = m + log_norm;
      if (g) {
        const auto s = static_cast<Scalar>(scale);
        if (logits && ls == 0) {  // one-hot labels: (sum(y) p - y) * scale, in the layer's own precision
          const auto sy = static_cast<Scalar>(sum_y);
          for (Index j = 0; j < k; ++j) g[j] = (sy * out[j] - y[j]) * s;
        } else {
          for (Index j = 0; j < k; ++j)
            g[j] = static_cast<Scalar>((sum_y * std::exp(static_cast<double>(z[j]) - lse) - label(j)) * scale);
        }
      }
      return loss + sum_y * log_norm;
    }
    // Probabilities: q = p / sum(p), c = clip(q, eps, 1 - eps), loss = -sum(y log c).
    // dL/dp_i = (G_i + U) / sum(p), G_i = -y_i / q_i where q_i is inside the clip range (else 0), U = sum of y over
    // the positions inside it.
    double sum_p = 0;
    for (Index j = 0; j < k; ++j) sum_p += static_cast<double>(out[j]);
    double loss = 0, inside_y = 0;
    for (Index j = 0; j < k; ++j) {
      const double q = static_cast<double>(out[j]) / sum_p;
      const double c = std::clamp(q, keras_epsilon, 1.0 - keras_epsilon);
      loss -= label(j) * std::log(c);
      if (q >= keras_epsilon && q <= 1.0 - keras_epsilon) inside_y += label(j);
    }
    if (g)
      for (Index j = 0; j < k; ++j) {
        const double q = static_cast<double>(out[j]) / sum_p;
        const double gq = q >= keras_epsilon && q <= 1.0 - keras_epsilon ? -label(j) / q : 0.0;
        g[j] = static_cast<Scalar>((gq + inside_y) / sum_p * scale);
      }
    return loss;
  }

 private:
  using SmoothedCrossentropy<Scalar>::from_logits_;
  using SmoothedCrossentropy<Scalar>::label_smoothing_;
};

/// Keras' sparse_categorical_crossentropy / SparseCategoricalCrossentropy(from_logits): integer class labels, one per
/// position (shape (batch,) for a (batch, classes) output; a trailing axis of size 1 is accepted and squeezed, as Keras
/// does). A label that is not an integer in [0, classes) is an ArgumentError. TensorFlow's Keras 3: a softmax output
/// is taken from its logits (logsumexp(z) - z_label, gradient softmax(z) - onehot); any other output is clipped to
/// [1e-7, 1 - 1e-7] and its log fed to the sparse softmax cross-entropy, i.e. log(sum c) - log(c_label) with
/// c = clip(p), whose gradient 1 / sum(c) - [j == label] / c_label is zero where the clip is active.
template <class Scalar>
class SparseCategoricalCrossentropy : public Loss<Scalar> {
 public:
  explicit SparseCategoricalCrossentropy(bool from_logits = false,
                                         Reduction reduction = Reduction::sum_over_batch_size)
      : Loss<Scalar>(reduction), from_logits_(from_logits) {}

  std::string name() const override { return "sparse_categorical_crossentropy"; }
  std::string class_name() const override { return "SparseCategoricalCrossentropy"; }
  std::string target_description() const override {
    return "labels must be integer class indices, one per position, without the class axis";
  }
  nlohmann::json config() const override {
    auto c = Loss<Scalar>::config();
    c["from_logits"] = from_logits_;
    c["ignore_class"] = nullptr;
    return c;
  }
  std::unique_ptr<Loss<Scalar>> clone() const override {
    return std::make_unique<SparseCategoricalCrossentropy>(*this);
  }
  bool from_logits() const { return from_logits_; }
  bool takes_logits(Activation a) const override { return !from_logits_ && a == Activation::softmax; }
  Shape target_shape(const Shape& output) const override { return loss_detail::drop_last(output); }
  bool accepts_target(const Shape& target, const Shape& output) const override {
    if (target == target_shape(output)) return true;
    return target.rank() == output.rank() && target.rank() > 0 && target[target.rank() - 1] == 1 &&
           loss_detail::drop_last(target) == loss_detail::drop_last(output);
  }

  static std::unique_ptr<Loss<Scalar>> from_config(const ConfigReader& c) {
    if (c.integer("axis", -1, -1, -1) != -1) c.unsupported("'axis'");
    c.require_null("ignore_class");
    return std::make_unique<SparseCategoricalCrossentropy>(c.boolean("from_logits", false),
                                                           loss_detail::reduction_of(c));
  }

 protected:
  Index target_width(Index) const override { return 1; }
  double position(const Scalar* out, const Scalar* logits, const Scalar* y, Index k, Scalar* g,
                  double scale) const override {
    const double yv = static_cast<double>(y[0]);
    if (!(yv >= 0 && yv < static_cast<double>(k) && yv == std::floor(yv)))
      throw ArgumentError(name() + ": label " + std::to_string(yv) + " is not a class index in [0, " +
                          std::to_string(k) + ") (sparse labels are integers; use categorical_crossentropy for " +
                          "one-hot labels)");
    const auto label = static_cast<Index>(yv);
    if (logits || from_logits_) {
      const Scalar* z = logits ? logits : out;
      double m = static_cast<double>(z[0]);
      for (Index j = 1; j < k; ++j) m = std::max(m, static_cast<double>(z[j]));
      double s = 0;
      for (Index j = 0; j < k; ++j) s += std::exp(static_cast<double>(z[j]) - m);
      const double lse = m + std::log(s);
      if (g)
        for (Index j = 0; j < k; ++j)
          g[j] = static_cast<Scalar>((std::exp(static_cast<double>(z[j]) - lse) - (j == label ? 1.0 : 0.0)) * scale);
      return lse - static_cast<double>(z[label]);
    }
    double s = 0;
    for (Index j = 0; j < k; ++j) s += std::clamp(static_cast<double>(out[j]), keras_epsilon, 1 - keras_epsilon);
    const double cl = std::clamp(static_cast<double>(out[label]), keras_epsilon, 1 - keras_epsilon);
    if (g)
      for (Index j = 0; j < k; ++j) {
        const double gj = 1 / s - (j == label ? 1 / cl : 0.0);
        g[j] = static_cast<Scalar>(
            loss_detail::inside(static_cast<double>(out[j]), keras_epsilon, 1 - keras_epsilon) ? gj * scale : 0.0);
      }
    return std::log(s) - std::log(cl);
  }

 private:
  bool from_logits_;
};

/// Keras' binary_crossentropy / BinaryCrossentropy(from_logits, label_smoothing): labels of the output's shape
/// (0/1 or soft), smoothed to y (1 - ls) + ls / 2; the per-position loss is the mean over the last axis. A sigmoid
/// output is taken from its logits (TensorFlow's fused, stable form max(z, 0) - z y + log(1 + exp(-|z|)), gradient
/// (sigmoid(z) - y) / k); any other output is clipped to [1e-7, 1 - 1e-7] and fed to -(y log c + (1 - y) log(1 - c))
/// (Keras 3's formula; tf.keras 2 added another 1e-7 inside the logs), gradient zero where the clip is active.
template <class Scalar>
class BinaryCrossentropy : public SmoothedCrossentropy<Scalar> {
 public:
  explicit BinaryCrossentropy(bool from_logits = false, double label_smoothing = 0.0,
                              Reduction reduction = Reduction::sum_over_batch_size)
      : SmoothedCrossentropy<Scalar>("BinaryCrossentropy", from_logits, label_smoothing, reduction) {}
  std::string name() const override { return "binary_crossentropy"; }
  std::string class_name() const override { return "BinaryCrossentropy"; }
  std::string target_description() const override { return "labels in [0, 1] of the output's shape"; }
  std::unique_ptr<Loss<Scalar>> clone() const override { return std::make_unique<BinaryCrossentropy>(*this); }
  bool takes_logits(Activation a) const override { return !from_logits_ && a == Activation::sigmoid; }

  static std::unique_ptr<Loss<Scalar>> from_config(const ConfigReader& c) {
    return SmoothedCrossentropy<Scalar>::template create<BinaryCrossentropy>(c);
  }

 protected:
  double position(const Scalar* out, const Scalar* logits, const Scalar* y, Index k, Scalar* g,
                  double scale) const override {
    const double ls = label_smoothing_, kk = static_cast<double>(k);
    double loss = 0;
    for (Index j = 0; j < k; ++j) {
      const double t = static_cast<double>(y[j]) * (1 - ls) + 0.5 * ls;
      if (logits || from_logits_) {
        const double z = static_cast<double>((logits ? logits : out)[j]);
        loss += std::max(z, 0.0) - z * t + std::log1p(std::exp(-std::abs(z)));
        if (g) g[j] = static_cast<Scalar>((loss_detail::sigmoid(z) - t) / kk * scale);
      } else {
        const double p = static_cast<double>(out[j]);
        const double c = std::clamp(p, keras_epsilon, 1 - keras_epsilon);
        loss -= t * std::log(c) + (1 - t) * std::log(1 - c);
        if (g)
          g[j] = static_cast<Scalar>(loss_detail::inside(p, keras_epsilon, 1 - keras_epsilon)
                                         ? (-t / c + (1 - t) / (1 - c)) / kk * scale
                                         : 0.0);
      }
    }
    return loss / kk;
  }

 private:
  using SmoothedCrossentropy<Scalar>::from_logits_;
  using SmoothedCrossentropy<Scalar>::label_smoothing_;
};

/// The losses that take no option but the reduction, each with Keras' function and class name.
template <class Scalar, class Derived>
class SimpleLoss : public Loss<Scalar> {
 public:
  explicit SimpleLoss(Reduction reduction = Reduction::sum_over_batch_size) : Loss<Scalar>(reduction) {}
  std::unique_ptr<Loss<Scalar>> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }
  static std::unique_ptr<Loss<Scalar>> from_config(const ConfigReader& c) {
    return std::make_unique<Derived>(loss_detail::reduction_of(c));
  }
};

/// Keras' mean_squared_error / MeanSquaredError: mean over the last axis of (p - y)^2.
template <class Scalar>
class MeanSquaredError : public SimpleLoss<Scalar, MeanSquaredError<Scalar>> {
 public:
  using SimpleLoss<Scalar, MeanSquaredError<Scalar>>::SimpleLoss;
  std::string name() const override { return "mean_squared_error"; }
  std::string class_name() const override { return "MeanSquaredError"; }

 protected:
  double position(const Scalar* out, const Scalar*, const Scalar* y, Index k, Scalar* g, double scale) const override {
    double loss = 0;
    for (Index j = 0; j < k; ++j) {
      const double e = static_cast<double>(out[j]) - static_cast<double>(y[j]);
      loss += e * e;
      if (g) g[j] = static_cast<Scalar>(2 * e / static_cast<double>(k) * scale);
    }
    return loss / static_cast<double>(k);
  }
};

/// Keras' mean_absolute_error / MeanAbsoluteError: mean over the last axis of |p - y| (gradient sign(p - y) / k,
/// 0 where p == y, as TensorFlow's abs).
template <class Scalar>
class MeanAbsoluteError : public SimpleLoss<Scalar, MeanAbsoluteError<Scalar>> {
 public:
  using SimpleLoss<Scalar, MeanAbsoluteError<Scalar>>::SimpleLoss;
  std::string name() const override { return "mean_absolute_error"; }
  std::string class_name() const override { return "MeanAbsoluteError"; }

 protected:
  double position(const Scalar* out, const Scalar*, const Scalar* y, Index k, Scalar* g, double scale) const override {
    double loss = 0;
    for (Index j = 0; j < k; ++j) {
      const double e = static_cast<double>(out[j]) - static_cast<double>(y[j]);
      loss += std::abs(e);
      if (g) g[j] = static_cast<Scalar>((e > 0 ? 1.0 : e < 0 ? -1.0 : 0.0) / static_cast<double>(k) * scale);
    }
    return loss / static_cast<double>(k);
  }
};

/// Keras' kl_divergence / KLDivergence: sum over the last axis of t log(t / q), t = clip(y, 1e-7, 1),
/// q = clip(p, 1e-7, 1); gradient -t / q where p is inside [1e-7, 1], else 0.
template <class Scalar>
class KLDivergence : public SimpleLoss<Scalar, KLDivergence<Scalar>> {
 public:
  using SimpleLoss<Scalar, KLDivergence<Scalar>>::SimpleLoss;
  std::string name() const override { return "kl_divergence"; }
  std::string class_name() const override { return "KLDivergence"; }

 protected:
  double position(const Scalar* out, const Scalar*, const Scalar* y, Index k, Scalar* g, double scale) const override {
    double loss = 0;
    for (Index j = 0; j < k; ++j) {
      const double t = std::clamp(static_cast<double>(y[j]), keras_epsilon, 1.0);
      const double p = static_cast<double>(out[j]), q = std::clamp(p, keras_epsilon, 1.0);
      loss += t * std::log(t / q);
      if (g) g[j] = static_cast<Scalar>(loss_detail::inside(p, keras_epsilon, 1.0) ? -t / q * scale : 0.0);
    }
    return loss;
  }
};

/// Keras' categorical_hinge / CategoricalHinge: max(max((1 - y) p) - sum(y p) + 1, 0) over the last axis. Gradient:
/// where the hinge is active (>= 0, TensorFlow's maximum passes it on ties), -y + (1 - y) at the maximising entries,
/// shared equally among tied maxima as TensorFlow's reduce_max does.
template <class Scalar>
class CategoricalHinge : public SimpleLoss<Scalar, CategoricalHinge<Scalar>> {
 public:
  using SimpleLoss<Scalar, CategoricalHinge<Scalar>>::SimpleLoss;
  std::string name() const override { return "categorical_hinge"; }
  std::string class_name() const override { return "CategoricalHinge"; }

 protected:
  double position(const Scalar* out, const Scalar*, const Scalar* y, Index k, Scalar* g, double scale) const override {
    double pos = 0, neg = -std::numeric_limits<double>::infinity();
    for (Index j = 0; j < k; ++j) {
      const double yj = static_cast<double>(y[j]), pj = static_cast<double>(out[j]);
      pos += yj * pj;
      neg = std::max(neg, (1 - yj) * pj);
    }
    const double raw = neg - pos + 1;
    if (g) {
      Index ties = 0;
      for (Index j = 0; j < k; ++j) ties += (1 - static_cast<double>(y[j])) * static_cast<double>(out[j]) == neg;
      for (Index j = 0; j < k; ++j) {
        const double yj = static_cast<double>(y[j]);
        const bool at_max = (1 - yj) * static_cast<double>(out[j]) == neg;
        const double gj = raw >= 0 ? -yj + (at_max ? (1 - yj) / static_cast<double>(ties) : 0.0) : 0.0;
        g[j] = static_cast<Scalar>(gj * scale);
      }
    }
    return std::max(raw, 0.0);
  }
};

/// Keras' huber / Huber(delta): mean over the last axis of 0.5 e^2 where |e| <= delta, else delta |e| - 0.5 delta^2,
/// e = p - y. Its config name is "huber_loss", as Keras' class names it.
template <class Scalar>
class Huber : public Loss<Scalar> {
 public:
  explicit Huber(double delta = 1.0, Reduction reduction = Reduction::sum_over_batch_size)
      : Loss<Scalar>(reduction), delta_(delta) {
    if (!(delta > 0) || !std::isfinite(delta))
      throw ArgumentError("Huber: delta must be a positive number, got " + std::to_string(delta));
  }
  std::string name() const override { return "huber"; }
  std::string class_name() const override { return "Huber"; }
  nlohmann::json config() const override {
    auto c = Loss<Scalar>::config();
    c["name"] = "huber_loss";
    c["delta"] = delta_;
    return c;
  }
  std::unique_ptr<Loss<Scalar>> clone() const override { return std::make_unique<Huber>(*this); }
  double delta() const { return delta_; }
  static std::unique_ptr<Loss<Scalar>> from_config(const ConfigReader& c) {
    try {
      return std::make_unique<Huber>(c.number("delta", 1.0), loss_detail::reduction_of(c));
    } catch (const ArgumentError& e) {
      c.bad(e.what());
    }
  }

 protected:
  double position(const Scalar* out, const Scalar*, const Scalar* y, Index k, Scalar* g, double scale) const override {
    double loss = 0;
    for (Index j = 0; j < k; ++j) {
      const double e = static_cast<double>(out[j]) - static_cast<double>(y[j]), a = std::abs(e);
      const bool quad = a <= delta_;
      loss += quad ? 0.5 * e * e : delta_ * a - 0.5 * delta_ * delta_;
      if (g) g[j] = static_cast<Scalar>((quad ? e : delta_ * (e > 0 ? 1.0 : -1.0)) / static_cast<double>(k) * scale);
    }
    return loss / static_cast<double>(k);
  }

 private:
  double delta_;
};

// ---- the loss registry -------------------------------------------------------------------------------------------

/// Builds a loss from its Keras config dict ({} for a loss given by name alone).
template <class Scalar>
using LossCreator = std::function<std::unique_ptr<Loss<Scalar>>(const ConfigReader&)>;

template <class Scalar>
Registry<LossCreator<Scalar>>& loss_registry() {
  static Registry<LossCreator<Scalar>> registry = [] {
    Registry<LossCreator<Scalar>> r("loss");
    // Keras' function name, with its class name as an alias (training_config stores either).
    r.add("categorical_crossentropy", &CategoricalCrossentropy<Scalar>::from_config, {"CategoricalCrossentropy"});
    r.add("sparse_categorical_crossentropy", &SparseCategoricalCrossentropy<Scalar>::from_config,
          {"SparseCategoricalCrossentropy"});
    r.add("binary_crossentropy", &BinaryCrossentropy<Scalar>::from_config, {"BinaryCrossentropy", "bce", "BCE"});
    r.add("mean_squared_error", &MeanSquaredError<Scalar>::from_config, {"MeanSquaredError", "mse", "MSE"});
    r.add("mean_absolute_error", &MeanAbsoluteError<Scalar>::from_config, {"MeanAbsoluteError", "mae", "MAE"});
    r.add("huber", &Huber<Scalar>::from_config, {"Huber", "huber_loss"});
    r.add("kl_divergence", &KLDivergence<Scalar>::from_config,
          {"KLDivergence", "kld", "KLD", "kullback_leibler_divergence"});
    r.add("categorical_hinge", &CategoricalHinge<Scalar>::from_config, {"CategoricalHinge"});
    return r;
  }();
  return registry;
}

template <class Scalar>
void register_loss(const std::string& name, LossCreator<Scalar> creator, const std::vector<std::string>& aliases = {}) {
  loss_registry<Scalar>().add(name, std::move(creator), aliases);
}

/// A loss by Keras name ("categorical_crossentropy", "CategoricalCrossentropy") or serialized object
/// ({"class_name": ..., "config": {...}}, as training_config holds it). `source` prefixes every message.
template <class Scalar>
std::unique_ptr<Loss<Scalar>> make_loss(const nlohmann::json& spec, const std::string& source = "") {
  const auto obj = serialized_object(spec);
  if (!obj) throw UnsupportedError(source + "loss " + dump_json(spec) + " is not a loss name or a serialized loss");
  const std::string& name = obj->class_name;
  const auto& create = loss_registry<Scalar>().at(name, source);
  ConfigReader reader{*obj->config, name, name, source.empty() ? "loss" : source};
  reader.kind = "loss";
  return create(reader);
}

}  // namespace nnlite
