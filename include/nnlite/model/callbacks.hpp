// nnlite/model/callbacks.hpp: the Callback base class with Keras' hooks (train, epoch, batch, test) and the logs they
// receive, the callbacks that need nothing but the logs and the model (LambdaCallback, EarlyStopping,
// ReduceLROnPlateau, LearningRateScheduler, TerminateOnNaN) and the callback registry (Keras class name -> creator
// from a config). The progress bar is in progress.hpp; callbacks that write files (ModelCheckpoint, CSVLogger,
// BackupAndRestore) are in io/callbacks.hpp, which adds them to the registry.
#pragma once

#include <cmath>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <vector>
#include <string>

#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../core/registry.hpp"
#include "../core/tensor.hpp"
#include "../core/text.hpp"
#include "history.hpp"

namespace nnlite {

template <class Scalar>
class Sequential;

/// Keras' callback.params: what fit() is about to do.
struct FitParams {
  int initial_epoch = 0;         ///< Keras' `initial_epoch`: the 0-based epoch fit() starts at.
  int epochs = 0;                ///< Keras' `epochs`: the epoch fit() stops before.
  Index steps = 0;               ///< Keras' `steps`: batches per epoch.
  Index samples = 0;             ///< Training samples (all ranks' together in a data-parallel fit).
  Index validation_samples = 0;  ///< Validation samples, 0 without validation data.
  int verbose = 1;               ///< Keras' `verbose`: 0 silent, 1 progress bar, 2 one line per epoch.
  /// Data-parallel fit (FitOptions::data_parallel): this process's rank. Callbacks run on every rank with the same
  /// logs; one that writes files or prints should do so only where rank == 0.
  int rank = 0;
  int num_ranks = 1;  ///< Data-parallel fit: the number of ranks (1 otherwise).
};

/// Keras' hooks, called by fit() / evaluate() in Keras' order. `model` and `params` are set before on_train_begin;
/// a callback stops training after the current epoch with `model->stop_training = true` (after the current batch when
/// set in on_train_batch_end, as in Keras). Batch numbers are 0-based within the epoch, epochs 0-based; batch logs
/// hold the running means over the epoch so far (what Keras' bar shows).
template <class Scalar = float>
class Callback {
 public:
  virtual ~Callback() = default;
  Sequential<Scalar>* model = nullptr;  ///< Keras' callback.model: the model being fitted or evaluated.
  FitParams params;                     ///< Keras' callback.params: what fit() is about to do.

  /// Keras' on_train_begin: once, before the first epoch.
  virtual void on_train_begin(const Logs& /*logs*/) {}
  /// Keras' on_train_end: once, after the last epoch (also when a callback stopped training).
  virtual void on_train_end(const Logs& /*logs*/) {}
  /// Keras' on_epoch_begin: before each epoch's first batch (epoch 0-based).
  virtual void on_epoch_begin(int /*epoch*/, const Logs& /*logs*/) {}
  /// The epoch's logs (val_ ones included) may be extended here, as Keras' callbacks do (learning_rate); later
  /// callbacks, the progress bar and the History see the additions.
  virtual void on_epoch_end(int /*epoch*/, Logs& /*logs*/) {}
  /// Keras' on_train_batch_begin: before each training batch (0-based within the epoch).
  virtual void on_train_batch_begin(Index /*batch*/, const Logs& /*logs*/) {}
  /// Keras' on_train_batch_end: after each training step, with the epoch's running means so far.
  virtual void on_train_batch_end(Index /*batch*/, const Logs& /*logs*/) {}
  /// Keras' on_test_begin: before evaluate() or fit()'s validation pass.
  virtual void on_test_begin(const Logs& /*logs*/) {}
  /// Keras' on_test_end: after evaluate() or fit()'s validation pass, with its results.
  virtual void on_test_end(const Logs& /*logs*/) {}
  /// Keras' on_test_batch_begin: before each evaluation batch.
  virtual void on_test_batch_begin(Index /*batch*/, const Logs& /*logs*/) {}
  /// Keras' on_test_batch_end: after each evaluation batch, with the running means so far.
  virtual void on_test_batch_end(Index /*batch*/, const Logs& /*logs*/) {}
};

/// Keras' LambdaCallback(on_epoch_end=...): a function at the end of every epoch, without writing a class.
template <class Scalar = float>
class LambdaCallback : public Callback<Scalar> {
 public:
  /// Calls `on_epoch_end(epoch, logs)` at the end of every epoch.
  explicit LambdaCallback(std::function<void(int epoch, Logs& logs)> on_epoch_end) : fn_(std::move(on_epoch_end)) {}
  void on_epoch_end(int epoch, Logs& logs) override { fn_(epoch, logs); }

