// nnlite/model/training.hpp: the training loop, apart from the network (as dlib's trainer.h sits apart from its
// net): one training step (forward, loss, backward, optimizer step), fit() with Keras' semantics (shuffling, per-epoch
// random streams, validation, callbacks in Keras' order), evaluate() and train_on_batch(). Sequential's fit,
// evaluate, train_on_batch and compute_gradients forward here.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/random.hpp"
#include "../data/source.hpp"
#include "callbacks.hpp"
#include "history.hpp"
#include "progress.hpp"
#include "sequential.hpp"

namespace nnlite {

template <class Scalar = float>
struct FitOptions {
  int epochs = 1;
  Index batch_size = 32;
  bool shuffle = true;                      // a new permutation every epoch
  double validation_split = 0.0;            // the last fraction of the data, before shuffling (Keras' rule)
  int initial_epoch = 0;                    // continue a run: epochs are numbered from here to `epochs`
  int verbose = 1;                          // 0 silent, 1 progress bar (plain lines when not a terminal), 2 per epoch
  bool terminate_on_nan = true;             // stop with NumericError on a NaN/Inf loss, before the step applies it
  std::vector<Callback<Scalar>*> callbacks;  // not owned; called in this order, before the progress bar
  // Keras' class_weight: each training sample's loss is weighted by its class's entry (1 for a class not listed).
  // The class is the label's argmax for one-hot labels, the rounded label for a single value (sparse or binary).
  // Training data only (validation and evaluate are unweighted), and, as in Keras 3, not together with sample
  // weights; labels of more than one axis per sample are refused.
  std::map<int, double> class_weight;
};

// What evaluate() and train_on_batch() return: the loss and every compiled metric by name.
struct Evaluation {
  double loss = 0;
  double accuracy = std::numeric_limits<double>::quiet_NaN();  // the "accuracy" metric, when compiled with it
  Logs logs;                                                   // "loss", "accuracy", ...

  double operator[](const std::string& key) const {
    auto it = logs.find(key);
    if (it == logs.end()) throw ArgumentError("evaluation has no '" + key + "'");
    return it->second;
  }
};

template <class Scalar>
class Trainer {
 public:
  explicit Trainer(Sequential<Scalar>& model) : m_(model), ws_(model.trainer_ws_) {}

  // Forward in training mode, the compiled loss and backward: fills the model's grads() and returns the batch's
  // loss (Keras' value for this batch, before any step). `sample_weight` is one weight per sample or null.
  double gradients(const Tensor<Scalar>& x, const Tensor<Scalar>& y, const Scalar* sample_weight) {
    const Tensor<Scalar>& out = m_.forward(x, Mode::training);
    const Tensor<Scalar>* logits = m_.loss_logits(out);
    const double loss = m_.loss().compute({out, y, logits, sample_weight}, &ws_.d_loss);
    if (logits)
      m_.backward_from_logits(x, ws_.d_loss);
    else
      m_.backward(x, ws_.d_loss);
    return loss;
  }

  // One training step on one batch: gradients, the NaN guard, one optimizer step over the trainable span. Updates
  // the compiled metrics with the batch's predictions (made before the step, as Keras does).
  double train_step(const Tensor<Scalar>& x, const Tensor<Scalar>& y, const Scalar* sample_weight, bool nan_guard,
                    int epoch, Index step) {
    const double loss = gradients(x, y, sample_weight);
    if (nan_guard && !std::isfinite(loss))
      throw NumericError("model '" + m_.name() + "': loss is " + std::to_string(loss) + " at epoch " +
                         std::to_string(epoch + 1) + ", batch " + std::to_string(step + 1) +
                         "; training stopped before the update (lower the learning rate or check the inputs)");
    for (auto& metric : m_.metrics_) metric->update(m_.acts_.back(), y, nullptr);
    m_.optimizer().step(m_.params(), m_.grads(), m_.trainable_size());
    return loss;
  }

