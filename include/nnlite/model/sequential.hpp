// nnlite/model/sequential.hpp: Keras' Sequential model: a stack of layers that owns one flat parameter buffer (layers
// hold views into it), and add / compile / fit / evaluate / predict / summary with Keras' semantics.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/error.hpp"
#include "../core/initializers.hpp"
#include "../core/random.hpp"
#include "../core/tensor.hpp"
#include "../data/source.hpp"
#include "../layers/layer.hpp"
#include "../optim/adam.hpp"
#include "../optim/optimizer.hpp"
#include "callbacks.hpp"
#include "history.hpp"
#include "losses.hpp"
#include "metrics.hpp"
#include "progress.hpp"

namespace nnlite {

// One weight of one layer as a view into the model's buffer (Keras' layer.weights).
template <class Scalar>
struct WeightView {
  std::string name;  // "kernel" / "bias"
  Shape shape;
  Scalar* data;
};

struct FitOptions {
  int epochs = 1;
  Index batch_size = 32;
  bool shuffle = true;                 // a new permutation every epoch
  double validation_split = 0.0;       // the last fraction of the data, before shuffling (Keras' rule)
  int initial_epoch = 0;               // continue a run: epochs are numbered from here to `epochs`
  int verbose = 1;                     // 0 silent, 1 progress bar (plain lines when not a terminal), 2 a line per epoch
  bool terminate_on_nan = true;        // stop with NumericError on a NaN/Inf loss, before the step applies it
  std::vector<Callback*> callbacks;    // not owned
};

struct Evaluation {
  double loss = 0, accuracy = 0;
};

template <class Scalar = float>
class Sequential {
 public:
  using LayerPtr = std::unique_ptr<Layer<Scalar>>;

  explicit Sequential(std::string name = "sequential") : name_(std::move(name)) {
    std::random_device rd;
    seed_ = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();  // like Keras: random unless a seed is set
  }
  // The per-sample input shape, like keras.Input(shape=...): layers are built as they are added.
  Sequential(Shape input_shape, std::string name = "sequential") : Sequential(std::move(name)) {
    set_input_shape(std::move(input_shape));
  }

  Sequential(const Sequential& other) { *this = other; }
  Sequential& operator=(const Sequential& other) {
    if (this == &other) return *this;
    name_ = other.name_;
    seed_ = other.seed_;
    input_shape_ = other.input_shape_;
    layers_.clear();
    for (const auto& l : other.layers_) layers_.push_back(l->clone());
    offsets_ = other.offsets_;
    params_ = other.params_;
    grads_ = other.grads_;
    optimizer_ = other.optimizer_ ? other.optimizer_->clone() : nullptr;
    loss_ = other.loss_;
    compiled_ = other.compiled_;
    bind_all();
    return *this;
  }
  Sequential(Sequential&&) noexcept = default;  // vectors move their buffers, so the layers' views stay valid
  Sequential& operator=(Sequential&&) noexcept = default;

  // ---- building -------------------------------------------------------------------------------------------

  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

  // Fixes the weights' initial values and every random stream (dropout masks, shuffling). Call before the
  // weights are created (before compile() or the first use).
  Sequential& set_seed(std::uint64_t seed) {
    seed_ = seed;
    return *this;
  }
  std::uint64_t seed() const { return seed_; }

  Sequential& set_input_shape(Shape input_shape) {
    if (input_shape.rank() == 0 || input_shape.size() < 1)
      throw ShapeError("model '" + name_ + "': input shape " + input_shape.str() + " must be non-empty");
    if (!layers_.empty()) throw Error("model '" + name_ + "': set the input shape before adding layers");
    input_shape_ = std::move(input_shape);
    return *this;
  }
  const Shape& input_shape() const { return input_shape_; }
  Shape output_shape() const {
    return layers_.empty() ? input_shape_ : layers_.back()->output_shape();
  }

