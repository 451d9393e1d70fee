// nnlite/layers/fused_activation.hpp: the activation a Conv2D or Dense applies to its own output, with what both
// need around it: the logits kept for a softmax/sigmoid output (so the loss can work from them) and the
// d(pre-activation) workspace of backward. One copy of that logic for every layer with an `activation` option.
#pragma once

#include "../core/activation_functions.hpp"
#include "../core/tensor.hpp"

namespace nnlite {

template <class Scalar>
class FusedActivation {
 public:
  explicit FusedActivation(Activation a = Activation::linear) : activation_(a) {}

  Activation activation() const { return activation_; }
  // Softmax and sigmoid outputs keep their logits: the loss then works from them, as Keras does on TensorFlow.
  bool keeps_logits() const { return activation_ == Activation::softmax || activation_ == Activation::sigmoid; }
  Activation output_activation() const { return keeps_logits() ? activation_ : Activation::linear; }

  // In place over `out` (rows x units, the pre-activation on entry); `already_applied` when a kernel fused it.
  void forward(Tensor<Scalar>& out, Index units, bool already_applied = false) {
    if (keeps_logits()) {
      logits_.resize(out.shape());
      logits_.flat() = out.flat();
    }
    if (!already_applied) apply_activation(activation_, out.data(), out.size() / units, units);
  }
  const Tensor<Scalar>* logits() const { return keeps_logits() ? &logits_ : nullptr; }

  // d(loss)/d(pre-activation) from d(loss)/d(out): d_out itself for a linear layer, else the workspace.
  const Tensor<Scalar>& backward(const Tensor<Scalar>& out, const Tensor<Scalar>& d_out, Index units) {
    if (activation_ == Activation::linear) return d_out;
    d_pre_.resize(out.shape());
    activation_backward(activation_, out.data(), d_out.data(), d_pre_.data(), out.size() / units, units);
    return d_pre_;
  }

  // Workspaces are scratch: a copied layer grows its own.
  FusedActivation(const FusedActivation& o) : activation_(o.activation_) {}
  FusedActivation& operator=(const FusedActivation& o) {
    activation_ = o.activation_;
    return *this;
  }

 private:
  Activation activation_;
  Tensor<Scalar> logits_, d_pre_;
};

}  // namespace nnlite
