// nnlite/optim/optimizer.hpp: what every optimizer does: one step over the model's single flat parameter
// vector, with its state (moments, step counter) in flat vectors of the same length, and Keras 3's base-optimizer
// options (keras/src/optimizers/base_optimizer.py, Keras 3.16): clipnorm, clipvalue, global_clipnorm, weight_decay,
// and a learning rate that is a number or a LearningRateSchedule (optim/schedules.hpp) evaluated at the step count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../core/parallel.hpp"
#include "../core/tensor.hpp"
#include "schedules.hpp"

namespace nnlite {

/// An optimizer's learning rate: a fixed number, or a schedule evaluated at the optimizer's step count. Converts
/// implicitly from either, so every optimizer's constructor takes `0.01` or `ExponentialDecay(0.1, 1000, 0.96)`.
class LearningRate {
 public:
  /// A fixed rate (implicit: SGD(0.01) must keep working).
  LearningRate(double value) : value_(value) {}  // NOLINT(google-explicit-constructor)
  /// A copy of `schedule`.
  LearningRate(const LearningRateSchedule& schedule)  // NOLINT(google-explicit-constructor)
      : schedule_(schedule.clone()) {}
  /// Shares an immutable schedule (what optimizers' copies do).
  LearningRate(std::shared_ptr<const LearningRateSchedule> schedule) : schedule_(std::move(schedule)) {}  // NOLINT

  /// The schedule, or null for a fixed rate.
  const LearningRateSchedule* schedule() const { return schedule_.get(); }
  /// The schedule as the optimizer holds it (shared, immutable), or null.
  const std::shared_ptr<const LearningRateSchedule>& shared_schedule() const { return schedule_; }
  /// The rate at step `iterations` (the fixed rate whatever the step).
  double at(std::int64_t iterations) const { return schedule_ ? (*schedule_)(iterations) : value_; }
  /// Keras 3's get_config() value: the number, or the serialized schedule.
  json to_json() const { return schedule_ ? serialize_schedule(*schedule_) : json(value_); }

 private:
  double value_ = 0;
  std::shared_ptr<const LearningRateSchedule> schedule_;
};

/// What every optimizer does: one step over the flat parameter vector, with flat state vectors.
template <class Scalar>
class Optimizer {
 public:
  /// A flat state vector (one value per parameter).
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  virtual ~Optimizer() = default;

  /// Keras' class name ("Adam").
  virtual std::string class_name() const = 0;
  /// Keras' get_config(): name, learning_rate, the base options and the hyperparameters.
  virtual nlohmann::json config() const = 0;
  /// A copy of this optimizer, state included.
  virtual std::unique_ptr<Optimizer> clone() const = 0;

  /// Updates all n parameters from their gradients: one optimizer step. Built-in optimizers start with
  /// prepare_step() (clipping, weight decay); an optimizer of your own may too.
  virtual void step(Scalar* params, const Scalar* grads, Index n) = 0;

  /// Optimizer steps taken so far (Keras' `iterations`).
  std::int64_t iterations() const { return iterations_; }
  /// The learning rate the next step uses: the fixed rate, or the schedule's value at iterations() (Keras'
  /// `optimizer.learning_rate`).
  double learning_rate() const { return schedule_ ? (*schedule_)(iterations_) : learning_rate_; }
  /// The schedule the rate follows, or null for a fixed rate.
  const LearningRateSchedule* learning_rate_schedule() const { return schedule_.get(); }
  /// A new fixed rate. Refused, as in Keras 3, when the optimizer follows a schedule.
  void set_learning_rate(double lr) {
    if (schedule_)
      throw ArgumentError(class_name() +
                          ": This optimizer was created with a `LearningRateSchedule` object as its `learning_rate` "
                          "constructor argument, hence its learning rate is not settable. If you need the learning "
                          "rate to be settable, you should instantiate the optimizer with a float `learning_rate` "
                          "argument.");
    if (!(lr > 0)) throw ArgumentError(class_name() + ": learning_rate must be > 0, got " + std::to_string(lr));
    learning_rate_ = lr;
  }
  /// Makes the rate follow `schedule` from now on (a copy of it), as assigning one to Keras'
  /// `optimizer.learning_rate` does; the step count is unchanged.
  void set_learning_rate(const LearningRateSchedule& schedule) { schedule_ = schedule.clone(); }

