// nnlite/model/check_gradients.hpp: a numerical gradient checker for any built layer (like dlib's test_layer): compares
// the layer's backward pass with central differences of a fixed random projection of its output.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/random.hpp"
#include "../layers/layer.hpp"

namespace nnlite {

/// How check_gradients() perturbs and compares: step, tolerances, which parameters to sample.
struct GradientCheckOptions {
  Mode mode = Mode::training;  ///< Passed to every forward call.
  /// Central-difference step h; 0 picks the scalar type's default: 1e-6 for double, 3e-3 for float (float rounding
  /// allows only a coarse check).
  double step = 0;
  double tolerance = 0;  ///< Largest accepted relative error; 0: 1e-6 for double, 1e-2 for float.
  double floor = 0;      ///< Relative-error floor as a fraction of the largest |a| + |n|; 0: 1e-3 double, 1e-2 float.
  std::uint64_t seed = 20240607;  ///< Fixes the projection R, sampled coordinates and any parameters we create.
  Index max_checks = 0;           ///< Coordinates compared per tensor (input, parameters), sampled; 0 compares all.
  bool check_input = true;        ///< False: backward gets d_in = nullptr, as the first layer of a model does.
  bool reseed_layer = true;       ///< layer.seed(seed) before every forward, so random layers repeat their draws.
};

/// The comparison over one tensor (the input or the flat parameter vector).
struct GradientErrors {
  double max_error = 0;  ///< Largest relative error over the compared coordinates.
  Index checked = 0;     ///< How many coordinates were compared.
  Index worst = -1;      ///< Flat index of the worst coordinate (-1 when none was compared).
  double analytic = 0;   ///< Backward's derivative at `worst`.
  double numeric = 0;    ///< The central difference at `worst`.
};

/// What check_gradients() found: the largest relative error and where it was.
struct GradientCheckResult {
  std::string layer;      ///< The layer checked: "Conv2D 'conv2d'".
  double tolerance = 0;   ///< The relative error accepted.
  GradientErrors input;   ///< The comparison over the input gradient (none compared without check_input).
  GradientErrors params;  ///< The comparison over the flat parameter vector.

  /// NaN errors fail too (the comparison is written so that NaN is never <= tolerance).
  bool ok() const { return input.max_error <= tolerance && params.max_error <= tolerance; }
  /// ok().
  explicit operator bool() const { return ok(); }

  /// One line for a test message: "Conv2D 'conv2d': OK (tolerance ...)" and each tensor's worst coordinate.
  std::string str() const {
    std::ostringstream os;
    os.precision(3);
    os << layer << ": " << (ok() ? "OK" : "FAILED") << " (tolerance " << tolerance << ")";
    describe(os, "input", input);
    describe(os, "params", params);
    return os.str();
  }

