// nnlite/model/callbacks.hpp: the Callback base class with Keras' hooks (train, epoch, batch, test) and the logs they
// receive, plus the callbacks that need nothing but the logs (LambdaCallback, EarlyStopping). The progress bar is in
// progress.hpp; callbacks that write files are with the file formats.
#pragma once

#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <vector>
#include <string>

#include "../core/tensor.hpp"
#include "../core/error.hpp"
#include "history.hpp"

namespace nnlite {

template <class Scalar>
class Sequential;

/// Keras' callback.params: what fit() is about to do.
struct FitParams {
  int initial_epoch = 0, epochs = 0;
  Index steps = 0;  // batches per epoch
  Index samples = 0, validation_samples = 0;
  int verbose = 1;
  /// Data-parallel fit (FitOptions::data_parallel): this process's rank and the number of ranks. Callbacks run on every
  /// rank with the same logs; one that writes files or prints should do so only where rank == 0.
  int rank = 0, num_ranks = 1;
};

/// Keras' hooks, called by fit() / evaluate() in Keras' order. `model` and `params` are set before on_train_begin;
/// a callback stops training after the current epoch with `model->stop_training = true`. Batch numbers are 0-based
/// within the epoch, epochs 0-based; batch logs hold the running means over the epoch so far (what Keras' bar shows).
template <class Scalar = float>
class Callback {
 public:
  virtual ~Callback() = default;
  Sequential<Scalar>* model = nullptr;
  FitParams params;

  virtual void on_train_begin(const Logs& /*logs*/) {}
  virtual void on_train_end(const Logs& /*logs*/) {}
  virtual void on_epoch_begin(int /*epoch*/, const Logs& /*logs*/) {}
  /// The epoch's logs (val_ ones included) may be extended here, as Keras' callbacks do (learning_rate); later
  /// callbacks, the progress bar and the History see the additions.
  virtual void on_epoch_end(int /*epoch*/, Logs& /*logs*/) {}
  virtual void on_train_batch_begin(Index /*batch*/, const Logs& /*logs*/) {}
  virtual void on_train_batch_end(Index /*batch*/, const Logs& /*logs*/) {}
  virtual void on_test_begin(const Logs& /*logs*/) {}
  virtual void on_test_end(const Logs& /*logs*/) {}
  virtual void on_test_batch_begin(Index /*batch*/, const Logs& /*logs*/) {}
  virtual void on_test_batch_end(Index /*batch*/, const Logs& /*logs*/) {}
};

/// Keras' LambdaCallback(on_epoch_end=...): a function at the end of every epoch, without writing a class.
template <class Scalar = float>
class LambdaCallback : public Callback<Scalar> {
 public:
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
  std::string monitor = "val_loss";
  double min_delta = 0;
  int patience = 0;
  std::string mode = "auto";  // auto, min, max
  std::optional<double> baseline;
  bool restore_best_weights = false;
  int start_from_epoch = 0;
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
  explicit EarlyStopping(int patience = 0, double min_delta = 0) : EarlyStopping(options(patience, min_delta)) {}
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
  int stopped_epoch() const { return stopped_epoch_; }  // 0 when it did not stop training
  int best_epoch() const { return best_epoch_; }
  double best() const { return best_; }
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

}  // namespace nnlite