  // Adds a layer (copied or moved in) and returns a reference to the model's copy.
  template <class L, class = std::enable_if_t<std::is_base_of_v<Layer<Scalar>, std::decay_t<L>>>>
  std::decay_t<L>& add(L&& layer) {
    auto owned = std::make_unique<std::decay_t<L>>(std::forward<L>(layer));
    auto& ref = *owned;
    add(LayerPtr(std::move(owned)));
    return ref;
  }

  Layer<Scalar>& add(LayerPtr layer) {
    if (!layer) throw ArgumentError("model '" + name_ + "': add() got a null layer");
    if (!layer->has_name()) layer->set_name(unique_name(layer->name_stem()));
    for (const auto& l : layers_)
      if (l->name() == layer->name())
        throw ArgumentError("model '" + name_ + "': a layer named '" + layer->name() + "' is already in the model");
    if (!input_shape_.empty()) layer->build(output_shape());
    layers_.push_back(std::move(layer));
    if (allocated()) allocate();  // keeps the existing layers' weights
    return *layers_.back();
  }

  std::size_t size() const { return layers_.size(); }
  Layer<Scalar>& layer(std::size_t i) { return *layers_.at(i); }
  const Layer<Scalar>& layer(std::size_t i) const { return *layers_.at(i); }
  Layer<Scalar>& layer(const std::string& name) {
    for (auto& l : layers_)
      if (l->name() == name) return *l;
    throw ArgumentError("model '" + name_ + "' has no layer named '" + name + "'");
  }

  // Builds every layer for `input_shape` (if given) and creates the weights from the seed.
  void build(Shape input_shape = {}) {
    if (!input_shape.empty()) {
      if (!input_shape_.empty() && input_shape != input_shape_ && allocated())
        throw ShapeError("model '" + name_ + "' was built for input " + input_shape_.str(true) + ", not " +
                         input_shape.str(true));
      input_shape_ = std::move(input_shape);
      Shape s = input_shape_;
      for (auto& l : layers_) s = l->build(s);
    }
    if (input_shape_.empty())
      throw ShapeError("model '" + name_ + "': the input shape is unknown; call set_input_shape() or build(shape)");
    if (layers_.empty()) throw Error("model '" + name_ + "' has no layers");
    if (!allocated()) allocate();
  }
  bool built() const { return allocated(); }

  // ---- parameters: one flat buffer ----------------------------------------------------------------------------

  Index count_params() const {
    Index n = 0;
    for (const auto& l : layers_) n += l->param_count();
    return n;
  }
  Scalar* params() { return params_.data(); }
  const Scalar* params() const { return params_.data(); }
  Scalar* grads() { return grads_.data(); }
  Index num_params() const { return static_cast<Index>(params_.size()); }

  // Views of layer i's weights, in Keras' order (kernel, bias).
  std::vector<WeightView<Scalar>> weights(std::size_t i) {
    ensure_built();
    std::vector<WeightView<Scalar>> out;
    Scalar* p = params_.data() + offsets_.at(i);
    for (const auto& spec : layers_.at(i)->param_specs()) {
      out.push_back({spec.name, spec.shape, p});
      p += spec.shape.size();
    }
    return out;
  }

  // Keras' get_weights()/set_weights(): every weight tensor in layer order.
  std::vector<Tensor<Scalar>> get_weights() {
    std::vector<Tensor<Scalar>> out;
    for (std::size_t i = 0; i < layers_.size(); ++i)
      for (const auto& w : weights(i)) {
        Tensor<Scalar> t(w.shape);
        std::copy(w.data, w.data + w.shape.size(), t.data());
        out.push_back(std::move(t));
      }
    return out;
  }
  void set_weights(const std::vector<Tensor<Scalar>>& values) {
    std::size_t k = 0;
    for (std::size_t i = 0; i < layers_.size(); ++i)
      for (const auto& w : weights(i)) {
        if (k >= values.size())
          throw ShapeError("set_weights: model '" + name_ + "' needs more weights than the " +
                           std::to_string(values.size()) + " given");
        if (values[k].shape() != w.shape)
          throw ShapeError("set_weights: layer '" + layers_[i]->name() + "' weight '" + w.name + "' has shape " +
                           w.shape.str() + ", got " + values[k].shape().str());
        std::copy(values[k].data(), values[k].data() + values[k].size(), w.data);
        ++k;
      }
    if (k != values.size())
      throw ShapeError("set_weights: model '" + name_ + "' has " + std::to_string(k) + " weights, got " +
                       std::to_string(values.size()));
  }

