// nnlite/io/keras_config.hpp: Keras' JSON configs, both ways, without any container: a Sequential model as
// model_config (and back, through the layer registry), the compiled state as training_config (optimizer, loss and
// metrics, and back through their registries, skipping with a LoadWarning what nnlite cannot honour). The .h5
// (keras_h5.hpp) and .keras containers both store these.
#pragma once

#include <cctype>
#include <cstdint>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../layers/registry.hpp"
#include "../model/losses.hpp"
#include "../model/metrics.hpp"
#include "../model/sequential.hpp"
#include "../optim/registry.hpp"

namespace nnlite {

/// How save_model() writes a Keras file: the keras_version it claims, optimizer state or not.
struct SaveOptions {
  /// training_config (loss, metrics, optimizer_config) when the model is compiled, like Keras' include_optimizer.
  bool include_optimizer = true;
  /// Also /optimizer_weights: the optimizer's step count and state (Adam's m and v) under tf.keras 2.x names, so a
  /// run can resume exactly. Keras may not restore them (it then warns and starts a fresh optimizer).
  bool include_optimizer_state = false;
  /// The Keras version the file says wrote it; the layout and configs are those of tf.keras 2.11.
  std::string keras_version = "2.11.0";
  /// What a .keras file's metadata.json says wrote it; its layout is Keras 3.4.1's (io/keras_zip.hpp).
  std::string keras3_version = "3.4.1";
};

/// Which hard_sigmoid a file's "hard_sigmoid" means: tf.keras 2's clip(0.2 x + 0.5, 0, 1) or Keras 3's
/// relu6(x + 3) / 6. By default the file's keras_version decides (2.x: tf.keras 2; 3.x or none, as in .keras: Keras 3).
enum class HardSigmoidForm {
  from_keras_version,  ///< Decided by the file's keras_version.
  keras3,              ///< Keras 3's relu6(x + 3) / 6.
  tf_keras2,           ///< tf.keras 2's clip(0.2 x + 0.5, 0, 1).
};

/// One part of a file's training config that load_model() could not honour and skipped: a warning, as Keras warns,
/// never an error, so the model still loads for inference.
struct LoadWarning {
  /// What was skipped: "loss", "metric", "optimizer", "optimizer state" or "training_config" (all of it).
  std::string item;
  /// Its name as the file gives it: "focal_loss", "f1_score", "Lion" (a metric's logs name when it has one).
  std::string name;
  /// The whole warning: the file, what was skipped and why, and what the model got instead.
  std::string message;
};

/// How load_model() reads a Keras file: limits, isolation in a child process, compile or not.
struct LoadOptions {
  /// Compile with training_config's optimizer, loss and metrics (Adam defaults, categorical_crossentropy and
  /// accuracy when there is no training_config). What nnlite lacks or refuses is skipped with a LoadWarning: an
  /// unknown optimizer (or option) compiles with Adam's defaults, an unknown metric is left out, an unknown loss
  /// leaves the model uncompiled; none of them stops the model from loading.
  bool compile = true;
  /// Receives every LoadWarning, in order; unset, each is printed to std::cerr as "WARNING: <message>".
  std::function<void(const LoadWarning&)> on_warning;
  /// Restore /optimizer_weights into the optimizer when present and laid out as tf.keras 2.x or Keras 3 write it;
  /// an unrecognised layout leaves a fresh optimizer (Keras warns and does the same).
  bool load_optimizer_state = true;
  /// Ceilings against hostile files, all checked before anything of that size is allocated.
  std::uint64_t max_attribute_bytes = std::uint64_t(64) << 20;  // one attribute (model_config JSON, name lists)
  std::size_t max_layers = 10000;                               ///< Layers in the model.
  Index max_tensor_elements = Index(1) << 28;  ///< Elements of one weight tensor, or of one sample's activations.
  Index max_total_params = Index(1) << 29;     ///< All weights of the model.
  /// Read the whole file first in a forked child process, then load it here only if the child succeeded. The HDF5
  /// C library (Debian 12's 1.10.8) can crash on some corrupt files before nnlite sees anything; isolated, such a
  /// crash kills the child and becomes a FormatError naming the file and the signal, and every other error is
  /// rethrown as the same type and message. Costs a fork and a second read; use it for .h5 files from sources you
  /// do not trust (the file must not change between the two reads). POSIX only: UnsupportedError elsewhere.
  bool isolate = false;
  /// Which function the file's "hard_sigmoid" means.
  HardSigmoidForm hard_sigmoid = HardSigmoidForm::from_keras_version;
};

namespace keras_detail {

template <class Scalar>
std::string dtype_name() {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "Keras files hold float or double models");
  return std::is_same_v<Scalar, float> ? "float32" : "float64";
}

/// a * b * ... <= cap without overflowing on the way.
inline bool product_within(const std::vector<Index>& factors, Index cap) {
  Index p = 1;
  for (Index f : factors) {
    if (f < 0) return false;
    if (f != 0 && p > cap / f) return false;
    p *= f;
  }
  return p <= cap;
}

/// [null, 28, 28, 1] (a batch_input_shape) -> (28, 28, 1).
inline Shape shape_from_batch_shape(const json& v, const std::string& what, const LoadOptions& o) {
  if (!v.is_array() || v.size() < 2 || v.size() > 8)
    throw FormatError(what + " must be a list [batch, dims...], got " + dump_json(v));
  std::vector<Index> dims;
  for (std::size_t i = 1; i < v.size(); ++i) {
    Index d = 0;
    if (v[i].is_null())
      throw UnsupportedError(what + " " + dump_json(v) + " has an unknown dimension; nnlite needs fixed input shapes");
    if (!ConfigReader::as_integer(v[i], d) || d < 1)
      throw FormatError(what + " must hold positive dimensions, got " + dump_json(v));
    dims.push_back(d);
  }
  if (!product_within(dims, o.max_tensor_elements))
    throw FormatError(what + " " + dump_json(v) + " is larger than the limit of " +
                      std::to_string(o.max_tensor_elements) + " elements per sample");
  return Shape(dims);
}

inline const json* input_shape_key(const json& cfg) {
  for (const char* key : {"batch_input_shape", "batch_shape"})
    if (cfg.is_object() && cfg.contains(key) && !cfg[key].is_null()) return &cfg[key];
  return nullptr;
}

/// "2.11.0" -> 2 (0 when there is no leading number).
inline int keras_major_version(const std::string& v) {
  int major = 0;
  for (char ch : v) {
    if (ch < '0' || ch > '9' || major > 1000) break;
    major = major * 10 + (ch - '0');
  }
  return major;
}

/// A file whose keras_version is 2.x means tf.keras 2's hard_sigmoid; refuse to write the other one under that name.
template <class Scalar>
void check_hard_sigmoid(const Layer<Scalar>& layer, const std::string& keras_version) {
  const Activation* a = nullptr;
  if (const auto* l = dynamic_cast<const ActivationLayer<Scalar>*>(&layer)) a = &l->activation();
  if (const auto* l = dynamic_cast<const Dense<Scalar>*>(&layer)) a = &l->activation();
  if (const auto* l = dynamic_cast<const Conv2D<Scalar>*>(&layer)) a = &l->activation();
  if (!a || a->kind() != Activation::hard_sigmoid) return;
  const bool file_tf2 = keras_major_version(keras_version) < 3;
  if (a->flag() != file_tf2)
    throw UnsupportedError(layer.class_name() + " layer '" + layer.name() + "': its hard_sigmoid is " +
                           (a->flag() ? "tf.keras 2's clip(0.2 x + 0.5, 0, 1)" : "Keras 3's relu6(x + 3) / 6") +
                           ", but a file of keras_version " + keras_version + " reads \"hard_sigmoid\" as " +
                           (file_tf2 ? "tf.keras 2's" : "Keras 3's") + "; set SaveOptions::keras_version to " +
                           (a->flag() ? "\"2.11.0\"" : "a 3.x version"));
}

/// A layer's Keras entry: its config() with the model's dtype, minus "groups": 1 (the default everywhere, and an
/// argument tf.keras < 2.3 rejects).
template <class Scalar>
json layer_entry(const Layer<Scalar>& layer) {
  json c = layer.config();
  c["name"] = layer.name();
  c["dtype"] = dtype_name<Scalar>();
  if (c.contains("groups") && c["groups"] == 1) c.erase("groups");
  return {{"class_name", layer.class_name()}, {"config", c}};
}

template <class Scalar>
json optimizer_entry(const Optimizer<Scalar>& opt) {
  return {{"class_name", opt.class_name()}, {"config", opt.config()}};
}

}  // namespace keras_detail

