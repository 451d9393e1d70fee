// nnlite/core/regularizers.hpp: Keras' weight regularizers (L1, L2, L1L2): a penalty on one weight tensor that the
// model adds to its loss (and its derivative to the weight's gradient), their Keras configs both ways, and the
// regularizer registry (Keras class name -> creator from config), which users extend with their own.
#pragma once

#include <cmath>
#include <functional>
#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "config.hpp"
#include "error.hpp"
#include "registry.hpp"
#include "tensor.hpp"

namespace nnlite {

/// Keras' Regularizer: a penalty on one weight tensor, summed into the loss the model optimizes (Keras' layer.losses).
/// Regularizers are immutable: layers and their copies share one through RegularizerPtr. A user regularizer derives
/// from RegularizerBase (one template pair instead of the four overloads) and is registered with register_regularizer
/// so that files naming it load.
class Regularizer {
 public:
  virtual ~Regularizer() = default;
  /// Keras' class name ("L2"): what its serialized form's "class_name" holds.
  virtual std::string class_name() const = 0;
  /// Keras' get_config(): {"l2": 0.01}.
  virtual nlohmann::json config() const = 0;
  /// Keras' registered_name of a custom object ("MyPackage>MyRegularizer"); empty (null in files) for Keras' own.
  virtual std::string registered_name() const { return ""; }
  /// The penalty of the n values at w (Keras' regularizer(x)).
  virtual double penalty(const float* w, Index n) const = 0;
  /// The penalty of the n double values at w.
  virtual double penalty(const double* w, Index n) const = 0;
  /// Adds d(penalty)/d(w) to grad (n values each).
  virtual void add_gradient(const float* w, float* grad, Index n) const = 0;
  /// Adds d(penalty)/d(w) to grad, for double weights.
  virtual void add_gradient(const double* w, double* grad, Index n) const = 0;
};

/// Layers hold their regularizers shared and const (a layer's clone shares them; null: none).
using RegularizerPtr = std::shared_ptr<const Regularizer>;

/// Implements Regularizer's float and double overloads from Derived's templates
/// `template <class S> double value(const S* w, Index n) const` and
/// `template <class S> void gradient(const S* w, S* grad, Index n) const` (adds to grad).
template <class Derived>
class RegularizerBase : public Regularizer {
 public:
  /// Derived::value() on float weights.
  double penalty(const float* w, Index n) const override { return self().value(w, n); }
  /// Derived::value() on double weights.
  double penalty(const double* w, Index n) const override { return self().value(w, n); }
  /// Derived::gradient() on float weights.
  void add_gradient(const float* w, float* grad, Index n) const override { self().gradient(w, grad, n); }
  /// Derived::gradient() on double weights.
  void add_gradient(const double* w, double* grad, Index n) const override { self().gradient(w, grad, n); }

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
};

namespace regularizer_detail {

/// Keras' validate_float_arg: a finite, non-negative factor.
inline double check_factor(const std::string& cls, const char* arg, double v) {
  if (!std::isfinite(v) || v < 0) {
    std::ostringstream os;
    os << v;
    throw ArgumentError(cls + ": invalid value for argument " + arg + ": expected a non-negative float, received " +
                        arg + "=" + os.str());
  }
  return v;
}

/// A config's factor: a non-negative number, `fallback` when absent or null (Keras turns None into its default).
inline double read_factor(const ConfigReader& c, const char* key, double fallback) {
  const double v = c.number(key, fallback);
  if (v < 0)
    c.bad(std::string("invalid value for argument ") + key + ": expected a non-negative float, received " +
          dump_json(c.at(key)));
  return v;
}

/// Keras builds a regularizer with cls(**config): any other key is an unexpected keyword argument.
inline void check_keys(const ConfigReader& c, std::initializer_list<const char*> allowed) {
  for (auto it = c.cfg.begin(); it != c.cfg.end(); ++it) {
    bool known = false;
    for (const char* a : allowed) known = known || it.key() == a;
    if (!known) c.bad("unexpected keyword argument '" + it.key() + "'");
  }
}

}  // namespace regularizer_detail

/// Keras' L1L2: l1 * sum(|x|) + l2 * sum(x^2) (each term only when its factor is not 0). Defaults l1 = l2 = 0, as in
/// Keras 3 (tf.keras 2's l1_l2() function defaulted both to 0.01).
class L1L2 : public RegularizerBase<L1L2> {
 public:
  /// Keras' L1L2(l1=0.0, l2=0.0); ArgumentError for a negative or non-finite factor.
  explicit L1L2(double l1 = 0.0, double l2 = 0.0)
      : l1_(regularizer_detail::check_factor("L1L2", "l1", l1)),
        l2_(regularizer_detail::check_factor("L1L2", "l2", l2)) {}

