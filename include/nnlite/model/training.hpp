// nnlite/model/training.hpp: the training loop, apart from the network (as dlib's trainer.h sits apart from its
// net): one training step (forward, loss, backward, optimizer step), fit() with Keras' semantics (shuffling, per-epoch
// random streams, validation, callbacks in Keras' order), evaluate() and train_on_batch(). Sequential's fit,
// evaluate, train_on_batch and compute_gradients forward here.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/random.hpp"
#include "../data/source.hpp"
#include "callbacks.hpp"
#include "communicator.hpp"
#include "history.hpp"
#include "progress.hpp"
#include "sequential.hpp"

namespace nnlite {

/// Keras' fit() arguments: epochs, batch_size, validation data, shuffling, callbacks, weights, verbosity.
template <class Scalar = float>
struct FitOptions {
  int epochs = 1;
  Index batch_size = 32;
  bool shuffle = true;                       // a new permutation every epoch
  double validation_split = 0.0;             // the last fraction of the data, before shuffling (Keras' rule)
  int initial_epoch = 0;                     // continue a run: epochs are numbered from here to `epochs`
  int verbose = 1;                           // 0 silent, 1 progress bar (plain lines when not a terminal), 2 per epoch
  bool terminate_on_nan = true;              // stop with NumericError on a NaN/Inf loss, before the step applies it
  std::vector<Callback<Scalar>*> callbacks;  // not owned; called in this order, before the progress bar
  /// Keras' class_weight: each training sample's loss is weighted by its class's entry (1 for a class not listed).
  /// The class is the label's argmax for one-hot labels, the rounded label for a single value (sparse or binary).
  /// Training data only (validation and evaluate are unweighted), and, as in Keras 3, not together with sample
  /// weights; labels of more than one axis per sample are refused.
  std::map<int, double> class_weight;
  /// Data-parallel training over the ranks of `data_parallel` (not owned; e.g. nnlite::MpiCommunicator from
  /// <nnlite/mpi/communicator.hpp>, the nnlite::mpi target), like Keras' MultiWorkerMirroredStrategy. Every rank calls
  /// fit() with the same data, options and model seed. batch_size is the global batch: each rank trains on its
  /// contiguous shard of every batch (shard_of), and the trainable gradients, summed in place over the ranks (one
  /// allreduce per step, trainable params x sizeof(Scalar) bytes), are the single-process batch's gradients, so
  /// every rank takes the same optimizer step and the weights stay identical. At the start every rank takes rank 0's
  /// weights and optimizer state. Shuffling uses the same seed everywhere; dropout masks differ per rank (rank 0's
  /// are the single-process ones, so one rank is bit for bit the run without it). The loss and the metrics are
  /// reduced every step, validation is sharded and reduced, so logs, callbacks' decisions and the History agree on
  /// every rank; the progress bar prints on rank 0 only (callbacks get FitParams::rank). BatchNormalization
  /// normalises each rank's shard with its own statistics (Keras' default synchronized=False); its moving
  /// statistics are averaged over the ranks at the end of every epoch. An exception on one rank ends the whole job
  /// through Communicator::abort, naming the rank, instead of leaving the others waiting; a NaN loss (all ranks see
  /// the reduced loss) throws NumericError on every rank.
  const Communicator* data_parallel = nullptr;
};

/// What evaluate() and train_on_batch() return: the loss and every compiled metric by name.
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

/// The training loop behind Sequential::fit and evaluate: batches, steps, metrics, callbacks.
template <class Scalar>
class Trainer {
 public:
  explicit Trainer(Sequential<Scalar>& model) : m_(model), ws_(model.trainer_ws_) {}

  /// Forward in training mode, the compiled loss and backward: fills the model's grads() and returns the batch's
  /// loss (Keras' value for this batch, before any step). `sample_weight` is one weight per sample or null.
  /// `scale` multiplies the loss and its gradients (a data-parallel rank's share of the global batch). With
  /// `regularize`, the weight regularization penalties are added to the loss and their derivatives to the gradients,
  /// as Keras' compute_loss adds sum(model.losses) (data-parallel: on one rank only, as they count once per batch).
  double gradients(const Tensor<Scalar>& x, const Tensor<Scalar>& y, const Scalar* sample_weight, double scale = 1,
                   bool regularize = true) {
    const Tensor<Scalar>& out = m_.forward(x, Mode::training);
    const Tensor<Scalar>* logits = m_.loss_logits(out);
    double loss = m_.loss().compute({out, y, logits, sample_weight}, &ws_.d_loss);
    if (scale != 1) {
      ws_.d_loss.flat() *= static_cast<Scalar>(scale);
      loss *= scale;
    }
    if (logits)
      m_.backward_from_logits(x, ws_.d_loss);
    else
      m_.backward(x, ws_.d_loss);
    if (regularize) loss += m_.add_regularization_gradients();
    return loss;
  }

