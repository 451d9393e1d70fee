// nnlite/model/sequential.hpp: Keras' Sequential model: a stack of layers that owns every weight in one flat buffer
// (layers hold views into it), with add / compile / predict / summary / get_weights. The training loop (fit,
// evaluate, train_on_batch) lives in training.hpp, as a trainer apart from the network.
//
// The buffer holds the weights the optimizer trains first, in layer order, then the others (BatchNormalization's
// moving statistics, every weight of a frozen layer), so an optimizer steps over one contiguous span.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/error.hpp"
#include "../core/initializers.hpp"
#include "../core/random.hpp"
#include "../core/tensor.hpp"
#include "../core/text.hpp"
#include "../data/source.hpp"
#include "../layers/layer.hpp"
#include "../optim/adam.hpp"
#include "../optim/optimizer.hpp"
#include "../optim/registry.hpp"
#include "callbacks.hpp"
#include "history.hpp"
#include "losses.hpp"
#include "metrics.hpp"

namespace nnlite {

template <class Scalar>
class Trainer;
template <class Scalar>
struct FitOptions;
struct Evaluation;

/// One weight of one layer as a view into the model's buffer (Keras' layer.weights).
template <class Scalar>
struct WeightView {
  std::string name;  ///< As Keras names the weight: "kernel", "bias", "moving_mean", ...
  Shape shape;       ///< The weight's shape in Keras' layout.
  Scalar* data;      ///< Its shape.size() values in the model's buffer.
  bool trainable;    ///< Whether the optimizer updates it.
};

/// Keras' Sequential model: layers in order over one flat weight buffer; compile, fit, evaluate, predict.
template <class Scalar = float>
class Sequential {
 public:
  using LayerPtr = std::unique_ptr<Layer<Scalar>>;  ///< How the model owns a layer.

  /// An empty model named `name`, with a random seed (like Keras) until set_seed().
  explicit Sequential(std::string name = "sequential") : name_(std::move(name)) {
    std::random_device rd;
    seed_ = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();  // like Keras: random unless a seed is set
  }
  /// The per-sample input shape, like keras.Input(shape=...): layers are built as they are added.
  Sequential(Shape input_shape, std::string name = "sequential") : Sequential(std::move(name)) {
    set_input_shape(std::move(input_shape));
  }

  /// A deep copy: cloned layers, the same weights, copies of the optimizer, the loss and the metrics.
  Sequential(const Sequential& other) { *this = other; }
  /// A deep copy, as the copy constructor makes.
  Sequential& operator=(const Sequential& other) {
    if (this == &other) return *this;
    name_ = other.name_;
    seed_ = other.seed_;
    input_shape_ = other.input_shape_;
    layers_.clear();
    for (const auto& l : other.layers_) layers_.push_back(l->clone());
    slots_ = other.slots_;
    layout_trainable_ = other.layout_trainable_;
    layout_layer_trainable_ = other.layout_layer_trainable_;
    kept_shapes_ = other.kept_shapes_;
    n_trainable_ = other.n_trainable_;
    params_ = other.params_;
    grads_ = other.grads_;
    optimizer_ = other.optimizer_ ? other.optimizer_->clone() : nullptr;
    loss_ = other.loss_ ? other.loss_->clone() : nullptr;
    metrics_.clear();
    for (const auto& m : other.metrics_) metrics_.push_back(m->clone());
    metric_names_ = other.metric_names_;
    stop_training = false;
    initial_epoch_override.reset();
    bind_all();
    return *this;
  }
  /// Moves the model; the layers' views into the weight buffer stay valid (vectors move their buffers).
  Sequential(Sequential&&) noexcept = default;
  /// Moves the model, as the move constructor does.
  Sequential& operator=(Sequential&&) noexcept = default;

