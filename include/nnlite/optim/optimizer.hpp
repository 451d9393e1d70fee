// nnlite/optim/optimizer.hpp: what every optimizer does: one step over the model's single flat parameter
// vector, with its state (moments, step counter) in flat vectors of the same length.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"

namespace nnlite {

template <class Scalar>
class Optimizer {
 public:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  virtual ~Optimizer() = default;

  // Keras' class name ("Adam") and get_config() (name, learning_rate, hyperparameters).
  virtual std::string class_name() const = 0;
  virtual nlohmann::json config() const = 0;
  virtual std::unique_ptr<Optimizer> clone() const = 0;

  // Updates all n parameters from their gradients: one optimizer step.
  virtual void step(Scalar* params, const Scalar* grads, Index n) = 0;

  // Optimizer steps taken so far (Keras' `iterations`).
  std::int64_t iterations() const { return iterations_; }
  double learning_rate() const { return learning_rate_; }
  void set_learning_rate(double lr) {
    if (!(lr > 0)) throw ArgumentError(class_name() + ": learning_rate must be > 0, got " + std::to_string(lr));
    learning_rate_ = lr;
  }

  // Named state vectors, for checkpoints (resume must continue bit for bit).
  virtual std::vector<std::pair<std::string, Vector*>> state() { return {}; }
  void set_iterations(std::int64_t n) { iterations_ = n; }
  virtual void reset() { iterations_ = 0; }

 protected:
  // No virtual calls here: the derived object does not exist yet.
  explicit Optimizer(double lr) : learning_rate_(lr) {
    if (!(lr > 0)) throw ArgumentError("optimizer: learning_rate must be > 0, got " + std::to_string(lr));
  }
  // Sizes the state on the first step, and refuses a model whose size changed under it.
  void ensure_state(Vector& v, Index n) {
    if (v.size() == 0) v = Vector::Zero(n);
    if (v.size() != n)
      throw ShapeError(class_name() + ": optimizer state holds " + std::to_string(v.size()) +
                       " values but the model has " + std::to_string(n) + " parameters");
  }

  double learning_rate_;
  std::int64_t iterations_ = 0;
};

}  // namespace nnlite