  // ---- compile / train --------------------------------------------------------------------------------------

  void compile(const Optimizer<Scalar>& optimizer, const std::string& loss = "categorical_crossentropy",
               const std::vector<std::string>& metrics = {"accuracy"}) {
    loss_ = parse_loss(loss);
    for (const auto& m : metrics)
      if (m != "accuracy" && m != "acc" && m != "categorical_accuracy")
        throw UnsupportedError("unsupported metric '" + m + "' (nnlite reports accuracy)");
    optimizer_ = optimizer.clone();
    compiled_ = true;
    ensure_built();
  }
  void compile(const std::string& optimizer = "adam", const std::string& loss = "categorical_crossentropy",
               const std::vector<std::string>& metrics = {"accuracy"}) {
    if (optimizer != "adam" && optimizer != "Adam")
      throw UnsupportedError("optimizer '" + optimizer + "' by name: pass an nnlite optimizer object instead");
    compile(Adam<Scalar>(), loss, metrics);
  }
  bool compiled() const { return compiled_; }
  Optimizer<Scalar>& optimizer() {
    if (!optimizer_) throw Error("model '" + name_ + "' is not compiled");
    return *optimizer_;
  }
  const Optimizer<Scalar>& optimizer() const {
    if (!optimizer_) throw Error("model '" + name_ + "' is not compiled");
    return *optimizer_;
  }
  Loss loss() const { return loss_; }

  // One optimizer step on one batch; returns the batch's loss and accuracy before the step (like Keras).
  Evaluation train_on_batch(const Tensor<Scalar>& x, const Tensor<Scalar>& y) {
    require_compiled("train_on_batch");
    check_batch(x, y);
    const Index correct = train_step(x, y);
    return {last_loss_sum_ / static_cast<double>(x.batch()),
            static_cast<double>(correct) / static_cast<double>(x.batch())};
  }

  History fit(const Tensor<Scalar>& x, const Tensor<Scalar>& y, const FitOptions& options = {}) {
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
      SubsetSource train(all, std::move(train_idx)), val(all, std::move(val_idx));
      return fit(train, n_val ? &val : nullptr, options);
    }
    return fit(all, nullptr, options);
  }
  History fit(const Tensor<Scalar>& x, const Tensor<Scalar>& y, const Tensor<Scalar>& x_val,
              const Tensor<Scalar>& y_val, const FitOptions& options = {}) {
    TensorSource<Scalar> train(x, y), val(x_val, y_val);
    return fit(train, &val, options);
  }