  /// One training step on one batch: gradients, the NaN guard, one optimizer step over the trainable span. Updates
  /// the compiled metrics with the batch's predictions (made before the step, as Keras does).
  double train_step(const Tensor<Scalar>& x, const Tensor<Scalar>& y, const Scalar* sample_weight, bool nan_guard,
                    int epoch, Index step) {
    const double loss = gradients(x, y, sample_weight);
    if (nan_guard) check_loss(loss, epoch, step);
    for (auto& metric : m_.metrics_) metric->update(m_.acts_.back(), y, nullptr);
    m_.optimizer().step(m_.params(), m_.grads(), m_.trainable_size());
    return loss;
  }

  History fit(const DataSource<Scalar>& train, const DataSource<Scalar>* validation, const FitOptions<Scalar>& o) {
    if (!o.data_parallel) return fit_loop(train, validation, o, nullptr);
    const Communicator& comm = *o.data_parallel;
    std::string what;
    try {
      return fit_loop(train, validation, o, &comm);
    } catch (const std::exception& e) {
      if (agreed_failure_) throw;  // every rank throws it: nobody is left waiting
      what = e.what();
    } catch (...) {
      if (agreed_failure_) throw;
      what = "an exception that is not a std::exception";
    }
    comm.abort(1, failure_message(comm, what));  // the other ranks may be waiting for this one in a collective
    std::abort();                                // not reached: abort() does not return
  }

