// nnlite/core/activation_functions.hpp: Keras' activation functions (keras.activations, Keras 3 definitions and
// defaults) with their exact derivatives over a (rows, units) matrix, and the activation registry: Keras name (and
// aliases) -> Activation, which users extend with register_activation. Conv2D, Dense and the activation layers all
// share this arithmetic.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "error.hpp"
#include "registry.hpp"
#include "tensor.hpp"

namespace nnlite {

/// A user's own elementwise activation: f(x) and its derivative df(x, y) given the input and f's output.
struct CustomActivation {
  std::function<double(double)> f;           ///< f(x).
  std::function<double(double, double)> df;  ///< df/dx at x, given x and y = f(x).
};

/// One activation function: a kind (Activation::relu, ...) with its parameters and the name it is written as.
/// Activation::relu and friends convert implicitly, so `Dense<float>(10, Activation::softmax)` reads as before.
class Activation {
 public:
  /// The function, by its name in keras.activations; a(), b(), c() and flag() hold its parameters.
  enum Kind {
    linear,                  ///< Keras' linear: x.
    relu,                    ///< Keras' relu: max(x, 0).
    relu6,                   ///< Keras' relu6: min(max(x, 0), 6).
    leaky_relu,              ///< Keras' leaky_relu; a = negative_slope (Keras 3: 0.2).
    elu,                     ///< Keras' elu; a = alpha (1.0).
    selu,                    ///< Keras' selu.
    gelu,                    ///< Keras' gelu; flag: approximate (tanh form); Keras' default is the exact erf form.
    sigmoid,                 ///< Keras' sigmoid.
    hard_sigmoid,            ///< Keras' hard_sigmoid; flag: tf.keras 2's clip(0.2 x + 0.5, 0, 1), not relu6(x + 3) / 6.
    hard_silu,               ///< Keras' hard_silu: x * hard_sigmoid(x).
    hard_swish = hard_silu,  ///< Keras' alias of hard_silu.
    tanh,                    ///< Keras' tanh.
    softplus,                ///< Keras' softplus: log(1 + exp(x)).
    softsign,                ///< Keras' softsign: x / (1 + |x|).
    silu,                    ///< Keras' silu: x * sigmoid(x).
    swish = silu,            ///< Keras' alias of silu.
    mish,                    ///< Keras' mish: x * tanh(softplus(x)).
    exponential,             ///< Keras' exponential: exp(x).
    softmax,                 ///< Keras' softmax, over the last axis.
    log_softmax,             ///< Keras' log_softmax, over the last axis.
    relu_general,  ///< Keras' relu(x, negative_slope = a, max_value = b, threshold = c): the ReLU layer's options.
    custom,        ///< A user's CustomActivation (activations::custom).
  };

  /// A built-in activation with Keras' default parameters (implicit: Activation::relu converts).
  Activation(Kind kind = linear) : kind_(kind), name_(builtin_name(kind)) {  // NOLINT: implicit on purpose
    if (kind == leaky_relu) a_ = 0.2;
    if (kind == elu) a_ = 1.0;
    if (kind == relu_general) b_ = std::numeric_limits<double>::infinity();
    if (kind == custom) throw ArgumentError("a custom activation needs its functions (activations::custom)");
  }
  /// By Keras name or alias, through the registry: Activation("gelu"). UnsupportedError for unknown names.
  explicit Activation(const std::string& name);
  /// By Keras name or alias, like the std::string overload.
  explicit Activation(const char* name) : Activation(std::string(name)) {}

  /// Which function.
  Kind kind() const { return kind_; }
  /// The name Keras configs carry ("relu", "silu"); a registered user activation's own name.
  const std::string& name() const { return name_; }
  /// First parameter: leaky_relu's negative_slope, elu's alpha, relu_general's negative_slope.
  double a() const { return a_; }
  /// Second parameter: relu_general's max_value (infinity: none).
  double b() const { return b_; }
  /// Third parameter: relu_general's threshold.
  double c() const { return c_; }
  /// gelu's approximate; hard_sigmoid's tf.keras 2 form.
  bool flag() const { return flag_; }
  /// A custom activation's functions; null for the built-ins.
  const CustomActivation* custom_functions() const { return custom_.get(); }

