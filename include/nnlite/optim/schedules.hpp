// nnlite/optim/schedules.hpp: Keras' learning-rate schedules (keras/src/optimizers/schedules/
// learning_rate_schedule.py, Keras 3.16): ExponentialDecay, PiecewiseConstantDecay, CosineDecay, InverseTimeDecay,
// their serialized form, and the schedule registry (Keras class name -> from_config) that users extend.
//
// An optimizer given a schedule evaluates it at its step count before the step (Keras' `self.iterations`, which
// BaseOptimizer.apply increments after the update), so the first step uses schedule(0).
//
// Precision: nnlite computes every schedule in double and the optimizer casts the value to its Scalar at use, as it
// does a fixed learning rate. Keras computes in float32 (the dtype of `initial_learning_rate`), so a float32 model
// sees the same rate up to float32 rounding of the intermediate results (a few ulps of the rate).
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../core/registry.hpp"

namespace nnlite {

/// Keras' LearningRateSchedule: the learning rate as a function of the optimizer's step count. Immutable: the
/// optimizer's iteration count is its only position, so checkpoints need nothing more.
class LearningRateSchedule {
 public:
  virtual ~LearningRateSchedule() = default;
  /// The learning rate at `step` (the optimizer's iterations before the step). Pure arithmetic: no allocation.
  virtual double operator()(std::int64_t step) const = 0;
  /// Keras' class name ("ExponentialDecay"), what the registry knows it by.
  virtual std::string class_name() const = 0;
  /// Keras' get_config(): the constructor arguments by their Keras names.
  virtual json config() const = 0;
  /// An independent copy of the schedule.
  virtual std::unique_ptr<LearningRateSchedule> clone() const = 0;
};

/// Keras 3's serialize(schedule): {"module": "keras.optimizers.schedules", "class_name", "config",
/// "registered_name": null}, what an optimizer's config holds as its learning_rate.
inline json serialize_schedule(const LearningRateSchedule& s) {
  return {{"module", "keras.optimizers.schedules"},
          {"class_name", s.class_name()},
          {"config", s.config()},
          {"registered_name", nullptr}};
}

namespace schedule_detail {

inline constexpr double kPi = 3.14159265358979323846;  // Keras' math.pi

/// A number of steps as Keras' config holds it: an integer when it is one (decay_steps=1000; nnlite keeps doubles,
/// so a float 1.0 is written back as 1), else the float.
inline json steps_json(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9e15) return static_cast<std::int64_t>(v);
  return v;
}

inline void check_finite(const char* cls, const char* arg, double v) {
  if (!std::isfinite(v))
    throw ArgumentError(std::string(cls) + ": argument `" + arg + "` must be finite. Received: " + arg + "=" +
                        dump_json(v));
}

/// Keras' check of decay_steps (and first_decay_steps), with its message.
inline void check_decay_steps(const char* cls, double decay_steps) {
  check_finite(cls, "decay_steps", decay_steps);
  if (decay_steps <= 0)
    throw ArgumentError(std::string(cls) + ": Argument `decay_steps` must be > 0. Received: decay_steps=" +
                        dump_json(steps_json(decay_steps)));
}

/// A number the config must have (the schedule's required arguments).
inline double required(const ConfigReader& c, const char* key) {
  if (!c.has(key)) c.bad(std::string("'") + key + "' is missing");
  return c.number(key, 0.0);
}

/// The schedule's name: a string, or null (tf.keras 2's CosineDecay default) read as the Keras 3 default.
inline std::string name_of(const ConfigReader& c, const std::string& fallback) { return c.string("name", fallback); }

/// A from_config's construction: ArgumentError from the constructor becomes FormatError naming the source.
template <class Make>
std::unique_ptr<LearningRateSchedule> build(const ConfigReader& c, Make make) {
  try {
    return make();
  } catch (const ArgumentError& e) {
    c.bad(e.what());
  }
}

/// A list of finite numbers under `key` (PiecewiseConstantDecay's boundaries and values).
inline std::vector<double> numbers(const ConfigReader& c, const char* key) {
  if (!c.has(key)) c.bad(std::string("'") + key + "' is missing");
  const json& v = c.at(key);
  if (!v.is_array()) c.bad(std::string("'") + key + "' must be a list of numbers, got " + dump_json(v));
  std::vector<double> out;
  for (const json& x : v) {
    if (!x.is_number() || !std::isfinite(x.get<double>()))
      c.bad(std::string("'") + key + "' must be a list of finite numbers, got " + dump_json(v));
    out.push_back(x.get<double>());
  }
  return out;
}

}  // namespace schedule_detail

