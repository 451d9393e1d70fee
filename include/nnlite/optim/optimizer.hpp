// nnlite/optim/optimizer.hpp: what every optimizer does: one step over the model's single flat parameter
// vector, with its state (moments, step counter) in flat vectors of the same length.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../core/config.hpp"
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

// What every optimizer's from_config() checks first: the learning rate (Keras 3 `learning_rate`, tf.keras 2 `lr`),
// and options that would change the training which nnlite does not implement yet, refused rather than dropped.
inline double optimizer_learning_rate(const ConfigReader& c, double fallback) {
  for (const char* key : {"clipnorm", "clipvalue", "global_clipnorm", "gradient_accumulation_steps",
                          "loss_scale_factor"})
    c.require_null(key);
  if (c.number("weight_decay", 0.0) != 0.0) c.unsupported("'weight_decay' = " + dump_json(c.at("weight_decay")));
  if (c.number("decay", 0.0) != 0.0) c.unsupported("'decay' = " + dump_json(c.at("decay")));
  if (c.has("use_ema") && c.at("use_ema") != false) c.unsupported("'use_ema' = " + dump_json(c.at("use_ema")));
  const char* key = c.has("learning_rate") ? "learning_rate" : "lr";
  if (c.has(key) && !c.at(key).is_number()) c.unsupported("a learning-rate schedule " + dump_json(c.at(key)));
  const double lr = c.number(key, fallback);
  if (!(lr > 0)) c.bad("learning rate " + dump_json(c.at(key)) + " must be > 0");
  return lr;
}

}  // namespace nnlite