  /// Whether backward needs the input x: the derivative of these cannot be recovered from the output alone.
  bool needs_input() const {
    switch (kind_) {
      case gelu:
      case hard_silu:
      case silu:
      case mish:
      case relu_general:
      case custom:
        return true;
      case leaky_relu:
      case elu:
        return a_ < 0;
      default:
        return false;
    }
  }
  /// Softmax and log_softmax couple the units of a row; every other activation is elementwise.
  bool rowwise() const { return kind_ == softmax || kind_ == log_softmax; }

  /// Same function (the name is not compared: a registered alias of a built-in is the same activation).
  friend bool operator==(const Activation& x, const Activation& y) {
    return x.kind_ == y.kind_ && x.a_ == y.a_ && x.b_ == y.b_ && x.c_ == y.c_ && x.flag_ == y.flag_ &&
           x.custom_ == y.custom_;
  }
  /// Not the same function.
  friend bool operator!=(const Activation& x, const Activation& y) { return !(x == y); }

  /// A copy written under another name (what register_activation stores).
  Activation named(std::string name) const {
    Activation copy = *this;
    copy.name_ = std::move(name);
    return copy;
  }

  /// Keras' name of a built-in kind ("relu"; "custom" for custom).
  static const char* builtin_name(Kind k) {
    switch (k) {
      case linear:
        return "linear";
      case relu:
        return "relu";
      case relu6:
        return "relu6";
      case leaky_relu:
        return "leaky_relu";
      case elu:
        return "elu";
      case selu:
        return "selu";
      case gelu:
        return "gelu";
      case sigmoid:
        return "sigmoid";
      case hard_sigmoid:
        return "hard_sigmoid";
      case hard_silu:
        return "hard_silu";
      case tanh:
        return "tanh";
      case softplus:
        return "softplus";
      case softsign:
        return "softsign";
      // tf.keras 2 knows only "swish", Keras 3 reads both: the name every Keras loads
      case silu:
        return "swish";
      case mish:
        return "mish";
      case exponential:
        return "exponential";
      case softmax:
        return "softmax";
      case log_softmax:
        return "log_softmax";
      case relu_general:
        return "relu";
      case custom:
        return "custom";
    }
    return "?";
  }

