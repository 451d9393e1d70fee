// nnlite/optim/nadam.hpp: Nadam (Adam with Nesterov momentum) with Keras 3.16's momentum-cache rule
// (keras/src/optimizers/nadam.py): u_t = beta_1 (1 - 0.5 * 0.96^t), u_product = u_1 ... u_t, and Keras' defaults.
#pragma once

#include <cmath>

#include "optimizer.hpp"

namespace nnlite {

/// Keras' Nadam optimizer: Adam with Nesterov momentum.
template <class Scalar>
class Nadam : public AdamFamily<Scalar> {
 public:
  /// Keras' `learning_rate`, `beta_1`, `beta_2` (the moment estimates' decay rates) and `epsilon`.
  explicit Nadam(LearningRate learning_rate = 1e-3, double beta_1 = 0.9, double beta_2 = 0.999, double epsilon = 1e-7)
      : AdamFamily<Scalar>("Nadam", std::move(learning_rate), beta_1, beta_2, epsilon) {}

  std::string class_name() const override { return "Nadam"; }
  /// Keras' _u_product after the steps taken (1 before the first).
  double u_product() const { return u_product_; }

  /// t = step (1-based); u_t = beta_1 (1 - 0.5 * 0.96^t), u_t1 = the same at t + 1; u_product *= u_t (first)
  /// m += (g - m)(1 - beta_1);  v += (g^2 - v)(1 - beta_2)
  /// m_hat = u_t1 m / (1 - u_product u_t1) + (1 - u_t) g / (1 - u_product);  v_hat = v / (1 - beta_2^t)
  /// p -= lr m_hat / (sqrt(v_hat) + eps)
  void step(Scalar* params, const Scalar* grads, Index n) override {
    grads = this->start_step(params, grads, n);
    const std::int64_t t = ++this->iterations_;
    u_product_ *= u(t);  // in double (Keras keeps it in the variables' dtype)
    const double u_t = u(t), u_t1 = u(t + 1);
    const auto cm = static_cast<Scalar>(u_t1 / (1 - u_product_ * u_t1)),
               cg = static_cast<Scalar>((1 - u_t) / (1 - u_product_)),
               cv = static_cast<Scalar>(1 - std::pow(this->beta_2_, double(t))),
               lr = static_cast<Scalar>(this->step_lr_), eps = static_cast<Scalar>(this->epsilon_);
    this->adam_moment_pass(grads, n, [&](Index i, Scalar gi, Scalar mi, Scalar vi) {
      const Scalar m_hat = cm * mi + cg * gi;
      params[i] -= m_hat * lr / (std::sqrt(vi / cv) + eps);
    });
  }

  /// u_product follows from the step count: recomputed the same way the steps build it, so a resumed run continues
  /// bit for bit.
  void set_iterations(std::int64_t n) override {
    Optimizer<Scalar>::set_iterations(n);
    u_product_ = 1.0;
    for (std::int64_t t = 1; t <= n; ++t) u_product_ *= u(t);
  }

  nlohmann::json config() const override { return this->family_config("Nadam"); }
  std::unique_ptr<Optimizer<Scalar>> clone() const override { return std::make_unique<Nadam>(*this); }

  /// A Nadam from Keras' config.
  static std::unique_ptr<Optimizer<Scalar>> from_config(const ConfigReader& c) {
    return AdamFamily<Scalar>::family_from_config(c, [](auto&&... args) { return std::make_unique<Nadam>(args...); });
  }

  void reset() override {
    Optimizer<Scalar>::reset();
    u_product_ = 1.0;
  }

 private:
  double u(std::int64_t t) const { return this->beta_1_ * (1.0 - 0.5 * std::pow(0.96, double(t))); }

  double u_product_ = 1.0;
};

}  // namespace nnlite
