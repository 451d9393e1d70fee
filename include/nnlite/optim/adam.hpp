// nnlite/optim/adam.hpp: Adam exactly as Keras updates (epsilon added to sqrt(v), bias correction folded into
// the step size), with Keras' defaults. Its counter counts optimizer steps, never tensors.
#pragma once

#include <cmath>

#include "../core/parallel.hpp"
#include "optimizer.hpp"

namespace nnlite {

template <class Scalar>
class Adam : public Optimizer<Scalar> {
 public:
  using Vector = typename Optimizer<Scalar>::Vector;

  explicit Adam(double learning_rate = 1e-3, double beta_1 = 0.9, double beta_2 = 0.999, double epsilon = 1e-7)
      : Optimizer<Scalar>(learning_rate), beta_1_(beta_1), beta_2_(beta_2), epsilon_(epsilon) {
    if (!(beta_1 >= 0 && beta_1 < 1) || !(beta_2 >= 0 && beta_2 < 1) || !(epsilon > 0))
      throw ArgumentError("Adam: need 0 <= beta_1, beta_2 < 1 and epsilon > 0");
  }

  std::string class_name() const override { return "Adam"; }
  double beta_1() const { return beta_1_; }
  double beta_2() const { return beta_2_; }
  double epsilon() const { return epsilon_; }

  // t = step number (1-based); lr_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
  // m += (g - m)(1 - beta_1);  v += (g^2 - v)(1 - beta_2);  p -= lr_t * m / (sqrt(v) + epsilon)
  void step(Scalar* params, const Scalar* grads, Index n) override {
    this->ensure_state(m_, n);
    this->ensure_state(v_, n);
    const double t = static_cast<double>(++this->iterations_);
    const auto lr_t = static_cast<Scalar>(this->learning_rate_ * std::sqrt(1 - std::pow(beta_2_, t)) /
                                          (1 - std::pow(beta_1_, t)));
    const auto b1 = static_cast<Scalar>(1 - beta_1_), b2 = static_cast<Scalar>(1 - beta_2_);
    const auto eps = static_cast<Scalar>(epsilon_);
    Scalar* m = m_.data();
    Scalar* v = v_.data();
    // One pass that reads each of p, g, m, v once (three Eigen statements would stream m and v twice), in
    // contiguous slices over threads: every element's update is independent, so any split gives the same bits.
    parallel_slices(n, threads_for(n, 4.0 * double(n)), [&](int, Index begin, Index end) {
      for (Index i = begin; i < end; ++i) {
        const Scalar gi = grads[i];
        const Scalar mi = m[i] + (gi - m[i]) * b1;
        const Scalar vi = v[i] + (gi * gi - v[i]) * b2;
        m[i] = mi;
        v[i] = vi;
        params[i] -= lr_t * mi / (std::sqrt(vi) + eps);
      }
    });
  }

  nlohmann::json config() const override {
    return {{"name", "Adam"},          {"learning_rate", this->learning_rate_},
            {"decay", 0.0},            {"beta_1", beta_1_},
            {"beta_2", beta_2_},       {"epsilon", epsilon_},
            {"amsgrad", false}};
  }
  std::unique_ptr<Optimizer<Scalar>> clone() const override { return std::make_unique<Adam>(*this); }

  static std::unique_ptr<Optimizer<Scalar>> from_config(const ConfigReader& c) {
    const double lr = optimizer_learning_rate(c, 1e-3);
    if (c.boolean("amsgrad", false)) c.unsupported("'amsgrad' = true");
    try {
      return std::make_unique<Adam>(lr, c.number("beta_1", 0.9), c.number("beta_2", 0.999), c.number("epsilon", 1e-7));
    } catch (const ArgumentError& e) {
      c.bad(e.what());
    }
  }

  std::vector<std::pair<std::string, Vector*>> state() override { return {{"m", &m_}, {"v", &v_}}; }
  void reset() override {
    Optimizer<Scalar>::reset();
    m_.resize(0);
    v_.resize(0);
  }

 private:
  double beta_1_, beta_2_, epsilon_;
  Vector m_, v_;
};

}  // namespace nnlite