  /// Loss and metrics over all samples, in inference mode (a full pass, batch by batch); Keras' on_test_* hooks. With
  /// `comm`, each rank evaluates its contiguous shard of the data (shard_of) and the results are reduced over the
  /// ranks (the on_test_batch_end logs are the rank's own so far; on_test_end and the result are everyone's).
  Evaluation run_evaluation(const DataSource<Scalar>& data, Index batch_size,
                            const std::vector<Callback<Scalar>*>& callbacks = {}, const Communicator* comm = nullptr) {
    require_compiled("evaluate");
    check_source(data, "evaluation data");
    if (batch_size < 1) throw ArgumentError("evaluate: batch_size must be >= 1");
    for (auto* c : callbacks) c->on_test_begin({});
    const auto [offset, n] =
        comm ? shard_of(data.size(), comm->rank(), comm->size()) : std::pair<Index, Index>{0, data.size()};
    std::vector<Index> idx(static_cast<std::size_t>(std::max<Index>(std::min(batch_size, n), 1)));
    reset_metrics();
    double loss_sum = 0;
    Index seen = 0, batch = 0;
    Logs logs;
    for (Index begin = 0; begin < n; begin += batch_size, ++batch) {
      for (auto* c : callbacks) c->on_test_batch_begin(batch, {});
      const Index count = std::min(batch_size, n - begin);
      std::iota(idx.begin(), idx.begin() + count, offset + begin);
      const Scalar* w = fill_batch(data, idx.data(), count, ws_.eval_x, ws_.eval_y, ws_.eval_w);
      const Tensor<Scalar>& p = m_.forward(ws_.eval_x, Mode::inference);
      loss_sum += m_.compute_loss(ws_.eval_y, p, w) * static_cast<double>(count);
      for (auto& metric : m_.metrics_) metric->update(p, ws_.eval_y, nullptr);
      seen += count;
      logs = metric_logs(loss_sum / static_cast<double>(seen));
      for (auto* c : callbacks) c->on_test_batch_end(batch, logs);
    }
    if (comm) {
      // The loss sum and every metric's state, summed over the ranks, set back into the metrics.
      reduce_states(*comm, loss_sum, m_.metrics_, m_.metrics_);
      logs = metric_logs(loss_sum / static_cast<double>(data.size()));
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
  static constexpr std::uint64_t stream_shuffle = 1u << 20, stream_layers = 1ull << 40, stream_rank = 1ull << 50;

  History fit_loop(const DataSource<Scalar>& train, const DataSource<Scalar>* validation, const FitOptions<Scalar>& o,
                   const Communicator* comm) {
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
    const int rank = comm ? comm->rank() : 0, ranks = comm ? comm->size() : 1;
    if (comm) start_data_parallel(*comm, train, validation, o);

    const Index n = train.size();
    const Index steps = (n + o.batch_size - 1) / o.batch_size;
    ProgressBar<Scalar> bar(o.verbose);
    std::vector<Callback<Scalar>*> callbacks = o.callbacks;  // Keras runs the progress bar after the user's
    if (o.verbose > 0 && rank == 0) callbacks.push_back(&bar);
    FitParams params{o.initial_epoch, o.epochs, steps, n, validation ? validation->size() : 0, o.verbose, rank, ranks};
    m_.stop_training = false;
    m_.initial_epoch_override.reset();
    for (auto* c : callbacks) {
      c->model = &m_;
      c->params = params;
    }
    for (auto* c : callbacks) c->on_train_begin({});
    // Keras: `initial_epoch = self._initial_epoch or initial_epoch`, read after on_train_begin (BackupAndRestore).
    const int first_epoch = m_.initial_epoch_override.value_or(o.initial_epoch);
    m_.initial_epoch_override.reset();
    if (first_epoch < 0) throw ArgumentError("fit: a callback set the initial epoch to " + std::to_string(first_epoch));

    // A rank's share of a batch's sum_over_batch_size loss is its samples' part of the batch; a sum is a sum.
    const bool mean_loss = m_.loss().reduction() == Reduction::sum_over_batch_size;
    History history;
    Logs logs;
    std::vector<Index> order(static_cast<std::size_t>(n));
    for (int epoch = first_epoch; epoch < o.epochs; ++epoch) {
      const auto start = std::chrono::steady_clock::now();
      for (auto* c : callbacks) c->on_epoch_begin(epoch, {});
      // Every epoch's random streams derive from (seed, epoch) alone, so a run resumed at any epoch
      // continues exactly as the uninterrupted one would have. Shuffling is the same on every rank.
      std::iota(order.begin(), order.end(), Index(0));
      if (o.shuffle) {
        Rng shuffle_rng(derive_seed(m_.seed(), stream_shuffle + static_cast<std::uint64_t>(epoch)));
        shuffle_rng.shuffle(order);
      }
      for (std::size_t i = 0; i < m_.size(); ++i) {
        std::uint64_t seed = derive_seed(m_.seed(), stream_layers + static_cast<std::uint64_t>(epoch) * 4096 + i);
        if (rank > 0) seed = derive_seed(seed, stream_rank + static_cast<std::uint64_t>(rank));  // own dropout masks
        m_.layer(i).seed(seed);
      }

      reset_metrics();
      double loss_sum = 0;
      Index seen = 0;
      for (Index step = 0; step < steps; ++step) {
        for (auto* c : callbacks) c->on_train_batch_begin(step, {});
        const Index begin = step * o.batch_size;
        const Index count = std::min(o.batch_size, n - begin);
        const auto [first, local] = comm ? shard_of(count, rank, ranks) : std::pair<Index, Index>{0, count};
        double loss = 0;
        if (local > 0) {
          const Scalar* w =
              fill_batch(train, order.data() + begin + first, local, ws_.batch_x, ws_.batch_y, ws_.batch_w);
          if (!o.class_weight.empty()) w = class_weights(o.class_weight, ws_.batch_y, ws_.batch_w);
          const double scale = comm && mean_loss ? static_cast<double>(local) / static_cast<double>(count) : 1.0;
          loss = gradients(ws_.batch_x, ws_.batch_y, w, scale, rank == 0);
          for (auto& metric : m_.metrics_) metric->update(m_.acts_.back(), ws_.batch_y, nullptr);
        } else {
          std::fill(m_.grads(), m_.grads() + m_.trainable_size(), Scalar(0));  // a batch smaller than the ranks
          if (rank == 0) loss = m_.add_regularization_gradients();
        }
        // The batch's loss and metrics over every rank (so the NaN guard and the logs agree), then the gradients.
        if (comm) reduce_states(*comm, loss, m_.metrics_, merged_);
        if (o.terminate_on_nan) check_loss(loss, epoch, step);
        if (comm) comm->allreduce_sum(m_.grads(), m_.trainable_size());
        m_.optimizer().step(m_.params(), m_.grads(), m_.trainable_size());
        loss_sum += loss * static_cast<double>(count);
        seen += count;
        logs = metric_logs(loss_sum / static_cast<double>(seen), comm ? merged_ : m_.metrics_);
        for (auto* c : callbacks) c->on_train_batch_end(step, logs);
        // Keras leaves the epoch's batches when a batch callback stops training (TerminateOnNaN). Data-parallel: the
        // ranks agree on stopping at the epoch's end only (a per-step agreement would cost a reduction per step).
        if (m_.stop_training && !comm) break;
      }
      if (comm) average_non_trainable(*comm);
      if (validation)
        for (const auto& [key, value] : run_evaluation(*validation, o.batch_size, callbacks, comm).logs)
          logs["val_" + key] = value;
      // As Keras' CallbackList, the callbacks get a copy of the epoch's logs: what one adds (learning_rate) reaches the
      // later callbacks, the progress bar and the History, but not the logs on_train_end receives.
      Logs epoch_logs = logs;
      for (auto* c : callbacks) c->on_epoch_end(epoch, epoch_logs);
      history.append(epoch, epoch_logs,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      if (comm) {  // stop when a callback on any rank asks to
        double stop = m_.stop_training ? 1 : 0;
        comm->allreduce_sum(&stop, 1);
        m_.stop_training = stop > 0;
      }
      if (m_.stop_training) break;
    }
    for (auto* c : callbacks) c->on_train_end(logs);
    return history;
  }

  void check_loss(double loss, int epoch, Index step) {
    if (std::isfinite(loss)) return;
    agreed_failure_ = true;  // data-parallel: the loss was reduced, so every rank throws this
    throw NumericError("model '" + m_.name() + "': loss is " + std::to_string(loss) + " at epoch " +
                       std::to_string(epoch + 1) + ", batch " + std::to_string(step + 1) +
                       "; training stopped before the update (lower the learning rate or check the inputs)");
  }

  static std::string failure_message(const Communicator& comm, const std::string& what) {
    return "nnlite: rank " + std::to_string(comm.rank()) + " of " + std::to_string(comm.size()) +
           " failed in data-parallel fit(): " + what + "; stopping every rank";
  }

  /// Data-parallel fit's start: every metric must be reducible, every rank takes rank 0's weights and optimizer
  /// state, and the workspaces of the per-step reductions are sized (no allocation in the loop).
  void start_data_parallel(const Communicator& comm, const DataSource<Scalar>& train,
                           const DataSource<Scalar>* validation, const FitOptions<Scalar>& o) {
    // Ranks that disagree on how many steps to take or values to reduce would wait for each other forever, or sum
    // unrelated buffers: each rank compares what decides that with rank 0's.
    const char* what[] = {"training samples", "validation samples", "batch_size",   "epochs", "initial_epoch",
                          "weights",          "trainable weights",  "metric values"};
    Index metric_values = 0;
    for (const auto& metric : m_.metrics_) metric_values += metric->state_size();
    const Index mine[] = {train.size(),        validation ? validation->size() : -1,
                          o.batch_size,        o.epochs,
                          o.initial_epoch,     m_.count_params(),
                          m_.trainable_size(), metric_values};
    double root[std::size(mine)];
    for (std::size_t i = 0; i < std::size(mine); ++i) root[i] = static_cast<double>(mine[i]);
    comm.broadcast(root, static_cast<Index>(std::size(mine)), 0);
    for (std::size_t i = 0; i < std::size(mine); ++i)
      if (root[i] != static_cast<double>(mine[i]))
        throw ArgumentError("fit: every rank must train the same model on the same data with the same options, but " +
                            std::string(what[i]) + " is " + std::to_string(mine[i]) + " here and " +
                            std::to_string(static_cast<Index>(root[i])) + " on rank 0");
    Index states = 1;
    merged_.clear();
    for (const auto& metric : m_.metrics_) {
      if (metric->state_size() < 1 && comm.size() > 1)
        throw UnsupportedError("fit: metric '" + metric->name() + "' of model '" + m_.name() +
                               "' cannot be reduced over ranks (its Metric::state_size() is 0)");
      states += metric->state_size();
      merged_.push_back(metric->clone());
    }
    reduce_buf_.assign(static_cast<std::size_t>(states), 0.0);
    non_trainable_.assign(static_cast<std::size_t>(m_.count_params() - m_.trainable_size()), 0.0);
    comm.broadcast(m_.params(), m_.count_params(), 0);
    auto& opt = m_.optimizer();
    double iterations = static_cast<double>(opt.iterations());
    comm.broadcast(&iterations, 1, 0);
    opt.set_iterations(static_cast<std::int64_t>(iterations));
    for (auto& [name, v] : opt.state()) {
      double size = static_cast<double>(v->size());
      comm.broadcast(&size, 1, 0);
      if (static_cast<double>(v->size()) != size) v->setZero(static_cast<Index>(size));
      comm.broadcast(v->data(), v->size(), 0);
    }
  }

  /// Sums `value` and the states of `local` over the ranks; the sums go into `value` and the states of `merged`
  /// (which may be `local` itself).
  void reduce_states(const Communicator& comm, double& value, const std::vector<std::unique_ptr<Metric<Scalar>>>& local,
                     std::vector<std::unique_ptr<Metric<Scalar>>>& merged) {
    reduce_buf_.resize(std::max<std::size_t>(reduce_buf_.size(), 1));  // run_evaluation outside fit()
    double* buf = reduce_buf_.data();
    buf[0] = value;
    Index at = 1;
    for (const auto& metric : local) {
      if (at + metric->state_size() > static_cast<Index>(reduce_buf_.size())) {
        reduce_buf_.resize(static_cast<std::size_t>(at + metric->state_size()));
        buf = reduce_buf_.data();
      }
      metric->get_state(buf + at);
      at += metric->state_size();
    }
    comm.allreduce_sum(buf, at);
    value = buf[0];
    at = 1;
    for (auto& metric : merged) {
      metric->set_state(buf + at);
      at += metric->state_size();
    }
  }

  /// BatchNormalization's moving statistics (and the other non-trainable weights) become their mean over the ranks.
  /// In double: the mean of equal values (a frozen layer's weights) is that value exactly.
  void average_non_trainable(const Communicator& comm) {
    const Index k = m_.count_params() - m_.trainable_size();
    if (k == 0) return;
    Scalar* p = m_.params() + m_.trainable_size();
    std::copy(p, p + k, non_trainable_.begin());
    comm.allreduce_sum(non_trainable_.data(), k);
    for (Index i = 0; i < k; ++i)
      p[i] = static_cast<Scalar>(non_trainable_[static_cast<std::size_t>(i)] / static_cast<double>(comm.size()));
  }

  void require_compiled(const char* what) const {
    if (!m_.compiled())
      throw Error(std::string(what) + ": model '" + m_.name() + "' must be compiled first (call compile())");
    if (m_.trainable_changed())
      throw Error(std::string(what) + ": a layer of model '" + m_.name() +
                  "' was frozen or unfrozen since compile(); call compile() again (as in Keras, compile() takes the "
                  "layers' trainable flags)");
  }

  /// Labels must have the shape the compiled loss expects for the model's output.
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

  /// A batch (and its sample weights, when the source has them) into the given workspaces.
  const Scalar* fill_batch(const DataSource<Scalar>& data, const Index* idx, Index count, Tensor<Scalar>& x,
                           Tensor<Scalar>& y, Tensor<Scalar>& w) {
    data.fill(idx, count, x, y);
    m_.check_input(x);
    if (!data.has_sample_weights()) return nullptr;
    data.fill_sample_weights(idx, count, w);
    return w.data();
  }

  /// Keras' class_weight_to_sample_weights: one weight per sample from its label's class.
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
  Logs metric_logs(double loss) const { return metric_logs(loss, m_.metrics_); }
  static Logs metric_logs(double loss, const std::vector<std::unique_ptr<Metric<Scalar>>>& metrics) {
    Logs logs{{"loss", loss}};
    for (const auto& metric : metrics) logs[metric->name()] = metric->result();
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
  /// Data-parallel fit: the metrics over every rank (for the logs), the reductions' buffers, whether an exception
  /// is one that every rank throws.
  std::vector<std::unique_ptr<Metric<Scalar>>> merged_;
  std::vector<double> reduce_buf_, non_trainable_;
  bool agreed_failure_ = false;
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

/// One optimizer step on one batch; returns the batch's loss and metrics before the step (like Keras).
template <class Scalar>
Evaluation Sequential<Scalar>::train_on_batch(const Tensor<Scalar>& x, const Tensor<Scalar>& y,
                                              const Tensor<Scalar>* sample_weight) {
  return Trainer<Scalar>(*this).train_on_batch(x, y, sample_weight);
}

/// Forward in training mode and backward for the compiled loss plus the weight regularization penalties: fills grads()
/// and returns the batch's total loss, without an optimizer step (for custom training loops and gradient checks).
template <class Scalar>
double Sequential<Scalar>::compute_gradients(const Tensor<Scalar>& x, const Tensor<Scalar>& y,
                                             const Tensor<Scalar>* sample_weight) {
  return Trainer<Scalar>(*this).compute_gradients(x, y, sample_weight);
}

}  // namespace nnlite
