// nnlite/core/activation_functions.hpp: the activations a Conv2D or Dense can apply to its output, as Keras names them,
// with their forward and backward passes over a (rows, units) matrix.
#pragma once

#include <cmath>
#include <string>

#include "error.hpp"
#include "tensor.hpp"

namespace nnlite {

enum class Activation { linear, relu, sigmoid, softmax };

inline std::string activation_name(Activation a) {
  switch (a) {
    case Activation::linear: return "linear";
    case Activation::relu: return "relu";
    case Activation::sigmoid: return "sigmoid";
    case Activation::softmax: return "softmax";
  }
  return "?";
}

inline Activation parse_activation(const std::string& name) {
  if (name == "linear" || name.empty()) return Activation::linear;
  if (name == "relu") return Activation::relu;
  if (name == "sigmoid") return Activation::sigmoid;
  if (name == "softmax") return Activation::softmax;
  throw UnsupportedError("activation '" + name + "' is not supported by nnlite (supported: linear, relu, sigmoid, softmax)");
}

// In place over rows of a row-major (rows x units) block: softmax normalises each row (the last axis, as Keras).
template <class Scalar>
void apply_activation(Activation a, Scalar* data, Index rows, Index units) {
  MatrixMap<Scalar> m(data, rows, units);
  switch (a) {
    case Activation::linear: return;
    case Activation::relu: m = m.cwiseMax(Scalar(0)); return;
    // 1 / (1 + e^-x), written so that neither branch overflows
    case Activation::sigmoid:
      m = m.unaryExpr([](Scalar x) {
        return x >= 0 ? Scalar(1) / (Scalar(1) + std::exp(-x)) : std::exp(x) / (Scalar(1) + std::exp(x));
      });
      return;
    case Activation::softmax:
      for (Index r = 0; r < rows; ++r) {
        auto row = m.row(r);
        row.array() = (row.array() - row.maxCoeff()).exp();  // shifting by the max keeps exp() finite
        row /= row.sum();
      }
      return;
  }
}

// d(pre-activation) from d(output) and the output itself (all three (rows x units)); d_pre may alias d_out.
template <class Scalar>
void activation_backward(Activation a, const Scalar* out, const Scalar* d_out, Scalar* d_pre, Index rows,
                         Index units) {
  ConstMatrixMap<Scalar> y(out, rows, units);
  ConstMatrixMap<Scalar> dy(d_out, rows, units);
  MatrixMap<Scalar> dz(d_pre, rows, units);
  switch (a) {
    case Activation::linear:
      if (d_pre != d_out) dz = dy;
      return;
    case Activation::relu: dz = (y.array() > Scalar(0)).select(dy, Scalar(0)); return;
    case Activation::sigmoid: dz = (dy.array() * y.array() * (Scalar(1) - y.array())).matrix(); return;
    case Activation::softmax:
      for (Index r = 0; r < rows; ++r) {
        const Scalar dot = y.row(r).dot(dy.row(r));
        dz.row(r) = (y.row(r).array() * (dy.row(r).array() - dot)).matrix();
      }
      return;
  }
}

}  // namespace nnlite