 private:
  std::function<void(int, Logs&)> fn_;
};

/// Keras 3's EarlyStopping(monitor, min_delta, patience, mode, baseline, restore_best_weights, start_from_epoch).
/// Each epoch from start_from_epoch on: wait += 1; an improvement (below best - min_delta in mode min, above
/// best + min_delta in max) records the best value and epoch (and the weights with restore_best_weights) and, when
/// there is no baseline or the value also beats it, resets wait to 0; otherwise training stops once wait >= patience
/// (never at epoch 0). mode auto is max for accuracy/auc/precision/recall monitors, min otherwise. With
/// restore_best_weights, the best epoch's weights are put back at the end of training, as Keras 3 does (the first
/// monitored epoch's weights when none improved). A monitor missing from the logs is skipped, as Keras warns and does.
struct EarlyStoppingOptions {
  std::string monitor = "val_loss";   ///< Keras' `monitor`: the logs entry watched.
  double min_delta = 0;               ///< Keras' `min_delta`: the smallest change that counts as an improvement.
  int patience = 0;                   ///< Keras' `patience`: epochs without improvement before stopping.
  std::string mode = "auto";          ///< Keras' `mode`: "auto", "min" or "max".
  std::optional<double> baseline;     ///< Keras' `baseline`: a value the monitor must also beat to reset wait.
  bool restore_best_weights = false;  ///< Keras' `restore_best_weights`: put the best epoch's weights back at the end.
  int start_from_epoch = 0;           ///< Keras' `start_from_epoch`: epochs of warm-up before monitoring starts.
};

/// Whether a monitored quantity improves upward (Keras' auto mode rule), for monitor-based callbacks.
inline bool monitor_is_max(const std::string& monitor, const std::string& mode, const std::string& who) {
  if (mode == "min") return false;
  if (mode == "max") return true;
  if (mode != "auto") throw ArgumentError(who + ": mode must be auto, min or max, got '" + mode + "'");
  for (const char* up : {"acc", "auc", "precision", "recall"})
    if (monitor.find(up) != std::string::npos) return true;
  return false;
}

/// Keras' EarlyStopping callback (Keras 3 semantics): stops when the monitored value stops improving.
template <class Scalar = float>
class EarlyStopping : public Callback<Scalar> {
 public:
  /// EarlyStopping(monitor="val_loss", patience, min_delta) with Keras' other defaults.
  explicit EarlyStopping(int patience = 0, double min_delta = 0) : EarlyStopping(options(patience, min_delta)) {}
  /// All of Keras' arguments; ArgumentError for patience or start_from_epoch < 0 or an unknown mode.
  explicit EarlyStopping(EarlyStoppingOptions o) : o_(std::move(o)) {
    if (o_.patience < 0) throw ArgumentError("EarlyStopping: patience must be >= 0, got " + std::to_string(o_.patience));
    if (o_.start_from_epoch < 0) throw ArgumentError("EarlyStopping: start_from_epoch must be >= 0");
    o_.min_delta = std::abs(o_.min_delta);
    max_ = monitor_is_max(o_.monitor, o_.mode, "EarlyStopping");
  }
  void on_train_begin(const Logs&) override {
    wait_ = 0;
    stopped_epoch_ = 0;
    best_epoch_ = 0;
    best_ = max_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    best_weights_.clear();
  }
  void on_epoch_end(int epoch, Logs& logs) override {
    auto it = logs.find(o_.monitor);
    if (it == logs.end() || epoch < o_.start_from_epoch) return;
    const double current = it->second;
    if (o_.restore_best_weights && best_weights_.empty()) best_weights_ = this->model->get_weights();
    ++wait_;
    if (improves(current, best_)) {
      best_ = current;
      best_epoch_ = epoch;
      if (o_.restore_best_weights) best_weights_ = this->model->get_weights();
      if (!o_.baseline || improves(current, *o_.baseline)) {
        wait_ = 0;
        return;
      }
    }
    if (wait_ >= o_.patience && epoch > 0) {
      stopped_epoch_ = epoch;
      this->model->stop_training = true;
    }
  }
  void on_train_end(const Logs&) override {
    if (o_.restore_best_weights && !best_weights_.empty()) this->model->set_weights(best_weights_);
  }
  /// Keras' stopped_epoch: the epoch training stopped at, 0 when it did not stop training.
  int stopped_epoch() const { return stopped_epoch_; }
  /// Keras' best_epoch: the epoch of the best monitored value.
  int best_epoch() const { return best_epoch_; }
  /// Keras' best: the best monitored value so far (+-inf before the first).
  double best() const { return best_; }
  /// Keras' wait: epochs since the last improvement.
  int wait() const { return wait_; }

