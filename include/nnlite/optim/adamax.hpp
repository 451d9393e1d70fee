// nnlite/optim/adamax.hpp: Adamax (Adam's infinity-norm variant) as Keras 3.16 updates it
// (keras/src/optimizers/adamax.py), with Keras' defaults.
#pragma once

#include <algorithm>
#include <cmath>

#include "../core/parallel.hpp"
#include "optimizer.hpp"

namespace nnlite {

template <class Scalar>
class Adamax : public Optimizer<Scalar> {
 public:
  using Vector = typename Optimizer<Scalar>::Vector;

  explicit Adamax(LearningRate learning_rate = 1e-3, double beta_1 = 0.9, double beta_2 = 0.999, double epsilon = 1e-7)
      : Optimizer<Scalar>(std::move(learning_rate)), beta_1_(beta_1), beta_2_(beta_2), epsilon_(epsilon) {
    if (!(beta_1 >= 0 && beta_1 < 1) || !(beta_2 >= 0 && beta_2 < 1) || !(epsilon > 0))
      throw ArgumentError("Adamax: need 0 <= beta_1, beta_2 < 1 and epsilon > 0 (got beta_1 " + std::to_string(beta_1) +
                          ", beta_2 " + std::to_string(beta_2) + ", epsilon " + std::to_string(epsilon) + ")");
  }

  std::string class_name() const override { return "Adamax"; }
  double beta_1() const { return beta_1_; }
  double beta_2() const { return beta_2_; }
  double epsilon() const { return epsilon_; }

  /// m += (g - m)(1 - beta_1);  u = max(beta_2 u, |g|);  p -= lr m / ((1 - beta_1^t)(u + eps))
  void step(Scalar* params, const Scalar* grads, Index n) override {
    grads = this->prepare_step(params, grads, n);
    this->ensure_state(m_, n);
    this->ensure_state(u_, n);
    const double t = static_cast<double>(++this->iterations_);
    const auto lr = static_cast<Scalar>(this->step_lr_), b1 = static_cast<Scalar>(1 - beta_1_),
               beta_2 = static_cast<Scalar>(beta_2_), corr = static_cast<Scalar>(1 - std::pow(beta_1_, t)),
               eps = static_cast<Scalar>(epsilon_);
    Scalar* m = m_.data();
    Scalar* u = u_.data();
    parallel_slices(n, threads_for(n, 4.0 * double(n)), [&](int, Index begin, Index end) {
      for (Index i = begin; i < end; ++i) {
        const Scalar gi = grads[i];
        const Scalar mi = m[i] + (gi - m[i]) * b1;
        const Scalar ui = std::max(beta_2 * u[i], std::abs(gi));
        m[i] = mi;
        u[i] = ui;
        params[i] -= lr * mi / (corr * (ui + eps));
      }
    });
  }

  nlohmann::json config() const override {
    nlohmann::json c = this->base_config("Adamax");
    c.update({{"beta_1", beta_1_}, {"beta_2", beta_2_}, {"epsilon", epsilon_}});
    return c;
  }
  std::unique_ptr<Optimizer<Scalar>> clone() const override { return std::make_unique<Adamax>(*this); }

  static std::unique_ptr<Optimizer<Scalar>> from_config(const ConfigReader& c) {
    const LearningRate lr = optimizer_learning_rate(c, 1e-3);
    std::unique_ptr<Adamax> opt;
    try {
      opt = std::make_unique<Adamax>(lr, c.number("beta_1", 0.9), c.number("beta_2", 0.999), c.number("epsilon", 1e-7));
    } catch (const ArgumentError& e) {
      c.bad(e.what());
    }
    return with_base_options(std::move(opt), c);
  }

  /// tf.keras 2.x slot names m, v (Keras 3: momentum, norm; tf.keras 2.11: m, u).
  std::vector<std::pair<std::string, Vector*>> state() override { return {{"m", &m_}, {"v", &u_}}; }
  void reset() override {
    Optimizer<Scalar>::reset();
    m_.resize(0);
    u_.resize(0);
  }

 private:
  double beta_1_, beta_2_, epsilon_;
  Vector m_, u_;
};

}  // namespace nnlite
