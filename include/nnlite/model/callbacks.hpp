// nnlite/model/callbacks.hpp: hooks into fit(), like Keras callbacks: progress display, checkpoints, early stopping.
// A callback sets `stop_training` to end fit() after the current epoch.
#pragma once

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "../core/tensor.hpp"
#include "history.hpp"

namespace nnlite {

struct TrainBegin {
  int initial_epoch = 0, epochs = 0;
  Index steps_per_epoch = 0, samples = 0, validation_samples = 0;
};

class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(const TrainBegin& /*info*/) {}
  virtual void on_epoch_begin(int /*epoch*/) {}
  // step is 1-based; loss/accuracy are the running means over the epoch so far (what Keras' bar shows).
  virtual void on_batch_end(Index /*step*/, double /*loss*/, double /*accuracy*/) {}
  virtual void on_validation_begin() {}
  virtual void on_epoch_end(const EpochLogs& /*logs*/) {}
  virtual void on_train_end(const History& /*history*/) {}
  bool stop_training = false;
};

// Calls a function at the end of every epoch (for checkpoints and custom logging without a class).
class LambdaCallback : public Callback {
 public:
  explicit LambdaCallback(std::function<void(const EpochLogs&)> on_epoch_end) : fn_(std::move(on_epoch_end)) {}
  void on_epoch_end(const EpochLogs& logs) override { fn_(logs); }

 private:
  std::function<void(const EpochLogs&)> fn_;
};

// Keras' EarlyStopping on val_loss (or loss without validation).
class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(int patience = 0, double min_delta = 0) : patience_(patience), min_delta_(min_delta) {}
  void on_train_begin(const TrainBegin&) override {
    best_ = std::numeric_limits<double>::infinity();
    wait_ = 0;
  }
  void on_epoch_end(const EpochLogs& logs) override {
    const double v = logs.has_validation() ? logs.val_loss : logs.loss;
    if (v < best_ - min_delta_) {
      best_ = v;
      wait_ = 0;
    } else if (++wait_ > patience_) {
      stop_training = true;
    }
  }

 private:
  int patience_;
  double min_delta_;
  double best_ = std::numeric_limits<double>::infinity();
  int wait_ = 0;
};

}  // namespace nnlite