  /// Named state vectors (tf.keras 2.x slot names: Adam m, v), for checkpoints and .h5 optimizer_weights (resume
  /// must continue bit for bit). Empty until the first step.
  virtual std::vector<std::pair<std::string, Vector*>> state() { return {}; }
  /// Virtual for optimizers with scalar state that follows from the step count (Nadam's u_product).
  virtual void set_iterations(std::int64_t n) { iterations_ = n; }
  /// Back to before the first step: iterations() 0 and every state() vector emptied (sized again by the next step).
  virtual void reset() {
    iterations_ = 0;
    for (auto& slot : state()) slot.second->resize(0);
  }

  /// ---- Keras 3 base-optimizer options (each off when unset, as Keras' None) ----
  /// Keras 3 order in apply(): gradients clipped (clipnorm per variable, or global_clipnorm over all of them, or
  /// clipvalue elementwise: at most one of the three), then weight decay var -= var * weight_decay * lr on every
  /// trained variable, then the optimizer's own update with the clipped gradients.
  /// Keras' `weight_decay` (unset: none).
  std::optional<double> weight_decay() const { return weight_decay_; }
  /// Keras' `clipnorm`: each variable's gradient clipped to this norm.
  std::optional<double> clipnorm() const { return clipnorm_; }
  /// Keras' `clipvalue`: each gradient value clipped to [-clipvalue, clipvalue].
  std::optional<double> clipvalue() const { return clipvalue_; }
  /// Keras' `global_clipnorm`: all gradients scaled so that their global norm is at most this.
  std::optional<double> global_clipnorm() const { return global_clipnorm_; }
  /// Sets weight_decay (>= 0; nullopt: off).
  Optimizer& set_weight_decay(std::optional<double> wd) {
    if (wd && !(std::isfinite(*wd) && *wd >= 0))
      throw ArgumentError(class_name() + ": weight_decay must be >= 0, got " + std::to_string(*wd));
    weight_decay_ = wd;
    return *this;
  }
  /// Sets clipnorm (> 0; nullopt: off).
  Optimizer& set_clipnorm(std::optional<double> c) { return set_clip(clipnorm_, "clipnorm", c); }
  /// Sets clipvalue (> 0; nullopt: off).
  Optimizer& set_clipvalue(std::optional<double> c) { return set_clip(clipvalue_, "clipvalue", c); }
  /// Sets global_clipnorm (> 0; nullopt: off).
  Optimizer& set_global_clipnorm(std::optional<double> c) { return set_clip(global_clipnorm_, "global_clipnorm", c); }

  /// The sizes of the variables (weight tensors) the flat buffer holds, in buffer order: clipnorm clips each one's
  /// gradient by its own norm, as Keras does. compile() sets them; empty means one variable of all n values.
  void set_variable_sizes(std::vector<Index> sizes) { variable_sizes_ = std::move(sizes); }
  /// The sizes set_variable_sizes() set.
  const std::vector<Index>& variable_sizes() const { return variable_sizes_; }

 protected:
  /// No virtual calls here: the derived object does not exist yet. A fixed rate must be > 0; a schedule's values
  /// are not checked (Keras' CosineDecay reaches 0).
  explicit Optimizer(const LearningRate& lr)
      : learning_rate_(lr.schedule() ? 0.0 : lr.at(0)), schedule_(lr.shared_schedule()) {
    if (!schedule_ && !(learning_rate_ > 0))
      throw ArgumentError("optimizer: learning_rate must be > 0, got " + std::to_string(learning_rate_));
  }
  /// Sizes the state on the first step, and refuses a model whose size changed under it.
  void ensure_state(Vector& v, Index n) {
    if (v.size() == 0) v = Vector::Zero(n);
    if (v.size() != n)
      throw ShapeError(class_name() + ": optimizer state holds " + std::to_string(v.size()) +
                       " values but the model has " + std::to_string(n) + " parameters");
  }

  /// What every step starts with, in Keras 3's order: the step's learning rate taken (step_lr_: the schedule's
  /// value at the iteration count before this step increments it, as Keras evaluates it), the gradients clipped
  /// (into a workspace, which is then what the update must read: the returned pointer) and the decoupled weight
  /// decay applied to the parameters with that same rate. Norms are summed in double (Keras sums in the variable's
  /// dtype). Costs nothing when the options are off.
  const Scalar* prepare_step(Scalar* params, const Scalar* grads, Index n) {
    step_lr_ = learning_rate();
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
      const auto wd = static_cast<Scalar>(*weight_decay_), lr = static_cast<Scalar>(step_lr_);
      for (Index i = 0; i < n; ++i) params[i] = params[i] - params[i] * wd * lr;
    }
    return g;
  }