  std::string class_name() const override { return "L1L2"; }
  nlohmann::json config() const override { return {{"l1", l1_}, {"l2", l2_}}; }
  /// Keras' `l1` factor.
  double l1() const { return l1_; }
  /// Keras' `l2` factor.
  double l2() const { return l2_; }

  /// The penalty of the n values at w (RegularizerBase calls it for float and double).
  template <class S>
  double value(const S* w, Index n) const {
    ConstVectorMap<S> x(w, n);
    double p = 0;
    if (l1_ != 0) p += l1_ * static_cast<double>(x.cwiseAbs().sum());
    if (l2_ != 0) p += l2_ * static_cast<double>(x.squaredNorm());
    return p;
  }
  /// d/dx of l1 |x| is l1 sign(x), 0 at x = 0 (TensorFlow's gradient of abs); of l2 x^2 it is 2 l2 x.
  template <class S>
  void gradient(const S* w, S* grad, Index n) const {
    ConstVectorMap<S> x(w, n);
    VectorMap<S> g(grad, n);
    if (l1_ != 0) g.array() += static_cast<S>(l1_) * x.array().sign();
    if (l2_ != 0) g.array() += static_cast<S>(2 * l2_) * x.array();
  }

  /// Keras' from_config: builds an L1L2 from {"l1": ..., "l2": ...}.
  static RegularizerPtr from_config(const ConfigReader& c) {
    regularizer_detail::check_keys(c, {"l1", "l2"});
    return std::make_shared<L1L2>(regularizer_detail::read_factor(c, "l1", 0.0),
                                  regularizer_detail::read_factor(c, "l2", 0.0));
  }

 protected:
  /// For L1 and L2: `cls` names the class in error messages.
  L1L2(double l1, double l2, const char* cls)
      : l1_(regularizer_detail::check_factor(cls, "l1", l1)), l2_(regularizer_detail::check_factor(cls, "l2", l2)) {}