  /// Keras' model.stop_training: a callback sets it to end fit() after the current epoch (after the current batch when
  /// set in on_train_batch_end, as Keras does; data-parallel fit stops at the epoch's end on every rank).
  bool stop_training = false;
  /// Keras' model._initial_epoch: a callback's on_train_begin may set it (BackupAndRestore does) to start fit() at
  /// this epoch instead of FitOptions::initial_epoch. fit() clears it before on_train_begin and once it has read it.
  std::optional<int> initial_epoch_override;

  // ---- building -------------------------------------------------------------------------------------------

  /// Keras' model.name ("sequential" unless given).
  const std::string& name() const { return name_; }
  /// Sets Keras' model.name.
  void set_name(std::string name) { name_ = std::move(name); }

  /// Fixes the weights' initial values and every random stream (dropout masks, shuffling). Call before the
  /// weights are created (before compile() or the first use).
  Sequential& set_seed(std::uint64_t seed) {
    seed_ = seed;
    return *this;
  }
  /// The seed of the weights' initial values and of every random stream.
  std::uint64_t seed() const { return seed_; }

  /// The per-sample input shape, like keras.Input(shape=...); only before the first layer is added.
  Sequential& set_input_shape(Shape input_shape) {
    if (input_shape.rank() == 0 || input_shape.size() < 1)
      throw ShapeError("model '" + name_ + "': input shape " + input_shape.str() + " must be non-empty");
    if (!layers_.empty()) throw Error("model '" + name_ + "': set the input shape before adding layers");
    input_shape_ = std::move(input_shape);
    return *this;
  }
  /// The per-sample input shape, empty while unknown.
  const Shape& input_shape() const { return input_shape_; }
  /// The last layer's per-sample output shape (the input shape without layers).
  Shape output_shape() const { return layers_.empty() ? input_shape_ : layers_.back()->output_shape(); }

  /// Adds a layer (copied or moved in) and returns a reference to the model's copy.
  template <class L, class = std::enable_if_t<std::is_base_of_v<Layer<Scalar>, std::decay_t<L>>>>
  std::decay_t<L>& add(L&& layer) {
    auto owned = std::make_unique<std::decay_t<L>>(std::forward<L>(layer));
    auto& ref = *owned;
    add(LayerPtr(std::move(owned)));
    return ref;
  }

  /// Adds an owned layer (named from its name_stem() when it has no name; ArgumentError for a duplicate name).
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

  /// The number of layers (Keras' len(model.layers)).
  std::size_t size() const { return layers_.size(); }
  /// Keras' model.layers[i] (std::out_of_range past the end).
  Layer<Scalar>& layer(std::size_t i) { return *layers_.at(i); }
  /// Keras' model.layers[i] (std::out_of_range past the end).
  const Layer<Scalar>& layer(std::size_t i) const { return *layers_.at(i); }
  /// Keras' model.get_layer(name); ArgumentError when no layer has that name.
  Layer<Scalar>& layer(const std::string& name) {
    for (auto& l : layers_)
      if (l->name() == name) return *l;
    throw ArgumentError("model '" + name_ + "' has no layer named '" + name + "'");
  }

  /// Builds every layer for `input_shape` (if given) and creates the weights from the seed.
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
  /// Whether the weights exist (build(), compile() or the first use created them).
  bool built() const { return allocated(); }

  // ---- weights: one flat buffer ----------------------------------------------------------------------------------

  /// Keras' model.count_params(): every weight, trainable or not (the flat buffer's size once built).
  Index count_params() const {
    if (allocated()) return static_cast<Index>(params_.size());
    Index n = 0;
    for (const auto& l : layers_) n += l->param_count();
    return n;
  }
  /// What summary() prints as "Trainable params" (from the layers' current trainable flags).
  Index count_trainable_params() const {
    Index n = 0;
    for (const auto& l : layers_) n += l->trainable_param_count();
    return n;
  }
  /// The flat buffers: the first trainable_size() values are what the optimizer steps over.
  Scalar* params() { return params_.data(); }
  /// The flat weight buffer, read-only.
  const Scalar* params() const { return params_.data(); }
  /// The flat gradient buffer, parallel to params() (backward() fills its first trainable_size() values).
  Scalar* grads() { return grads_.data(); }
  /// How many values at the front of params() the optimizer trains.
  Index trainable_size() const { return n_trainable_; }

