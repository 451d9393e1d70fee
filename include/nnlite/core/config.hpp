// nnlite/core/config.hpp: reading Keras config dicts (a layer's, an optimizer's, a loss's) with checked accessors,
// and JSON parsing with a depth limit. A wrong type is a FormatError, an option nnlite does not implement an
// UnsupportedError; both name the source (a file), the object and its class.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "activation_functions.hpp"
#include "error.hpp"
#include "spatial.hpp"
#include "tensor.hpp"

namespace nnlite {

/// nlohmann's JSON value: Keras configs and nnlite's own files.
using json = nlohmann::json;

/// The deepest nesting parse_json() accepts.
inline constexpr int kMaxJsonDepth = 100;

/// Parses JSON with a depth limit (a hostile file could nest arrays until the stack overflows).
inline json parse_json(const std::string& text, const std::string& what) {
  try {
    return json::parse(text, [&](int depth, json::parse_event_t, json&) {
      if (depth > kMaxJsonDepth)
        throw FormatError(what + " nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
      return true;
    });
  } catch (const json::exception& e) {
    throw FormatError(what + " is not valid JSON: " + e.what());
  }
}

/// Compact JSON that never throws on invalid UTF-8 (it is replaced), for messages and files.
inline std::string dump_json(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

/// Ceilings a creator checks against before it sizes anything from a config (LoadOptions sets them).
struct ConfigLimits {
  Index max_tensor_elements = Index(1) << 28;  ///< Elements of one weight tensor, or of one sample's activations.
};

/// One Keras object's config dict: {"name": ..., "units": 10, ...} of class `cls`, read from `source`.
struct ConfigReader {
  const json& cfg;             ///< The config dict.
  std::string cls;             ///< Keras' class name ("Dense"), for messages.
  std::string name;            ///< The object's name ("dense_1"), for messages.
  std::string source;          ///< Where the config came from (a file name), for messages.
  ConfigLimits limits{};       ///< Size ceilings to check against.
  std::string kind = "layer";  ///< What the object is, for messages: "layer", "optimizer", "loss"
  /// The file was written by tf.keras 2 (its hard_sigmoid is clip(0.2 x + 0.5, 0, 1), Keras 3's relu6(x + 3) / 6).
  bool tf_keras2 = false;

  /// "model.h5: layer 'dense_1' (Dense): ", the start of every message.
  std::string prefix() const { return source + ": " + kind + " '" + name + "' (" + cls + "): "; }
  /// Throws FormatError: prefix() + what.
  [[noreturn]] void bad(const std::string& what) const { throw FormatError(prefix() + what); }
  /// Throws UnsupportedError: prefix() + what + " is not supported by nnlite".
  [[noreturn]] void unsupported(const std::string& what) const {
    throw UnsupportedError(prefix() + what + " is not supported by nnlite");
  }

  /// True when `key` is present and not null.
  bool has(const char* key) const { return cfg.contains(key) && !cfg.at(key).is_null(); }
  /// The value of `key` (json::out_of_range when absent).
  const json& at(const char* key) const { return cfg.at(key); }

  /// JSON integers, and floats that hold an integer (Keras files have both).
  static bool as_integer(const json& v, Index& out) {
    if (v.is_number_integer()) {
      if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) return false;
      out = v.get<Index>();
      return true;
    }
    if (v.is_number_float()) {
      const double d = v.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) {
        out = static_cast<Index>(d);
        return true;
      }
    }
    return false;
  }

  /// An integer in [lo, hi]; `fallback` when absent or null (FormatError when there is none).
  Index integer(const char* key, Index lo, Index hi, std::optional<Index> fallback = std::nullopt) const {
    if (!has(key)) {
      if (fallback) return *fallback;
      bad(std::string("'") + key + "' is missing");
    }
    Index v = 0;
    if (!as_integer(at(key), v) || v < lo || v > hi)
      bad(std::string("'") + key + "' must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
          "], got " + dump_json(at(key)));
    return v;
  }

  /// An int n (n, n) or a list [h, w], each in [lo, hi].
  Size2 pair(const char* key, Index hi, std::optional<Size2> fallback = std::nullopt, Index lo = 1) const {
    if (!has(key)) {
      if (fallback) return *fallback;
      bad(std::string("'") + key + "' is missing");
    }
    const json& v = at(key);
    Index h = 0, w = 0;
    bool ok = false;
    if (as_integer(v, h)) {
      w = h;
      ok = true;
    } else if (v.is_array() && v.size() == 2) {
      ok = as_integer(v[0], h) && as_integer(v[1], w);
    }
    if (!ok || h < lo || w < lo || h > hi || w > hi)
      bad(std::string("'") + key + "' must be " + (lo > 0 ? "a positive" : "a non-negative") +
          " integer or a pair of them, got " + dump_json(v));
    return Size2(h, w);
  }

  /// A string; `fallback` when absent or null.
  std::string string(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!at(key).is_string()) bad(std::string("'") + key + "' must be a string, got " + dump_json(at(key)));
    return at(key).get<std::string>();
  }
  /// A boolean; `fallback` when absent or null.
  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!at(key).is_boolean()) bad(std::string("'") + key + "' must be true or false, got " + dump_json(at(key)));
    return at(key).get<bool>();
  }
  /// A finite number; `fallback` when absent or null.
  double number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    if (!at(key).is_number()) bad(std::string("'") + key + "' must be a number, got " + dump_json(at(key)));
    const double v = at(key).get<double>();
    if (!std::isfinite(v)) bad(std::string("'") + key + "' must be finite, got " + dump_json(at(key)));
    return v;
  }
  /// A number in [lo, hi] (the message says which option and the range).
  double number_in(const char* key, double fallback, double lo, double hi) const {
    const double v = number(key, fallback);
    if (!(v >= lo && v <= hi))
      bad(std::string("'") + key + "' must be in [" + dump_json(lo) + ", " + dump_json(hi) + "], got " +
          dump_json(at(key)));
    return v;
  }

  /// "float32", or Keras 3's {"class_name": "DTypePolicy", "config": {"name": "float32"}}. Any float policy is
  /// accepted: nnlite computes in the model's Scalar.
  void check_dtype() const {
    if (!has("dtype")) return;
    const json& v = at("dtype");
    std::string d;
    if (v.is_string()) {
      d = v.get<std::string>();
    } else if (v.is_object() && v.contains("config") && v["config"].is_object() && v["config"].contains("name") &&
               v["config"]["name"].is_string()) {
      d = v["config"]["name"].get<std::string>();
    } else {
      bad("'dtype' must be a string or a DTypePolicy, got " + dump_json(v));
    }
    static const char* floats[] = {"float16", "float32", "float64", "bfloat16", "mixed_float16", "mixed_bfloat16"};
    if (std::find(std::begin(floats), std::end(floats), d) == std::end(floats)) unsupported("dtype '" + d + "'");
  }

  /// Refuses a data_format other than "channels_last" (the default).
  void check_channels_last() const {
    const std::string f = string("data_format", "channels_last");
    if (f != "channels_last") unsupported("data_format '" + f + "' (nnlite computes channels_last, NHWC)");
  }

  /// Keras' `padding`: "valid" (the default) or "same", in any case.
  Padding padding() const {
    const std::string p = to_lower(string("padding", "valid"));
    if (p == "valid") return Padding::valid;
    if (p == "same") return Padding::same;
    unsupported("padding '" + p + "'");
  }

  /// "relu", or Keras 3's serialized function {"class_name": "function", "config": "relu"}.
  Activation activation(const char* key = "activation") const {
    if (!has(key)) return Activation::linear;
    const json& v = at(key);
    std::string a;
    if (v.is_string()) {
      a = v.get<std::string>();
    } else if (v.is_object() && v.contains("config") && v["config"].is_string()) {
      a = v["config"].get<std::string>();
    } else {
      unsupported("activation " + dump_json(v));
    }
    return activation_named(a);
  }
  /// An activation by Keras name, in the file's generation's meaning.
  Activation activation_named(const std::string& a) const {
    Activation act;
    try {
      act = parse_activation(a);
    } catch (const UnsupportedError& e) {
      throw UnsupportedError(prefix() + e.what());
    }
    if (tf_keras2 && act == Activation(Activation::hard_sigmoid)) act = activations::hard_sigmoid(true);
    return act;
  }

  /// Refuses a non-null `key` (an option nnlite does not implement, such as Dropout's noise_shape).
  void require_null(const char* key) const {
    if (has(key)) unsupported(std::string("'") + key + "' = " + dump_json(at(key)));
  }

  /// Refuses a tensor of these dimensions when it is larger than limits.max_tensor_elements.
  void check_size(const std::vector<Index>& dims, const std::string& what) const {
    Index p = 1;
    bool ok = true;
    for (Index f : dims) {
      if (f < 0 || (f != 0 && p > limits.max_tensor_elements / f)) {
        ok = false;
        break;
      }
      p *= f;
    }
    if (!ok || p > limits.max_tensor_elements) {
      std::string d;
      for (Index f : dims) d += (d.empty() ? "" : ", ") + std::to_string(f);
      bad(what + " (" + d + ") is larger than the limit of " + std::to_string(limits.max_tensor_elements) +
          " elements");
    }
  }
};

/// Keras' serialized object as the registries' make_*() accept it: a bare class name (its defaults), or
/// {"class_name": ..., "config": {...}} (no or a null config: the defaults). Empty when `spec` is neither.
struct SerializedObject {
  std::string class_name;  ///< Keras' class name ("Adam").
  const json* config;      ///< The config dict (an empty object for the defaults).
};
/// Reads `spec` as a SerializedObject; nullopt when it is neither form.
inline std::optional<SerializedObject> serialized_object(const json& spec) {
  static const json empty = json::object();
  if (spec.is_string()) return SerializedObject{spec.get<std::string>(), &empty};
  if (!spec.is_object() || !spec.contains("class_name") || !spec["class_name"].is_string()) return std::nullopt;
  const json* cfg = &empty;
  if (spec.contains("config") && !spec["config"].is_null()) {
    if (!spec["config"].is_object()) return std::nullopt;
    cfg = &spec["config"];
  }
  return SerializedObject{spec["class_name"].get<std::string>(), cfg};
}

}  // namespace nnlite
