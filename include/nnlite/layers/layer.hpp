// nnlite/layers/layer.hpp: the contract every layer follows. Read this file and any one layer, and you know them all.
//
// THE CONTRACT (shapes below exclude the batch dimension unless they say "batch")
//
// build(input_shape) -> output_shape
//   requires: nothing (may be called again with another shape; the model builds each layer once, in order).
//   ensures:  compute_output_shape() validated the shape (ShapeError naming the layer otherwise), sized what
//             param_specs() returns, and the layer is built().
// param_specs()
//   ensures:  the layer's weights in Keras' order (kernel, bias; BatchNormalization: gamma, beta, moving_mean,
//             moving_variance) with shapes, initializers and whether the optimizer trains them. Valid after build().
// weight_regularizer(i)
//   the regularizer of weight i (Keras' kernel_regularizer, ...) or null; the model adds its penalty to the loss and
//   its derivative to weight i's gradient after backward, so backward itself never sees it.
// bind(...) / bind_weights(values, grads)
//   The model owns every weight and gradient (two flat buffers); a layer only holds one pointer per weight. A
//   weight the optimizer does not train (trainable == false in its spec, or a frozen layer) may live anywhere; the
//   layer reads it through weight(i) like any other.
// forward(in, out, mode)
//   requires: built, in has shape (batch, input_shape...) with batch >= 1 (check_input() checks), weights bound.
//   ensures:  out is resized to (batch, output_shape...) and written. Mode::training may draw random numbers
//             (Dropout) and update non-trainable weights (BatchNormalization's moving statistics); a frozen layer
//             (trainable() == false) runs as in inference, as Keras does. No allocation once buffers have grown to
//             the largest batch (Tensor::resize keeps capacity).
// backward(in, out, d_out, d_in)
//   requires: the forward pass that produced `out` from `in` was the last forward of this layer (layers may keep
//             state from it: masks, argmax, batch statistics, logits); d_out has out's shape
//             (check_d_out() checks; check_d_logits() for backward_from_logits).
//   ensures:  the gradient of every trainable weight is OVERWRITTEN (not accumulated) in weight_grad(i); a weight
//             the optimizer does not train has no meaningful gradient. d_in, when not null, is resized to in's
//             shape and overwritten with d(loss)/d(in); d_in is null for a model's first layer, which skips that work.
// output_activation() / logits(in) / backward_from_logits(in, d_logits, d_in)
//   A layer whose last step is a softmax or sigmoid over its last axis says which, and keeps the values before it
//   (the logits) from its last forward. The loss can then work from the logits (exact and stable, as Keras does on
//   TensorFlow) and hand back d(loss)/d(logits) through backward_from_logits, which ensures what backward ensures.
// config() / from_config(reader, input_shape)   (both directions of the Keras config live in the layer's header)
//   config() is Keras' get_config(); a static from_config() validates a config and builds the layer. The registry
//   (layers/registry.hpp) maps the Keras class name to from_config.
// clone()
//   ensures: an independent copy (same options, unbound weights, fresh workspaces).
//
// ADDING A LAYER: one header in layers/ (the class, its kernels in kernels/ when they are more than a few lines,
// config() and from_config() side by side), one line in layers/registry.hpp, one include in nnlite.hpp, one line in
// the roster of tests/test_layers.cpp (gradient check, config round trip, .h5 round trip, clone, shape error,
// summary row), a row in README.md's supported-layers table, and a benchmark in benchmarks/bench_kernels.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/activation_functions.hpp"
#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../core/initializers.hpp"
#include "../core/regularizers.hpp"
#include "../core/tensor.hpp"