/// The compiled state as Keras' training_config: loss, metrics and the serialized optimizer.
template <class Scalar>
json keras_training_config(const Sequential<Scalar>& model) {
  const Loss<Scalar>& loss = model.loss();
  // A loss with its defaults is stored by name, as Keras stores compile(loss="..."); otherwise as an object.
  const json default_config = make_loss<Scalar>(json(loss.name()))->config();
  json loss_json = loss.config() == default_config
                       ? json(loss.name())
                       : json{{"class_name", loss.class_name()}, {"config", loss.config()}};
  return {{"loss", loss_json},
          {"metrics", model.metric_names()},
          {"weighted_metrics", nullptr},
          {"loss_weights", nullptr},
          {"optimizer_config", keras_detail::optimizer_entry(model.optimizer())}};
}

/// training_config's optimizer (Adam with Keras' defaults when there is none).
template <class Scalar>
std::unique_ptr<Optimizer<Scalar>> optimizer_from_training_config(const json& training_config,
                                                                  const std::string& source) {
  if (!training_config.is_object() || !training_config.contains("optimizer_config") ||
      training_config["optimizer_config"].is_null())
    return std::make_unique<Adam<Scalar>>();
  return make_optimizer<Scalar>(training_config["optimizer_config"], source + ": training_config optimizer_config");
}