 private:
  static EarlyStoppingOptions options(int patience, double min_delta) {
    EarlyStoppingOptions o;
    o.patience = patience;
    o.min_delta = min_delta;
    return o;
  }
  bool improves(double v, double ref) const { return max_ ? v > ref + o_.min_delta : v < ref - o_.min_delta; }

  EarlyStoppingOptions o_;
  bool max_ = false;
  int wait_ = 0, stopped_epoch_ = 0, best_epoch_ = 0;
  double best_ = 0;
  std::vector<Tensor<Scalar>> best_weights_;
};

/// Keras 3's MonitorCallback._is_improvement: `current` beats `best` by more than min_delta (any value beats none).
inline bool monitor_improves(double current, const std::optional<double>& best, bool max, double min_delta) {
  if (!best) return true;
  return max ? current - min_delta > *best : current + min_delta < *best;
}

/// Keras 3's ReduceLROnPlateau arguments, with its defaults.
struct ReduceLROnPlateauOptions {
  std::string monitor = "val_loss";  ///< Keras' `monitor`: the logs entry watched.
  double factor = 0.1;               ///< Keras' `factor`: new_lr = lr * factor; must be < 1.
  int patience = 10;                 ///< Keras' `patience`: epochs without improvement before a reduction.
  int verbose = 0;                   ///< Keras' `verbose`: 1 prints each reduction.
  std::string mode = "auto";         ///< Keras' `mode`: "auto", "min" or "max".
  double min_delta = 1e-4;           ///< Keras' `min_delta`: the smallest change that counts as an improvement.
  int cooldown = 0;                  ///< Keras' `cooldown`: epochs after a reduction during which wait stays 0.
  double min_lr = 0.0;               ///< Keras' `min_lr`: the rate is never reduced below this.
};

/// Keras 3's ReduceLROnPlateau: multiplies the optimizer's learning rate by `factor` once the monitored value has
/// not improved for `patience` epochs. Each epoch end, as Keras 3 does: logs["learning_rate"] = the current rate (the
/// rate before any reduction this epoch); in cooldown the cooldown counter drops by one and wait is reset; an
/// improvement (beyond min_delta) records the best value and resets wait; otherwise, out of cooldown, wait += 1 and at
/// wait >= patience the rate becomes max(lr * factor, min_lr) when lr > min_lr (compared in the model's Scalar, as
/// Keras compares float32 values), and then cooldown starts and wait is reset. mode auto is max for
/// accuracy/auc/precision/recall monitors, min otherwise. A monitor missing from the logs is skipped with a warning.
template <class Scalar = float>
class ReduceLROnPlateau : public Callback<Scalar> {
 public:
  /// Keras' arguments; ArgumentError for factor >= 1 or < 0, min_lr < 0, patience or cooldown < 0, an unknown mode.
  explicit ReduceLROnPlateau(ReduceLROnPlateauOptions o = {}) : o_(std::move(o)) {
    if (o_.factor >= 1.0)
      throw ArgumentError("ReduceLROnPlateau does not support a factor >= 1.0. Received factor=" +
                          python_float_repr(o_.factor));
    if (!(o_.factor >= 0))
      throw ArgumentError("ReduceLROnPlateau: factor must be >= 0, got " + python_float_repr(o_.factor));
    if (!(o_.min_lr >= 0))
      throw ArgumentError("ReduceLROnPlateau: min_lr must be >= 0, got " + python_float_repr(o_.min_lr));
    if (o_.factor == 0 && o_.min_lr == 0)
      throw ArgumentError(
          "ReduceLROnPlateau: factor=0 with min_lr=0 would set the learning rate to 0, which nnlite's "
          "optimizers refuse");
    if (o_.patience < 0)
      throw ArgumentError("ReduceLROnPlateau: patience must be >= 0, got " + std::to_string(o_.patience));
    if (o_.cooldown < 0)
      throw ArgumentError("ReduceLROnPlateau: cooldown must be >= 0, got " + std::to_string(o_.cooldown));
    max_ = monitor_is_max(o_.monitor, o_.mode, "ReduceLROnPlateau");
    o_.min_delta = std::abs(o_.min_delta);
  }
  /// The arguments in use (min_delta made non-negative).
  const ReduceLROnPlateauOptions& options() const { return o_; }

