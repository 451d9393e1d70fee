// nnlite/model/fold.hpp: fold_batch_normalization(model): an inference copy of a Sequential in which every
// BatchNormalization that directly follows a Conv2D or Dense with a linear activation is merged into that layer's
// kernel and bias (the layer gains a bias if it had none), and a relu Activation/ReLU right after it is fused into
// the layer's own activation (the fast conv kernels apply it in their output pass). The result computes the same
// function as the original in inference mode, to rounding, with two passes over the activations fewer per fold.
//
// With BatchNormalization's inference map out = in * a + b per channel (a = gamma / sqrt(moving_variance + eps),
// b = beta - moving_mean * a) and the layer's z = conv(in, K) + bias:
//     K'[..., c] = K[..., c] * a[c],   bias'[c] = bias[c] * a[c] + b[c].
// The copy is for predict(): it is not compiled, and training it would train a different (BN-free) model.
#pragma once

#include <memory>
#include <vector>

#include "../layers/activation_layers.hpp"
#include "../layers/batch_normalization.hpp"
#include "../layers/conv2d.hpp"
#include "../layers/dense.hpp"
#include "sequential.hpp"

namespace nnlite {

namespace fold_detail {

/// Whether `layer` is a plain relu (Activation("relu"), or ReLU() with Keras' defaults).
template <class Scalar>
bool is_plain_relu(const Layer<Scalar>& layer) {
  const auto* a = dynamic_cast<const ActivationLayer<Scalar>*>(&layer);
  if (!a || a->activation() != Activation::relu) return false;
  if (layer.class_name() == "Activation") return true;
  const nlohmann::json c = layer.config();  // ReLU: only without max_value / negative_slope / threshold
  return layer.class_name() == "ReLU" && c.value("max_value", nlohmann::json()).is_null() &&
         c.value("negative_slope", 0.0) == 0.0 && c.value("threshold", 0.0) == 0.0;
}

}  // namespace fold_detail

/// An inference copy of `original` with each BatchNormalization after a linear Conv2D or Dense folded into it (and
/// a following relu fused), computing the same predict() to rounding (see the file comment).
template <class Scalar>
Sequential<Scalar> fold_batch_normalization(const Sequential<Scalar>& original) {
  Sequential<Scalar> src = original;  // weights() needs a built, mutable model
  src.build();
  Sequential<Scalar> out(src.input_shape(), src.name());
  out.set_seed(src.seed());
  struct Fold {
    std::size_t layer, bn;  // layer index in src, BN index in src
    std::size_t target;     // index in out
  };
  std::vector<Fold> folds;
  std::vector<std::pair<std::size_t, std::size_t>> copies;  // (src index, out index)
  for (std::size_t i = 0; i < src.size(); ++i) {
    Layer<Scalar>& l = src.layer(i);
    const bool bn_next = i + 1 < src.size() && dynamic_cast<BatchNormalization<Scalar>*>(&src.layer(i + 1));
    const bool relu_after = bn_next && i + 2 < src.size() && fold_detail::is_plain_relu(src.layer(i + 2));
    auto* conv = dynamic_cast<Conv2D<Scalar>*>(&l);
    auto* dense = dynamic_cast<Dense<Scalar>*>(&l);
    if (bn_next && ((conv && conv->activation() == Activation::linear) ||
                    (dense && dense->activation() == Activation::linear))) {
      const Activation act = relu_after ? Activation::relu : Activation::linear;
      if (conv) {
        Conv2D<Scalar> c(conv->filters(), conv->kernel_size(), act, conv->padding(), conv->strides(), true, l.name());
        c.set_kernel(conv->kernel_impl());
        out.add(std::move(c));
      } else {
        out.add(Dense<Scalar>(dense->units(), act, true, l.name()));
      }
      folds.push_back({i, i + 1, out.size() - 1});
      i += relu_after ? 2 : 1;
      continue;
    }
    out.add(l.clone());
    copies.emplace_back(i, out.size() - 1);
  }
  out.build();
  for (const auto& [s, d] : copies) {
    const auto from = src.weights(s);
    const auto to = out.weights(d);
    for (std::size_t k = 0; k < from.size(); ++k) std::copy_n(from[k].data, from[k].shape.size(), to[k].data);
  }
  for (const Fold& f : folds) {
    const auto& bn = static_cast<const BatchNormalization<Scalar>&>(src.layer(f.bn));
    const Index c = bn.channels();
    std::vector<Scalar> a(static_cast<std::size_t>(c)), b(static_cast<std::size_t>(c));
    bn.inference_affine(a.data(), b.data());
    const auto from = src.weights(f.layer);
    const auto to = out.weights(f.target);
    const Index n = from[0].shape.size();
    for (Index j = 0; j < n; ++j) to[0].data[j] = from[0].data[j] * a[static_cast<std::size_t>(j % c)];
    for (Index k = 0; k < c; ++k) {
      const Scalar bias = from.size() > 1 ? from[1].data[k] : Scalar(0);
      to[1].data[k] = bias * a[static_cast<std::size_t>(k)] + b[static_cast<std::size_t>(k)];
    }
  }
  return out;
}

}  // namespace nnlite
