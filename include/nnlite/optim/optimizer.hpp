// nnlite/optim/optimizer.hpp: what every optimizer does: one step over the model's single flat parameter
// vector, with its state (moments, step counter) in flat vectors of the same length, and Keras 3's base-optimizer
// options (keras/src/optimizers/base_optimizer.py, Keras 3.16): clipnorm, clipvalue, global_clipnorm, weight_decay.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../core/tensor.hpp"

namespace nnlite {

/// What every optimizer does: one step over the flat parameter vector, with flat state vectors.
template <class Scalar>
class Optimizer {
 public:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  virtual ~Optimizer() = default;

  /// Keras' class name ("Adam") and get_config() (name, learning_rate, hyperparameters).
  virtual std::string class_name() const = 0;
  virtual nlohmann::json config() const = 0;
  virtual std::unique_ptr<Optimizer> clone() const = 0;

  /// Updates all n parameters from their gradients: one optimizer step. Built-in optimizers start with
  /// prepare_step() (clipping, weight decay); an optimizer of your own may too.
  virtual void step(Scalar* params, const Scalar* grads, Index n) = 0;

  /// Optimizer steps taken so far (Keras' `iterations`).
  std::int64_t iterations() const { return iterations_; }
  double learning_rate() const { return learning_rate_; }
  void set_learning_rate(double lr) {
    if (!(lr > 0)) throw ArgumentError(class_name() + ": learning_rate must be > 0, got " + std::to_string(lr));
    learning_rate_ = lr;
  }

  /// Named state vectors (tf.keras 2.x slot names: Adam m, v), for checkpoints and .h5 optimizer_weights (resume
  /// must continue bit for bit). Empty until the first step.
  virtual std::vector<std::pair<std::string, Vector*>> state() { return {}; }
  /// Virtual for optimizers with scalar state that follows from the step count (Nadam's u_product).
  virtual void set_iterations(std::int64_t n) { iterations_ = n; }
  virtual void reset() { iterations_ = 0; }

  /// ---- Keras 3 base-optimizer options (each off when unset, as Keras' None) ----
  /// Keras 3 order in apply(): gradients clipped (clipnorm per variable, or global_clipnorm over all of them, or
  /// clipvalue elementwise: at most one of the three), then weight decay var -= var * weight_decay * lr on every
  /// trained variable, then the optimizer's own update with the clipped gradients.
  std::optional<double> weight_decay() const { return weight_decay_; }
  std::optional<double> clipnorm() const { return clipnorm_; }
  std::optional<double> clipvalue() const { return clipvalue_; }
  std::optional<double> global_clipnorm() const { return global_clipnorm_; }
  Optimizer& set_weight_decay(std::optional<double> wd) {
    if (wd && !(std::isfinite(*wd) && *wd >= 0))
      throw ArgumentError(class_name() + ": weight_decay must be >= 0, got " + std::to_string(*wd));
    weight_decay_ = wd;
    return *this;
  }
  Optimizer& set_clipnorm(std::optional<double> c) { return set_clip(clipnorm_, "clipnorm", c); }
  Optimizer& set_clipvalue(std::optional<double> c) { return set_clip(clipvalue_, "clipvalue", c); }
  Optimizer& set_global_clipnorm(std::optional<double> c) { return set_clip(global_clipnorm_, "global_clipnorm", c); }

  /// The sizes of the variables (weight tensors) the flat buffer holds, in buffer order: clipnorm clips each one's
  /// gradient by its own norm, as Keras does. compile() sets them; empty means one variable of all n values.
  void set_variable_sizes(std::vector<Index> sizes) { variable_sizes_ = std::move(sizes); }
  const std::vector<Index>& variable_sizes() const { return variable_sizes_; }

 protected:
  /// No virtual calls here: the derived object does not exist yet.
  explicit Optimizer(double lr) : learning_rate_(lr) {
    if (!(lr > 0)) throw ArgumentError("optimizer: learning_rate must be > 0, got " + std::to_string(lr));
  }
  /// Sizes the state on the first step, and refuses a model whose size changed under it.
  void ensure_state(Vector& v, Index n) {
    if (v.size() == 0) v = Vector::Zero(n);
    if (v.size() != n)
      throw ShapeError(class_name() + ": optimizer state holds " + std::to_string(v.size()) +
                       " values but the model has " + std::to_string(n) + " parameters");
  }