  void on_train_begin(const Logs&) override {
    best_.reset();
    cooldown_counter_ = 0;
    wait_ = 0;
    warned_ = false;
  }
  void on_epoch_end(int epoch, Logs& logs) override {
    auto& opt = this->model->optimizer();
    logs["learning_rate"] = static_cast<double>(static_cast<Scalar>(opt.learning_rate()));
    auto it = logs.find(o_.monitor);
    if (it == logs.end()) {
      if (!warned_ && this->params.rank == 0) {
        std::string keys;
        for (const auto& kv : logs) keys += (keys.empty() ? "" : ",") + kv.first;
        std::cerr << "Learning rate reduction is conditioned on metric `" << o_.monitor
                  << "` which is not available. Available metrics are: " << keys << ".\n";
      }
      warned_ = true;
      return;
    }
    const double current = it->second;
    if (in_cooldown()) {
      --cooldown_counter_;
      wait_ = 0;
    }
    if (monitor_improves(current, best_, max_, o_.min_delta)) {
      best_ = current;
      wait_ = 0;
    } else if (!in_cooldown()) {
      ++wait_;
      if (wait_ >= o_.patience) {
        // Keras compares the float32 rate with np.float32(min_lr): in the model's precision here.
        const double old_lr = static_cast<double>(static_cast<Scalar>(opt.learning_rate()));
        if (old_lr > static_cast<double>(static_cast<Scalar>(o_.min_lr))) {
          const double new_lr = std::max(old_lr * o_.factor, o_.min_lr);
          opt.set_learning_rate(new_lr);
          if (o_.verbose > 0 && this->params.rank == 0)
            std::cout << "\nEpoch " << epoch + 1 << ": ReduceLROnPlateau reducing learning rate to "
                      << python_float_repr(new_lr) << ".\n";
          cooldown_counter_ = o_.cooldown;
          wait_ = 0;
        }
      }
    }
  }
  /// Keras' in_cooldown(): whether a reduction happened fewer than `cooldown` epochs ago.
  bool in_cooldown() const { return cooldown_counter_ > 0; }
  /// Keras' wait: epochs without improvement counted towards `patience`.
  int wait() const { return wait_; }
  /// Keras' cooldown_counter: cooldown epochs left.
  int cooldown_counter() const { return cooldown_counter_; }
  /// Keras' best: the best monitored value so far, none before the first.
  std::optional<double> best() const { return best_; }