 private:
  friend struct ActivationFactory;
  Kind kind_;
  std::string name_;
  double a_ = 0, b_ = 0, c_ = 0;
  bool flag_ = false;
  std::shared_ptr<const CustomActivation> custom_;
};

/// Builds the parametrised activations (only the activations namespace below uses it).
struct ActivationFactory {
  /// An activation of kind k with parameters a, b, c and flag, written as `name`.
  static Activation make(Activation::Kind k, double a, double b, double c, bool flag, std::string name) {
    Activation act(k == Activation::custom ? Activation::linear : k);
    act.kind_ = k;
    act.a_ = a;
    act.b_ = b;
    act.c_ = c;
    act.flag_ = flag;
    act.name_ = std::move(name);
    return act;
  }
  /// A custom activation `name` computed by `fns`.
  static Activation custom(std::string name, CustomActivation fns) {
    Activation act = make(Activation::custom, 0, 0, 0, false, std::move(name));
    act.custom_ = std::make_shared<const CustomActivation>(std::move(fns));
    return act;
  }
};

/// keras.activations.leaky_relu(x, negative_slope=...) and friends, with their arguments.
namespace activations {

/// keras.activations.leaky_relu(x, negative_slope=0.2).
inline Activation leaky_relu(double negative_slope = 0.2) {
  return ActivationFactory::make(Activation::leaky_relu, negative_slope, 0, 0, false, "leaky_relu");
}
/// keras.activations.elu(x, alpha=1.0).
inline Activation elu(double alpha = 1.0) {
  return ActivationFactory::make(Activation::elu, alpha, 0, 0, false, "elu");
}
/// The tanh approximation is nnlite's "gelu_approximate" (Keras has no name for gelu(x, approximate=True)).
inline Activation gelu(bool approximate = false) {
  return ActivationFactory::make(Activation::gelu, 0, 0, 0, approximate, approximate ? "gelu_approximate" : "gelu");
}
/// Keras 3: relu6(x + 3) / 6; tf.keras 2 (tf_keras2 = true): clip(0.2 x + 0.5, 0, 1). Both are "hard_sigmoid".
inline Activation hard_sigmoid(bool tf_keras2 = false) {
  return ActivationFactory::make(Activation::hard_sigmoid, 0, 0, 0, tf_keras2, "hard_sigmoid");
}
/// keras.activations.relu(x, negative_slope, max_value, threshold); max_value = infinity for None.
inline Activation relu(double negative_slope = 0.0, double max_value = std::numeric_limits<double>::infinity(),
                       double threshold = 0.0) {
  if (negative_slope == 0.0 && threshold == 0.0 && std::isinf(max_value)) return Activation::relu;
  return ActivationFactory::make(Activation::relu_general, negative_slope, max_value, threshold, false, "relu");
}
/// A user's activation: f(x) and df(x, y) = f'(x) (y = f(x) is passed too). Register it to use it by name.
inline Activation custom(std::string name, std::function<double(double)> f, std::function<double(double, double)> df) {
  if (!f || !df) throw ArgumentError("activation '" + name + "': both the function and its derivative are needed");
  return ActivationFactory::custom(std::move(name), {std::move(f), std::move(df)});
}

}  // namespace activations

/// The registry: Keras name -> activation. Built-ins with Keras' aliases; users add theirs.
inline Registry<Activation>& activation_registry() {
  static Registry<Activation> registry = [] {
    Registry<Activation> r("activation");
    using A = Activation;
    for (A::Kind k :
         {A::linear, A::relu, A::relu6, A::leaky_relu, A::elu, A::selu, A::gelu, A::sigmoid, A::hard_sigmoid, A::tanh,
          A::softplus, A::softsign, A::mish, A::exponential, A::softmax, A::log_softmax})
      r.add(A::builtin_name(k), A(k));
    r.add("swish", A(A::silu), {"silu"});
    r.add("hard_silu", A(A::hard_silu), {"hard_swish"});
    r.add("gelu_approximate", activations::gelu(true));
    return r;
  }();
  return registry;
}

/// Registers (or replaces) an activation under `name` (and aliases): Activation("name"), Dense/Conv2D activation
/// "name" and Keras configs naming it then resolve to it, and configs write it as `name`.
inline void register_activation(const std::string& name, const Activation& activation,
                                const std::vector<std::string>& aliases = {}) {
  activation_registry().add(name, activation.named(name), aliases);
}

inline Activation::Activation(const std::string& name) : Activation(activation_registry().at(name)) {}

/// "relu" -> Activation::relu ("" is linear, as Keras' activation=None). UnsupportedError lists the supported ones.
inline Activation parse_activation(const std::string& name) {
  if (name.empty()) return Activation::linear;
  return activation_registry().at(name);
}

/// The name `a` is written as: a.name().
inline std::string activation_name(const Activation& a) { return a.name(); }

/// The name a Keras config writes for `a`: refused when the name would read back as another function (a
/// leaky_relu with a slope of its own, unregistered, would come back with 0.2).
inline std::string keras_activation_name(const Activation& a) {
  // both meanings of hard_sigmoid are written so; the file's keras_version says which (checked when saving)
  if (a.kind() == Activation::hard_sigmoid && a.name() == "hard_sigmoid") return a.name();
  const Activation* known = activation_registry().find(a.name());
  if (!known || !(*known == a))
    throw UnsupportedError("activation '" + a.name() +
                           "' with non-default arguments has no Keras name; register it with register_activation");
  return a.name();
}

namespace activation_detail {

inline constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
inline constexpr double kSeluScale = 1.0507009873554804934193349852946;
inline constexpr double kSqrtHalf = 0.70710678118654752440084436210485;     // 1 / sqrt(2)
inline constexpr double kInvSqrt2Pi = 0.39894228040143267793994605993438;   // 1 / sqrt(2 pi)
inline constexpr double kSqrt2OverPi = 0.79788456080286535587989211986876;  // sqrt(2 / pi)
inline constexpr double kGeluCubic = 0.044715;

/// 1 / (1 + e^-x), written so that neither branch overflows.
template <class S>
S sigmoid(S x) {
  return x >= 0 ? S(1) / (S(1) + std::exp(-x)) : std::exp(x) / (S(1) + std::exp(x));
}
/// log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow, and exact for large |x|.
template <class S>
S softplus(S x) {
  return std::max(x, S(0)) + std::log1p(std::exp(-std::fabs(x)));
}

template <class S>
S forward(const Activation& a, S x) {
  using A = Activation;
  switch (a.kind()) {
    case A::relu6:
      return std::min(std::max(x, S(0)), S(6));
    case A::leaky_relu:
      return x > 0 ? x : S(a.a()) * x;
    case A::elu:
      return x > 0 ? x : S(a.a()) * std::expm1(x);
    case A::selu:
      return S(kSeluScale) * (x > 0 ? x : S(kSeluAlpha) * std::expm1(x));
    case A::gelu:
      if (a.flag()) {  // 0.5 x (1 + tanh(u)) = x sigmoid(2u), stable for either sign
        const S u = S(kSqrt2OverPi) * (x + S(kGeluCubic) * x * x * x);
        return x * sigmoid(S(2) * u);
      }
      return S(0.5) * x * std::erfc(-x * S(kSqrtHalf));  // erfc keeps the tail for x << 0
    case A::sigmoid:
      return sigmoid(x);
    case A::hard_sigmoid:
      if (a.flag()) return std::min(std::max(S(0.2) * x + S(0.5), S(0)), S(1));
      return std::min(std::max(x + S(3), S(0)), S(6)) / S(6);
    case A::hard_silu:
      return x * (std::min(std::max(x + S(3), S(0)), S(6)) / S(6));
    case A::tanh:
      return std::tanh(x);
    case A::softplus:
      return softplus(x);
    case A::softsign:
      return x / (S(1) + std::fabs(x));
    case A::silu:
      return x * sigmoid(x);
    case A::mish:
      return x * std::tanh(softplus(x));
    case A::exponential:
      return std::exp(x);
    case A::relu_general: {  // Keras' relu(): values above the threshold clipped at max_value, slope below
      if (x > S(a.c())) return std::min(x, static_cast<S>(a.b()));
      return S(a.a()) * (x - S(a.c()));
    }
    case A::custom:
      return static_cast<S>(a.custom_functions()->f(static_cast<double>(x)));
    default:
      return x;
  }
}

/// dy/dx at input x (output y).
template <class S>
S derivative(const Activation& a, S x, S y) {
  using A = Activation;
  switch (a.kind()) {
    case A::relu6:
      return y > 0 && y < 6 ? S(1) : S(0);
    case A::leaky_relu:
      if (a.needs_input()) return x > 0 ? S(1) : S(a.a());
      return y > 0 ? S(1) : S(a.a());
    case A::elu:
      if (a.needs_input()) return x > 0 ? S(1) : S(a.a()) * std::exp(x);
      return y > 0 ? S(1) : y + S(a.a());  // alpha e^x = y + alpha
    case A::selu:
      return y > 0 ? S(kSeluScale) : y + S(kSeluScale * kSeluAlpha);
    case A::gelu: {
      if (a.flag()) {
        const S u = S(kSqrt2OverPi) * (x + S(kGeluCubic) * x * x * x);
        const S s = sigmoid(S(2) * u), ds = s * (S(1) - s);
        if (ds == 0) return s;  // saturated: keeps x^3 * 0 from becoming NaN when x^3 overflows
        return s + x * ds * S(2) * S(kSqrt2OverPi) * (S(1) + S(3 * kGeluCubic) * x * x);
      }
      // Phi(x) + x phi(x)
      return S(0.5) * std::erfc(-x * S(kSqrtHalf)) + x * S(kInvSqrt2Pi) * std::exp(S(-0.5) * x * x);
    }
    case A::sigmoid:
      return y * (S(1) - y);
    case A::hard_sigmoid:
      return y > 0 && y < 1 ? S(a.flag() ? 0.2 : 1.0 / 6.0) : S(0);
    case A::hard_silu:
      return x < -3 ? S(0) : x > 3 ? S(1) : (S(2) * x + S(3)) / S(6);
    case A::tanh:
      return S(1) - y * y;
    case A::softplus:
      return -std::expm1(-y);  // sigmoid(x) = 1 - e^-softplus(x)
    case A::softsign: {
      const S t = S(1) - std::fabs(y);  // 1 / (1 + |x|)
      return t * t;
    }
    case A::silu: {
      const S s = sigmoid(x);
      return s * (S(1) + x * (S(1) - s));
    }
    case A::mish: {
      const S t = std::tanh(softplus(x));
      return t + x * (S(1) - t * t) * sigmoid(x);
    }
    case A::exponential:
      return y;
    case A::relu_general:
      if (x > S(a.c())) return x < static_cast<S>(a.b()) ? S(1) : S(0);
      return S(a.a());
    case A::custom:
      return static_cast<S>(a.custom_functions()->df(static_cast<double>(x), static_cast<double>(y)));
    default:
      return S(1);
  }
}

}  // namespace activation_detail

/// In place over rows of a row-major (rows x units) block: softmax normalises each row (the last axis, as Keras).
template <class Scalar>
void apply_activation(const Activation& a, Scalar* data, Index rows, Index units) {
  MatrixMap<Scalar> m(data, rows, units);
  switch (a.kind()) {
    case Activation::linear: return;
    case Activation::relu:
      m = m.cwiseMax(Scalar(0));
      return;
    case Activation::sigmoid:
      m = m.unaryExpr([](Scalar x) { return activation_detail::sigmoid(x); });
      return;
    case Activation::softmax:
      for (Index r = 0; r < rows; ++r) {
        auto row = m.row(r);
        row.array() = (row.array() - row.maxCoeff()).exp();  // shifting by the max keeps exp() finite
        row /= row.sum();
      }
      return;
    case Activation::log_softmax:
      for (Index r = 0; r < rows; ++r) {
        auto row = m.row(r);
        row.array() -= row.maxCoeff();
        row.array() -= std::log(row.array().exp().sum());
      }
      return;
    default: {
      const Activation& act = a;
      m = m.unaryExpr([&act](Scalar x) { return activation_detail::forward(act, x); });
      return;
    }
  }
}

/// d(pre-activation) from d(output), the output itself and, when a.needs_input(), the input (all (rows x units));
/// `in` may be null otherwise. d_pre may alias d_out.
template <class Scalar>
void activation_backward(const Activation& a, const Scalar* in, const Scalar* out, const Scalar* d_out, Scalar* d_pre,
                         Index rows, Index units) {
  ConstMatrixMap<Scalar> y(out, rows, units);
  ConstMatrixMap<Scalar> dy(d_out, rows, units);
  MatrixMap<Scalar> dz(d_pre, rows, units);
  switch (a.kind()) {
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
    case Activation::log_softmax:  // dz = dy - softmax(x) * sum(dy), softmax(x) = e^y
      for (Index r = 0; r < rows; ++r) {
        const Scalar sum = dy.row(r).sum();
        dz.row(r) = (dy.row(r).array() - y.row(r).array().exp() * sum).matrix();
      }
      return;
    default:
      break;
  }
  if (a.needs_input() && !in) throw Error("activation '" + a.name() + "': backward needs the input (internal error)");
  const Index n = rows * units;
  for (Index i = 0; i < n; ++i) d_pre[i] = d_out[i] * activation_detail::derivative(a, in ? in[i] : Scalar(0), out[i]);
}

/// The former signature (output-based activations only).
template <class Scalar>
void activation_backward(const Activation& a, const Scalar* out, const Scalar* d_out, Scalar* d_pre, Index rows,
                         Index units) {
  activation_backward(a, static_cast<const Scalar*>(nullptr), out, d_out, d_pre, rows, units);
}

}  // namespace nnlite
