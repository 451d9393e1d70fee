// nnlite/optim/sgd.hpp: SGD with optional momentum and Nesterov momentum, in Keras' formulation
// (velocity = momentum * velocity - lr * g).
#pragma once

#include "optimizer.hpp"

namespace nnlite {

/// Keras' SGD optimizer, with momentum and nesterov as Keras 3 defines them.
template <class Scalar>
class SGD : public Optimizer<Scalar> {
 public:
  /// The flat state buffer type (Optimizer's Vector).
  using Vector = typename Optimizer<Scalar>::Vector;

  /// Keras' `learning_rate`, `momentum` (in [0, 1): accelerates descent, dampens oscillations) and `nesterov`.
  explicit SGD(LearningRate learning_rate = 0.01, double momentum = 0.0, bool nesterov = false)
      : Optimizer<Scalar>(std::move(learning_rate)), momentum_(momentum), nesterov_(nesterov) {
    if (!(momentum >= 0 && momentum < 1)) throw ArgumentError("SGD: momentum must be in [0, 1)");
  }

  std::string class_name() const override { return "SGD"; }

  void step(Scalar* params, const Scalar* grads, Index n) override {
    grads = this->prepare_step(params, grads, n);
    ++this->iterations_;
    VectorMap<Scalar> p(params, n);
    ConstVectorMap<Scalar> g(grads, n);
    const auto lr = static_cast<Scalar>(this->step_lr_);
    if (momentum_ == 0) {
      p -= lr * g;
      return;
    }
    this->ensure_state(velocity_, n);
    const auto mu = static_cast<Scalar>(momentum_);
    velocity_ = mu * velocity_ - lr * g;
    if (nesterov_)
      p += mu * velocity_ - lr * g;
    else
      p += velocity_;
  }

  nlohmann::json config() const override {
    nlohmann::json c = this->base_config("SGD");
    c.update({{"decay", 0.0}, {"momentum", momentum_}, {"nesterov", nesterov_}});
    return c;
  }
  std::unique_ptr<Optimizer<Scalar>> clone() const override { return std::make_unique<SGD>(*this); }

  /// Builds the optimizer from its Keras config.
  static std::unique_ptr<Optimizer<Scalar>> from_config(const ConfigReader& c) {
    return optimizer_from_config(c, 0.01, [&c](const LearningRate& lr) {
      return std::make_unique<SGD>(lr, c.number("momentum", 0.0), c.boolean("nesterov", false));
    });
  }
  std::vector<std::pair<std::string, Vector*>> state() override { return {{"velocity", &velocity_}}; }

 private:
  double momentum_;
  bool nesterov_;
  Vector velocity_;
};

}  // namespace nnlite