  // The general form: any DataSource for training, optionally one for validation (evaluated after each epoch).
  History fit(const DataSource<Scalar>& train, const DataSource<Scalar>* validation, const FitOptions& options) {
    require_compiled("fit");
    check_source(train, "training data");
    if (validation) check_source(*validation, "validation data");
    if (options.batch_size < 1) throw ArgumentError("fit: batch_size must be >= 1");
    if (options.epochs < options.initial_epoch) throw ArgumentError("fit: epochs must be >= initial_epoch");

    const Index n = train.size();
    const Index steps = (n + options.batch_size - 1) / options.batch_size;
    ProgressBar bar(options.verbose);
    std::vector<Callback*> callbacks;
    if (options.verbose > 0) callbacks.push_back(&bar);
    callbacks.insert(callbacks.end(), options.callbacks.begin(), options.callbacks.end());
    TrainBegin info{options.initial_epoch, options.epochs, steps, n, validation ? validation->size() : 0};
    for (auto* c : callbacks) {
      c->stop_training = false;
      c->on_train_begin(info);
    }

    History history;
    std::vector<Index> order(static_cast<std::size_t>(n));
    for (int epoch = options.initial_epoch; epoch < options.epochs; ++epoch) {
      const auto start = std::chrono::steady_clock::now();
      for (auto* c : callbacks) c->on_epoch_begin(epoch);
      // Every epoch's random streams derive from (seed, epoch) alone, so a run resumed at any epoch
      // continues exactly as the uninterrupted one would have.
      std::iota(order.begin(), order.end(), Index(0));
      if (options.shuffle) {
        Rng shuffle_rng(derive_seed(seed_, stream_shuffle + static_cast<std::uint64_t>(epoch)));
        shuffle_rng.shuffle(order);
      }
      for (std::size_t i = 0; i < layers_.size(); ++i)
        layers_[i]->seed(derive_seed(seed_, stream_layers + static_cast<std::uint64_t>(epoch) * 4096 + i));

      double loss_sum = 0;
      Index correct = 0, seen = 0;
      for (Index step = 0; step < steps; ++step) {
        const Index begin = step * options.batch_size;
        const Index count = std::min(options.batch_size, n - begin);
        train.fill(order.data() + begin, count, batch_x_, batch_y_);
        check_batch(batch_x_, batch_y_);
        correct += train_step(batch_x_, batch_y_, options.terminate_on_nan, epoch, step);
        loss_sum += last_loss_sum_;
        seen += count;
        for (auto* c : callbacks)
          c->on_batch_end(step + 1, loss_sum / static_cast<double>(seen),
                          static_cast<double>(correct) / static_cast<double>(seen));
      }

      EpochLogs logs;
      logs.epoch = epoch;
      logs.loss = loss_sum / static_cast<double>(seen);
      logs.accuracy = static_cast<double>(correct) / static_cast<double>(seen);
      if (validation) {
        for (auto* c : callbacks) c->on_validation_begin();
        const Evaluation v = evaluate(*validation, options.batch_size);
        logs.val_loss = v.loss;
        logs.val_accuracy = v.accuracy;
      }
      logs.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      history.append(logs);
      bool stop = false;
      for (auto* c : callbacks) {
        c->on_epoch_end(logs);
        stop = stop || c->stop_training;
      }
      if (stop) break;
    }
    for (auto* c : callbacks) c->on_train_end(history);
    return history;
  }

  // ---- inference ----------------------------------------------------------------------------------------------

  // Loss and accuracy over all samples, in inference mode (a full pass, batch by batch).
  Evaluation evaluate(const DataSource<Scalar>& data, Index batch_size = 32) {
    require_compiled("evaluate");
    check_source(data, "evaluation data");
    if (batch_size < 1) throw ArgumentError("evaluate: batch_size must be >= 1");
    const Index n = data.size();
    std::vector<Index> idx(static_cast<std::size_t>(std::min(batch_size, n)));
    double loss_sum = 0;
    Index correct = 0;
    for (Index begin = 0; begin < n; begin += batch_size) {
      const Index count = std::min(batch_size, n - begin);
      std::iota(idx.begin(), idx.begin() + count, begin);
      data.fill(idx.data(), count, eval_x_, eval_y_);
      check_batch(eval_x_, eval_y_);
      const Tensor<Scalar>& p = forward(eval_x_, Mode::inference);
      loss_sum += categorical_crossentropy_sum(p, eval_y_);
      correct += count_correct(p, eval_y_);
    }
    return {loss_sum / static_cast<double>(n), static_cast<double>(correct) / static_cast<double>(n)};
  }
  Evaluation evaluate(const Tensor<Scalar>& x, const Tensor<Scalar>& y, Index batch_size = 32) {
    TensorSource<Scalar> data(x, y);
    return evaluate(data, batch_size);
  }

