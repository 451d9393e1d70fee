// nnlite/optim/adamax.hpp: Adamax (Adam's infinity-norm variant) as Keras 3.16 updates it
// (keras/src/optimizers/adamax.py), with Keras' defaults.
#pragma once

#include <algorithm>
#include <cmath>

#include "optimizer.hpp"

namespace nnlite {

/// Keras' Adamax optimizer: Adam with the infinity norm in place of the second moment.
template <class Scalar>
class Adamax : public AdamFamily<Scalar> {
 public:
  /// Keras' `learning_rate`, `beta_1` (first moment decay), `beta_2` (weighted infinity norm decay) and `epsilon`.
  explicit Adamax(LearningRate learning_rate = 1e-3, double beta_1 = 0.9, double beta_2 = 0.999, double epsilon = 1e-7)
      : AdamFamily<Scalar>("Adamax", std::move(learning_rate), beta_1, beta_2, epsilon) {}

  std::string class_name() const override { return "Adamax"; }

  /// m += (g - m)(1 - beta_1);  u = max(beta_2 u, |g|);  p -= lr m / ((1 - beta_1^t)(u + eps))
  void step(Scalar* params, const Scalar* grads, Index n) override {
    grads = this->start_step(params, grads, n);
    const double t = static_cast<double>(++this->iterations_);
    const auto lr = static_cast<Scalar>(this->step_lr_), beta_2 = static_cast<Scalar>(this->beta_2_),
               corr = static_cast<Scalar>(1 - std::pow(this->beta_1_, t)), eps = static_cast<Scalar>(this->epsilon_);
    this->moment_pass(
        grads, n, [beta_2](Scalar u, Scalar g) { return std::max(beta_2 * u, std::abs(g)); },
        [&](Index i, Scalar, Scalar mi, Scalar ui) { params[i] -= lr * mi / (corr * (ui + eps)); });
  }

  nlohmann::json config() const override { return this->family_config("Adamax"); }
  std::unique_ptr<Optimizer<Scalar>> clone() const override { return std::make_unique<Adamax>(*this); }

  /// An Adamax from Keras' config.
  static std::unique_ptr<Optimizer<Scalar>> from_config(const ConfigReader& c) {
    return AdamFamily<Scalar>::family_from_config(c, [](auto&&... args) { return std::make_unique<Adamax>(args...); });
  }
};

}  // namespace nnlite