/// training_config's loss (categorical_crossentropy when there is none), by name or serialized object, through the
/// loss registry. A sparse loss stays sparse: such a model is evaluated on integer labels, as in Keras.
template <class Scalar>
std::unique_ptr<Loss<Scalar>> loss_from_training_config(const json& training_config, const std::string& source) {
  if (!training_config.is_object() || !training_config.contains("loss") || training_config["loss"].is_null())
    return std::make_unique<CategoricalCrossentropy<Scalar>>();
  return make_loss<Scalar>(training_config["loss"], source + ": training_config ");
}

namespace keras_detail {

/// Passes a warning to options.on_warning, or prints it to std::cerr.
inline void warn(const LoadOptions& o, std::string item, std::string name, std::string message) {
  const LoadWarning w{std::move(item), std::move(name), std::move(message)};
  if (o.on_warning) return o.on_warning(w);
  std::cerr << "WARNING: " << w.message << '\n';
}

/// The name a serialized object goes by in messages: a string itself, else its config's name, else its class_name.
inline std::string object_name(const json& spec) {
  if (spec.is_string()) return spec.get<std::string>();
  if (spec.is_object()) {
    if (spec.contains("config") && spec["config"].is_object() && spec["config"].contains("name") &&
        spec["config"]["name"].is_string())
      return spec["config"]["name"].get<std::string>();
    if (spec.contains("class_name") && spec["class_name"].is_string()) return spec["class_name"].get<std::string>();
  }
  return dump_json(spec);
}

/// "TopKCategoricalAccuracy" -> "top_k_categorical_accuracy": a Keras metric class to its function name.
inline std::string snake_case(const std::string& cls) {
  std::string out;
  for (std::size_t i = 0; i < cls.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(cls[i]);
    if (std::isupper(c) && i > 0) out += '_';
    out += static_cast<char>(std::tolower(c));
  }
  return out;
}

/// training_config "metrics" as a flat list: a bare string (tf.keras 2.4), a list (per output in tf.keras 2.11:
/// [[...]]), or a dict per output name.
inline void flatten_metrics(const json& v, std::vector<json>& out) {
  if (v.is_null()) return;
  if (v.is_array()) {
    for (const auto& e : v) flatten_metrics(e, out);
  } else if (v.is_object() && !v.contains("class_name")) {
    for (const auto& e : v.items()) flatten_metrics(e.value(), out);
  } else {
    out.push_back(v);
  }
}

/// A serialized metric's options that nnlite's metric of that class implements, at the value it implements.
inline bool metric_option_ok(const std::string& key, const json& value) {
  if (key == "name" || key == "dtype" || value.is_null()) return true;
  if (key == "threshold") return value.is_number() && value.get<double>() == 0.5;
  if (key == "thresholds") return value.is_number() && value.get<double>() == 0.5;
  if (key == "k") return value.is_number() && value.get<double>() == 5;
  if (key == "num_thresholds") return value.is_number() && value.get<double>() == 200;
  if (key == "curve") return value == "ROC";
  if (key == "summation_method") return value == "interpolation";
  if (key == "multi_label" || key == "from_logits") return value == false;
  return false;
}

/// One metric of training_config as the registry name compile() takes (which is also its logs key), or an empty
/// name with `why` set when nnlite has no such metric or not with these options.
template <class Scalar>
std::string metric_name_for(const json& spec, const MetricContext& context, std::string& why) {
  const auto& reg = metric_registry<Scalar>();
  if (spec.is_string()) {
    const std::string n = spec.get<std::string>();
    if (reg.contains(n)) return n;
    why = "nnlite has no metric '" + n + "' (supported: " + reg.supported() + ")";
    return {};
  }
  if (!spec.is_object() || !spec.contains("class_name") || !spec["class_name"].is_string()) {
    why = "it is not a metric name or a serialized metric";
    return {};
  }
  const std::string cls = spec["class_name"].get<std::string>();
  const json config = spec.contains("config") && spec["config"].is_object() ? spec["config"] : json::object();
  const std::string name =
      config.contains("name") && config["name"].is_string() ? config["name"].get<std::string>() : "";
  std::string kind;
  if (cls == "MeanMetricWrapper") {  // tf.keras 2's form of compile(metrics=["accuracy"]): {name, fn}
    if (!config.contains("fn") || !config["fn"].is_string()) {
      why = "its MeanMetricWrapper config has no function name ('fn')";
      return {};
    }
    kind = config["fn"].get<std::string>();
    if (kind == "accuracy") {  // keras.metrics.accuracy, the function: exact equality, not argmax
      why = "nnlite has no exact-match accuracy (Keras' metrics.accuracy function)";
      return {};
    }
  } else if (cls == "Accuracy" && !reg.contains(cls)) {  // Keras' Accuracy class compares values, not argmaxes
    why = "nnlite has no exact-match Accuracy metric (its 'accuracy' is categorical, sparse or binary accuracy)";
    return {};
  } else {
    kind = reg.contains(cls) ? cls : snake_case(cls);
    for (const auto& [key, value] : config.items())
      if (!metric_option_ok(key, value)) {
        why = "nnlite's " + cls + " has no option " + key + " = " + dump_json(value);
        return {};
      }
  }
  if (!reg.contains(kind)) {
    why = "nnlite has no metric " + cls + (kind != cls ? " ('" + kind + "')" : "") + " (supported: " + reg.supported() +
          ")";
    return {};
  }
  // Keep the file's name (its logs key) when nnlite knows it as the same metric: "accuracy" for
  // MeanMetricWrapper(fn=sparse_categorical_accuracy) under a sparse loss.
  if (!name.empty() && reg.contains(name)) {
    const auto a = make_metric<Scalar>(name, context), b = make_metric<Scalar>(kind, context);
    if (typeid(*a) == typeid(*b)) return name;
  }
  return kind;
}

}  // namespace keras_detail