  // The model's outputs (probabilities for a softmax model) for every sample of x, in inference mode.
  Tensor<Scalar> predict(const Tensor<Scalar>& x, Index batch_size = 32) {
    ensure_built();
    check_input(x);
    if (batch_size < 1) throw ArgumentError("predict: batch_size must be >= 1");
    const Index n = x.batch(), in_size = x.sample_size();
    Tensor<Scalar> out(output_shape().with_batch(n));
    const Index out_size = out.sample_size();
    for (Index begin = 0; begin < n; begin += batch_size) {
      const Index count = std::min(batch_size, n - begin);
      eval_x_.resize(input_shape_.with_batch(count));
      std::copy(x.data() + begin * in_size, x.data() + (begin + count) * in_size, eval_x_.data());
      const Tensor<Scalar>& p = forward(eval_x_, Mode::inference);
      std::copy(p.data(), p.data() + count * out_size, out.data() + begin * out_size);
    }
    return out;
  }

  // One forward pass over a batch; the result lives in the model's buffers until the next call.
  const Tensor<Scalar>& forward(const Tensor<Scalar>& x, Mode mode) {
    ensure_built();
    check_input(x);
    acts_.resize(layers_.size() + 1);
    const Tensor<Scalar>* in = &x;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      layers_[i]->forward(*in, acts_[i + 1], mode);
      in = &acts_[i + 1];
    }
    return *in;
  }

  // Forward in training mode and backward for the compiled loss: fills grads() and returns the mean loss,
  // without an optimizer step (for custom training loops and gradient checks).
  double compute_gradients(const Tensor<Scalar>& x, const Tensor<Scalar>& y) {
    ensure_built();
    check_batch(x, y);
    gradients_and_correct(x, y);
    return last_loss_sum_ / static_cast<double>(x.batch());
  }

  // Backward pass after forward(x, training) given d(loss)/d(output); fills grads().
  void backward(const Tensor<Scalar>& x, const Tensor<Scalar>& d_output) {
    d_acts_.resize(layers_.size() + 1);
    d_acts_.back().resize(d_output.shape());
    d_acts_.back().flat() = d_output.flat();
    backward_from(x, layers_.size());
  }

  // ---- files ----------------------------------------------------------------------------------------------------

  // Keras .h5 (architecture, weights, optimizer): forwards to nnlite::save_model, found by argument-dependent lookup
  // when <nnlite/io/keras_h5.hpp> is included (the nnlite::io target), so the core needs no HDF5.
  template <class... Options>
  void save(const std::string& path, const Options&... options) const {
    save_model(*this, path, options...);
  }

  // ---- description --------------------------------------------------------------------------------------------

  // Keras' model.summary() table.
  std::string summary() const {
    std::ostringstream os;
    // Keras' column widths, widened when a "name (Type)" is longer, so columns never run into each other.
    std::size_t name_width = 28;
    for (const auto& l : layers_) name_width = std::max(name_width, l->name().size() + l->class_name().size() + 4);
    const std::string rule(name_width + 37, '_'), thick(name_width + 37, '=');
    auto row = [&](const std::string& a, const std::string& b, const std::string& c) {
      os << ' ' << std::left << std::setw(static_cast<int>(name_width)) << a << std::setw(26) << b << c << '\n';
    };
    os << "Model: \"" << name_ << "\"\n" << rule << '\n';
    row("Layer (type)", "Output Shape", "Param #");
    os << thick << '\n';
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const auto& l = *layers_[i];
      if (i > 0) os << '\n';  // Keras leaves a blank line between layers
      row(l.name() + " (" + l.class_name() + ")", l.built() ? l.output_shape().str(true) : "multiple",
          with_commas(l.built() ? l.param_count() : 0));
    }
    os << thick << '\n';
    const Index total = count_params();
    os << "Total params: " << with_commas(total) << '\n'
       << "Trainable params: " << with_commas(total) << '\n'
       << "Non-trainable params: 0\n"
       << rule << '\n';
    return os.str();
  }
  void print_summary(std::ostream& os = std::cout) const { os << summary(); }

 private:
  // A DataSource over a subset of another (validation_split).
  class SubsetSource : public DataSource<Scalar> {
   public:
    SubsetSource(const DataSource<Scalar>& base, std::vector<Index> idx) : base_(base), idx_(std::move(idx)) {}
    Index size() const override { return static_cast<Index>(idx_.size()); }
    Shape sample_shape() const override { return base_.sample_shape(); }
    Shape target_shape() const override { return base_.target_shape(); }
    void fill(const Index* indices, Index count, Tensor<Scalar>& x, Tensor<Scalar>& y) const override {
      mapped_.resize(static_cast<std::size_t>(count));
      for (Index i = 0; i < count; ++i) mapped_[static_cast<std::size_t>(i)] = idx_[static_cast<std::size_t>(indices[i])];
      base_.fill(mapped_.data(), count, x, y);
    }

   private:
    const DataSource<Scalar>& base_;
    std::vector<Index> idx_;
    mutable std::vector<Index> mapped_;
  };

  static constexpr std::uint64_t stream_init = 1, stream_shuffle = 1u << 20, stream_layers = 1ull << 40;

  static std::string with_commas(Index v) {
    std::string s = std::to_string(v);
    for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
    return s;
  }

  std::string unique_name(const std::string& stem) const {
    for (int k = 0;; ++k) {
      const std::string candidate = k == 0 ? stem : stem + "_" + std::to_string(k);
      bool taken = false;
      for (const auto& l : layers_) taken = taken || l->name() == candidate;
      if (!taken) return candidate;
    }
  }

  bool allocated() const { return !offsets_.empty() && offsets_.size() == layers_.size() + 1; }
  void ensure_built() {
    if (!allocated()) build();
  }

  // Lays all layers' weights out in one buffer, keeping the values of layers that already had weights and
  // initialising the others from (seed, layer index), so adding a layer never changes the earlier ones.
  void allocate() {
    std::vector<Index> offsets{0};
    for (const auto& l : layers_) {
      if (!l->built()) throw ShapeError("model '" + name_ + "': layer '" + l->name() + "' is not built");
      offsets.push_back(offsets.back() + l->param_count());
    }
    std::vector<Scalar, Eigen::aligned_allocator<Scalar>> params(static_cast<std::size_t>(offsets.back()));
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      Scalar* p = params.data() + offsets[i];
      if (i + 1 < offsets_.size() && offsets_[i + 1] - offsets_[i] == offsets[i + 1] - offsets[i]) {
        std::copy(params_.begin() + offsets_[i], params_.begin() + offsets_[i + 1], p);
        continue;
      }
      Rng rng(derive_seed(seed_, stream_init + i));
      for (const auto& spec : layers_[i]->param_specs()) {
        initialize(spec.init, spec.shape, p, rng);
        p += spec.shape.size();
      }
    }
    params_ = std::move(params);
    grads_.assign(params_.size(), Scalar(0));
    offsets_ = std::move(offsets);
    bind_all();
  }
  void bind_all() {
    for (std::size_t i = 0; i < layers_.size() && i + 1 < offsets_.size(); ++i)
      layers_[i]->bind(params_.data() + offsets_[i], grads_.data() + offsets_[i]);
  }

  void require_compiled(const char* what) const {
    if (!compiled_) throw Error(std::string(what) + ": model '" + name_ + "' must be compiled first (call compile())");
  }
  void check_input(const Tensor<Scalar>& x) const {
    if (x.batch() < 1 || x.shape().without_batch() != input_shape_)
      throw ShapeError("model '" + name_ + "' (first layer '" + (layers_.empty() ? "" : layers_[0]->name()) +
                       "'): expected input of shape " + input_shape_.str(true) + ", got " + x.shape().str());
  }
  void check_batch(const Tensor<Scalar>& x, const Tensor<Scalar>& y) const {
    check_input(x);
    const Shape expected = output_shape().with_batch(x.batch());
    if (y.shape() != expected)
      throw ShapeError("model '" + name_ + "' (last layer '" + layers_.back()->name() + "'): labels of shape " +
                       y.shape().str() + " do not match the output shape " + expected.str() +
                       " (labels must be one-hot)");
  }
  void check_source(const DataSource<Scalar>& data, const std::string& what) {
    ensure_built();
    if (data.size() < 1) throw ShapeError(what + " for model '" + name_ + "' has no samples");
    if (data.sample_shape() != input_shape_)
      throw ShapeError(what + " for model '" + name_ + "': samples of shape " + data.sample_shape().str(true) +
                       " do not match the model's input " + input_shape_.str(true));
    if (data.target_shape() != output_shape())
      throw ShapeError(what + " for model '" + name_ + "': labels of shape " + data.target_shape().str(true) +
                       " do not match the output " + output_shape().str(true) + " of the last layer '" +
                       layers_.back()->name() + "' (labels must be one-hot)");
  }

  // Forward in training mode, loss, backward, one optimizer step. Returns the number of correct predictions.
  Index train_step(const Tensor<Scalar>& x, const Tensor<Scalar>& y, bool terminate_on_nan = true, int epoch = 0,
                   Index step = 0) {
    const Index correct = gradients_and_correct(x, y);
    if (terminate_on_nan && !std::isfinite(last_loss_sum_))
      throw NumericError("model '" + name_ + "': loss is " + std::to_string(last_loss_sum_) + " at epoch " +
                         std::to_string(epoch + 1) + ", batch " + std::to_string(step + 1) +
                         "; training stopped before the update (lower the learning rate or check the inputs)");
    optimizer_->step(params_.data(), grads_.data(), static_cast<Index>(params_.size()));
    return correct;
  }

  Index gradients_and_correct(const Tensor<Scalar>& x, const Tensor<Scalar>& y) {
    const Tensor<Scalar>& p = forward(x, Mode::training);
    last_loss_sum_ = categorical_crossentropy_sum(p, y);
    const Index correct = count_correct(p, y);
    d_acts_.resize(layers_.size() + 1);
    Layer<Scalar>& last = *layers_.back();
    if (loss_ == Loss::categorical_crossentropy && last.ends_in_softmax()) {
      // Fused softmax + cross-entropy: hand the last layer d(loss)/d(logits) = (p - y) / batch directly.
      softmax_crossentropy_logits_grad(p, y, d_logits_);
      const std::size_t L = layers_.size();
      last.backward_from_logits(L == 1 ? x : acts_[L - 1], d_logits_, L == 1 ? nullptr : &d_acts_[L - 1]);
      backward_from(x, L - 1);
    } else {
      categorical_crossentropy_grad(p, y, d_acts_.back());
      backward_from(x, layers_.size());
    }
    return correct;
  }

  // Runs backward through layers [0, end) given d_acts_[end].
  void backward_from(const Tensor<Scalar>& x, std::size_t end) {
    for (std::size_t i = end; i-- > 0;) {
      const Tensor<Scalar>& in = i == 0 ? x : acts_[i];
      layers_[i]->backward(in, acts_[i + 1], d_acts_[i + 1], i == 0 ? nullptr : &d_acts_[i]);
    }
  }

  std::string name_;
  std::uint64_t seed_ = 0;
  Shape input_shape_;
  std::vector<LayerPtr> layers_;
  std::vector<Index> offsets_;  // layer i's weights are params_[offsets_[i], offsets_[i + 1])
  // Aligned like Eigen's own vectors: where a vectorised loop starts peeling depends on the address modulo the
  // SIMD width, and the peeled scalar part may round differently (FMA contraction), so a fixed alignment is what
  // makes two runs with the same seed bitwise identical.
  std::vector<Scalar, Eigen::aligned_allocator<Scalar>> params_, grads_;
  std::unique_ptr<Optimizer<Scalar>> optimizer_;
  Loss loss_ = Loss::categorical_crossentropy;
  bool compiled_ = false;

  // Workspaces reused across batches: no allocation in the training loop after the first batch.
  std::vector<Tensor<Scalar>> acts_, d_acts_;
  Tensor<Scalar> d_logits_, batch_x_, batch_y_, eval_x_, eval_y_;
  double last_loss_sum_ = 0;
};

}  // namespace nnlite