  /// Keras 3's base get_config() keys (name, learning_rate and the options above; null when off). A schedule is
  /// written as Keras 3 serializes it: {"module": "keras.optimizers.schedules", "class_name", "config",
  /// "registered_name": null}.
  nlohmann::json base_config(const std::string& name) const {
    auto opt = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
    return {{"name", name},
            {"learning_rate", schedule_ ? serialize_schedule(*schedule_) : nlohmann::json(learning_rate_)},
            {"weight_decay", opt(weight_decay_)},
            {"clipnorm", opt(clipnorm_)},
            {"global_clipnorm", opt(global_clipnorm_)},
            {"clipvalue", opt(clipvalue_)}};
  }

  double learning_rate_;  ///< The fixed rate (unused with a schedule).
  /// The rate of the step under way: what prepare_step() took, which update rules read.
  double step_lr_ = 0;
  std::int64_t iterations_ = 0;  ///< Steps taken.
  /// Immutable, so copies of the optimizer (clone()) share it.
  std::shared_ptr<const LearningRateSchedule> schedule_;

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
/// a number or a serialized schedule (Keras 3's {"module", "class_name", "config", "registered_name"} or tf.keras
/// 2's {"class_name", "config"}, read through the schedule registry), and options that would change the training
/// which nnlite does not implement yet, refused rather than dropped.
/// tf.keras 2's legacy `decay` (lr_t = lr / (1 + decay * iterations), optimizer_v2._decayed_lr) is read as the
/// schedule it equals, InverseTimeDecay(lr, decay_steps = 1, decay_rate = decay); the config written back holds
/// that schedule (and "decay": 0). Keras 3 ignores `decay`; only tf.keras 2 files carry it.
inline LearningRate optimizer_learning_rate(const ConfigReader& c, double fallback) {
  for (const char* key : {"gradient_accumulation_steps", "loss_scale_factor"}) c.require_null(key);
  if (c.has("use_ema") && c.at("use_ema") != false) c.unsupported("'use_ema' = " + dump_json(c.at("use_ema")));
  const double decay = c.number("decay", 0.0);
  if (decay < 0) c.bad("'decay' must be >= 0, got " + dump_json(c.at("decay")));
  const char* key = c.has("learning_rate") ? "learning_rate" : "lr";
  if (c.has(key) && c.at(key).is_object()) {
    // tf.keras 2 divided a schedule's value by (1 + decay * iterations) too: a product nnlite has no schedule for.
    if (decay != 0) c.unsupported("'decay' = " + dump_json(c.at("decay")) + " together with a learning-rate schedule");
    try {
      return LearningRate(
          std::shared_ptr<const LearningRateSchedule>(make_schedule(c.at(key), c.prefix() + "'" + key + "'")));
    } catch (const ArgumentError& e) {
      c.bad(e.what());
    }
  }
  const double lr = c.number(key, fallback);
  if (!(lr > 0)) c.bad("learning rate " + dump_json(c.at(key)) + " must be > 0");
  if (decay != 0) return InverseTimeDecay(lr, 1, decay);
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

/// The from_config() of a built-in optimizer: the learning rate (optimizer_learning_rate(), `lr_fallback` when
/// absent), `create(lr)` for the optimizer made from its own keys (its ArgumentErrors reported as the config's), then
/// the base options (with_base_options()).
template <class Create>
auto optimizer_from_config(const ConfigReader& c, double lr_fallback, Create create,
                           std::optional<double> wd_fallback = std::nullopt) {
  const LearningRate lr = optimizer_learning_rate(c, lr_fallback);
  decltype(create(lr)) opt;
  try {
    opt = create(lr);
  } catch (const ArgumentError& e) {
    c.bad(e.what());
  }
  return with_base_options(std::move(opt), c, wd_fallback);
}

/// What Adam, AdamW, Nadam and Adamax share: Keras' beta_1, beta_2 and epsilon (checked, in the config and read
/// back), the moments m and v, and the one pass that updates them.
template <class Scalar>
class AdamFamily : public Optimizer<Scalar> {
 public:
  /// The flat state buffer type (Optimizer's Vector).
  using Vector = typename Optimizer<Scalar>::Vector;

  /// tf.keras 2.x slot names m, v (Keras 3: momentum, velocity; Adamax's norm is v).
  std::vector<std::pair<std::string, Vector*>> state() override { return {{"m", &m_}, {"v", &v_}}; }
  /// Keras' `beta_1`: the decay rate of the first moment.
  double beta_1() const { return beta_1_; }
  /// Keras' `beta_2`: the decay rate of the second moment (Adamax: of the infinity norm).
  double beta_2() const { return beta_2_; }
  /// Keras' `epsilon`: the small constant for numerical stability.
  double epsilon() const { return epsilon_; }

 protected:
  /// `cls` (the class name) prefixes the message when a value is out of range.
  AdamFamily(const char* cls, LearningRate learning_rate, double beta_1, double beta_2, double epsilon)
      : Optimizer<Scalar>(std::move(learning_rate)), beta_1_(beta_1), beta_2_(beta_2), epsilon_(epsilon) {
    if (!(beta_1 >= 0 && beta_1 < 1) || !(beta_2 >= 0 && beta_2 < 1) || !(epsilon > 0))
      throw ArgumentError(std::string(cls) + ": need 0 <= beta_1, beta_2 < 1 and epsilon > 0 (got beta_1 " +
                          std::to_string(beta_1) + ", beta_2 " + std::to_string(beta_2) + ", epsilon " +
                          std::to_string(epsilon) + ")");
  }

  /// base_config() with beta_1, beta_2 and epsilon.
  nlohmann::json family_config(const std::string& name) const {
    nlohmann::json c = this->base_config(name);
    c.update({{"beta_1", beta_1_}, {"beta_2", beta_2_}, {"epsilon", epsilon_}});
    return c;
  }

  /// optimizer_from_config() with `create(lr, beta_1, beta_2, epsilon)` given Keras' keys and defaults.
  template <class Create>
  static auto family_from_config(const ConfigReader& c, Create create,
                                 std::optional<double> wd_fallback = std::nullopt) {
    return optimizer_from_config(
        c, 1e-3,
        [&](const LearningRate& lr) {
          return create(lr, c.number("beta_1", 0.9), c.number("beta_2", 0.999), c.number("epsilon", 1e-7));
        },
        wd_fallback);
  }

  /// What a step starts with: prepare_step() (the returned gradients are what the update reads), then m, v and
  /// `extra` (when given) sized to the `n` parameters.
  const Scalar* start_step(Scalar* params, const Scalar* grads, Index n, Vector* extra = nullptr) {
    grads = this->prepare_step(params, grads, n);
    this->ensure_state(m_, n);
    this->ensure_state(v_, n);
    if (extra) this->ensure_state(*extra, n);
    return grads;
  }

  /// One pass that reads each of p, g, m, v once, in contiguous slices over threads (every element's update is
  /// independent, so any split gives the same bits): m += (g - m)(1 - beta_1), v = second(v, g), then
  /// update(i, g, m, v) with the new m and v.
  template <class Second, class Update>
  void moment_pass(const Scalar* grads, Index n, Second second, Update update) {
    const auto b1 = static_cast<Scalar>(1 - beta_1_);
    Scalar* m = m_.data();
    Scalar* v = v_.data();
    parallel_slices(n, threads_for(n, 4.0 * double(n)), [&](int, Index begin, Index end) {
      for (Index i = begin; i < end; ++i) {
        const Scalar gi = grads[i];
        const Scalar mi = m[i] + (gi - m[i]) * b1;
        const Scalar vi = second(v[i], gi);
        m[i] = mi;
        v[i] = vi;
        update(i, gi, mi, vi);
      }
    });
  }

  /// moment_pass() with Adam's second moment: v += (g^2 - v)(1 - beta_2).
  template <class Update>
  void adam_moment_pass(const Scalar* grads, Index n, Update update) {
    const auto b2 = static_cast<Scalar>(1 - beta_2_);
    moment_pass(
        grads, n, [b2](Scalar v, Scalar g) { return v + (g * g - v) * b2; }, update);
  }

  ///@{
  /// Keras' `beta_1`, `beta_2` (the moment estimates' decay rates) and `epsilon` (for numerical stability).
  double beta_1_, beta_2_, epsilon_;
  ///@}
  /// The first moment estimate (Keras 3's momentum).
  Vector m_;
  /// The second moment estimate (Keras 3's velocity; Adamax: the weighted infinity norm).
  Vector v_;
};

}  // namespace nnlite