/// What compile_from_training_config() did.
struct TrainingConfigResult {
  bool compiled = false;  ///< False: the loss was skipped, so the model is not compiled.
  /// True: the file's optimizer (its saved state may be restored); false: Adam's defaults.
  bool optimizer_from_file = false;
};

/// Compiles `model` with what nnlite can honour of Keras' training_config (null: Adam defaults,
/// categorical_crossentropy and accuracy): its optimizer (else Adam's defaults), loss (else the model stays
/// uncompiled) and every metric nnlite has, in tf.keras 2 and Keras 3 forms ("accuracy", "acc", serialized metric
/// objects, MeanMetricWrapper). Whatever is skipped is reported through options.on_warning, by name and why.
template <class Scalar>
TrainingConfigResult compile_from_training_config(Sequential<Scalar>& model, const json& training_config,
                                                  const std::string& source, const LoadOptions& options) {
  TrainingConfigResult result;
  if (!training_config.is_null() && !training_config.is_object()) {
    keras_detail::warn(options, "training_config", "training_config",
                       source + ": training_config is not a JSON object, so the model is not compiled");
    return result;
  }
  std::unique_ptr<Loss<Scalar>> loss;
  try {
    loss = loss_from_training_config<Scalar>(training_config, source);
  } catch (const Error& e) {
    const std::string name = keras_detail::object_name(training_config["loss"]);
    keras_detail::warn(options, "loss", name,
                       source + ": skipped the loss '" + name + "': " + e.what() +
                           "; the model is loaded uncompiled (compile() it to train or evaluate)");
    return result;
  }
  std::unique_ptr<Optimizer<Scalar>> optimizer;
  try {
    optimizer = optimizer_from_training_config<Scalar>(training_config, source);
    result.optimizer_from_file = training_config.is_object() && training_config.contains("optimizer_config") &&
                                 !training_config["optimizer_config"].is_null();
  } catch (const Error& e) {
    const json& spec = training_config["optimizer_config"];
    std::string name = spec.is_object() && spec.contains("class_name") ? keras_detail::object_name(spec["class_name"])
                                                                       : keras_detail::object_name(spec);
    if (name.rfind("Custom>", 0) == 0) name = name.substr(7);
    keras_detail::warn(options, "optimizer", name,
                       source + ": skipped the optimizer '" + name + "': " + e.what() +
                           "; the model is compiled with Adam's defaults instead");
    optimizer = std::make_unique<Adam<Scalar>>();
  }
  std::vector<std::string> metrics;
  if (training_config.is_null()) {
    metrics = {"accuracy"};
  } else {
    std::vector<json> specs, weighted;
    if (training_config.contains("metrics")) keras_detail::flatten_metrics(training_config["metrics"], specs);
    if (training_config.contains("weighted_metrics"))
      keras_detail::flatten_metrics(training_config["weighted_metrics"], weighted);
    for (const json& spec : weighted) {
      const std::string name = keras_detail::object_name(spec);
      keras_detail::warn(options, "metric", name,
                         source + ": skipped the weighted metric '" + name +
                             "': nnlite compiles 'metrics' only, not 'weighted_metrics'");
    }
    const MetricContext context{loss->name(), model.output_shape(), loss->target_shape(model.output_shape())};
    std::set<std::string> seen;
    for (const json& spec : specs) {
      std::string why;
      const std::string name = keras_detail::metric_name_for<Scalar>(spec, context, why);
      const std::string file_name = keras_detail::object_name(spec);
      if (name.empty()) {
        keras_detail::warn(options, "metric", file_name, source + ": skipped the metric '" + file_name + "': " + why);
      } else if (seen.insert(name).second) {
        metrics.push_back(name);
        if (name != file_name && !spec.is_string())
          keras_detail::warn(options, "metric", file_name,
                             source + ": the metric '" + file_name + "' is compiled as nnlite's '" + name +
                                 "', so its logs key is '" + name + "'");
      }
    }
  }
  model.compile(*optimizer, *loss, metrics);
  result.compiled = true;
  return result;
}

