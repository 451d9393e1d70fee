// nnlite/layers/fused_activation.hpp: the activation a Conv2D or Dense applies to its own output, with what both
// need around it: the pre-activation kept for a softmax/sigmoid output (the logits, so the loss can work from them)
// and for the activations whose derivative needs it (gelu, swish, mish, hard_silu, ...), and the d(pre-activation)
// workspace of backward. One copy of that logic for every layer with an `activation` option.
#pragma once

#include "../core/activation_functions.hpp"
#include "../core/tensor.hpp"

namespace nnlite {

/// The activation a Conv2D or Dense applies to its own output, with the logits and workspace it needs.
template <class Scalar>
class FusedActivation {
 public:
  /// Applies `a` (Keras' `activation` of the layer).
  explicit FusedActivation(Activation a = Activation::linear) : activation_(std::move(a)) {}

  /// The activation applied.
  const Activation& activation() const { return activation_; }
  /// Softmax and sigmoid outputs keep their logits: the loss then works from them, as Keras does on TensorFlow.
  bool keeps_logits() const {
    return activation_.kind() == Activation::softmax || activation_.kind() == Activation::sigmoid;
  }
  /// The activation a loss sees at the output: softmax or sigmoid when the logits are kept, else linear.
  Activation output_activation() const { return keeps_logits() ? activation_ : Activation::linear; }
  /// relu, linear and the other output-based activations keep nothing (no copy on the fast path).
  bool keeps_input() const { return keeps_logits() || activation_.needs_input(); }

  /// In place over `out` (rows x units, the pre-activation on entry); `already_applied` when a kernel fused it.
  void forward(Tensor<Scalar>& out, Index units, bool already_applied = false) {
    if (keeps_input()) {
      pre_.resize(out.shape());
      pre_.flat() = out.flat();
    }
    if (!already_applied) apply_activation(activation_, out.data(), out.size() / units, units);
  }
  /// The pre-activation of the last forward when keeps_logits(), else null.
  const Tensor<Scalar>* logits() const { return keeps_logits() ? &pre_ : nullptr; }

  /// d(loss)/d(pre-activation) from d(loss)/d(out): d_out itself for a linear layer, else the workspace.
  const Tensor<Scalar>& backward(const Tensor<Scalar>& out, const Tensor<Scalar>& d_out, Index units) {
    if (activation_.kind() == Activation::linear) return d_out;
    d_pre_.resize(out.shape());
    activation_backward(activation_, activation_.needs_input() ? pre_.data() : nullptr, out.data(), d_out.data(),
                        d_pre_.data(), out.size() / units, units);
    return d_pre_;
  }

  /// Workspaces are scratch: a copied layer grows its own.
  FusedActivation(const FusedActivation& o) : activation_(o.activation_) {}
  /// Copies the activation only, as the copy constructor.
  FusedActivation& operator=(const FusedActivation& o) {
    activation_ = o.activation_;
    return *this;
  }

 private:
  Activation activation_;
  Tensor<Scalar> pre_, d_pre_;  // pre_: the pre-activation of the last forward, when keeps_input()
};

}  // namespace nnlite