/// What ExponentialDecay and InverseTimeDecay share: Keras' arguments (initial_learning_rate, decay_steps,
/// decay_rate, staircase, name), their checks and config; `Derived` gives kName and decayed(initial, rate, p) at
/// p = step / decay_steps (floored when staircase).
template <class Derived>
class StepDecaySchedule : public LearningRateSchedule {
 public:
  /// Keras' Derived(initial_learning_rate, decay_steps, decay_rate, staircase, name), the name defaulting to kName;
  /// ArgumentError for a non-finite initial_learning_rate or decay_rate, or decay_steps <= 0.
  StepDecaySchedule(double initial_learning_rate, double decay_steps, double decay_rate, bool staircase = false,
                    std::string name = Derived::kName)
      : initial_(initial_learning_rate),
        decay_steps_(decay_steps),
        decay_rate_(decay_rate),
        staircase_(staircase),
        name_(std::move(name)) {
    schedule_detail::check_finite(Derived::kName, "initial_learning_rate", initial_learning_rate);
    schedule_detail::check_finite(Derived::kName, "decay_rate", decay_rate);
    schedule_detail::check_decay_steps(Derived::kName, decay_steps);
  }

  /// Derived::decayed(initial_learning_rate, decay_rate, p) at p = step / decay_steps (floored when staircase).
  double operator()(std::int64_t step) const override {
    double p = static_cast<double>(step) / decay_steps_;
    if (staircase_) p = std::floor(p);
    return Derived::decayed(initial_, decay_rate_, p);
  }
  /// Keras' class name: Derived::kName.
  std::string class_name() const override { return Derived::kName; }
  /// Keras' get_config(): initial_learning_rate, decay_steps, decay_rate, staircase, name.
  json config() const override {
    return {{"initial_learning_rate", initial_},
            {"decay_steps", schedule_detail::steps_json(decay_steps_)},
            {"decay_rate", decay_rate_},
            {"staircase", staircase_},
            {"name", name_}};
  }
  /// An independent copy of the Derived schedule.
  std::unique_ptr<LearningRateSchedule> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }

  /// The schedule from its Keras config (FormatError for a missing or bad argument).
  static std::unique_ptr<LearningRateSchedule> from_config(const ConfigReader& c) {
    return schedule_detail::build(c, [&] {
      return std::make_unique<Derived>(schedule_detail::required(c, "initial_learning_rate"),
                                       schedule_detail::required(c, "decay_steps"),
                                       schedule_detail::required(c, "decay_rate"), c.boolean("staircase", false),
                                       schedule_detail::name_of(c, Derived::kName));
    });
  }

 private:
  double initial_, decay_steps_, decay_rate_;
  bool staircase_;
  std::string name_;
};

/// Keras' ExponentialDecay: initial_learning_rate * decay_rate ^ (step / decay_steps), the exponent floored when
/// staircase.
class ExponentialDecay : public StepDecaySchedule<ExponentialDecay> {
 public:
  using StepDecaySchedule::StepDecaySchedule;
  static constexpr const char* kName = "ExponentialDecay";  ///< Keras' class name, also the default name.
  /// initial * rate ^ p.
  static double decayed(double initial, double rate, double p) { return initial * std::pow(rate, p); }
};

/// Keras' PiecewiseConstantDecay: values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <=
/// boundaries[i], values.back() after boundaries.back(). Boundaries are compared as step counts (Keras casts them
/// to the step's integer type: a float boundary is truncated).
class PiecewiseConstantDecay : public LearningRateSchedule {
 public:
  /// Keras' PiecewiseConstantDecay(boundaries, values, name); ArgumentError unless values has one more entry than a
  /// non-empty boundaries and all are finite.
  PiecewiseConstantDecay(std::vector<double> boundaries, std::vector<double> values,
                         std::string name = "PiecewiseConstant")
      : boundaries_(std::move(boundaries)), values_(std::move(values)), name_(std::move(name)) {
    if (boundaries_.size() + 1 != values_.size())
      throw ArgumentError(
          "PiecewiseConstantDecay: The length of boundaries should be 1 less than the length of values. Received: "
          "boundaries=" +
          dump_json(boundaries_) + " of length " + std::to_string(boundaries_.size()) +
          ", and values=" + dump_json(values_) + " of length " + std::to_string(values_.size()) + ".");
    if (boundaries_.empty())  // Keras fails on boundaries[0] at the first call
      throw ArgumentError("PiecewiseConstantDecay: argument `boundaries` must not be empty");
    for (double b : boundaries_) schedule_detail::check_finite("PiecewiseConstantDecay", "boundaries", b);
    for (double v : values_) schedule_detail::check_finite("PiecewiseConstantDecay", "values", v);
  }