 private:
  static void describe(std::ostringstream& os, const char* what, const GradientErrors& e) {
    os << "; " << what << ": max relative error " << e.max_error << " over " << e.checked;
    if (e.worst >= 0) os << " (worst #" << e.worst << ": analytic " << e.analytic << ", numeric " << e.numeric << ")";
  }
};

namespace detail {

/// Which coordinates of an n-long tensor to compare: all, or `max_checks` of them drawn without replacement.
inline std::vector<Index> gradient_check_indices(Index n, Index max_checks, Rng& rng) {
  std::vector<Index> idx(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) idx[static_cast<std::size_t>(i)] = i;
  if (max_checks > 0 && max_checks < n) {
    for (Index i = 0; i < max_checks; ++i)  // a partial Fisher-Yates shuffle picks the first max_checks
      std::swap(idx[static_cast<std::size_t>(i)],
                idx[static_cast<std::size_t>(i + static_cast<Index>(rng.below(static_cast<std::uint64_t>(n - i))))]);
    idx.resize(static_cast<std::size_t>(max_checks));
    std::sort(idx.begin(), idx.end());
  }
  return idx;
}

inline GradientErrors compare_gradients(const std::vector<Index>& idx, const std::vector<double>& analytic,
                                        const std::vector<double>& numeric, double floor) {
  GradientErrors e;
  double scale = 0;
  for (std::size_t k = 0; k < idx.size(); ++k) scale = std::max(scale, std::abs(analytic[k]) + std::abs(numeric[k]));
  for (std::size_t k = 0; k < idx.size(); ++k) {
    const double a = analytic[k], n = numeric[k];
    const double denom = std::max({std::abs(a) + std::abs(n), floor * scale, std::numeric_limits<double>::min()});
    double err = std::abs(a - n) / denom;
    if (!std::isfinite(err)) err = std::numeric_limits<double>::infinity();
    if (e.worst < 0 || err > e.max_error) {
      e.max_error = err;
      e.worst = idx[k];
      e.analytic = a;
      e.numeric = n;
    }
  }
  e.checked = static_cast<Index>(idx.size());
  return e;
}

}  // namespace detail

/// Checks `layer` (already built for input.shape() without the batch) at `input`.
///
/// The loss is L = sum(out * R) with R a fixed uniform(-1, 1) tensor drawn from options.seed, so d(L)/d(out) = R is
/// what backward receives. Each compared coordinate x (of the input, or of the flat parameters) is moved to x + h
/// and x - h, and the numeric derivative is sum((out(x+h) - out(x-h)) * R) / ((x+h) - (x-h)): differencing the two
/// outputs before projecting leaves the many unaffected outputs exactly zero instead of cancelling two large sums,
/// and dividing by the step as actually stored keeps h's rounding out of the result.
///
/// Relative error per coordinate, with a the analytic and n the numeric derivative:
///     err = |a - n| / max(|a| + |n|, floor * S),   S = max over the tensor's compared coordinates of |a| + |n|.
/// Without the floor a coordinate whose true derivative is ~0 (terms cancelling) would compare rounding noise with
/// itself; with it (double: 1e-3), coordinates below 0.1% of the tensor's largest derivative are judged by their
/// absolute error against that 0.1% (for double, h = 1e-6, the noise is ~1e-11, so relative errors stay near 1e-7).
/// A wrong gradient is off by about its own size, far above either. 0/0 counts as 0; NaN or Inf fails the check.
///
/// If the layer has parameters but none are bound, the checker binds its own buffers (parameters drawn uniform in
/// [-0.5, 0.5) from the seed) for the duration of the call, then unbinds them again. Only trainable weights are
/// compared (a weight such as BatchNormalization's moving mean has no gradient); their coordinates are numbered
/// in param_specs() order as one flat index space. Bound parameters are perturbed
/// in place and restored bit for bit; the bound gradient buffer is overwritten by backward, as in training.
/// Random layers must draw the same numbers on every forward (Dropout with rate 0, or reseed_layer, which calls
/// layer.seed(options.seed) before each forward). Near a kink (relu at 0, max-pool ties) central differences are
/// meaningless, so keep inputs at least a few steps away from them.
template <class Scalar>
GradientCheckResult check_gradients(Layer<Scalar>& layer, const Tensor<Scalar>& input,
                                    const GradientCheckOptions& options = {}) {
  if (!layer.built()) throw Error("check_gradients: layer '" + layer.name() + "' must be built first");
  constexpr bool is_double = std::is_same_v<Scalar, double>;
  const double h = options.step > 0 ? options.step : (is_double ? 1e-6 : 3e-3);
  const double err_floor = options.floor > 0 ? options.floor : (is_double ? 1e-3 : 1e-2);

  GradientCheckResult result;
  result.layer = layer.class_name() + " '" + layer.name() + "'";
  result.tolerance = options.tolerance > 0 ? options.tolerance : (is_double ? 1e-6 : 1e-2);

  // Bind our own buffers when the layer has none, and undo that however we leave.
  const std::vector<ParamSpec> specs = layer.param_specs();
  const Index n_params = layer.param_count();
  std::vector<Scalar> own_params, own_grads;
  struct Unbind {
    Layer<Scalar>& layer;
    bool active = false;
    ~Unbind() {
      if (active) layer.unbind();
    }
  } unbind{layer};
  if (n_params > 0 && !layer.bound()) {
    Rng init(derive_seed(options.seed, 1));
    own_params.resize(static_cast<std::size_t>(n_params));
    for (Scalar& p : own_params) p = static_cast<Scalar>(init.uniform(-0.5, 0.5));
    own_grads.assign(static_cast<std::size_t>(n_params), Scalar(0));
    layer.bind(own_params.data(), own_grads.data());
    unbind.active = true;
  }
  // The compared parameters: every value of the weights the optimizer trains, in param_specs() order, as one index
  // space (non-trainable weights such as moving statistics have no gradient).
  std::vector<std::pair<std::size_t, Index>> coords;  // (weight, offset) of each trainable coordinate
  for (std::size_t k = 0; k < specs.size(); ++k)
    if (specs[k].trainable)
      for (Index j = 0; j < specs[k].shape.size(); ++j) coords.emplace_back(k, j);
  const Index n_trainable = static_cast<Index>(coords.size());

  Tensor<Scalar> x = input;  // perturbed in place, so the caller's tensor stays untouched
  Tensor<Scalar> out, out_plus, out_minus, d_in;
  auto run = [&](Tensor<Scalar>& y) {
    if (options.reseed_layer) layer.seed(options.seed);
    layer.forward(x, y, options.mode);
  };

  // Analytic derivatives first, so backward directly follows the forward pass whose state (argmax, masks) it uses.
  run(out);
  Rng rng(derive_seed(options.seed, 0));
  Tensor<Scalar> R(out.shape());
  for (Scalar& r : R) r = static_cast<Scalar>(rng.uniform(-1.0, 1.0));
  layer.backward(x, out, R, options.check_input ? &d_in : nullptr);
  std::vector<double> param_analytic;
  for (const auto& [k, j] : coords) param_analytic.push_back(static_cast<double>(layer.weight_grad(k)[j]));

  // Central difference of L with respect to buf[i].
  auto numeric = [&](Scalar* buf, Index i) {
    struct Restore {  // puts the coordinate back even if forward throws (it may be the model's parameter)
      Scalar* p;
      Scalar value;
      ~Restore() { *p = value; }
    } restore{buf + i, buf[i]};
    buf[i] = static_cast<Scalar>(restore.value + h);
    const double up = static_cast<double>(buf[i]);
    run(out_plus);
    buf[i] = static_cast<Scalar>(restore.value - h);
    const double down = static_cast<double>(buf[i]);
    run(out_minus);
    double diff = 0;
    for (Index j = 0; j < R.size(); ++j)
      diff += (static_cast<double>(out_plus[j]) - static_cast<double>(out_minus[j])) * static_cast<double>(R[j]);
    return diff / (up - down);
  };

  if (options.check_input) {
    if (d_in.shape() != x.shape())
      throw ShapeError("check_gradients: " + result.layer + " wrote an input gradient of shape " + d_in.shape().str() +
                       " for an input of shape " + x.shape().str());
    const std::vector<Index> idx = detail::gradient_check_indices(x.size(), options.max_checks, rng);
    std::vector<double> a, n;
    for (Index i : idx) {
      a.push_back(static_cast<double>(d_in[i]));
      n.push_back(numeric(x.data(), i));
    }
    result.input = detail::compare_gradients(idx, a, n, err_floor);
  }
  if (n_trainable > 0) {
    const std::vector<Index> idx = detail::gradient_check_indices(n_trainable, options.max_checks, rng);
    std::vector<double> a, n;
    for (Index i : idx) {
      const auto& [k, j] = coords[static_cast<std::size_t>(i)];
      a.push_back(param_analytic[static_cast<std::size_t>(i)]);
      n.push_back(numeric(layer.weight(k), j));
    }
    result.params = detail::compare_gradients(idx, a, n, err_floor);
  }
  return result;
}

/// The same with every option at its default but the mode (Mode::inference for layers that differ in training).
template <class Scalar>
GradientCheckResult check_gradients(Layer<Scalar>& layer, const Tensor<Scalar>& input, Mode mode) {
  GradientCheckOptions options;
  options.mode = mode;
  return check_gradients(layer, input, options);
}

}  // namespace nnlite