namespace nnlite {

/// Whether forward() runs as in Keras' predict/evaluate or as in fit (Dropout active, BatchNormalization updating).
enum class Mode {
  inference,  ///< Keras' training=False: Dropout off, BatchNormalization uses its moving statistics.
  training    ///< Keras' training=True: Dropout draws masks, BatchNormalization updates its moving statistics.
};

/// One weight of a layer as Keras names it: shape, initializer, trainable or not.
struct ParamSpec {
  std::string name;       ///< As Keras names the weight: "kernel", "bias", "gamma", "moving_mean", ...
  Shape shape;            ///< The weight's shape, as Keras stores it (Conv2D kernel: (kh, kw, in, out)).
  Initializer init;       ///< Keras' `kernel_initializer` / `bias_initializer` / ... for this weight.
  bool trainable = true;  ///< False: the layer updates it itself (moving statistics); the optimizer never sees it.
};

/// Keras' serialized initializer: {"class_name": "GlorotUniform", "config": {"seed": null}} (the random ones carry a
/// seed; Zeros and Ones an empty config).
inline nlohmann::json initializer_config(Initializer init) {
  nlohmann::json cfg = nlohmann::json::object();
  if (init != Initializer::zeros && init != Initializer::ones) cfg["seed"] = nullptr;
  return {{"class_name", initializer_name(init)}, {"config", cfg}};
}

/// The keys Keras writes for each weight of a layer: `kernel_initializer`, `kernel_regularizer` (Keras 3's serialized
/// form, null for none) and `kernel_constraint` for "kernel" (null: nnlite has no constraints on weights).
inline void write_weight_config(nlohmann::json& c, const std::string& weight, Initializer init,
                                const Regularizer* regularizer = nullptr) {
  c[weight + "_initializer"] = initializer_config(init);
  c[weight + "_regularizer"] = regularizer_config(regularizer);
  c[weight + "_constraint"] = nullptr;
}

/// A config's initializer entry, {"class_name": "Ones", "config": {}} or "ones"; `fallback` when absent.
inline Initializer read_initializer(const ConfigReader& c, const char* key, Initializer fallback) {
  if (!c.has(key)) return fallback;
  const nlohmann::json& v = c.at(key);
  std::string name;
  if (v.is_string())
    name = v.get<std::string>();
  else if (v.is_object() && v.contains("class_name") && v["class_name"].is_string())
    name = v["class_name"].get<std::string>();
  else
    c.bad(std::string("'") + key + "' must be an initializer, got " + dump_json(v));
  try {
    return parse_initializer(name);
  } catch (const UnsupportedError&) {
    c.unsupported(std::string("'") + key + "' " + dump_json(v));
  }
}

/// The layer contract (see the file comment): shapes, weights, forward/backward, config, clone.
template <class Scalar>
class Layer {
 public:
  using scalar_type = Scalar;  ///< float or double: the type of the layer's weights and tensors.
  virtual ~Layer() = default;

  /// Keras' class name, as the registry and the config's "class_name" spell it ("Conv2D").
  virtual std::string class_name() const = 0;
  /// The stem of the layer's automatic names ("conv2d" -> conv2d, conv2d_1, ...).
  virtual std::string name_stem() const = 0;

  /// Keras' layer.name (empty until set or until the model names it).
  const std::string& name() const { return name_; }
  /// Sets Keras' layer.name.
  void set_name(std::string name) { name_ = std::move(name); }
  /// Whether a name was set (else the model gives it an automatic one from name_stem()).
  bool has_name() const { return !name_.empty(); }

  /// Keras' layer.trainable: false freezes every weight of the layer (fine-tuning). The model takes the change at
  /// the next compile(), as Keras does.
  bool trainable() const { return trainable_; }
  /// Sets Keras' layer.trainable (taken at the next compile()).
  void set_trainable(bool trainable) { trainable_ = trainable; }

  /// Validates the per-sample input shape, sizes the layer and returns the per-sample output shape.
  Shape build(const Shape& input_shape) {
    output_shape_ = compute_output_shape(input_shape);
    input_shape_ = input_shape;
    built_ = true;
    return output_shape_;
  }
  /// Whether build() has run.
  bool built() const { return built_; }
  /// The per-sample input shape of the last build().
  const Shape& input_shape() const { return input_shape_; }
  /// The per-sample output shape of the last build().
  const Shape& output_shape() const { return output_shape_; }