 private:
  double l1_, l2_;
};

/// Keras' L1: l1 * sum(|x|), default l1 = 0.01.
class L1 : public L1L2 {
 public:
  /// Keras' L1(l1=0.01).
  explicit L1(double l1 = 0.01) : L1L2(l1, 0.0, "L1") {}
  std::string class_name() const override { return "L1"; }
  nlohmann::json config() const override { return {{"l1", l1()}}; }
  /// Keras' from_config: builds an L1 from {"l1": ...}.
  static RegularizerPtr from_config(const ConfigReader& c) {
    regularizer_detail::check_keys(c, {"l1"});
    return std::make_shared<L1>(regularizer_detail::read_factor(c, "l1", 0.01));
  }
};

/// Keras' L2: l2 * sum(x^2) (no 1/2), default l2 = 0.01.
class L2 : public L1L2 {
 public:
  /// Keras' L2(l2=0.01).
  explicit L2(double l2 = 0.01) : L1L2(0.0, l2, "L2") {}
  std::string class_name() const override { return "L2"; }
  nlohmann::json config() const override { return {{"l2", l2()}}; }
  /// Keras' from_config: builds an L2 from {"l2": ...}.
  static RegularizerPtr from_config(const ConfigReader& c) {
    regularizer_detail::check_keys(c, {"l2"});
    return std::make_shared<L2>(regularizer_detail::read_factor(c, "l2", 0.01));
  }
};

/// Keras' lower-case shortcuts: keras.regularizers.l1(0.01), l2(0.01), l1_l2(l1, l2) (the L1L2 class in Keras 3).
namespace regularizers {
/// keras.regularizers.l1(l1=0.01): an L1.
inline RegularizerPtr l1(double l1 = 0.01) { return std::make_shared<L1>(l1); }
/// keras.regularizers.l2(l2=0.01): an L2.
inline RegularizerPtr l2(double l2 = 0.01) { return std::make_shared<L2>(l2); }
/// keras.regularizers.l1_l2(l1=0.0, l2=0.0): an L1L2.
inline RegularizerPtr l1_l2(double l1 = 0.0, double l2 = 0.0) { return std::make_shared<L1L2>(l1, l2); }
}  // namespace regularizers

/// Builds a regularizer from its config dict (ConfigReader::cfg, an object; empty for the defaults). Throws
/// FormatError / ArgumentError on a bad value.
using RegularizerCreator = std::function<RegularizerPtr(const ConfigReader&)>;

/// The regularizer registry: Keras class name -> creator. Aliases are the identifiers Keras 3's
/// keras.regularizers.get() takes as strings: the class name in snake case ("l1", "l2", "l1l2").
inline Registry<RegularizerCreator>& regularizer_registry() {
  static Registry<RegularizerCreator> registry = [] {
    Registry<RegularizerCreator> r("regularizer");
    r.add("L1", &L1::from_config, {"l1"});
    r.add("L2", &L2::from_config, {"l2"});
    r.add("L1L2", &L1L2::from_config, {"l1l2"});
    return r;
  }();
  return registry;
}

/// Registers (or replaces) a regularizer class, so that configs naming it (by class_name or registered_name) load.
inline void register_regularizer(const std::string& class_name, RegularizerCreator creator,
                                 const std::vector<std::string>& aliases = {}) {
  regularizer_registry().add(class_name, std::move(creator), aliases);
}

/// A regularizer from what a Keras config holds: null (none), an identifier string ("l2", "L1L2": the defaults),
/// Keras 3's {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.01}, "registered_name": null}
/// or tf.keras 2's {"class_name": "L2", "config": {...}}. Messages start with `source` and name the regularizer as
/// `name` (a layer's "kernel_regularizer"); an unknown class is an UnsupportedError naming it.
inline RegularizerPtr make_regularizer(const nlohmann::json& v, const std::string& source = "make_regularizer",
                                       const std::string& name = "regularizer") {
  if (v.is_null()) return nullptr;
  const std::string where = source + ": '" + name + "': ";
  std::string cls;
  static const nlohmann::json empty = nlohmann::json::object();
  const nlohmann::json* cfg = &empty;
  if (v.is_string()) {
    cls = v.get<std::string>();
  } else if (v.is_object() && v.contains("class_name") && v["class_name"].is_string()) {
    cls = v["class_name"].get<std::string>();
    // A custom object is looked up by its registered_name ("package>Name") first, as Keras does.
    if (v.contains("registered_name") && v["registered_name"].is_string() &&
        regularizer_registry().contains(v["registered_name"].get<std::string>()))
      cls = v["registered_name"].get<std::string>();
    if (v.contains("config") && !v["config"].is_null()) {
      if (!v["config"].is_object())
        throw FormatError(where + "a regularizer's 'config' must be a dict, got " + dump_json(v["config"]));
      cfg = &v["config"];
    }
  } else {
    throw FormatError(where + "could not interpret regularizer identifier: " + dump_json(v));
  }
  const RegularizerCreator& create = regularizer_registry().at(cls, where);
  ConfigReader reader{*cfg, cls, name, source};
  reader.kind = "regularizer";
  try {
    RegularizerPtr r = create(reader);
    if (!r) throw FormatError(where + "the creator of regularizer '" + cls + "' returned null");
    return r;
  } catch (const ArgumentError& e) {
    throw FormatError(where + e.what());
  }
}

/// Keras 3's serialized form of a regularizer (null for none): {"module": "keras.regularizers", "class_name": "L2",
/// "config": {"l2": 0.01}, "registered_name": null}; a custom one carries its registered_name and a null module.
inline nlohmann::json regularizer_config(const Regularizer* r) {
  if (!r) return nullptr;
  const std::string registered = r->registered_name();
  return {{"module", registered.empty() ? nlohmann::json("keras.regularizers") : nlohmann::json(nullptr)},
          {"class_name", r->class_name()},
          {"config", r->config()},
          {"registered_name", registered.empty() ? nlohmann::json(nullptr) : nlohmann::json(registered)}};
}

/// A layer config's regularizer entry (`key`, e.g. "kernel_regularizer"); null when absent or null.
inline RegularizerPtr read_regularizer(const ConfigReader& c, const char* key) {
  if (!c.has(key)) return nullptr;
  return make_regularizer(c.at(key), c.source + ": " + c.kind + " '" + c.name + "' (" + c.cls + ")", key);
}

}  // namespace nnlite