 private:
  ReduceLROnPlateauOptions o_;
  bool max_ = false, warned_ = false;
  std::optional<double> best_;
  int cooldown_counter_ = 0, wait_ = 0;
};

/// Keras 3's LearningRateScheduler(schedule, verbose): at each epoch's beginning the optimizer's rate becomes
/// schedule(epoch, current rate) (epoch 0-based); each epoch end puts the rate into logs["learning_rate"].
template <class Scalar = float>
class LearningRateScheduler : public Callback<Scalar> {
 public:
  /// Keras' `schedule`: (0-based epoch, current rate) -> the epoch's rate.
  using Schedule = std::function<double(int epoch, double lr)>;
  /// Keras' arguments; `verbose` 1 prints each new rate. ArgumentError for an empty schedule.
  explicit LearningRateScheduler(Schedule schedule, int verbose = 0)
      : schedule_(std::move(schedule)), verbose_(verbose) {
    if (!schedule_) throw ArgumentError("LearningRateScheduler: schedule must be a function");
  }
  void on_epoch_begin(int epoch, const Logs&) override {
    auto& opt = this->model->optimizer();
    const double lr = schedule_(epoch, static_cast<double>(static_cast<Scalar>(opt.learning_rate())));
    if (!(std::isfinite(lr) && lr > 0))
      throw ArgumentError("LearningRateScheduler: the schedule returned the learning rate " + python_float_repr(lr) +
                          " for epoch " + std::to_string(epoch) + " (it must be a finite number > 0)");
    opt.set_learning_rate(lr);
    if (verbose_ > 0 && this->params.rank == 0)
      std::cout << "\nEpoch " << epoch + 1 << ": LearningRateScheduler setting learning rate to "
                << python_float_repr(lr) << ".\n";
  }
  void on_epoch_end(int, Logs& logs) override {
    logs["learning_rate"] = static_cast<double>(static_cast<Scalar>(this->model->optimizer().learning_rate()));
  }

 private:
  Schedule schedule_;
  int verbose_;
};

/// Keras 3's TerminateOnNaN(raise_error): a NaN or infinite "loss" in a training batch's logs (the epoch's running
/// mean) stops training after that batch (model.stop_training, so on_epoch_end and on_train_end still run), or with
/// raise_error throws a NumericError at once. Use it with FitOptions::terminate_on_nan = false (nnlite's own guard
/// throws before the step instead).
template <class Scalar = float>
class TerminateOnNaN : public Callback<Scalar> {
 public:
  /// Keras' `raise_error`: throw NumericError at once instead of stopping after the batch.
  explicit TerminateOnNaN(bool raise_error = false) : raise_error_(raise_error) {}
  void on_train_batch_end(Index batch, const Logs& logs) override {
    auto it = logs.find("loss");
    if (it == logs.end() || std::isfinite(it->second)) return;
    if (raise_error_)
      throw NumericError("NaN or Inf loss encountered at batch " + std::to_string(batch) +
                         ". Loss value: " + python_float_repr(it->second) + ". Terminating training immediately.");
    if (this->params.rank == 0) std::cout << "Batch " << batch << ": Invalid loss, terminating training\n";
    this->model->stop_training = true;
  }
  /// Keras' `raise_error` as given to the constructor.
  bool raise_error() const { return raise_error_; }