  /// Views of layer i's weights, in Keras' order.
  std::vector<WeightView<Scalar>> weights(std::size_t i) {
    ensure_built();
    std::vector<WeightView<Scalar>> out;
    const auto specs = layers_.at(i)->param_specs();
    for (std::size_t k = 0; k < specs.size(); ++k) {
      const Slot& s = slots_.at(i).at(k);
      out.push_back({specs[k].name, specs[k].shape, params_.data() + s.offset, s.trainable});
    }
    return out;
  }

  /// Where each trainable weight sits in the optimizer's span, in buffer order (for optimizer state in files).
  struct TrainableWeight {
    std::size_t layer;   ///< The layer's index in the model.
    std::size_t weight;  ///< The weight's index in the layer's param_specs().
    std::string name;    ///< As Keras names the weight: "kernel", "bias", ...
    Shape shape;         ///< The weight's shape.
    Index offset;        ///< Its first value's offset in params().
  };
  /// Keras' model.trainable_weights, in buffer order, with where each one sits.
  std::vector<TrainableWeight> trainable_weights() const {
    std::vector<TrainableWeight> out;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const auto specs = layers_[i]->param_specs();
      for (std::size_t k = 0; k < specs.size(); ++k)
        if (slots_.at(i).at(k).trainable) out.push_back({i, k, specs[k].name, specs[k].shape, slots_[i][k].offset});
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.offset < b.offset; });
    return out;
  }

  /// Keras' get_weights()/set_weights(): every weight tensor, layer by layer in Keras' order.
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
  /// Keras' set_weights(): every weight tensor in get_weights()' order; ShapeError (model unchanged) on a mismatch.
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
        ++k;
      }
    if (k != values.size())
      throw ShapeError("set_weights: model '" + name_ + "' has " + std::to_string(k) + " weights, got " +
                       std::to_string(values.size()));
    k = 0;  // every shape checked: now change the model
    for (std::size_t i = 0; i < layers_.size(); ++i)
      for (const auto& w : weights(i)) {
        std::copy(values[k].data(), values[k].data() + values[k].size(), w.data);
        ++k;
      }
  }

  // ---- compile ------------------------------------------------------------------------------------------------

  /// Keras' compile(optimizer, loss, metrics): a fresh copy of the optimizer (no state yet) and the loss. Takes the
  /// layers' current trainable flags: the optimizer steps over exactly the weights trainable now.
  void compile(const Optimizer<Scalar>& optimizer, const Loss<Scalar>& loss,
               const std::vector<std::string>& metrics = {"accuracy"}) {
    ensure_built();
    const MetricContext context{loss.name(), output_shape(), loss.target_shape(output_shape())};
    std::vector<std::unique_ptr<Metric<Scalar>>> made;
    for (const auto& m : metrics) made.push_back(make_metric<Scalar>(m, context));
    optimizer_ = optimizer.clone();
    optimizer_->reset();
    loss_ = loss.clone();
    metrics_ = std::move(made);
    metric_names_ = metrics;
    if (layout_trainable_ != trainable_flags()) allocate();
    std::vector<Index> sizes;  // the trained weight tensors, for clipnorm's per-variable norms
    for (const auto& w : trainable_weights()) sizes.push_back(w.shape.size());
    optimizer_->set_variable_sizes(std::move(sizes));
  }
  /// The loss by Keras name ("categorical_crossentropy") or serialized object.
  void compile(const Optimizer<Scalar>& optimizer, const nlohmann::json& loss = "categorical_crossentropy",
               const std::vector<std::string>& metrics = {"accuracy"}) {
    compile(optimizer, *make_loss<Scalar>(loss), metrics);
  }
  /// The optimizer and the loss by Keras name ("adam", "categorical_crossentropy"), with their defaults.
  void compile(const std::string& optimizer = "adam", const std::string& loss = "categorical_crossentropy",
               const std::vector<std::string>& metrics = {"accuracy"}) {
    compile(*make_optimizer<Scalar>(nlohmann::json(optimizer), "compile"), nlohmann::json(loss), metrics);
  }
  /// Whether compile() has run.
  bool compiled() const { return optimizer_ != nullptr; }
  /// Keras' model.optimizer; Error before compile().
  Optimizer<Scalar>& optimizer() {
    if (!optimizer_) throw Error("model '" + name_ + "' is not compiled");
    return *optimizer_;
  }
  /// Keras' model.optimizer; Error before compile().
  const Optimizer<Scalar>& optimizer() const {
    if (!optimizer_) throw Error("model '" + name_ + "' is not compiled");
    return *optimizer_;
  }
  /// Keras' model.loss: the compiled loss; Error before compile().
  const Loss<Scalar>& loss() const {
    if (!loss_) throw Error("model '" + name_ + "' is not compiled");
    return *loss_;
  }
  /// The metric names compile() was given, and the metric objects (reset and updated by the trainer).
  const std::vector<std::string>& metric_names() const { return metric_names_; }
  /// The compiled metric objects, in metric_names() order.
  std::vector<std::unique_ptr<Metric<Scalar>>>& metrics() { return metrics_; }

  // ---- training (defined in training.hpp) ---------------------------------------------------------------------

  /// Keras' fit(x, y, ...): trains for the options' epochs (validation_split holds out the last fraction of samples).
  History fit(const Tensor<Scalar>& x, const Tensor<Scalar>& y, const FitOptions<Scalar>& options = {});
  /// Keras' fit(x, y, validation_data=(x_val, y_val), ...).
  History fit(const Tensor<Scalar>& x, const Tensor<Scalar>& y, const Tensor<Scalar>& x_val,
              const Tensor<Scalar>& y_val, const FitOptions<Scalar>& options = {});
  /// Keras' fit over data sources; `validation` null for none (validation_split is not applied here).
  History fit(const DataSource<Scalar>& train, const DataSource<Scalar>* validation,
              const FitOptions<Scalar>& options = {});
  /// Keras' evaluate(): loss and metrics over a data source, in inference mode.
  Evaluation evaluate(const DataSource<Scalar>& data, Index batch_size = 32);
  /// Keras' evaluate(x, y, batch_size): loss and metrics over every sample, in inference mode.
  Evaluation evaluate(const Tensor<Scalar>& x, const Tensor<Scalar>& y, Index batch_size = 32);
  Evaluation train_on_batch(const Tensor<Scalar>& x, const Tensor<Scalar>& y, const Tensor<Scalar>* sample_weight = nullptr);
  double compute_gradients(const Tensor<Scalar>& x, const Tensor<Scalar>& y, const Tensor<Scalar>* sample_weight = nullptr);

  // ---- inference and the passes the trainer composes -------------------------------------------------------

  /// The model's outputs (probabilities for a softmax model) for every sample of x, in inference mode.
  Tensor<Scalar> predict(const Tensor<Scalar>& x, Index batch_size = 32) {
    ensure_built();
    check_input(x);
    if (batch_size < 1) throw ArgumentError("predict: batch_size must be >= 1");
    const Index n = x.batch(), in_size = x.sample_size();
    Tensor<Scalar> out(output_shape().with_batch(n));
    const Index out_size = out.sample_size();
    for (Index begin = 0; begin < n; begin += batch_size) {
      const Index count = std::min(batch_size, n - begin);
      predict_x_.resize(input_shape_.with_batch(count));
      std::copy(x.data() + begin * in_size, x.data() + (begin + count) * in_size, predict_x_.data());
      const Tensor<Scalar>& p = forward(predict_x_, Mode::inference);
      std::copy(p.data(), p.data() + count * out_size, out.data() + begin * out_size);
    }
    return out;
  }

  /// One forward pass over a batch; the result lives in the model's buffers until the next call.
  const Tensor<Scalar>& forward(const Tensor<Scalar>& x, Mode mode) {
    ensure_built();
    check_input(x);
    acts_.resize(layers_.size() + 1);
    const Tensor<Scalar>* in = &x;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      layers_[i]->forward(*in, acts_[i + 1], mode);
      in = &acts_[i + 1];
    }
    last_input_ = &x;
    return *in;
  }

  /// Keras' compute_loss(y=..., y_pred=...): the compiled loss of `y_pred` against `y`. When y_pred is the output of
  /// the last forward() and the loss works from the last layer's logits (softmax + categorical cross-entropy), it
  /// uses them, so the value is the one training reports.
  /// Like Keras, the total: the compiled loss plus the weight regularization penalties (regularization_loss()).
  double compute_loss(const Tensor<Scalar>& y, const Tensor<Scalar>& y_pred, const Scalar* sample_weight = nullptr) {
    return loss().compute({y_pred, y, loss_logits(y_pred), sample_weight}, nullptr) + regularization_loss();
  }

  /// Keras' model.losses: one penalty per regularized weight the optimizer trains (a frozen layer's weights have
  /// none, as in Keras), in layer and weight order.
  std::vector<double> losses() const {
    std::vector<double> out;
    for_each_regularized(
        [&](const Regularizer& r, const Slot& s) { out.push_back(r.penalty(params_.data() + s.offset, s.size)); });
    return out;
  }
  /// Keras' sum(model.losses): what compute_loss(), training and evaluation add to the compiled loss (0 when no layer
  /// has a regularizer).
  double regularization_loss() const {
    double total = 0;
    for_each_regularized(
        [&](const Regularizer& r, const Slot& s) { total += r.penalty(params_.data() + s.offset, s.size); });
    return total;
  }
  /// Adds the penalties' derivatives to grads() and returns regularization_loss() (no allocation; nothing to do
  /// without regularizers).
  double add_regularization_gradients() {
    double total = 0;
    for_each_regularized([&](const Regularizer& r, const Slot& s) {
      total += r.penalty(params_.data() + s.offset, s.size);
      r.add_gradient(params_.data() + s.offset, grads_.data() + s.offset, s.size);
    });
    return total;
  }

  /// Backward pass after forward(x, training) given d(loss)/d(output); fills grads().
  void backward(const Tensor<Scalar>& x, const Tensor<Scalar>& d_output) {
    d_acts_.resize(layers_.size() + 1);
    d_acts_.back().resize(d_output.shape());
    d_acts_.back().flat() = d_output.flat();
    backward_from(x, layers_.size());
  }
  /// The same given d(loss)/d(logits) of the last layer (which ends in a softmax or sigmoid); fills grads().
  void backward_from_logits(const Tensor<Scalar>& x, const Tensor<Scalar>& d_logits) {
    const std::size_t n = layers_.size();
    d_acts_.resize(n + 1);
    layers_.back()->backward_from_logits(n == 1 ? x : acts_[n - 1], d_logits, n == 1 ? nullptr : &d_acts_[n - 1]);
    backward_from(x, n - 1);
  }

  /// The last layer's logits from the last forward(), when the compiled loss works from them for that output.
  const Tensor<Scalar>* loss_logits(const Tensor<Scalar>& y_pred) const {
    if (!loss_ || layers_.empty() || acts_.size() != layers_.size() + 1 || &y_pred != &acts_.back() || !last_input_)
      return nullptr;
    const Layer<Scalar>& last = *layers_.back();
    if (!loss_->takes_logits(last.output_activation())) return nullptr;
    return last.logits(layers_.size() == 1 ? *last_input_ : acts_[layers_.size() - 1]);
  }

  // ---- files ----------------------------------------------------------------------------------------------------

  /// Keras .keras or .h5, by the extension (architecture, weights, optimizer): forwards to nnlite::save_model, found
  /// by argument-dependent lookup when <nnlite/io/keras_h5.hpp> is included (the nnlite::io target), so the core
  /// needs no HDF5.
  template <class... Options>
  void save(const std::string& path, const Options&... options) const {
    save_model(*this, path, options...);
  }

  // ---- description --------------------------------------------------------------------------------------------

  /// Keras' model.summary() table.
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
          group_thousands(l.built() ? l.param_count() : 0));
    }
    os << thick << '\n';
    const Index total = count_params(), trainable = count_trainable_params();
    os << "Total params: " << group_thousands(total) << '\n'
       << "Trainable params: " << group_thousands(trainable) << '\n'
       << "Non-trainable params: " << group_thousands(total - trainable) << '\n'
       << rule << '\n';
    return os.str();
  }
  /// Prints summary() to `os` (Keras' model.summary()).
  void print_summary(std::ostream& os = std::cout) const { os << summary(); }

 private:
  friend class Trainer<Scalar>;

  struct Slot {
    Index offset = 0;
    bool trainable = true;
    Index size = 0;
  };

  static constexpr std::uint64_t stream_init = 1;

  std::string unique_name(const std::string& stem) const {
    for (int k = 0;; ++k) {
      const std::string candidate = k == 0 ? stem : stem + "_" + std::to_string(k);
      bool taken = false;
      for (const auto& l : layers_) taken = taken || l->name() == candidate;
      if (!taken) return candidate;
    }
  }

  bool allocated() const { return slots_.size() == layers_.size() && !layers_.empty(); }
  void ensure_built() {
    if (!allocated()) build();
  }

  /// Whether a layer was frozen or unfrozen since the weights were laid out (compile() takes such a change).
  bool trainable_changed() const {
    for (std::size_t i = 0; i < layers_.size() && i < layout_layer_trainable_.size(); ++i)
      if (layers_[i]->trainable() != layout_layer_trainable_[i]) return true;
    return false;
  }

  /// Whether each weight is trained now: its spec says so and its layer is not frozen.
  std::vector<std::vector<bool>> trainable_flags() const {
    std::vector<std::vector<bool>> flags;
    for (const auto& l : layers_) {
      flags.emplace_back();
      for (const auto& spec : l->param_specs()) flags.back().push_back(spec.trainable && l->trainable());
    }
    return flags;
  }

  /// Lays every weight out in the buffer (trainable ones first), keeping the values of weights that already existed
  /// with the same shape and initialising the others from (seed, layer index), so adding or freezing a layer never
  /// changes any other weight.
  void allocate() {
    for (const auto& l : layers_)
      if (!l->built()) throw ShapeError("model '" + name_ + "': layer '" + l->name() + "' is not built");
    const auto flags = trainable_flags();
    std::vector<std::vector<Slot>> slots(layers_.size());
    Index offset = 0;
    for (int pass = 0; pass < 2; ++pass)  // trainable weights, then the others
      for (std::size_t i = 0; i < layers_.size(); ++i) {
        const auto specs = layers_[i]->param_specs();
        slots[i].resize(specs.size());
        for (std::size_t k = 0; k < specs.size(); ++k)
          if (flags[i][k] == (pass == 0)) {
            slots[i][k] = {offset, flags[i][k], specs[k].shape.size()};
            offset += specs[k].shape.size();
          }
      }
    const Index n_trainable = [&] {
      Index n = 0;
      for (std::size_t i = 0; i < layers_.size(); ++i)
        for (std::size_t k = 0; k < slots[i].size(); ++k) n += flags[i][k] ? layers_[i]->param_specs()[k].shape.size() : 0;
      return n;
    }();
    std::vector<Scalar, Eigen::aligned_allocator<Scalar>> params(static_cast<std::size_t>(offset));
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const auto specs = layers_[i]->param_specs();
      const bool keep = i < slots_.size() && slots_[i].size() == specs.size() && i < kept_shapes_.size() &&
                        kept_shapes_[i] == shapes_of(specs);
      Rng rng(derive_seed(seed_, stream_init + i));
      for (std::size_t k = 0; k < specs.size(); ++k) {
        Scalar* dst = params.data() + slots[i][k].offset;
        if (keep)
          std::copy_n(params_.data() + slots_[i][k].offset, specs[k].shape.size(), dst);
        else
          initialize(specs[k].init, specs[k].shape, dst, rng);
      }
    }
    kept_shapes_.clear();
    for (const auto& l : layers_) kept_shapes_.push_back(shapes_of(l->param_specs()));
    params_ = std::move(params);
    grads_.assign(params_.size(), Scalar(0));
    slots_ = std::move(slots);
    layout_trainable_ = flags;
    layout_layer_trainable_.clear();
    for (const auto& l : layers_) layout_layer_trainable_.push_back(l->trainable());
    n_trainable_ = n_trainable;
    bind_all();
  }
  static std::vector<Shape> shapes_of(const std::vector<ParamSpec>& specs) {
    std::vector<Shape> s;
    for (const auto& p : specs) s.push_back(p.shape);
    return s;
  }
  void bind_all() {
    for (std::size_t i = 0; i < layers_.size() && i < slots_.size(); ++i) {
      std::vector<Scalar*> v, g;
      for (const Slot& s : slots_[i]) {
        v.push_back(params_.data() + s.offset);
        g.push_back(grads_.data() + s.offset);
      }
      layers_[i]->bind_weights(std::move(v), std::move(g));
    }
  }

  /// Calls f(regularizer, slot) for every trainable weight that has a regularizer.
  template <class F>
  void for_each_regularized(F&& f) const {
    if (!allocated()) return;
    for (std::size_t i = 0; i < layers_.size(); ++i)
      for (std::size_t k = 0; k < slots_[i].size(); ++k)
        if (slots_[i][k].trainable)
          if (const Regularizer* r = layers_[i]->weight_regularizer(k)) f(*r, slots_[i][k]);
  }

  void check_input(const Tensor<Scalar>& x) const {
    if (x.batch() < 1 || x.shape().without_batch() != input_shape_)
      throw ShapeError("model '" + name_ + "' (first layer '" + (layers_.empty() ? "" : layers_[0]->name()) +
                       "'): expected input of shape " + input_shape_.str(true) + ", got " + x.shape().str());
  }

  /// Runs backward through layers [0, end) given d_acts_[end].
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
  std::vector<std::vector<Slot>> slots_;  // layer i's weight k is params_[slots_[i][k].offset, + its size)
  std::vector<std::vector<bool>> layout_trainable_;
  std::vector<bool> layout_layer_trainable_;
  std::vector<std::vector<Shape>> kept_shapes_;
  Index n_trainable_ = 0;
  /// Aligned like Eigen's own vectors: where a vectorised loop starts peeling depends on the address modulo the
  /// SIMD width, and the peeled scalar part may round differently (FMA contraction), so a fixed alignment is what
  /// makes two runs with the same seed bitwise identical.
  std::vector<Scalar, Eigen::aligned_allocator<Scalar>> params_, grads_;
  std::unique_ptr<Optimizer<Scalar>> optimizer_;
  std::unique_ptr<Loss<Scalar>> loss_;
  std::vector<std::unique_ptr<Metric<Scalar>>> metrics_;
  std::vector<std::string> metric_names_;

  /// Workspaces reused across batches and calls: no allocation in the training loop after the first batch.
  std::vector<Tensor<Scalar>> acts_, d_acts_;
  const Tensor<Scalar>* last_input_ = nullptr;
  Tensor<Scalar> predict_x_;
  struct TrainerWorkspace {
    Tensor<Scalar> d_loss, batch_x, batch_y, batch_w, eval_x, eval_y, eval_w;
  } trainer_ws_;
};

}  // namespace nnlite

#include "training.hpp"