  /// Keras' sum of indicator * value over the ranges (the same result for any order of boundaries).
  double operator()(std::int64_t step) const override {
    auto b = [&](std::size_t i) { return std::trunc(boundaries_[i]); };
    const double s = static_cast<double>(step);
    double r = 0;
    if (s <= b(0)) r += values_.front();
    if (s > b(boundaries_.size() - 1)) r += values_.back();
    for (std::size_t i = 0; i + 1 < boundaries_.size(); ++i)
      if (s > b(i) && s <= b(i + 1)) r += values_[i + 1];
    return r;
  }
  std::string class_name() const override { return "PiecewiseConstantDecay"; }
  json config() const override {
    json bs = json::array();
    for (double v : boundaries_) bs.push_back(schedule_detail::steps_json(v));
    return {{"boundaries", bs}, {"values", values_}, {"name", name_}};
  }
  std::unique_ptr<LearningRateSchedule> clone() const override {
    return std::make_unique<PiecewiseConstantDecay>(*this);
  }
  /// Keras' `boundaries`: the step counts where the rate changes.
  const std::vector<double>& boundaries() const { return boundaries_; }
  /// Keras' `values`: the rate in each range, one more than boundaries.
  const std::vector<double>& values() const { return values_; }

  /// The schedule from its Keras config (FormatError for a missing or bad argument).
  static std::unique_ptr<LearningRateSchedule> from_config(const ConfigReader& c) {
    auto bounds = schedule_detail::numbers(c, "boundaries");
    auto vals = schedule_detail::numbers(c, "values");
    return schedule_detail::build(c, [&] {
      return std::make_unique<PiecewiseConstantDecay>(std::move(bounds), std::move(vals),
                                                      schedule_detail::name_of(c, "PiecewiseConstant"));
    });
  }

 private:
  std::vector<double> boundaries_, values_;
  std::string name_;
};

/// Keras' InverseTimeDecay: initial_learning_rate / (1 + decay_rate * step / decay_steps), step / decay_steps
/// floored when staircase. (tf.keras 2's optimizer `decay` is InverseTimeDecay(lr, 1, decay).)
class InverseTimeDecay : public StepDecaySchedule<InverseTimeDecay> {
 public:
  using StepDecaySchedule::StepDecaySchedule;
  static constexpr const char* kName = "InverseTimeDecay";  ///< Keras' class name, also the default name.
  /// initial / (1 + rate * p).
  static double decayed(double initial, double rate, double p) { return initial / (1.0 + rate * p); }
};

/// Keras' CosineDecay with optional linear warmup. Without warmup_target: s = min(step, decay_steps),
/// lr = initial_learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha). With it: s =
/// min(step, decay_steps + warmup_steps); while s < warmup_steps, lr = initial + (warmup_target - initial) * s /
/// warmup_steps; after, the cosine decay from warmup_target at s - warmup_steps.
class CosineDecay : public LearningRateSchedule {
 public:
  /// Keras' CosineDecay(initial_learning_rate, decay_steps, alpha, name, warmup_target, warmup_steps); ArgumentError
  /// for a non-finite argument or decay_steps <= 0.
  CosineDecay(double initial_learning_rate, double decay_steps, double alpha = 0.0, std::string name = "CosineDecay",
              std::optional<double> warmup_target = std::nullopt, double warmup_steps = 0)
      : initial_(initial_learning_rate),
        decay_steps_(decay_steps),
        alpha_(alpha),
        name_(std::move(name)),
        warmup_target_(warmup_target),
        warmup_steps_(warmup_steps) {
    schedule_detail::check_finite("CosineDecay", "initial_learning_rate", initial_learning_rate);
    schedule_detail::check_finite("CosineDecay", "alpha", alpha);
    if (warmup_target) schedule_detail::check_finite("CosineDecay", "warmup_target", *warmup_target);
    schedule_detail::check_finite("CosineDecay", "warmup_steps", warmup_steps);
    schedule_detail::check_decay_steps("CosineDecay", decay_steps);
  }