  History fit(const DataSource<Scalar>& train, const DataSource<Scalar>* validation, const FitOptions<Scalar>& o) {
    require_compiled("fit");
    check_source(train, "training data");
    if (validation) check_source(*validation, "validation data");
    if (o.batch_size < 1) throw ArgumentError("fit: batch_size must be >= 1");
    if (o.epochs < o.initial_epoch) throw ArgumentError("fit: epochs must be >= initial_epoch");
    if (!o.class_weight.empty()) {
      if (train.has_sample_weights())
        throw ArgumentError("fit: class_weight and sample_weight cannot be given at the same time");
      if (train.target_shape().rank() > 1)
        throw ArgumentError("fit: class_weight is not supported for labels of shape " +
                            train.target_shape().str(true) + " (one label axis at most)");
      for (const auto& [cls, weight] : o.class_weight)
        if (!std::isfinite(weight) || weight < 0)
          throw ArgumentError("fit: class_weight for class " + std::to_string(cls) + " must be a non-negative number");
    }

    const Index n = train.size();
    const Index steps = (n + o.batch_size - 1) / o.batch_size;
    ProgressBar<Scalar> bar(o.verbose);
    std::vector<Callback<Scalar>*> callbacks = o.callbacks;  // Keras runs the progress bar after the user's
    if (o.verbose > 0) callbacks.push_back(&bar);
    FitParams params{o.initial_epoch, o.epochs, steps, n, validation ? validation->size() : 0, o.verbose};
    m_.stop_training = false;
    for (auto* c : callbacks) {
      c->model = &m_;
      c->params = params;
    }
    for (auto* c : callbacks) c->on_train_begin({});

    History history;
    Logs logs;
    std::vector<Index> order(static_cast<std::size_t>(n));
    for (int epoch = o.initial_epoch; epoch < o.epochs; ++epoch) {
      const auto start = std::chrono::steady_clock::now();
      for (auto* c : callbacks) c->on_epoch_begin(epoch, {});
      // Every epoch's random streams derive from (seed, epoch) alone, so a run resumed at any epoch
      // continues exactly as the uninterrupted one would have.
      std::iota(order.begin(), order.end(), Index(0));
      if (o.shuffle) {
        Rng shuffle_rng(derive_seed(m_.seed(), stream_shuffle + static_cast<std::uint64_t>(epoch)));
        shuffle_rng.shuffle(order);
      }
      for (std::size_t i = 0; i < m_.size(); ++i)
        m_.layer(i).seed(derive_seed(m_.seed(), stream_layers + static_cast<std::uint64_t>(epoch) * 4096 + i));

      reset_metrics();
      double loss_sum = 0;
      Index seen = 0;
      for (Index step = 0; step < steps; ++step) {
        for (auto* c : callbacks) c->on_train_batch_begin(step, {});
        const Index begin = step * o.batch_size;
        const Index count = std::min(o.batch_size, n - begin);
        const Scalar* w = fill_batch(train, order.data() + begin, count, ws_.batch_x, ws_.batch_y, ws_.batch_w);
        if (!o.class_weight.empty()) w = class_weights(o.class_weight, ws_.batch_y, ws_.batch_w);
        loss_sum += train_step(ws_.batch_x, ws_.batch_y, w, o.terminate_on_nan, epoch, step) * static_cast<double>(count);
        seen += count;
        logs = metric_logs(loss_sum / static_cast<double>(seen));
        for (auto* c : callbacks) c->on_train_batch_end(step, logs);
      }
      if (validation)
        for (const auto& [key, value] : run_evaluation(*validation, o.batch_size, callbacks).logs)
          logs["val_" + key] = value;
      for (auto* c : callbacks) c->on_epoch_end(epoch, logs);
      history.append(epoch, logs, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      if (m_.stop_training) break;
    }
    for (auto* c : callbacks) c->on_train_end(logs);
    return history;
  }

  // Loss and metrics over all samples, in inference mode (a full pass, batch by batch); Keras' on_test_* hooks.
  Evaluation run_evaluation(const DataSource<Scalar>& data, Index batch_size,
                            const std::vector<Callback<Scalar>*>& callbacks = {}) {
    require_compiled("evaluate");
    check_source(data, "evaluation data");
    if (batch_size < 1) throw ArgumentError("evaluate: batch_size must be >= 1");
    for (auto* c : callbacks) c->on_test_begin({});
    const Index n = data.size();
    std::vector<Index> idx(static_cast<std::size_t>(std::min(batch_size, n)));
    reset_metrics();
    double loss_sum = 0;
    Index seen = 0, batch = 0;
    Logs logs;
    for (Index begin = 0; begin < n; begin += batch_size, ++batch) {
      for (auto* c : callbacks) c->on_test_batch_begin(batch, {});
      const Index count = std::min(batch_size, n - begin);
      std::iota(idx.begin(), idx.begin() + count, begin);
      const Scalar* w = fill_batch(data, idx.data(), count, ws_.eval_x, ws_.eval_y, ws_.eval_w);
      const Tensor<Scalar>& p = m_.forward(ws_.eval_x, Mode::inference);
      loss_sum += m_.compute_loss(ws_.eval_y, p, w) * static_cast<double>(count);
      for (auto& metric : m_.metrics_) metric->update(p, ws_.eval_y, nullptr);
      seen += count;
      logs = metric_logs(loss_sum / static_cast<double>(seen));
      for (auto* c : callbacks) c->on_test_batch_end(batch, logs);
    }
    for (auto* c : callbacks) c->on_test_end(logs);
    return evaluation(logs);
  }

  Evaluation train_on_batch(const Tensor<Scalar>& x, const Tensor<Scalar>& y, const Tensor<Scalar>* sample_weight) {
    require_compiled("train_on_batch");
    check_batch(x, y, sample_weight);
    reset_metrics();
    const double loss = train_step(x, y, sample_weight ? sample_weight->data() : nullptr, true, 0, 0);
    return evaluation(metric_logs(loss));
  }

  double compute_gradients(const Tensor<Scalar>& x, const Tensor<Scalar>& y, const Tensor<Scalar>* sample_weight) {
    require_compiled("compute_gradients");
    check_batch(x, y, sample_weight);
    return gradients(x, y, sample_weight ? sample_weight->data() : nullptr);
  }

 private:
  static constexpr std::uint64_t stream_shuffle = 1u << 20, stream_layers = 1ull << 40;

  void require_compiled(const char* what) const {
    if (!m_.compiled())
      throw Error(std::string(what) + ": model '" + m_.name() + "' must be compiled first (call compile())");
    if (m_.trainable_changed())
      throw Error(std::string(what) + ": a layer of model '" + m_.name() +
                  "' was frozen or unfrozen since compile(); call compile() again (as in Keras, compile() takes the "
                  "layers' trainable flags)");
  }

  // Labels must have the shape the compiled loss expects for the model's output.
  Shape expected_target() const { return m_.loss().target_shape(m_.output_shape()); }
  std::string label_problem(const Shape& got, const Shape& want) const {
    return "labels of shape " + got.str() + " do not match the output " + m_.output_shape().str(true) +
           " of the last layer '" + m_.layer(m_.size() - 1).name() + "': " + m_.loss().name() + " needs shape " +
           want.str() + " (" + m_.loss().target_description() + ")";
  }
  void check_batch(const Tensor<Scalar>& x, const Tensor<Scalar>& y, const Tensor<Scalar>* w) {
    m_.ensure_built();
    m_.check_input(x);
    const Shape want = expected_target().with_batch(x.batch());
    if (y.rank() < 1 || y.batch() != x.batch() || !m_.loss().accepts_target(y.shape().without_batch(), m_.output_shape()))
      throw ShapeError("model '" + m_.name() + "': " + label_problem(y.shape(), want));
    if (w && (w->rank() != 1 || w->size() != x.batch()))
      throw ShapeError("model '" + m_.name() + "': sample_weight of shape " + w->shape().str() + " for a batch of " +
                       std::to_string(x.batch()));
  }
  void check_source(const DataSource<Scalar>& data, const std::string& what) {
    m_.ensure_built();
    if (data.size() < 1) throw ShapeError(what + " for model '" + m_.name() + "' has no samples");
    if (data.sample_shape() != m_.input_shape())
      throw ShapeError(what + " for model '" + m_.name() + "': samples of shape " + data.sample_shape().str(true) +
                       " do not match the model's input " + m_.input_shape().str(true));
    if (!m_.loss().accepts_target(data.target_shape(), m_.output_shape()))
      throw ShapeError(what + " for model '" + m_.name() + "': " +
                       label_problem(data.target_shape(), expected_target()));
  }

  // A batch (and its sample weights, when the source has them) into the given workspaces.
  const Scalar* fill_batch(const DataSource<Scalar>& data, const Index* idx, Index count, Tensor<Scalar>& x,
                           Tensor<Scalar>& y, Tensor<Scalar>& w) {
    data.fill(idx, count, x, y);
    m_.check_input(x);
    if (!data.has_sample_weights()) return nullptr;
    data.fill_sample_weights(idx, count, w);
    return w.data();
  }

  // Keras' class_weight_to_sample_weights: one weight per sample from its label's class.
  static const Scalar* class_weights(const std::map<int, double>& table, const Tensor<Scalar>& y, Tensor<Scalar>& w) {
    const Index n = y.batch(), k = y.size() / std::max<Index>(n, 1);
    w.resize(Shape{n});
    for (Index i = 0; i < n; ++i) {
      const Scalar* row = y.data() + i * k;
      const int cls = k > 1 ? static_cast<int>(argmax_row(row, k)) : static_cast<int>(std::nearbyint(static_cast<double>(row[0])));
      auto it = table.find(cls);
      w[i] = static_cast<Scalar>(it == table.end() ? 1.0 : it->second);
    }
    return w.data();
  }

  void reset_metrics() {
    for (auto& metric : m_.metrics_) metric->reset();
  }
  Logs metric_logs(double loss) const {
    Logs logs{{"loss", loss}};
    for (const auto& metric : m_.metrics_) logs[metric->name()] = metric->result();
    return logs;
  }
  static Evaluation evaluation(const Logs& logs) {
    Evaluation e;
    e.logs = logs;
    e.loss = logs.count("loss") ? logs.at("loss") : 0.0;
    for (const char* key : {"accuracy", "acc", "categorical_accuracy"})
      if (logs.count(key)) e.accuracy = logs.at(key);
    return e;
  }

  Sequential<Scalar>& m_;
  typename Sequential<Scalar>::TrainerWorkspace& ws_;  // the model's, so repeated calls reuse them
};

// ---- Sequential's Keras entry points -------------------------------------------------------------------------------

template <class Scalar>
History Sequential<Scalar>::fit(const DataSource<Scalar>& train, const DataSource<Scalar>* validation,
                                const FitOptions<Scalar>& options) {
  return Trainer<Scalar>(*this).fit(train, validation, options);
}

template <class Scalar>
History Sequential<Scalar>::fit(const Tensor<Scalar>& x, const Tensor<Scalar>& y, const FitOptions<Scalar>& options) {
  TensorSource<Scalar> all(x, y);
  if (options.validation_split > 0) {
    if (!(options.validation_split < 1))
      throw ArgumentError("fit: validation_split must be in [0, 1), got " + std::to_string(options.validation_split));
    // Keras holds out the last fraction of the samples, taken before any shuffling.
    const Index n = x.batch();
    const auto n_val = static_cast<Index>(std::floor(static_cast<double>(n) * options.validation_split));
    std::vector<Index> train_idx(static_cast<std::size_t>(n - n_val)), val_idx(static_cast<std::size_t>(n_val));
    std::iota(train_idx.begin(), train_idx.end(), Index(0));
    std::iota(val_idx.begin(), val_idx.end(), n - n_val);
    SubsetSource<Scalar> train(all, std::move(train_idx)), val(all, std::move(val_idx));
    return fit(train, n_val ? &val : nullptr, options);
  }
  return fit(all, nullptr, options);
}

template <class Scalar>
History Sequential<Scalar>::fit(const Tensor<Scalar>& x, const Tensor<Scalar>& y, const Tensor<Scalar>& x_val,
                                const Tensor<Scalar>& y_val, const FitOptions<Scalar>& options) {
  TensorSource<Scalar> train(x, y), val(x_val, y_val);
  return fit(train, &val, options);
}

template <class Scalar>
Evaluation Sequential<Scalar>::evaluate(const DataSource<Scalar>& data, Index batch_size) {
  return Trainer<Scalar>(*this).run_evaluation(data, batch_size);
}

template <class Scalar>
Evaluation Sequential<Scalar>::evaluate(const Tensor<Scalar>& x, const Tensor<Scalar>& y, Index batch_size) {
  TensorSource<Scalar> data(x, y);
  return evaluate(data, batch_size);
}

// One optimizer step on one batch; returns the batch's loss and metrics before the step (like Keras).
template <class Scalar>
Evaluation Sequential<Scalar>::train_on_batch(const Tensor<Scalar>& x, const Tensor<Scalar>& y,
                                              const Tensor<Scalar>* sample_weight) {
  return Trainer<Scalar>(*this).train_on_batch(x, y, sample_weight);
}

// Forward in training mode and backward for the compiled loss: fills grads() and returns the batch's loss, without
// an optimizer step (for custom training loops and gradient checks).
template <class Scalar>
double Sequential<Scalar>::compute_gradients(const Tensor<Scalar>& x, const Tensor<Scalar>& y,
                                             const Tensor<Scalar>* sample_weight) {
  return Trainer<Scalar>(*this).compute_gradients(x, y, sample_weight);
}

}  // namespace nnlite
