// nnlite/model/callbacks.hpp: the Callback base class with Keras' hooks (train, epoch, batch, test) and the logs they
// receive, plus the callbacks that need nothing but the logs (LambdaCallback, EarlyStopping). The progress bar is in
// progress.hpp; callbacks that write files are with the file formats.
#pragma once

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "../core/tensor.hpp"
#include "history.hpp"

namespace nnlite {

template <class Scalar>
class Sequential;

// Keras' callback.params: what fit() is about to do.
struct FitParams {
  int initial_epoch = 0, epochs = 0;
  Index steps = 0;  // batches per epoch
  Index samples = 0, validation_samples = 0;
  int verbose = 1;
};

// Keras' hooks, called by fit() / evaluate() in Keras' order. `model` and `params` are set before on_train_begin;
// a callback stops training after the current epoch with `model->stop_training = true`. Batch numbers are 0-based
// within the epoch, epochs 0-based; batch logs hold the running means over the epoch so far (what Keras' bar shows).
template <class Scalar = float>
class Callback {
 public:
  virtual ~Callback() = default;
  Sequential<Scalar>* model = nullptr;
  FitParams params;

  virtual void on_train_begin(const Logs& /*logs*/) {}
  virtual void on_train_end(const Logs& /*logs*/) {}
  virtual void on_epoch_begin(int /*epoch*/, const Logs& /*logs*/) {}
  // The epoch's logs (val_ ones included) may be extended here, as Keras' callbacks do (learning_rate); later
  // callbacks, the progress bar and the History see the additions.
  virtual void on_epoch_end(int /*epoch*/, Logs& /*logs*/) {}
  virtual void on_train_batch_begin(Index /*batch*/, const Logs& /*logs*/) {}
  virtual void on_train_batch_end(Index /*batch*/, const Logs& /*logs*/) {}
  virtual void on_test_begin(const Logs& /*logs*/) {}
  virtual void on_test_end(const Logs& /*logs*/) {}
  virtual void on_test_batch_begin(Index /*batch*/, const Logs& /*logs*/) {}
  virtual void on_test_batch_end(Index /*batch*/, const Logs& /*logs*/) {}
};

// Keras' LambdaCallback(on_epoch_end=...): a function at the end of every epoch, without writing a class.
template <class Scalar = float>
class LambdaCallback : public Callback<Scalar> {
 public:
  explicit LambdaCallback(std::function<void(int epoch, Logs& logs)> on_epoch_end) : fn_(std::move(on_epoch_end)) {}
  void on_epoch_end(int epoch, Logs& logs) override { fn_(epoch, logs); }

 private:
  std::function<void(int, Logs&)> fn_;
};

// Keras' EarlyStopping on val_loss (or loss without validation).
template <class Scalar = float>
class EarlyStopping : public Callback<Scalar> {
 public:
  explicit EarlyStopping(int patience = 0, double min_delta = 0) : patience_(patience), min_delta_(min_delta) {}
  void on_train_begin(const Logs&) override {
    best_ = std::numeric_limits<double>::infinity();
    wait_ = 0;
  }
  void on_epoch_end(int /*epoch*/, Logs& logs) override {
    auto it = logs.find("val_loss");
    if (it == logs.end()) it = logs.find("loss");
    if (it == logs.end()) return;
    const double v = it->second;
    if (v < best_ - min_delta_) {
      best_ = v;
      wait_ = 0;
    } else if (++wait_ > patience_) {
      this->model->stop_training = true;
    }
  }

 private:
  int patience_;
  double min_delta_;
  double best_ = std::numeric_limits<double>::infinity();
  int wait_ = 0;
};

}  // namespace nnlite