  double operator()(std::int64_t step) const override {
    const double s = static_cast<double>(step);
    if (!warmup_target_) return decay(std::min(s, decay_steps_), initial_);
    const double t = std::min(s, decay_steps_ + warmup_steps_);
    if (t < warmup_steps_) return (*warmup_target_ - initial_) * (t / warmup_steps_) + initial_;
    return decay(t - warmup_steps_, *warmup_target_);
  }
  std::string class_name() const override { return "CosineDecay"; }
  json config() const override {
    return {{"initial_learning_rate", initial_},
            {"decay_steps", schedule_detail::steps_json(decay_steps_)},
            {"alpha", alpha_},
            {"name", name_},
            {"warmup_target", warmup_target_ ? json(*warmup_target_) : json(nullptr)},
            {"warmup_steps", schedule_detail::steps_json(warmup_steps_)}};
  }
  std::unique_ptr<LearningRateSchedule> clone() const override { return std::make_unique<CosineDecay>(*this); }

  /// The schedule from its Keras config (FormatError for a missing or bad argument).
  static std::unique_ptr<LearningRateSchedule> from_config(const ConfigReader& c) {
    const std::optional<double> target =
        c.has("warmup_target") ? std::optional<double>(c.number("warmup_target", 0.0)) : std::nullopt;
    return schedule_detail::build(c, [&] {
      return std::make_unique<CosineDecay>(
          schedule_detail::required(c, "initial_learning_rate"), schedule_detail::required(c, "decay_steps"),
          c.number("alpha", 0.0), schedule_detail::name_of(c, "CosineDecay"), target, c.number("warmup_steps", 0.0));
    });
  }

 private:
  double decay(double s, double from) const {
    const double cosine = 0.5 * (1.0 + std::cos(schedule_detail::kPi * (s / decay_steps_)));
    return from * ((1 - alpha_) * cosine + alpha_);
  }

  double initial_, decay_steps_, alpha_;
  std::string name_;
  std::optional<double> warmup_target_;
  double warmup_steps_;
};

/// What the schedule registry holds: a schedule from its config dict.
using ScheduleCreator = std::function<std::unique_ptr<LearningRateSchedule>(const ConfigReader&)>;

/// The schedule registry: Keras class name -> from_config. Register your own with register_schedule.
inline Registry<ScheduleCreator>& schedule_registry() {
  static Registry<ScheduleCreator> registry = [] {
    Registry<ScheduleCreator> r("learning-rate schedule");
    r.add("ExponentialDecay", &ExponentialDecay::from_config);
    r.add("PiecewiseConstantDecay", &PiecewiseConstantDecay::from_config);
    r.add("InverseTimeDecay", &InverseTimeDecay::from_config);
    r.add("CosineDecay", &CosineDecay::from_config);
    return r;
  }();
  return registry;
}

/// Adds (or replaces) a schedule class that make_schedule and the optimizers' from_config can read.
inline void register_schedule(const std::string& class_name, ScheduleCreator creator,
                              const std::vector<std::string>& aliases = {}) {
  schedule_registry().add(class_name, std::move(creator), aliases);
}

/// A schedule from its serialized form: Keras 3's {"module", "class_name", "config", "registered_name"} or tf.keras
/// 2's {"class_name", "config"}. A class the registry does not know is an UnsupportedError listing the known ones
/// (registered_name, when a string, is tried after class_name: Keras 3 writes "package>Name" for a user's class).
inline std::unique_ptr<LearningRateSchedule> make_schedule(const json& spec,
                                                           const std::string& source = "learning_rate") {
  if (!spec.is_object() || !spec.contains("class_name") || !spec["class_name"].is_string())
    throw FormatError(source + ": a learning-rate schedule must be {\"class_name\": ..., \"config\": {...}}, got " +
                      dump_json(spec));
  std::string cls = spec["class_name"].get<std::string>();
  const auto& reg = schedule_registry();
  if (!reg.contains(cls) && spec.contains("registered_name") && spec["registered_name"].is_string() &&
      reg.contains(spec["registered_name"].get<std::string>()))
    cls = spec["registered_name"].get<std::string>();
  const auto& create = reg.at(cls, source + ": ");
  static const json empty = json::object();
  const json& cfg = spec.contains("config") && spec["config"].is_object() ? spec["config"] : empty;
  ConfigReader reader{cfg, cls, cfg.contains("name") && cfg["name"].is_string() ? cfg["name"].get<std::string>() : cls,
                      source};
  reader.kind = "learning-rate schedule";
  return create(reader);
}

}  // namespace nnlite
