// nnlite/model/losses.hpp: Keras' losses, each one class whose per-position value and exact gradient sit side by
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

// Keras' loss reductions.
enum class Reduction { sum_over_batch_size, sum };

inline std::string reduction_name(Reduction r) { return r == Reduction::sum ? "sum" : "sum_over_batch_size"; }
inline Reduction parse_reduction(const std::string& name) {
  if (name == "sum_over_batch_size" || name == "auto" || name.empty()) return Reduction::sum_over_batch_size;
  if (name == "sum") return Reduction::sum;
  throw UnsupportedError("unknown loss reduction '" + name + "' (supported: sum_over_batch_size, sum)");
}

// What a loss sees of one batch.
template <class Scalar>
struct LossInputs {
  const Tensor<Scalar>& output;                // the model's output, (batch, ..., k)
  const Tensor<Scalar>& target;                // labels, (batch, target_shape...)
  const Tensor<Scalar>* logits = nullptr;      // the last layer's logits, when takes_logits() said so
  const Scalar* sample_weight = nullptr;       // one weight per sample, or null (all 1)
};

template <class Scalar>
class Loss {
 public:
  virtual ~Loss() = default;

  // Keras' function name ("categorical_crossentropy", what training_config stores) and class ("CategoricalCrossentropy").
  virtual std::string name() const = 0;
  virtual std::string class_name() const = 0;
  // Keras' get_config().
  virtual nlohmann::json config() const { return {{"name", name()}, {"reduction", reduction_name(reduction_)}}; }
  virtual std::unique_ptr<Loss> clone() const = 0;

  // Whether the loss works from the logits of a last layer whose output activation is `a` (TensorFlow's rule).
  virtual bool takes_logits(Activation /*a*/) const { return false; }
  // The per-sample label shape for a per-sample output shape (sparse losses drop the class axis).
  virtual Shape target_shape(const Shape& output) const { return output; }
  // What the labels must look like, for messages: "one-hot labels of the output's shape".
  virtual std::string target_description() const { return "labels of the output's shape"; }

  Reduction reduction() const { return reduction_; }

  // The batch's loss as Keras reports it; with `grad` not null, also its exact derivative with respect to the output
  // (or to the logits, when in.logits is set). Per-position values are accumulated in double.
  double compute(const LossInputs<Scalar>& in, Tensor<Scalar>* grad) const {
    const Shape per_sample = in.output.shape().without_batch();
    if (in.target.shape() != target_shape(per_sample).with_batch(in.output.batch()))
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

  // The loss at one position: k values of the output (and their logits when the loss took them) against the label
  // at `y`; when g is not null, writes d(loss)/d(values) * scale (w.r.t. the logits when they are given).
  virtual double position(const Scalar* out, const Scalar* logits, const Scalar* y, Index k, Scalar* g,
                          double scale) const = 0;
  // Label values per position for k output values (1 for sparse labels).
  virtual Index target_width(Index k) const { return k; }

  Reduction reduction_;
};

// Keras' categorical_crossentropy / CategoricalCrossentropy(from_logits, label_smoothing): one-hot (or soft) labels
// of the output's shape. The two paths of the file comment, each with its exact derivative.
template <class Scalar>
class CategoricalCrossentropy : public Loss<Scalar> {
 public:
  explicit CategoricalCrossentropy(bool from_logits = false, double label_smoothing = 0.0,
                                   Reduction reduction = Reduction::sum_over_batch_size)
      : Loss<Scalar>(reduction), from_logits_(from_logits), label_smoothing_(label_smoothing) {
    if (!(label_smoothing >= 0 && label_smoothing <= 1))
      throw ArgumentError("CategoricalCrossentropy: label_smoothing must be in [0, 1], got " +
                          std::to_string(label_smoothing));
  }

  std::string name() const override { return "categorical_crossentropy"; }
  std::string class_name() const override { return "CategoricalCrossentropy"; }
  std::string target_description() const override { return "labels must be one-hot, of the output's shape"; }
  nlohmann::json config() const override {
    auto c = Loss<Scalar>::config();
    c["from_logits"] = from_logits_;
    c["label_smoothing"] = label_smoothing_;
    c["axis"] = -1;
    return c;
  }
  std::unique_ptr<Loss<Scalar>> clone() const override { return std::make_unique<CategoricalCrossentropy>(*this); }
  bool from_logits() const { return from_logits_; }
  double label_smoothing() const { return label_smoothing_; }

  bool takes_logits(Activation a) const override { return !from_logits_ && a == Activation::softmax; }

  static std::unique_ptr<Loss<Scalar>> from_config(const ConfigReader& c) {
    if (c.integer("axis", -1, -1, -1) != -1) c.unsupported("'axis'");
    c.require_null("ignore_class");
    return std::make_unique<CategoricalCrossentropy>(c.boolean("from_logits", false),
                                                     c.number_in("label_smoothing", 0.0, 0.0, 1.0),
                                                     parse_reduction(c.string("reduction", "sum_over_batch_size")));
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
  bool from_logits_;
  double label_smoothing_;
};

// ---- the loss registry -------------------------------------------------------------------------------------------

// Builds a loss from its Keras config dict ({} for a loss given by name alone).
template <class Scalar>
using LossCreator = std::function<std::unique_ptr<Loss<Scalar>>(const ConfigReader&)>;

template <class Scalar>
Registry<LossCreator<Scalar>>& loss_registry() {
  static Registry<LossCreator<Scalar>> registry = [] {
    Registry<LossCreator<Scalar>> r("loss");
    // Keras' function name, with its class name as an alias (training_config stores either).
    r.add("categorical_crossentropy", &CategoricalCrossentropy<Scalar>::from_config, {"CategoricalCrossentropy"});
    return r;
  }();
  return registry;
}

template <class Scalar>
void register_loss(const std::string& name, LossCreator<Scalar> creator, const std::vector<std::string>& aliases = {}) {
  loss_registry<Scalar>().add(name, std::move(creator), aliases);
}

// A loss by Keras name ("categorical_crossentropy", "CategoricalCrossentropy") or serialized object
// ({"class_name": ..., "config": {...}}, as training_config holds it). `source` prefixes every message.
template <class Scalar>
std::unique_ptr<Loss<Scalar>> make_loss(const nlohmann::json& spec, const std::string& source = "") {
  static const nlohmann::json empty = nlohmann::json::object();
  std::string name;
  const nlohmann::json* cfg = &empty;
  if (spec.is_string()) {
    name = spec.get<std::string>();
  } else if (spec.is_object() && spec.contains("class_name") && spec["class_name"].is_string()) {
    name = spec["class_name"].get<std::string>();
    if (spec.contains("config") && spec["config"].is_object()) cfg = &spec["config"];
  } else {
    throw UnsupportedError(source + "loss " + dump_json(spec) + " is not a loss name or a serialized loss");
  }
  const auto& create = loss_registry<Scalar>().at(name, source);
  ConfigReader reader{*cfg, name, name, source.empty() ? "loss" : source};
  reader.kind = "loss";
  return create(reader);
}

}  // namespace nnlite
