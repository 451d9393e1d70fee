// nnlite/layers/layer.hpp: the contract every layer follows. Read this file and any one layer, and you know them all.
//
//   build(sample_shape) -> output sample shape   validate and size (shapes here exclude the batch dimension)
//   param_specs()                                 Keras-ordered (kernel, bias) names, shapes and initializers
//   bind(params, grads)                           point the layer at its slices of the model's flat buffers
//   forward(in, out, mode)                        out is resized to (batch, output_shape...)
//   backward(in, out, d_out, d_in)                writes d_in (when not null) and the bound parameter gradients
//   config()                                      Keras get_config(): what model_config in a .h5 needs
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/error.hpp"
#include "../core/initializers.hpp"
#include "../core/tensor.hpp"

namespace nnlite {

enum class Mode { inference, training };

struct ParamSpec {
  std::string name;  // "kernel" or "bias", as Keras names the weight
  Shape shape;
  Initializer init;
};

template <class Scalar>
class Layer {
 public:
  using scalar_type = Scalar;
  virtual ~Layer() = default;

  // Keras' class name ("Conv2D") and the stem of its automatic names ("conv2d" -> conv2d, conv2d_1, ...).
  virtual std::string class_name() const = 0;
  virtual std::string name_stem() const = 0;

  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  bool has_name() const { return !name_.empty(); }

  // Validates the per-sample input shape, sizes the layer and returns the per-sample output shape.
  Shape build(const Shape& input_shape) {
    output_shape_ = compute_output_shape(input_shape);
    input_shape_ = input_shape;
    built_ = true;
    return output_shape_;
  }
  bool built() const { return built_; }
  const Shape& input_shape() const { return input_shape_; }
  const Shape& output_shape() const { return output_shape_; }

  virtual std::vector<ParamSpec> param_specs() const { return {}; }
  Index param_count() const {
    Index n = 0;
    for (const auto& p : param_specs()) n += p.shape.size();
    return n;
  }

  // The layer reads its parameters from `params` and writes their gradients to `grads`, both param_count() long
  // and laid out as param_specs() lists them. The model owns the memory; layers only hold the pointers.
  virtual void bind(Scalar* params, Scalar* grads) {
    params_ = params;
    grads_ = grads;
  }
  Scalar* params() { return params_; }
  const Scalar* params() const { return params_; }
  Scalar* grads() { return grads_; }

  virtual void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode mode) = 0;
  // d_in may be null (the first layer of a model needs no input gradient). Parameter gradients are overwritten.
  virtual void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                        Tensor<Scalar>* d_in) = 0;

  // True when the layer's last step is a softmax over its last axis. The loss can then hand it
  // d(loss)/d(logits) = (p - y) / batch directly (fused, numerically stable) through backward_from_logits.
  virtual bool ends_in_softmax() const { return false; }
  virtual void backward_from_logits(const Tensor<Scalar>& /*in*/, const Tensor<Scalar>& /*d_logits*/,
                                    Tensor<Scalar>* /*d_in*/) {
    throw Error("layer '" + name_ + "' does not end in a softmax");
  }

  // Layers that draw random numbers (Dropout) take their stream from the model's seed.
  virtual void seed(std::uint64_t /*seed*/) {}

  // Keras' get_config() for this layer (name, trainable, dtype plus the layer's own options).
  virtual nlohmann::json config() const {
    return {{"name", name_}, {"trainable", true}, {"dtype", std::is_same_v<Scalar, double> ? "float64" : "float32"}};
  }

  virtual std::unique_ptr<Layer> clone() const = 0;

 protected:
  virtual Shape compute_output_shape(const Shape& input_shape) = 0;

  // "conv2d: expected ... but got (28, 28)": every shape complaint names the layer.
  [[noreturn]] void shape_error(const std::string& what) const {
    throw ShapeError(class_name() + " layer '" + name_ + "': " + what);
  }
  // Checks a forward/backward input against the built shape, so a wrong tensor never reaches a kernel.
  void check_input(const Tensor<Scalar>& in) const {
    if (!built_) throw Error(class_name() + " layer '" + name_ + "' used before build()");
    if (in.batch() < 1 || in.shape().without_batch() != input_shape_)
      shape_error("expected input of shape " + input_shape_.str(true) + ", got " + in.shape().str());
  }

  Scalar* params_ = nullptr;
  Scalar* grads_ = nullptr;

 private:
  std::string name_;
  Shape input_shape_, output_shape_;
  bool built_ = false;
};

// Layers copy themselves through this helper so that each class writes clone() in one line.
template <class Derived>
auto clone_layer(const Derived& layer) {
  using Scalar = typename Derived::scalar_type;
  std::unique_ptr<Layer<Scalar>> copy = std::make_unique<Derived>(layer);
  copy->bind(nullptr, nullptr);  // a copy must not write into the original's buffers
  return copy;
}

}  // namespace nnlite