  /// The layer's weights in Keras' order with shapes, initializers and trainability (valid after build()).
  virtual std::vector<ParamSpec> param_specs() const { return {}; }
  /// The regularizer of weight i of param_specs() (Keras' kernel_regularizer, bias_regularizer, ...), null for none.
  /// The model adds its penalty to the loss while the weight is trainable, as Keras does for layer.losses.
  virtual const Regularizer* weight_regularizer(std::size_t /*i*/) const { return nullptr; }
  /// Number of weight values of the layer (Keras' count_params()).
  Index param_count() const {
    Index n = 0;
    for (const auto& p : param_specs()) n += p.shape.size();
    return n;
  }
  /// Weights the optimizer trains: none when the layer is frozen.
  Index trainable_param_count() const {
    Index n = 0;
    if (trainable_)
      for (const auto& p : param_specs()) n += p.trainable ? p.shape.size() : 0;
    return n;
  }

  /// One pointer per weight of param_specs(), for its values and its gradient.
  void bind_weights(std::vector<Scalar*> values, std::vector<Scalar*> grads) {
    values_ = std::move(values);
    grads_ = std::move(grads);
  }
  /// The same over two contiguous blocks of param_count() values laid out as param_specs() lists them (tests and
  /// the gradient checker bind their own buffers this way).
  void bind(Scalar* params, Scalar* grads) {
    std::vector<Scalar*> v, g;
    if (params || grads) {
      Index offset = 0;
      for (const auto& spec : param_specs()) {
        v.push_back(params ? params + offset : nullptr);
        g.push_back(grads ? grads + offset : nullptr);
        offset += spec.shape.size();
      }
    }
    bind_weights(std::move(v), std::move(g));
  }
  /// Drops the weight pointers (a clone starts unbound).
  void unbind() { bind_weights({}, {}); }
  /// Whether weights are bound (a layer without weights never is).
  bool bound() const { return !values_.empty() && values_[0] != nullptr; }

  /// The values of weight i of param_specs(), null when unbound.
  Scalar* weight(std::size_t i) { return i < values_.size() ? values_[i] : nullptr; }
  /// The values of weight i of param_specs(), null when unbound.
  const Scalar* weight(std::size_t i) const { return i < values_.size() ? values_[i] : nullptr; }
  /// The gradient of weight i of param_specs(), which backward() overwrites; null when unbound.
  Scalar* weight_grad(std::size_t i) { return i < grads_.size() ? grads_[i] : nullptr; }