/// The model as Keras' model_config: {"class_name": "Sequential", "config": {"name", "layers": [InputLayer, ...]},
/// "keras_version", "backend"}, with tf.keras 2.x keys (batch_input_shape on the InputLayer and the first layer).
template <class Scalar>
nlohmann::json keras_model_config(const Sequential<Scalar>& model, const std::string& keras_version = "2.11.0") {
  const std::string dtype = keras_detail::dtype_name<Scalar>();
  if (model.input_shape().empty())
    throw ShapeError("model '" + model.name() + "': the input shape is unknown; call set_input_shape() or build()");
  json batch_shape = json::array({nullptr});
  for (Index d : model.input_shape().dims()) batch_shape.push_back(d);
  json layers = json::array();
  // Keras names the input "<first layer>_input"; keep it distinct from every layer name.
  std::string input_name = model.size() ? model.layer(0).name() + "_input" : "input_1";
  for (bool clash = true; clash;) {
    clash = false;
    for (std::size_t i = 0; i < model.size(); ++i) clash = clash || model.layer(i).name() == input_name;
    if (clash) input_name += "_";
  }
  layers.push_back({{"class_name", "InputLayer"},
                    {"config",
                     {{"batch_input_shape", batch_shape},
                      {"dtype", dtype},
                      {"sparse", false},
                      {"ragged", false},
                      {"name", input_name}}}});
  for (std::size_t i = 0; i < model.size(); ++i) {
    keras_detail::check_hard_sigmoid(model.layer(i), keras_version);
    json entry = keras_detail::layer_entry(model.layer(i));
    if (i == 0) entry["config"]["batch_input_shape"] = batch_shape;
    layers.push_back(std::move(entry));
  }
  return {{"class_name", "Sequential"},
          {"config", {{"name", model.name()}, {"layers", layers}}},
          {"keras_version", keras_version},
          {"backend", "tensorflow"}};
}

