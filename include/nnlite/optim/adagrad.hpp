// nnlite/optim/adagrad.hpp: Adagrad as Keras 3.16 updates it (keras/src/optimizers/adagrad.py): the accumulator
// starts at initial_accumulator_value and epsilon sits inside the square root.
#pragma once

#include <cmath>

#include "../core/parallel.hpp"
#include "optimizer.hpp"

namespace nnlite {

/// Keras' Adagrad optimizer: parameter-specific learning rates, adapted to how often each parameter is updated.
template <class Scalar>
class Adagrad : public Optimizer<Scalar> {
 public:
  /// The flat state buffer type (Optimizer's Vector).
  using Vector = typename Optimizer<Scalar>::Vector;

  /// Keras' `learning_rate`, `initial_accumulator_value` (the accumulators' starting value) and `epsilon`.
  explicit Adagrad(LearningRate learning_rate = 1e-3, double initial_accumulator_value = 0.1, double epsilon = 1e-7)
      : Optimizer<Scalar>(std::move(learning_rate)), initial_(initial_accumulator_value), epsilon_(epsilon) {
    if (!(initial_accumulator_value >= 0 && std::isfinite(initial_accumulator_value)))
      throw ArgumentError("Adagrad: initial_accumulator_value must be >= 0, got " +
                          std::to_string(initial_accumulator_value));
    if (!(epsilon > 0)) throw ArgumentError("Adagrad: epsilon must be > 0, got " + std::to_string(epsilon));
  }

  std::string class_name() const override { return "Adagrad"; }
  /// Keras' `initial_accumulator_value`: the starting value for the accumulators (per-parameter momentum values).
  double initial_accumulator_value() const { return initial_; }
  /// Keras' `epsilon`: a small constant for numerical stability.
  double epsilon() const { return epsilon_; }

  /// acc += g^2;  p -= lr g / sqrt(acc + eps)
  void step(Scalar* params, const Scalar* grads, Index n) override {
    grads = this->prepare_step(params, grads, n);
    if (acc_.size() == 0) acc_ = Vector::Constant(n, static_cast<Scalar>(initial_));
    this->ensure_state(acc_, n);
    ++this->iterations_;
    const auto lr = static_cast<Scalar>(this->step_lr_), eps = static_cast<Scalar>(epsilon_);
    Scalar* acc = acc_.data();
    parallel_slices(n, threads_for(n, 3.0 * double(n)), [&](int, Index begin, Index end) {
      for (Index i = begin; i < end; ++i) {
        const Scalar gi = grads[i];
        const Scalar ai = acc[i] + gi * gi;
        acc[i] = ai;
        params[i] -= lr * gi / std::sqrt(ai + eps);
      }
    });
  }

  nlohmann::json config() const override {
    nlohmann::json c = this->base_config("Adagrad");
    c.update({{"initial_accumulator_value", initial_}, {"epsilon", epsilon_}});
    return c;
  }
  std::unique_ptr<Optimizer<Scalar>> clone() const override { return std::make_unique<Adagrad>(*this); }

  /// Builds the optimizer from its Keras config.
  static std::unique_ptr<Optimizer<Scalar>> from_config(const ConfigReader& c) {
    return optimizer_from_config(c, 1e-3, [&c](const LearningRate& lr) {
      return std::make_unique<Adagrad>(lr, c.number("initial_accumulator_value", 0.1), c.number("epsilon", 1e-7));
    });
  }

  /// "accumulator" in tf.keras 2.x and Keras 3 alike.
  std::vector<std::pair<std::string, Vector*>> state() override { return {{"accumulator", &acc_}}; }

 private:
  double initial_, epsilon_;
  Vector acc_;
};

}  // namespace nnlite