  /// Resizes `out` to (batch, output_shape...) and writes the layer's output for `in` (Keras' call()).
  virtual void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode mode) = 0;
  /// Overwrites every trainable weight's gradient and, when not null, `d_in` with d(loss)/d(in), after the forward
  /// that produced `out` from `in`.
  virtual void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                        Tensor<Scalar>* d_in) = 0;

  /// Activation::softmax or Activation::sigmoid when the layer's last step is one of them over its last axis (and
  /// it keeps the logits), else Activation::linear.
  virtual Activation output_activation() const { return Activation::linear; }
  /// The logits of the last forward pass, whose input was `in` (only when output_activation() is not linear).
  virtual const Tensor<Scalar>* logits(const Tensor<Scalar>& /*in*/) const { return nullptr; }
  /// backward() from d(loss)/d(logits) instead of d(loss)/d(out) (only when output_activation() is not linear).
  virtual void backward_from_logits(const Tensor<Scalar>& /*in*/, const Tensor<Scalar>& /*d_logits*/,
                                    Tensor<Scalar>* /*d_in*/) {
    throw Error(class_name() + " layer '" + name_ + "' does not end in a softmax or sigmoid");
  }

  /// Layers that draw random numbers (Dropout) take their stream from the model's seed.
  virtual void seed(std::uint64_t /*seed*/) {}

  /// Keras' get_config() for this layer (name, trainable, dtype plus the layer's own options).
  virtual nlohmann::json config() const {
    return {{"name", name_}, {"trainable", trainable_},
            {"dtype", std::is_same_v<Scalar, double> ? "float64" : "float32"}};
  }

  /// An independent copy: same options, unbound weights, fresh workspaces.
  virtual std::unique_ptr<Layer> clone() const = 0;

 protected:
  /// Validates the per-sample input shape (shape_error() otherwise), sizes the weights and returns the output shape.
  virtual Shape compute_output_shape(const Shape& input_shape) = 0;

  /// Throws ShapeError naming the layer: "Conv2D layer 'conv2d': expected ... but got (28, 28)".
  [[noreturn]] void shape_error(const std::string& what) const {
    throw ShapeError(class_name() + " layer '" + name_ + "': " + what);
  }
  /// Checks a forward/backward input against the built shape, so a wrong tensor never reaches a kernel.
  void check_input(const Tensor<Scalar>& in) const {
    if (!built_) throw Error(class_name() + " layer '" + name_ + "' used before build()");
    if (in.batch() < 1 || in.shape().without_batch() != input_shape_)
      shape_error("expected input of shape " + input_shape_.str(true) + ", got " + in.shape().str());
  }
  /// build()'s check for the image layers: the input is (None, height, width, channels).
  void check_image_input(const Shape& input_shape) const {
    if (input_shape.rank() != 3 || input_shape.size() < 1)
      shape_error("expected input of shape (None, height, width, channels), got " + input_shape.str(true));
  }
  /// backward()'s check: `in` as check_input() wants it, `out` and `d_out` of the output's shape for it.
  void check_d_out(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out) const {
    check_input(in);
    const Shape expected = output_shape_.with_batch(in.batch());
    if (d_out.shape() != expected || out.shape() != expected)
      shape_error("d_out of shape " + d_out.shape().str() + " does not match the output " + expected.str());
  }
  /// backward_from_logits()'s check: `in` as check_input() wants it, `d_logits` of the output's size for it.
  void check_d_logits(const Tensor<Scalar>& in, const Tensor<Scalar>& d_logits) const {
    check_input(in);
    const Shape expected = output_shape_.with_batch(in.batch());
    if (d_logits.size() != expected.size())
      shape_error("gradient of shape " + d_logits.shape().str() + " does not match the output " + expected.str());
  }
  /// The start of backward() for a layer with nothing to do but d_in: check_d_out(), then false when `d_in` is null,
  /// else `d_in` sized to `in`.
  bool wants_d_in(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                  Tensor<Scalar>* d_in) const {
    check_d_out(in, out, d_out);
    if (!d_in) return false;
    d_in->resize(in.shape());
    return true;
  }
  /// Layers with weights call this before forward/backward touches them.
  void check_bound() const {
    if (!bound())
      throw Error(class_name() + " layer '" + name_ + "' has no weights bound (call bind() first)");
  }

 private:
  std::string name_;
  bool trainable_ = true;
  Shape input_shape_, output_shape_;
  bool built_ = false;
  std::vector<Scalar*> values_, grads_;
};

/// Base of the layers whose output has the shape of their input, which must not be empty (the activation layers,
/// Rescaling, the random layers).
template <class Scalar>
class SameShapeLayer : public Layer<Scalar> {
 protected:
  Shape compute_output_shape(const Shape& input_shape) override {
    if (input_shape.rank() < 1 || input_shape.size() < 1)
      this->shape_error("expected a non-empty input, got " + input_shape.str(true));
    return input_shape;
  }
};

/// Layers copy themselves through this helper so that each class writes clone() in one line.
template <class Derived>
auto clone_layer(const Derived& layer) {
  using Scalar = typename Derived::scalar_type;
  std::unique_ptr<Layer<Scalar>> copy = std::make_unique<Derived>(layer);
  copy->unbind();  // a copy must not write into the original's buffers
  return copy;
}

/// The `name` and `trainable` every Keras layer config carries, applied to a layer a creator just made.
template <class L>
std::unique_ptr<L> configured(std::unique_ptr<L> layer, const ConfigReader& c) {
  layer->set_trainable(c.boolean("trainable", true));
  return layer;
}

}  // namespace nnlite