  /// What every step starts with, in Keras 3's order: the gradients clipped (into a workspace, which is then what
  /// the update must read: the returned pointer) and the decoupled weight decay applied to the parameters.
  /// Norms are summed in double (Keras sums in the variable's dtype). Costs nothing when the options are off.
  const Scalar* prepare_step(Scalar* params, const Scalar* grads, Index n) {
    const Scalar* g = grads;
    if (clipnorm_ || clipvalue_ || global_clipnorm_) {
      if (clipped_.size() != n) clipped_.resize(n);  // allocates on the first step only
      Scalar* out = clipped_.data();
      if (clipnorm_) {
        // Keras' _clip_by_norm per variable: g * c / max(||g||, c) (||g|| = 0 leaves g unchanged).
        const auto c = static_cast<Scalar>(*clipnorm_);
        Index begin = 0;
        auto clip_slice = [&](Index len) {
          double l2sum = 0;
          for (Index i = begin; i < begin + len; ++i) l2sum += double(grads[i]) * double(grads[i]);
          const auto norm = static_cast<Scalar>(l2sum > 0 ? std::sqrt(l2sum) : l2sum);
          const Scalar denom = std::max(norm, c);
          for (Index i = begin; i < begin + len; ++i) out[i] = grads[i] * c / denom;
          begin += len;
        };
        if (variable_sizes_.empty()) {
          clip_slice(n);
        } else {
          Index total = 0;
          for (Index len : variable_sizes_) total += len;
          if (total != n)
            throw ShapeError(class_name() + ": clipnorm's variable sizes add up to " + std::to_string(total) +
                             " values but the step has " + std::to_string(n) + " (recompile the model)");
          for (Index len : variable_sizes_) clip_slice(len);
        }
      } else if (global_clipnorm_) {
        // Keras' clip_by_global_norm: scale = c * min(1 / norm, 1 / c), NaN when the norm is not finite.
        double l2sum = 0;
        for (Index i = 0; i < n; ++i) l2sum += double(grads[i]) * double(grads[i]);
        const double c = *global_clipnorm_, norm = std::sqrt(l2sum);
        const auto scale = static_cast<Scalar>(c * std::min(1.0 / norm, 1.0 / c) + (norm - norm));
        for (Index i = 0; i < n; ++i) out[i] = grads[i] * scale;
      } else {
        const auto v = static_cast<Scalar>(*clipvalue_);
        for (Index i = 0; i < n; ++i) out[i] = std::min(std::max(grads[i], -v), v);  // NaN stays NaN
      }
      g = out;
    }
    if (weight_decay_) {
      const auto wd = static_cast<Scalar>(*weight_decay_), lr = static_cast<Scalar>(learning_rate_);
      for (Index i = 0; i < n; ++i) params[i] = params[i] - params[i] * wd * lr;
    }
    return g;
  }

  /// Keras 3's base get_config() keys (name, learning_rate and the options above; null when off).
  nlohmann::json base_config(const std::string& name) const {
    auto opt = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
    return {{"name", name},
            {"learning_rate", learning_rate_},
            {"weight_decay", opt(weight_decay_)},
            {"clipnorm", opt(clipnorm_)},
            {"global_clipnorm", opt(global_clipnorm_)},
            {"clipvalue", opt(clipvalue_)}};
  }

  double learning_rate_;
  std::int64_t iterations_ = 0;

 private:
  Optimizer& set_clip(std::optional<double>& slot, const char* key, std::optional<double> c) {
    if (c && !(std::isfinite(*c) && *c > 0))
      throw ArgumentError(class_name() + ": " + key + " must be > 0, got " + std::to_string(*c));
    if (c) {
      const int others = int(bool(clipnorm_) && &slot != &clipnorm_) + int(bool(clipvalue_) && &slot != &clipvalue_) +
                         int(bool(global_clipnorm_) && &slot != &global_clipnorm_);
      if (others > 0)
        throw ArgumentError(class_name() + ": only one of clipnorm, clipvalue and global_clipnorm can be set (" + key +
                            " given with another)");
    }
    slot = c;
    return *this;
  }

  std::optional<double> weight_decay_, clipnorm_, clipvalue_, global_clipnorm_;
  std::vector<Index> variable_sizes_;
  Vector clipped_;  // the clipped gradients (workspace)
};

/// What every optimizer's from_config() checks first: the learning rate (Keras 3 `learning_rate`, tf.keras 2 `lr`),
/// and options that would change the training which nnlite does not implement yet, refused rather than dropped
/// (tf.keras 2's `decay`, the inverse-time learning-rate decay, among them).
inline double optimizer_learning_rate(const ConfigReader& c, double fallback) {
  for (const char* key : {"gradient_accumulation_steps", "loss_scale_factor"}) c.require_null(key);
  if (c.number("decay", 0.0) != 0.0) c.unsupported("'decay' = " + dump_json(c.at("decay")));
  if (c.has("use_ema") && c.at("use_ema") != false) c.unsupported("'use_ema' = " + dump_json(c.at("use_ema")));
  const char* key = c.has("learning_rate") ? "learning_rate" : "lr";
  if (c.has(key) && !c.at(key).is_number()) c.unsupported("a learning-rate schedule " + dump_json(c.at(key)));
  const double lr = c.number(key, fallback);
  if (!(lr > 0)) c.bad("learning rate " + dump_json(c.at(key)) + " must be > 0");
  return lr;
}

/// What every optimizer's from_config() reads last: Keras 3's base options into the made optimizer (null or absent
/// is off; tf.keras 2 wrote the clip options too). `weight_decay` falls back to `wd_fallback` (AdamW: 0.004).
template <class Opt>
std::unique_ptr<Opt> with_base_options(std::unique_ptr<Opt> opt, const ConfigReader& c,
                                       std::optional<double> wd_fallback = std::nullopt) {
  auto get = [&](const char* key, std::optional<double> fallback) -> std::optional<double> {
    if (!c.cfg.contains(key)) return fallback;
    if (c.cfg.at(key).is_null()) return std::nullopt;
    return c.number(key, 0.0);
  };
  try {
    opt->set_weight_decay(get("weight_decay", wd_fallback));
    opt->set_clipnorm(get("clipnorm", std::nullopt));
    opt->set_clipvalue(get("clipvalue", std::nullopt));
    opt->set_global_clipnorm(get("global_clipnorm", std::nullopt));
  } catch (const ArgumentError& e) {
    c.bad(e.what());
  }
  return opt;
}

}  // namespace nnlite