 private:
  bool raise_error_;
};

// ---- the callback registry -----------------------------------------------------------------------------------------

/// Creates a callback from its Keras config (the "config" dict of {"class_name": ..., "config": {...}}).
template <class Scalar>
using CallbackCreator = std::function<std::unique_ptr<Callback<Scalar>>(const ConfigReader&)>;

namespace callback_detail {
/// Refuses config keys the callback does not take (Keras raises TypeError for an unexpected argument).
inline void check_keys(const ConfigReader& c, std::initializer_list<const char*> accepted) {
  for (const auto& item : c.cfg.items()) {
    bool ok = false;
    for (const char* a : accepted) ok = ok || item.key() == a;
    if (!ok) {
      std::string list;
      for (const char* a : accepted) list += (list.empty() ? "" : ", ") + std::string(a);
      c.bad("unknown argument '" + item.key() + "' (accepted: " + list + ")");
    }
  }
}
inline int int_arg(const ConfigReader& c, const char* key, int fallback) {
  return static_cast<int>(c.integer(key, std::numeric_limits<int>::min(), std::numeric_limits<int>::max(), fallback));
}
inline std::optional<double> optional_number(const ConfigReader& c, const char* key) {
  if (!c.has(key)) return std::nullopt;
  return c.number(key, 0);
}

template <class Scalar>
std::unique_ptr<Callback<Scalar>> early_stopping(const ConfigReader& c) {
  check_keys(c, {"monitor", "min_delta", "patience", "verbose", "mode", "baseline", "restore_best_weights",
                 "start_from_epoch"});
  EarlyStoppingOptions o;
  o.monitor = c.string("monitor", o.monitor);
  o.min_delta = c.number("min_delta", o.min_delta);
  o.patience = int_arg(c, "patience", o.patience);
  o.mode = c.string("mode", o.mode);
  o.baseline = optional_number(c, "baseline");
  o.restore_best_weights = c.boolean("restore_best_weights", o.restore_best_weights);
  o.start_from_epoch = int_arg(c, "start_from_epoch", o.start_from_epoch);
  return std::make_unique<EarlyStopping<Scalar>>(o);
}
template <class Scalar>
std::unique_ptr<Callback<Scalar>> reduce_lr_on_plateau(const ConfigReader& c) {
  check_keys(c, {"monitor", "factor", "patience", "verbose", "mode", "min_delta", "cooldown", "min_lr"});
  ReduceLROnPlateauOptions o;
  o.monitor = c.string("monitor", o.monitor);
  o.factor = c.number("factor", o.factor);
  o.patience = int_arg(c, "patience", o.patience);
  o.verbose = int_arg(c, "verbose", o.verbose);
  o.mode = c.string("mode", o.mode);
  o.min_delta = c.number("min_delta", o.min_delta);
  o.cooldown = int_arg(c, "cooldown", o.cooldown);
  o.min_lr = c.number("min_lr", o.min_lr);
  return std::make_unique<ReduceLROnPlateau<Scalar>>(o);
}
template <class Scalar>
std::unique_ptr<Callback<Scalar>> terminate_on_nan(const ConfigReader& c) {
  check_keys(c, {"raise_error"});
  return std::make_unique<TerminateOnNaN<Scalar>>(c.boolean("raise_error", false));
}
}  // namespace callback_detail

/// The callback registry: Keras class name -> creator. EarlyStopping, ReduceLROnPlateau and TerminateOnNaN are built
/// in; including io/callbacks.hpp adds ModelCheckpoint, CSVLogger and BackupAndRestore. LambdaCallback and
/// LearningRateScheduler take a function and have no config.
template <class Scalar>
Registry<CallbackCreator<Scalar>>& callback_registry() {
  static Registry<CallbackCreator<Scalar>> registry = [] {
    Registry<CallbackCreator<Scalar>> r("callback");
    r.add("EarlyStopping", &callback_detail::early_stopping<Scalar>);
    r.add("ReduceLROnPlateau", &callback_detail::reduce_lr_on_plateau<Scalar>);
    r.add("TerminateOnNaN", &callback_detail::terminate_on_nan<Scalar>);
    return r;
  }();
  return registry;
}

/// Adds (or replaces) a callback class for make_callback.
template <class Scalar>
void register_callback(const std::string& class_name, CallbackCreator<Scalar> creator,
                       const std::vector<std::string>& aliases = {}) {
  callback_registry<Scalar>().add(class_name, std::move(creator), aliases);
}

/// A callback from Keras' serialized form {"class_name": "EarlyStopping", "config": {"patience": 3}}, or a bare
/// class name with Keras' defaults. Unknown class: UnsupportedError listing the registered ones; a config value of
/// the wrong type or an unknown argument: FormatError; a bad value (patience < 0): the class's ArgumentError.
template <class Scalar = float>
std::unique_ptr<Callback<Scalar>> make_callback(const json& spec, const std::string& source = "callback") {
  const auto obj = serialized_object(spec);
  if (!obj) throw FormatError(source + " must be {\"class_name\": ..., \"config\": {...}}, got " + dump_json(spec));
  const std::string& cls = obj->class_name;
  const auto& create = callback_registry<Scalar>().at(cls, source + ": ");
  ConfigReader reader{*obj->config, cls, cls, source};
  reader.kind = "callback";
  return create(reader);
}

}  // namespace nnlite
