// nnlite/optim/adam.hpp: Adam exactly as Keras updates (epsilon added to sqrt(v), bias correction folded into
// the step size), with Keras' defaults, optional AMSGrad, and AdamW (Adam with decoupled weight decay, 0.004 by
// default). Rules: keras/src/optimizers/adam.py and adamw.py, Keras 3.16. Its counter counts optimizer steps.
#pragma once

#include <algorithm>
#include <cmath>

#include "optimizer.hpp"

namespace nnlite {

/// Keras' Adam optimizer: Keras 3's update rule and defaults, one fused pass over the flat parameter buffer.
template <class Scalar>
class Adam : public AdamFamily<Scalar> {
 public:
  /// The flat state buffer type (Optimizer's Vector).
  using Vector = typename Optimizer<Scalar>::Vector;

  /// Keras' `learning_rate`, `beta_1`, `beta_2` (the moment estimates' decay rates), `epsilon` and `amsgrad`.
  explicit Adam(LearningRate learning_rate = 1e-3, double beta_1 = 0.9, double beta_2 = 0.999, double epsilon = 1e-7,
                bool amsgrad = false)
      : AdamFamily<Scalar>("Adam", std::move(learning_rate), beta_1, beta_2, epsilon), amsgrad_(amsgrad) {}

  std::string class_name() const override { return "Adam"; }
  /// Keras' `amsgrad`: whether to use the AMSGrad variant (the maximum of the second moments so far).
  bool amsgrad() const { return amsgrad_; }

  /// t = step number (1-based); lr_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
  /// m += (g - m)(1 - beta_1);  v += (g^2 - v)(1 - beta_2);  p -= lr_t * m / (sqrt(v) + epsilon)
  /// amsgrad: vhat = max(vhat, v) and vhat in place of v in the step.
  void step(Scalar* params, const Scalar* grads, Index n) override {
    grads = this->start_step(params, grads, n, amsgrad_ ? &vhat_ : nullptr);
    const double t = static_cast<double>(++this->iterations_);
    const auto lr_t = static_cast<Scalar>(this->step_lr_ * std::sqrt(1 - std::pow(this->beta_2_, t)) /
                                          (1 - std::pow(this->beta_1_, t)));
    const auto eps = static_cast<Scalar>(this->epsilon_);
    Scalar* vhat = amsgrad_ ? vhat_.data() : nullptr;
    this->adam_moment_pass(grads, n, [&](Index i, Scalar, Scalar mi, Scalar vi) {
      if (vhat) {
        const Scalar hi = std::max(vhat[i], vi);
        vhat[i] = hi;
        params[i] -= lr_t * mi / (std::sqrt(hi) + eps);
      } else {
        params[i] -= lr_t * mi / (std::sqrt(vi) + eps);
      }
    });
  }

  nlohmann::json config() const override {
    nlohmann::json c = this->family_config(class_name());
    c.update({{"decay", 0.0}, {"amsgrad", amsgrad_}});
    return c;
  }
  std::unique_ptr<Optimizer<Scalar>> clone() const override { return std::make_unique<Adam>(*this); }

  /// An Adam from Keras' config.
  static std::unique_ptr<Optimizer<Scalar>> from_config(const ConfigReader& c) {
    return AdamFamily<Scalar>::family_from_config(c, [&c](const LearningRate& lr, double b1, double b2, double eps) {
      return std::make_unique<Adam>(lr, b1, b2, eps, c.boolean("amsgrad", false));
    });
  }

  /// m, v (and vhat with amsgrad): tf.keras 2.x slot names; Keras 3 calls them momentum, velocity, velocity_hat.
  std::vector<std::pair<std::string, Vector*>> state() override {
    auto slots = AdamFamily<Scalar>::state();
    if (amsgrad_) slots.emplace_back("vhat", &vhat_);
    return slots;
  }

 private:
  bool amsgrad_;
  Vector vhat_;
};

/// Keras 3's AdamW: Adam whose weight_decay (var -= var * weight_decay * lr before each update, the base options'
/// decay) defaults to 0.004 and cannot be None.
template <class Scalar>
class AdamW : public Adam<Scalar> {
 public:
  /// Keras' `learning_rate`, `weight_decay`, `beta_1`, `beta_2`, `epsilon` and `amsgrad`.
  explicit AdamW(LearningRate learning_rate = 1e-3, double weight_decay = 0.004, double beta_1 = 0.9,
                 double beta_2 = 0.999, double epsilon = 1e-7, bool amsgrad = false)
      : Adam<Scalar>(std::move(learning_rate), beta_1, beta_2, epsilon, amsgrad) {
    this->set_weight_decay(weight_decay);
  }

  std::string class_name() const override { return "AdamW"; }
  std::unique_ptr<Optimizer<Scalar>> clone() const override { return std::make_unique<AdamW>(*this); }

  /// Builds the optimizer from its Keras config (`weight_decay` must not be null).
  static std::unique_ptr<Optimizer<Scalar>> from_config(const ConfigReader& c) {
    if (c.cfg.contains("weight_decay") && c.cfg.at("weight_decay").is_null())
      c.bad("'weight_decay' must be a number, got null (AdamW always decays)");
    return AdamFamily<Scalar>::family_from_config(
        c,
        [&c](const LearningRate& lr, double b1, double b2, double eps) {
          return std::make_unique<AdamW>(lr, 0.004, b1, b2, eps, c.boolean("amsgrad", false));
        },
        0.004);
  }
};

}  // namespace nnlite
