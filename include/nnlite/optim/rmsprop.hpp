// nnlite/optim/rmsprop.hpp: RMSprop as Keras 3.16 updates it (keras/src/optimizers/rmsprop.py): epsilon inside the
// square root, optional momentum and centered (Graves') variant, with Keras' defaults.
#pragma once

#include <cmath>

#include "../core/parallel.hpp"
#include "optimizer.hpp"

namespace nnlite {

/// Keras' RMSprop optimizer: divides the gradient by a moving average of its root mean square.
template <class Scalar>
class RMSprop : public Optimizer<Scalar> {
 public:
  /// The flat state buffer type (Optimizer's Vector).
  using Vector = typename Optimizer<Scalar>::Vector;

  /// Keras' `learning_rate`, `rho`, `momentum`, `epsilon` and `centered`.
  explicit RMSprop(LearningRate learning_rate = 1e-3, double rho = 0.9, double momentum = 0.0, double epsilon = 1e-7,
                   bool centered = false)
      : Optimizer<Scalar>(std::move(learning_rate)),
        rho_(rho),
        momentum_(momentum),
        epsilon_(epsilon),
        centered_(centered) {
    if (!(rho >= 0 && rho < 1)) throw ArgumentError("RMSprop: rho must be in [0, 1), got " + std::to_string(rho));
    if (!(momentum >= 0 && momentum < 1))
      throw ArgumentError("RMSprop: momentum must be in [0, 1), got " + std::to_string(momentum));
    if (!(epsilon > 0)) throw ArgumentError("RMSprop: epsilon must be > 0, got " + std::to_string(epsilon));
  }

  std::string class_name() const override { return "RMSprop"; }
  /// Keras' `rho`: the discounting factor of the moving average of squared gradients.
  double rho() const { return rho_; }
  /// Keras' `momentum`: the momentum factor (0: plain RMSprop).
  double momentum() const { return momentum_; }
  /// Keras' `epsilon`: a small constant for numerical stability.
  double epsilon() const { return epsilon_; }
  /// Keras' `centered`: whether gradients are normalized by their estimated variance (Graves' centered RMSprop).
  bool centered() const { return centered_; }

  /// rms = rho rms + (1 - rho) g^2;  centered: mg = rho mg + (1 - rho) g, denom = rms - mg^2 + eps, else rms + eps
  /// inc = lr g / sqrt(denom);  momentum > 0: mom = momentum mom + inc, p -= mom;  else p -= inc
  void step(Scalar* params, const Scalar* grads, Index n) override {
    grads = this->prepare_step(params, grads, n);
    this->ensure_state(rms_, n);
    if (momentum_ > 0) this->ensure_state(mom_, n);
    if (centered_) this->ensure_state(mg_, n);
    ++this->iterations_;
    const auto lr = static_cast<Scalar>(this->step_lr_), rho = static_cast<Scalar>(rho_),
               one_rho = static_cast<Scalar>(1 - rho_), mu = static_cast<Scalar>(momentum_),
               eps = static_cast<Scalar>(epsilon_);
    Scalar* rms = rms_.data();
    Scalar* mom = momentum_ > 0 ? mom_.data() : nullptr;
    Scalar* mg = centered_ ? mg_.data() : nullptr;
    // One pass over p, g and the state; elements are independent, so any split over threads gives the same bits.
    parallel_slices(n, threads_for(n, 4.0 * double(n)), [&](int, Index begin, Index end) {
      for (Index i = begin; i < end; ++i) {
        const Scalar gi = grads[i];
        const Scalar ri = rho * rms[i] + one_rho * (gi * gi);
        rms[i] = ri;
        Scalar denom;
        if (mg) {
          const Scalar ai = rho * mg[i] + one_rho * gi;
          mg[i] = ai;
          denom = ri - ai * ai + eps;
        } else {
          denom = ri + eps;
        }
        const Scalar inc = lr * gi / std::sqrt(denom);
        if (mom) {
          mom[i] = mu * mom[i] + inc;
          params[i] -= mom[i];
        } else {
          params[i] -= inc;
        }
      }
    });
  }

  nlohmann::json config() const override {
    nlohmann::json c = this->base_config("RMSprop");
    c.update({{"rho", rho_}, {"momentum", momentum_}, {"epsilon", epsilon_}, {"centered", centered_}});
    return c;
  }
  std::unique_ptr<Optimizer<Scalar>> clone() const override { return std::make_unique<RMSprop>(*this); }

  /// Builds the optimizer from its Keras config.
  static std::unique_ptr<Optimizer<Scalar>> from_config(const ConfigReader& c) {
    return optimizer_from_config(c, 1e-3, [&c](const LearningRate& lr) {
      return std::make_unique<RMSprop>(lr, c.number("rho", 0.9), c.number("momentum", 0.0), c.number("epsilon", 1e-7),
                                       c.boolean("centered", false));
    });
  }

  /// tf.keras 2.x slot names rms, momentum, mg (Keras 3: velocity, momentum, average_gradient), only the slots
  /// Keras creates: momentum when momentum > 0, mg when centered.
  std::vector<std::pair<std::string, Vector*>> state() override {
    std::vector<std::pair<std::string, Vector*>> s{{"rms", &rms_}};
    if (momentum_ > 0) s.emplace_back("momentum", &mom_);
    if (centered_) s.emplace_back("mg", &mg_);
    return s;
  }

 private:
  double rho_, momentum_, epsilon_;
  bool centered_;
  Vector rms_, mom_, mg_;
};

}  // namespace nnlite