/// Rebuilds a Sequential from Keras' model_config JSON: dict-style ({"name", "layers"}) or list-style (Keras 2.1's
/// "config": [...]) Sequential configs, an InputLayer (batch_input_shape or Keras 3's batch_shape) or a
/// batch_input_shape on the first layer. Unsupported layers and options are an UnsupportedError naming the layer.
/// `source` (a file name) prefixes every message. The weights are freshly initialised.
template <class Scalar = float>
Sequential<Scalar> model_from_keras_config(const nlohmann::json& model_config, const std::string& source = "model_config",
                                           const LoadOptions& o = {}) {
  if (!model_config.is_object() || !model_config.contains("class_name") || !model_config["class_name"].is_string() ||
      !model_config.contains("config"))
    throw FormatError(source + ": model_config must be {\"class_name\": ..., \"config\": ...}");
  const std::string cls = model_config["class_name"].get<std::string>();
  if (cls != "Sequential")
    throw UnsupportedError(source + ": the model is a " + cls + " model; nnlite loads Sequential models only");
  const json& cfg = model_config["config"];
  std::string name = "sequential";
  const json* layers = nullptr;
  if (cfg.is_array()) {
    layers = &cfg;  // Keras <= 2.2: the config is the list of layers
  } else if (cfg.is_object() && cfg.contains("layers") && cfg["layers"].is_array()) {
    layers = &cfg["layers"];
    if (cfg.contains("name") && cfg["name"].is_string()) name = cfg["name"].get<std::string>();
  } else {
    throw FormatError(source + ": the Sequential config has no list of layers");
  }
  if (layers->size() > o.max_layers)
    throw FormatError(source + ": the model has " + std::to_string(layers->size()) + " layers, more than the limit of " +
                      std::to_string(o.max_layers));

  // The input shape: an InputLayer, the first layer's batch_input_shape, or Keras 3's build_input_shape.
  std::optional<Shape> input;
  std::size_t first = 0;
  auto entry_config = [&](std::size_t i) -> const json& {
    const json& e = (*layers)[i];
    if (!e.is_object() || !e.contains("class_name") || !e["class_name"].is_string() || !e.contains("config") ||
        !e["config"].is_object())
      throw FormatError(source + ": layer entry " + std::to_string(i) +
                        " must be {\"class_name\": ..., \"config\": {...}}");
    return e["config"];
  };
  if (!layers->empty() && (*layers)[0].is_object() && (*layers)[0].value("class_name", json()) == "InputLayer") {
    const json& c = entry_config(0);
    for (const char* key : {"sparse", "ragged"})
      if (c.contains(key) && c[key] == true)
        throw UnsupportedError(source + ": InputLayer with " + key + " = true is not supported by nnlite");
    const json* s = keras_detail::input_shape_key(c);
    if (!s) throw FormatError(source + ": the InputLayer has no batch_input_shape or batch_shape");
    input = keras_detail::shape_from_batch_shape(*s, source + ": InputLayer batch shape", o);
    first = 1;
  } else if (!layers->empty()) {
    if (const json* s = keras_detail::input_shape_key(entry_config(0)))
      input = keras_detail::shape_from_batch_shape(*s, source + ": first layer's batch_input_shape", o);
  }
  if (!input && cfg.is_object() && cfg.contains("build_input_shape") && !cfg["build_input_shape"].is_null())
    input = keras_detail::shape_from_batch_shape(cfg["build_input_shape"], source + ": build_input_shape", o);
  if (first >= layers->size()) throw FormatError(source + ": the model has no layers");
  if (!input)
    throw FormatError(source + ": model_config gives no input shape (no InputLayer, batch_input_shape or "
                      "build_input_shape)");

  // tf.keras 2 files (keras_version 2.x) mean the old hard_sigmoid.
  bool tf_keras2 = o.hard_sigmoid == HardSigmoidForm::tf_keras2;
  if (o.hard_sigmoid == HardSigmoidForm::from_keras_version && model_config.contains("keras_version") &&
      model_config["keras_version"].is_string())
    tf_keras2 = keras_detail::keras_major_version(model_config["keras_version"].get<std::string>()) < 3;

  Sequential<Scalar> model(name);
  model.set_input_shape(*input);
  Index total = 0;
  for (std::size_t i = first; i < layers->size(); ++i) {
    const json& c = entry_config(i);
    const std::string lcls = (*layers)[i]["class_name"].get<std::string>();
    if (!c.contains("name") || !c["name"].is_string() || c["name"].get<std::string>().empty())
      throw FormatError(source + ": layer entry " + std::to_string(i) + " (" + lcls + ") has no name");
    ConfigReader lc{c, lcls, c["name"].get<std::string>(), source, {o.max_tensor_elements}};
    lc.tf_keras2 = tf_keras2;
    if (lcls == "InputLayer") lc.bad("an InputLayer can only come first");
    std::unique_ptr<Layer<Scalar>> layer = layer_from_config<Scalar>(lc, model.output_shape());
    Layer<Scalar>* added_ptr = nullptr;
    try {  // shapes that do not fit, or a duplicate name: say which file
      added_ptr = &model.add(std::move(layer));
    } catch (const ShapeError& e) {
      throw ShapeError(source + ": " + e.what());
    } catch (const ArgumentError& e) {
      throw FormatError(source + ": " + e.what());
    }
    Layer<Scalar>& added = *added_ptr;
    lc.check_size(added.output_shape().dims(), "its output per sample");
    total += added.param_count();
    if (total > o.max_total_params)
      lc.bad("the model's weights exceed the limit of " + std::to_string(o.max_total_params) + " values");
  }
  model.build();
  return model;
}

}  // namespace nnlite
