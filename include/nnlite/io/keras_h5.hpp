// nnlite/io/keras_h5.hpp: Sequential models to and from Keras' legacy HDF5 format (model.save("m.h5")), the
// layout tf.keras 2.x and Keras 3 load with keras.models.load_model, and Keras' own .h5 files read back.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/atomic_file.hpp"
#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../layers/activation_layers.hpp"
#include "../layers/conv2d.hpp"
#include "../layers/dense.hpp"
#include "../layers/dropout.hpp"
#include "../layers/flatten.hpp"
#include "../layers/maxpool2d.hpp"
#include "../model/sequential.hpp"
#include "../optim/adam.hpp"
#include "../optim/sgd.hpp"
#include "hdf5.hpp"
#include "isolate.hpp"

// Written file (what Keras' legacy_h5_format writes):
//   /                  @keras_version, @backend, @model_config (Sequential JSON), @training_config (when compiled)
//   /model_weights     @layer_names, @backend, @keras_version; one group per layer, weightless ones too
//     <layer>          @weight_names ["<layer>/kernel:0", "<layer>/bias:0"], or an empty float64 array
//       <layer>/kernel:0, <layer>/bias:0    float32 (float64 for Sequential<double>), C order, Keras layouts
//     top_level_model_weights   @weight_names empty (tf.keras >= 2.5 and Keras 3 write and check it)
//   /optimizer_weights (SaveOptions::include_optimizer_state) @weight_names, tf.keras 2.x legacy-optimizer names
// Every string attribute is a fixed-length string; a list attribute over 64,512 bytes is split Keras' way
// (layer_names0, layer_names1, ...).
//
// Storage of Sequential<double>: float64 datasets and "float64" layer dtypes, so a double model round-trips bit for
// bit and Keras rebuilds it as a float64 model; a float model stores float32 like Keras. Loading converts whatever
// float width is stored to the Scalar asked for.

namespace nnlite {

struct SaveOptions {
  // training_config (loss, metrics, optimizer_config) when the model is compiled, like Keras' include_optimizer.
  bool include_optimizer = true;
  // Also /optimizer_weights: the optimizer's step count and state (Adam's m and v) under tf.keras 2.x names, so a
  // run can resume exactly. Keras may not restore them (it then warns and starts a fresh optimizer).
  bool include_optimizer_state = false;
  // The Keras version the file says wrote it; the layout and configs are those of tf.keras 2.11.
  std::string keras_version = "2.11.0";
};

struct LoadOptions {
  // Compile with training_config's optimizer and loss (Adam defaults and categorical_crossentropy without one).
  bool compile = true;
  // Restore /optimizer_weights into the optimizer when present and laid out as tf.keras 2.x or Keras 3 write it;
  // an unrecognised layout leaves a fresh optimizer (Keras warns and does the same).
  bool load_optimizer_state = true;
  // Ceilings against hostile files, all checked before anything of that size is allocated.
  std::uint64_t max_attribute_bytes = std::uint64_t(64) << 20;  // one attribute (model_config JSON, name lists)
  std::size_t max_layers = 10000;
  Index max_tensor_elements = Index(1) << 28;  // one weight tensor, or one sample's activations
  Index max_total_params = Index(1) << 29;     // all weights of the model
  // Read the whole file first in a forked child process, then load it here only if the child succeeded. The HDF5
  // C library (Debian 12's 1.10.8) can crash on some corrupt files before nnlite sees anything; isolated, such a
  // crash kills the child and becomes a FormatError naming the file and the signal, and every other error is
  // rethrown as the same type and message. Costs a fork and a second read; use it for .h5 files from sources you
  // do not trust (the file must not change between the two reads). POSIX only: UnsupportedError elsewhere.
  bool isolate = false;
};

namespace keras_detail {

using json = nlohmann::json;

// h5py/HDF5 cannot keep an attribute larger than this in an object header; Keras splits lists above it.
inline constexpr std::size_t kObjectHeaderLimit = 64512;
inline constexpr std::size_t kMaxWeightsPerLayer = 1024;
inline constexpr int kMaxJsonDepth = 100;

template <class Scalar>
std::string dtype_name() {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "Keras .h5 files hold float or double models");
  return std::is_same_v<Scalar, float> ? "float32" : "float64";
}

// a * b * ... <= cap without overflowing on the way.
inline bool product_within(const std::vector<Index>& factors, Index cap) {
  Index p = 1;
  for (Index f : factors) {
    if (f < 0) return false;
    if (f != 0 && p > cap / f) return false;
    p *= f;
  }
  return p <= cap;
}

// ---- list attributes, Keras' way --------------------------------------------------------------------------------

// save_attributes_to_hdf5_group: one fixed-width string array, or name0, name1, ... when it is over the object
// header limit (numpy's array_split: the first n % k pieces get one element more). An empty list is an empty
// float64 array, as numpy makes of [].
inline void write_list(h5::Object& obj, const std::string& name, const std::vector<std::string>& values) {
  if (values.empty()) return obj.write_empty_list(name);
  std::size_t width = 1;
  for (const auto& v : values) {
    if (v.size() > kObjectHeaderLimit)
      throw ArgumentError("cannot save attribute '" + name + "' to " + obj.where() + ": the name '" +
                          v.substr(0, 60) + "...' is longer than " + std::to_string(kObjectHeaderLimit) + " bytes");
    width = std::max(width, v.size());
  }
  const std::size_t n = values.size();
  std::size_t chunks = 1;
  while ((n + chunks - 1) / chunks * width > kObjectHeaderLimit) ++chunks;
  if (chunks == 1) return obj.write_strings(name, values, false, width);
  std::size_t begin = 0;
  for (std::size_t c = 0; c < chunks; ++c) {
    const std::size_t count = n / chunks + (c < n % chunks ? 1 : 0);
    obj.write_strings(name + std::to_string(c),
                      std::vector<std::string>(values.begin() + static_cast<std::ptrdiff_t>(begin),
                                               values.begin() + static_cast<std::ptrdiff_t>(begin + count)),
                      false, width);
    begin += count;
  }
}

inline bool has_list(const h5::Object& obj, const std::string& name) {
  return obj.has_attribute(name) || obj.has_attribute(name + "0");
}

// load_attributes_from_hdf5_group: `name`, or its chunks name0, name1, ... in order.
inline std::vector<std::string> read_list(const h5::Object& obj, const std::string& name, std::size_t max_items,
                                          std::uint64_t max_bytes) {
  if (obj.has_attribute(name)) return obj.read_strings(name, max_items, max_bytes);
  std::vector<std::string> out;
  std::uint64_t bytes = 0;
  for (std::size_t c = 0; obj.has_attribute(name + std::to_string(c)); ++c) {
    if (out.size() > max_items || c > max_items)
      throw FormatError("attribute '" + name + "' of " + obj.where() + " holds more than " +
                        std::to_string(max_items) + " entries");
    for (auto& s : obj.read_strings(name + std::to_string(c), max_items - out.size(), max_bytes - bytes)) {
      bytes += s.size();
      out.push_back(std::move(s));
    }
  }
  return out;
}

// ---- JSON --------------------------------------------------------------------------------------------------------

// Parses an attribute's JSON with a depth limit (a hostile file could nest arrays until the stack overflows).
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

inline std::string dump_json(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// ---- reading one layer's config ------------------------------------------------------------------------------------

// A layer entry of model_config with checked accessors: a wrong type is a FormatError, an option nnlite does not
// implement is an UnsupportedError, and both name the file, the layer and its class.
struct LayerConfig {
  const json& cfg;
  std::string cls, name, source;

  std::string prefix() const { return source + ": layer '" + name + "' (" + cls + "): "; }
  [[noreturn]] void bad(const std::string& what) const { throw FormatError(prefix() + what); }
  [[noreturn]] void unsupported(const std::string& what) const {
    throw UnsupportedError(prefix() + what + " is not supported by nnlite");
  }

  bool has(const char* key) const { return cfg.contains(key) && !cfg.at(key).is_null(); }
  const json& at(const char* key) const { return cfg.at(key); }

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

  // An int n (n, n) or a list [h, w], each in [1, hi].
  Size2 pair(const char* key, Index hi, std::optional<Size2> fallback = std::nullopt) const {
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
    if (!ok || h < 1 || w < 1 || h > hi || w > hi)
      bad(std::string("'") + key + "' must be a positive integer or a pair of them, got " + dump_json(v));
    return Size2(h, w);
  }

  std::string string(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!at(key).is_string()) bad(std::string("'") + key + "' must be a string, got " + dump_json(at(key)));
    return at(key).get<std::string>();
  }
  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!at(key).is_boolean()) bad(std::string("'") + key + "' must be true or false, got " + dump_json(at(key)));
    return at(key).get<bool>();
  }
  double number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    if (!at(key).is_number()) bad(std::string("'") + key + "' must be a number, got " + dump_json(at(key)));
    return at(key).get<double>();
  }

  // "float32", or Keras 3's {"class_name": "DTypePolicy", "config": {"name": "float32"}}. Any float policy is
  // accepted: nnlite computes in the model's Scalar.
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

  void check_channels_last() const {
    const std::string f = string("data_format", "channels_last");
    if (f != "channels_last") unsupported("data_format '" + f + "' (nnlite computes channels_last, NHWC)");
  }

  Padding padding() const {
    std::string p = string("padding", "valid");
    for (char& ch : p) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (p == "valid") return Padding::valid;
    if (p == "same") return Padding::same;
    unsupported("padding '" + p + "'");
  }

  // "relu", or Keras 3's serialized function {"class_name": "function", "config": "relu"}.
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
    if (a == "linear" || a.empty()) return Activation::linear;
    if (a == "relu") return Activation::relu;
    if (a == "softmax") return Activation::softmax;
    unsupported("activation '" + a + "' (nnlite supports linear, relu and softmax)");
  }

  void require_null(const char* key) const {
    if (has(key)) unsupported(std::string("'") + key + "' = " + dump_json(at(key)));
  }
};

// One Keras layer entry as an nnlite layer, checked against the shape it will receive before it is built.
template <class Scalar>
std::unique_ptr<Layer<Scalar>> make_layer(const LayerConfig& c, const Shape& input, const LoadOptions& o) {
  const Index cap = o.max_tensor_elements;
  const std::string& cls = c.cls;
  c.check_dtype();
  if (cls == "Conv2D" || cls == "Convolution2D") {
    const Index filters = c.integer("filters", 1, cap);
    const Size2 kernel = c.pair("kernel_size", cap);
    const Size2 strides = c.pair("strides", cap, Size2(1, 1));
    const Padding padding = c.padding();
    c.check_channels_last();
    if (c.pair("dilation_rate", cap, Size2(1, 1)) != Size2(1, 1))
      c.unsupported("dilation_rate " + dump_json(c.at("dilation_rate")));
    if (c.integer("groups", 1, cap, 1) != 1) c.unsupported("groups = " + dump_json(c.at("groups")));
    c.require_null("lora_rank");
    const Activation act = c.activation();
    const bool use_bias = c.boolean("use_bias", true);
    if (input.rank() == 3 && !product_within({kernel.h, kernel.w, input[2], filters}, cap))
      c.bad("the kernel (" + std::to_string(kernel.h) + ", " + std::to_string(kernel.w) + ", " +
            std::to_string(input[2]) + ", " + std::to_string(filters) + ") is larger than the limit of " +
            std::to_string(cap) + " elements");
    return std::make_unique<Conv2D<Scalar>>(filters, kernel, act, padding, strides, use_bias, c.name);
  }
  if (cls == "MaxPooling2D" || cls == "MaxPool2D") {
    const Size2 pool = c.pair("pool_size", cap, Size2(2, 2));
    const Size2 strides = c.pair("strides", cap, pool);  // null: the pool size, as in Keras
    const Padding padding = c.padding();
    c.check_channels_last();
    return std::make_unique<MaxPool2D<Scalar>>(pool, strides, padding, c.name);
  }
  if (cls == "Dense") {
    const Index units = c.integer("units", 1, cap);
    const Activation act = c.activation();
    const bool use_bias = c.boolean("use_bias", true);
    c.require_null("quantization_config");
    c.require_null("lora_rank");
    if (input.rank() >= 1 && !product_within({input[input.rank() - 1], units}, cap))
      c.bad("the kernel (" + std::to_string(input[input.rank() - 1]) + ", " + std::to_string(units) +
            ") is larger than the limit of " + std::to_string(cap) + " elements");
    return std::make_unique<Dense<Scalar>>(units, act, use_bias, c.name);
  }
  if (cls == "Dropout") {
    const double rate = c.number("rate", 0.0);
    if (!(rate >= 0.0 && rate < 1.0)) c.bad("'rate' must be in [0, 1), got " + dump_json(c.at("rate")));
    c.require_null("noise_shape");
    return std::make_unique<Dropout<Scalar>>(rate, c.name);
  }
  if (cls == "Flatten") {
    c.check_channels_last();
    return std::make_unique<Flatten<Scalar>>(c.name);
  }
  if (cls == "Activation") {
    if (!c.has("activation")) c.bad("'activation' is missing");
    return std::make_unique<ActivationOf<Scalar>>(c.activation(), c.name);
  }
  if (cls == "ReLU") {
    c.require_null("max_value");
    if (c.number("negative_slope", 0.0) != 0.0) c.unsupported("negative_slope = " + dump_json(c.at("negative_slope")));
    if (c.number("threshold", 0.0) != 0.0) c.unsupported("threshold = " + dump_json(c.at("threshold")));
    return std::make_unique<ReLU<Scalar>>(c.name);
  }
  if (cls == "Softmax") {
    if (c.has("axis")) {
      const json& a = c.at("axis");
      const bool last = (a.is_number_integer() && a.get<Index>() == -1) ||
                        (a.is_array() && a.size() == 1 && a[0].is_number_integer() && a[0].get<Index>() == -1) ||
                        (a.is_number_integer() && input.rank() >= 1 &&
                         a.get<Index>() == static_cast<Index>(input.rank()));
      if (!last) c.unsupported("axis = " + dump_json(a) + " (nnlite's Softmax normalises the last axis)");
    }
    return std::make_unique<Softmax<Scalar>>(c.name);
  }
  throw UnsupportedError(c.source + ": layer '" + c.name + "' has class " + cls +
                         ", which nnlite does not support (supported: InputLayer, Conv2D, MaxPooling2D, Dropout, "
                         "Flatten, Dense, Activation, ReLU, Softmax)");
}

// [null, 28, 28, 1] (a batch_input_shape) -> (28, 28, 1).
inline Shape shape_from_batch_shape(const json& v, const std::string& what, const LoadOptions& o) {
  if (!v.is_array() || v.size() < 2 || v.size() > 8)
    throw FormatError(what + " must be a list [batch, dims...], got " + dump_json(v));
  std::vector<Index> dims;
  for (std::size_t i = 1; i < v.size(); ++i) {
    Index d = 0;
    if (v[i].is_null())
      throw UnsupportedError(what + " " + dump_json(v) + " has an unknown dimension; nnlite needs fixed input shapes");
    if (!LayerConfig::as_integer(v[i], d) || d < 1)
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

// ---- writing the configs ------------------------------------------------------------------------------------------

// A layer's Keras entry: its config() with the model's dtype, minus "groups": 1 (the default everywhere, and an
// argument tf.keras < 2.3 rejects).
template <class Scalar>
json layer_entry(const Layer<Scalar>& layer) {
  json c = layer.config();
  c["name"] = layer.name();
  c["dtype"] = dtype_name<Scalar>();
  if (c.contains("groups") && c["groups"] == 1) c.erase("groups");
  return {{"class_name", layer.class_name()}, {"config", c}};
}

template <class Scalar>
void check_saveable_names(const Sequential<Scalar>& model) {
  for (std::size_t i = 0; i < model.size(); ++i) {
    const std::string& n = model.layer(i).name();
    if (n.empty() || n == "." || n == ".." || n.find('/') != std::string::npos || n.find('\0') != std::string::npos ||
        n == "top_level_model_weights")
      throw ArgumentError("cannot save model '" + model.name() + "': layer name '" + n +
                          "' cannot be an HDF5 group name (no '/', not empty, '.', '..' or 'top_level_model_weights')");
  }
}

template <class Scalar>
json optimizer_entry(const Optimizer<Scalar>& opt) {
  return {{"class_name", opt.class_name()}, {"config", opt.config()}};
}

// The optimizer's state vectors under tf.keras 2.x legacy slot names (Adam m, v; SGD momentum), without SGD's
// unused velocity when it has no momentum.
template <class Scalar>
std::vector<std::pair<std::string, typename Optimizer<Scalar>::Vector*>> optimizer_slots(Optimizer<Scalar>& opt) {
  std::vector<std::pair<std::string, typename Optimizer<Scalar>::Vector*>> slots;
  const json cfg = opt.config();
  for (auto& [name, vec] : opt.state()) {
    if (name == "velocity") {
      if (cfg.contains("momentum") && cfg["momentum"].is_number() && cfg["momentum"].get<double>() == 0.0) continue;
      slots.emplace_back("momentum", vec);
    } else {
      slots.emplace_back(name, vec);
    }
  }
  return slots;
}

// ---- weights -----------------------------------------------------------------------------------------------------

// save_weights_to_hdf5_group: layer_names, backend, keras_version, and a group per layer (created in name order,
// as Keras does) with weight_names and the datasets they name.
template <class Scalar>
void write_weights_group(h5::Group& g, const Sequential<Scalar>& model, const std::string& keras_version) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < model.size(); ++i) names.push_back(model.layer(i).name());
  write_list(g, "layer_names", names);
  g.write_string("backend", "tensorflow");
  g.write_string("keras_version", keras_version);

  std::vector<std::size_t> order(model.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return model.layer(a).name() < model.layer(b).name(); });
  for (std::size_t i : order) {
    const Layer<Scalar>& layer = model.layer(i);
    h5::Group lg = g.create_group(layer.name());
    std::vector<std::string> weight_names;
    for (const auto& spec : layer.param_specs()) weight_names.push_back(layer.name() + "/" + spec.name + ":0");
    write_list(lg, "weight_names", weight_names);
    const Scalar* p = layer.params();
    std::size_t k = 0;
    for (const auto& spec : layer.param_specs()) {
      if (!p) throw Error("cannot save layer '" + layer.name() + "': its weights are not allocated");
      std::vector<hsize_t> dims(spec.shape.dims().begin(), spec.shape.dims().end());
      h5::Dataset ds = lg.create_dataset(weight_names[k++], dims, h5::file_type<Scalar>());
      ds.write(p);
      p += spec.shape.size();
    }
  }
  h5::Group top = g.create_group("top_level_model_weights");
  write_list(top, "weight_names", {});
}

// Where one model weight came from in the file, for messages and for finding its optimizer slots.
struct LoadedWeight {
  std::string layer, weight_name, dataset_path;
};

// Reads a float dataset whose shape must be `expected`, checking type and shape before reading anything.
template <class Scalar>
void read_weight(const h5::Group& lg, const std::string& weight_name, const Shape& expected, Scalar* out,
                 const std::string& expectation, const LoadOptions& o) {
  h5::Dataset ds = lg.dataset(weight_name);
  if (ds.type_class() != H5T_FLOAT)
    throw FormatError(ds.where() + " holds " + ds.type_name() + " values; weights must be floating point (" +
                      expectation + ")");
  const std::vector<hsize_t> dims = ds.dims();
  std::vector<Index> got;
  for (hsize_t d : dims) got.push_back(d > static_cast<hsize_t>(INT64_MAX) ? Index(-1) : static_cast<Index>(d));
  if (got != expected.dims())
    throw ShapeError(ds.where() + " has shape " + h5::dims_str(dims) + ", but " + expectation + " has shape " +
                     expected.str());
  if (expected.size() > o.max_tensor_elements)
    throw FormatError(ds.where() + " holds " + std::to_string(expected.size()) + " values, more than the limit of " +
                      std::to_string(o.max_tensor_elements));
  ds.read(out, static_cast<std::uint64_t>(expected.size()));
}

// load_weights_from_hdf5_group, Keras' by-topology rule: the file's layers that have weights, in layer_names order,
// go one to one onto the model's layers that have weights; each layer's weights in weight_names order (each name a
// path relative to the layer's group). Everything is read and checked before the model changes.
template <class Scalar>
std::vector<LoadedWeight> load_weights_group(Sequential<Scalar>& model, const h5::Group& g, const LoadOptions& o) {
  if (!has_list(g, "layer_names")) throw FormatError(g.where() + " has no 'layer_names' attribute");
  const std::vector<std::string> layer_names = read_list(g, "layer_names", o.max_layers, o.max_attribute_bytes);

  struct FileLayer {
    std::string name;
    h5::Group group;
    std::vector<std::string> weight_names;
  };
  std::vector<FileLayer> file_layers;
  for (const auto& name : layer_names) {
    h5::Group lg = g.group(name);
    std::vector<std::string> wn;
    if (has_list(lg, "weight_names")) wn = read_list(lg, "weight_names", kMaxWeightsPerLayer, o.max_attribute_bytes);
    if (!wn.empty()) file_layers.push_back({name, std::move(lg), std::move(wn)});
  }
  std::vector<std::size_t> model_layers;
  for (std::size_t i = 0; i < model.size(); ++i)
    if (!model.layer(i).param_specs().empty()) model_layers.push_back(i);

  auto list_names = [](const std::vector<std::string>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size() && i < 20; ++i) s += (i ? ", " : "") + v[i];
    return s + (v.size() > 20 ? ", ..." : "");
  };
  if (file_layers.size() != model_layers.size()) {
    std::vector<std::string> fn, mn;
    for (const auto& f : file_layers) fn.push_back(f.name);
    for (std::size_t i : model_layers) mn.push_back(model.layer(i).name());
    throw ShapeError(g.where() + " holds weights for " + std::to_string(fn.size()) + " layers (" + list_names(fn) +
                     ") but model '" + model.name() + "' has " + std::to_string(mn.size()) + " layers with weights (" +
                     list_names(mn) + ")");
  }

  std::vector<Tensor<Scalar>> values;
  std::vector<LoadedWeight> origin;
  for (std::size_t k = 0; k < file_layers.size(); ++k) {
    const FileLayer& f = file_layers[k];
    const Layer<Scalar>& layer = model.layer(model_layers[k]);
    const std::vector<ParamSpec> specs = layer.param_specs();
    if (f.weight_names.size() != specs.size())
      throw ShapeError(f.group.where() + " holds " + std::to_string(f.weight_names.size()) +
                       " weights, but layer '" + layer.name() + "' (" + layer.class_name() + ") of model '" +
                       model.name() + "' has " + std::to_string(specs.size()));
    for (std::size_t j = 0; j < specs.size(); ++j) {
      Tensor<Scalar> t(specs[j].shape);
      read_weight(f.group, f.weight_names[j], specs[j].shape, t.data(),
                  "layer '" + layer.name() + "' (" + layer.class_name() + ") weight '" + specs[j].name + "'", o);
      values.push_back(std::move(t));
      origin.push_back({layer.name(), f.weight_names[j], h5::join(f.group.path(), f.weight_names[j])});
    }
  }
  model.set_weights(values);
  return origin;
}

// ---- optimizer ---------------------------------------------------------------------------------------------------

inline std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// training_config's optimizer_config as an nnlite optimizer: Adam or SGD with their hyperparameters; anything
// that would change the training (schedules, clipping, weight decay, amsgrad, EMA) is refused rather than dropped.
template <class Scalar>
std::unique_ptr<Optimizer<Scalar>> optimizer_from_config(const json& oc, const std::string& source) {
  const std::string what = source + ": training_config optimizer_config";
  if (!oc.is_object() || !oc.contains("class_name") || !oc["class_name"].is_string())
    throw FormatError(what + " must be {\"class_name\": ..., \"config\": {...}}");
  std::string cls = oc["class_name"].get<std::string>();
  if (cls.rfind("Custom>", 0) == 0) cls = cls.substr(7);  // tf.keras 2.11 registers its new optimizers so
  const json cfg = oc.contains("config") && oc["config"].is_object() ? oc["config"] : json::object();
  LayerConfig c{cfg, cls, "optimizer", source};
  auto unsupported = [&](const std::string& option) {
    throw UnsupportedError(what + ": " + cls + " with " + option +
                           " is not supported by nnlite (load with LoadOptions::compile = false to skip compiling)");
  };
  auto number = [&](const char* key, double fallback) {
    if (!c.has(key)) return fallback;
    if (!cfg[key].is_number()) unsupported(std::string("'") + key + "' = " + dump_json(cfg[key]));
    return cfg[key].get<double>();
  };
  for (const char* key : {"clipnorm", "clipvalue", "global_clipnorm", "gradient_accumulation_steps",
                          "loss_scale_factor"})
    if (c.has(key)) unsupported(std::string("'") + key + "' = " + dump_json(cfg[key]));
  if (c.has("weight_decay") && number("weight_decay", 0.0) != 0.0)
    unsupported("'weight_decay' = " + dump_json(cfg["weight_decay"]));
  if (number("decay", 0.0) != 0.0) unsupported("'decay' = " + dump_json(cfg["decay"]));
  if (c.has("use_ema") && cfg["use_ema"] != false) unsupported("'use_ema' = " + dump_json(cfg["use_ema"]));
  const char* lr_key = c.has("learning_rate") ? "learning_rate" : "lr";
  const double lr_default = lower(cls) == "sgd" ? 0.01 : 0.001;
  if (c.has(lr_key) && !cfg[lr_key].is_number())
    unsupported("a learning-rate schedule " + dump_json(cfg[lr_key]));
  const double lr = number(lr_key, lr_default);
  if (!(lr > 0) || !std::isfinite(lr)) throw FormatError(what + ": learning rate " + dump_json(cfg[lr_key]));
  try {
    if (lower(cls) == "adam") {
      if (c.has("amsgrad") && cfg["amsgrad"] != false) unsupported("'amsgrad' = " + dump_json(cfg["amsgrad"]));
      return std::make_unique<Adam<Scalar>>(lr, number("beta_1", 0.9), number("beta_2", 0.999),
                                            number("epsilon", 1e-7));
    }
    if (lower(cls) == "sgd") {
      if (c.has("nesterov") && !cfg["nesterov"].is_boolean()) unsupported("'nesterov' = " + dump_json(cfg["nesterov"]));
      return std::make_unique<SGD<Scalar>>(lr, number("momentum", 0.0), c.has("nesterov") && cfg["nesterov"] == true);
    }
  } catch (const ArgumentError& e) {
    throw FormatError(what + ": " + e.what());
  }
  throw UnsupportedError(what + ": optimizer " + cls +
                         " is not supported by nnlite (Adam, SGD; load with LoadOptions::compile = false to skip it)");
}

// training_config's loss: nnlite trains on one-hot labels, for which categorical and sparse categorical
// cross-entropy (the latter on the equivalent integer labels) are the same loss.
inline std::string loss_from_config(const json& tc, const std::string& source) {
  if (!tc.contains("loss") || tc["loss"].is_null()) return "categorical_crossentropy";
  const json& l = tc["loss"];
  std::string name;
  if (l.is_string()) {
    name = l.get<std::string>();
  } else if (l.is_object() && l.contains("class_name") && l["class_name"].is_string()) {
    name = l["class_name"].get<std::string>();
    const json cfg = l.contains("config") && l["config"].is_object() ? l["config"] : json::object();
    if ((cfg.contains("from_logits") && cfg["from_logits"] != false) ||
        (cfg.contains("label_smoothing") && cfg["label_smoothing"].is_number() &&
         cfg["label_smoothing"].get<double>() != 0.0))
      throw UnsupportedError(source + ": training_config loss " + dump_json(l) +
                             " is not supported by nnlite (load with LoadOptions::compile = false to skip it)");
  } else {
    throw UnsupportedError(source + ": training_config loss " + dump_json(l) +
                           " is not supported by nnlite (load with LoadOptions::compile = false to skip it)");
  }
  for (const char* ok : {"categorical_crossentropy", "CategoricalCrossentropy", "sparse_categorical_crossentropy",
                         "SparseCategoricalCrossentropy"})
    if (name == ok) return "categorical_crossentropy";
  throw UnsupportedError(source + ": training_config loss '" + name +
                         "' is not supported by nnlite (categorical_crossentropy; load with "
                         "LoadOptions::compile = false to skip compiling)");
}

// /optimizer_weights as tf.keras 2.x legacy optimizers name it: "<Opt>/iter:0", then every weight's first slot,
// then every weight's second slot ("Adam/conv2d/kernel/m:0", ..., "Adam/conv2d/kernel/v:0", ...).
template <class Scalar>
void write_optimizer_weights(h5::File& f, Sequential<Scalar>& model) {
  Optimizer<Scalar>& opt = model.optimizer();
  const json cfg = opt.config();
  const std::string prefix = cfg.contains("name") && cfg["name"].is_string() ? cfg["name"].get<std::string>()
                                                                            : opt.class_name();
  const auto slots = optimizer_slots(opt);
  h5::Group g = f.create_group("optimizer_weights");
  std::vector<std::string> names{prefix + "/iter:0"};
  struct Item {
    std::string name;
    Shape shape;
    const Scalar* data;
  };
  std::vector<Item> items;
  const Index n = model.num_params();
  std::vector<Scalar> zeros;  // the state of an optimizer that has not stepped yet
  for (const auto& slot : slots)
    if (slot.second->size() != n) zeros.assign(static_cast<std::size_t>(n), Scalar(0));
  for (const auto& [slot, vec] : slots) {
    const Scalar* base = vec->size() == n ? vec->data() : zeros.data();
    Index offset = 0;
    for (std::size_t i = 0; i < model.size(); ++i)
      for (const auto& spec : model.layer(i).param_specs()) {
        items.push_back({prefix + "/" + model.layer(i).name() + "/" + spec.name + "/" + slot + ":0", spec.shape,
                         base + offset});
        names.push_back(items.back().name);
        offset += spec.shape.size();
      }
  }
  write_list(g, "weight_names", names);
  const std::int64_t iterations = opt.iterations();
  g.create_dataset(names[0], {}, h5::file_type<std::int64_t>()).write(&iterations);
  for (const Item& it : items) {
    std::vector<hsize_t> dims(it.shape.dims().begin(), it.shape.dims().end());
    g.create_dataset(it.name, dims, h5::file_type<Scalar>()).write(it.data);
  }
}

// Restores the optimizer's step count and state from /optimizer_weights when every piece is found under one of
// the names tf.keras 2.x (legacy and 2.11+) or Keras 3 give it; returns false and changes nothing otherwise.
template <class Scalar>
bool read_optimizer_weights(const h5::File& f, Sequential<Scalar>& model, const std::vector<LoadedWeight>& origin,
                            const json& optimizer_config, const LoadOptions& o) {
  if (!f.has("optimizer_weights")) return false;
  h5::Group g = f.group("optimizer_weights");
  if (!has_list(g, "weight_names")) return false;
  const std::vector<std::string> names =
      read_list(g, "weight_names", 8 * origin.size() + 64, o.max_attribute_bytes);
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < names.size(); ++i) index[names[i]] = i;

  Optimizer<Scalar>& opt = model.optimizer();
  std::vector<std::string> prefixes{opt.class_name(), lower(opt.class_name())};
  if (optimizer_config.is_object() && optimizer_config.contains("config") &&
      optimizer_config["config"].is_object() && optimizer_config["config"].contains("name") &&
      optimizer_config["config"]["name"].is_string())
    prefixes.insert(prefixes.begin(), optimizer_config["config"]["name"].get<std::string>());
  auto find = [&](const std::vector<std::string>& candidates) -> std::optional<std::string> {
    for (const auto& c : candidates)
      if (index.count(c)) return c;
    return std::nullopt;
  };
  auto strip0 = [](std::string s) { return s.size() > 2 && s.compare(s.size() - 2, 2, ":0") == 0 ? s.substr(0, s.size() - 2) : s; };

  std::vector<std::string> iter_names{"iteration:0"};
  for (const auto& p : prefixes)
    for (const char* suffix : {"/iter:0", "/iteration", "/iterations:0", "/iteration:0"}) iter_names.push_back(p + suffix);
  const auto iter_name = find(iter_names);
  if (!iter_name) return false;

  const auto slots = optimizer_slots(opt);
  const Index n = model.num_params();
  std::vector<std::vector<Scalar>> values(slots.size(), std::vector<Scalar>(static_cast<std::size_t>(n)));
  for (std::size_t s = 0; s < slots.size(); ++s) {
    const std::string& legacy = slots[s].first;  // m, v, momentum
    const std::string k2 = legacy == "momentum" ? "m" : legacy;
    const std::string k3 = legacy == "v" ? "velocity" : "momentum";
    Index offset = 0;
    std::size_t w = 0;
    for (std::size_t i = 0; i < model.size(); ++i)
      for (const auto& spec : model.layer(i).param_specs()) {
        const std::string base = strip0(origin.at(w).weight_name);
        std::string flat = base;
        std::replace(flat.begin(), flat.end(), '/', '_');
        std::vector<std::string> candidates;
        for (const auto& p : prefixes) {
          candidates.push_back(p + "/" + base + "/" + legacy + ":0");  // tf.keras 2.x legacy optimizers
          candidates.push_back(p + "/" + k2 + "/" + base + ":0");      // tf.keras 2.11+ optimizers
          candidates.push_back(p + "/" + flat + "_" + k3);             // Keras 3
        }
        const auto name = find(candidates);
        if (!name) return false;
        h5::Dataset ds = g.dataset(*name);
        std::vector<Index> got;
        for (hsize_t d : ds.dims()) got.push_back(static_cast<Index>(d));
        if (ds.type_class() != H5T_FLOAT || got != spec.shape.dims()) return false;
        ds.read(values[s].data() + offset, static_cast<std::uint64_t>(spec.shape.size()));
        offset += spec.shape.size();
        ++w;
      }
  }
  h5::Dataset it = g.dataset(*iter_name);
  std::uint64_t count = 1;
  for (hsize_t d : it.dims()) count *= d;
  if (count != 1 || (it.type_class() != H5T_INTEGER && it.type_class() != H5T_FLOAT)) return false;
  std::int64_t iterations = 0;
  it.read(&iterations, 1);
  if (iterations < 0) return false;
  for (std::size_t s = 0; s < slots.size(); ++s)
    *slots[s].second = Eigen::Map<typename Optimizer<Scalar>::Vector>(values[s].data(), n);
  opt.set_iterations(iterations);
  return true;
}

// Builds the file in memory with fill(file), then writes its image to "<path>.tmp.<pid>" and renames it over
// `path`: a failure anywhere leaves any previous file untouched and no temporary behind.
inline int next_memory_file() {
  static int counter = 0;  // in-memory files need distinct names while open
  return ++counter;
}
template <class Fill>
void write_h5_atomically(const std::string& path, bool dense_root_attributes, Fill&& fill) {
  std::vector<char> bytes;
  {
    h5::File f = h5::File::create_in_memory(temp_path_for(path) + ".mem" + std::to_string(next_memory_file()),
                                            dense_root_attributes);
    fill(f);
    bytes = f.image();
  }
  write_atomically(path, [&](const std::string& tmp) { h5::write_file(tmp, bytes); });
}

inline void check_parent_directory(const std::string& path) {
  const std::string dir = detail::parent_dir(path);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw IoError("cannot save '" + path + "': directory '" + dir + "' does not exist");
}

}  // namespace keras_detail

// ---- public API ----------------------------------------------------------------------------------------------------

// The model as Keras' model_config: {"class_name": "Sequential", "config": {"name", "layers": [InputLayer, ...]},
// "keras_version", "backend"}, with tf.keras 2.x keys (batch_input_shape on the InputLayer and the first layer).
template <class Scalar>
nlohmann::json keras_model_config(const Sequential<Scalar>& model, const std::string& keras_version = "2.11.0") {
  using keras_detail::json;
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
    json entry = keras_detail::layer_entry(model.layer(i));
    if (i == 0) entry["config"]["batch_input_shape"] = batch_shape;
    layers.push_back(std::move(entry));
  }
  return {{"class_name", "Sequential"},
          {"config", {{"name", model.name()}, {"layers", layers}}},
          {"keras_version", keras_version},
          {"backend", "tensorflow"}};
}

// Rebuilds a Sequential from Keras' model_config JSON: dict-style ({"name", "layers"}) or list-style (Keras 2.1's
// "config": [...]) Sequential configs, an InputLayer (batch_input_shape or Keras 3's batch_shape) or a
// batch_input_shape on the first layer. Unsupported layers and options are an UnsupportedError naming the layer.
// `source` (a file name) prefixes every message. The weights are freshly initialised.
template <class Scalar = float>
Sequential<Scalar> model_from_keras_config(const nlohmann::json& model_config, const std::string& source = "model_config",
                                           const LoadOptions& o = {}) {
  using keras_detail::json;
  using keras_detail::dump_json;
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

  Sequential<Scalar> model(name);
  model.set_input_shape(*input);
  Index total = 0;
  for (std::size_t i = first; i < layers->size(); ++i) {
    const json& c = entry_config(i);
    const std::string lcls = (*layers)[i]["class_name"].get<std::string>();
    if (!c.contains("name") || !c["name"].is_string() || c["name"].get<std::string>().empty())
      throw FormatError(source + ": layer entry " + std::to_string(i) + " (" + lcls + ") has no name");
    keras_detail::LayerConfig lc{c, lcls, c["name"].get<std::string>(), source};
    if (lcls == "InputLayer") lc.bad("an InputLayer can only come first");
    std::unique_ptr<Layer<Scalar>> layer = keras_detail::make_layer<Scalar>(lc, model.output_shape(), o);
    Layer<Scalar>* added_ptr = nullptr;
    try {  // shapes that do not fit, or a duplicate name: say which file
      added_ptr = &model.add(std::move(layer));
    } catch (const ShapeError& e) {
      throw ShapeError(source + ": " + e.what());
    } catch (const ArgumentError& e) {
      throw FormatError(source + ": " + e.what());
    }
    Layer<Scalar>& added = *added_ptr;
    if (!keras_detail::product_within(added.output_shape().dims(), o.max_tensor_elements))
      lc.bad("its output " + added.output_shape().str(true) + " is larger than the limit of " +
             std::to_string(o.max_tensor_elements) + " elements per sample");
    total += added.param_count();
    if (total > o.max_total_params)
      lc.bad("the model's weights exceed the limit of " + std::to_string(o.max_total_params) + " values");
  }
  model.build();
  return model;
}

// Writes the model's weights alone, as Keras' model.save_weights("w.h5"): layer_names and the layer groups at the
// root. Atomic like save_model.
template <class Scalar>
void save_weights(const Sequential<Scalar>& model, const std::string& path, const SaveOptions& options = {}) {
  std::optional<Sequential<Scalar>> copy;
  const Sequential<Scalar>* m = &model;
  if (!model.built()) {  // like Keras, an unbuilt model is built (its initial weights are what gets saved)
    copy.emplace(model);
    copy->build();
    m = &*copy;
  }
  keras_detail::check_saveable_names(*m);
  keras_detail::check_parent_directory(path);
  keras_detail::write_h5_atomically(path, false, [&](h5::File& f) {
    keras_detail::write_weights_group(f, *m, options.keras_version);
  });
}

// model.save("model.h5"): the whole model in Keras' legacy HDF5 layout (see the top of this file). The file is built
// in memory, written to "<path>.tmp.<pid>" and renamed over `path`, so a failure leaves any previous file untouched.
template <class Scalar>
void save_model(const Sequential<Scalar>& model, const std::string& path, const SaveOptions& options = {}) {
  using keras_detail::json;
  std::optional<Sequential<Scalar>> copy;
  const Sequential<Scalar>* m = &model;
  if (!model.built()) {
    copy.emplace(model);
    copy->build();
    m = &*copy;
  }
  keras_detail::check_saveable_names(*m);
  // optimizer() has no const overload; reading its config and state changes nothing.
  auto& mutable_model = const_cast<Sequential<Scalar>&>(*m);
  const std::string model_config = keras_detail::dump_json(keras_model_config(*m, options.keras_version));
  std::string training_config;
  if (options.include_optimizer && m->compiled())
    training_config = keras_detail::dump_json(json{{"loss", loss_name(m->loss())},
                                                   {"metrics", json::array({"accuracy"})},
                                                   {"weighted_metrics", nullptr},
                                                   {"loss_weights", nullptr},
                                                   {"optimizer_config",
                                                    keras_detail::optimizer_entry(mutable_model.optimizer())}});
  const bool write_state = options.include_optimizer && options.include_optimizer_state && m->compiled();
  // HDF5 needs dense attribute storage for one attribute over the object-header limit (a huge model_config).
  const bool dense = model_config.size() > keras_detail::kObjectHeaderLimit ||
                     training_config.size() > keras_detail::kObjectHeaderLimit;
  keras_detail::check_parent_directory(path);
  keras_detail::write_h5_atomically(path, dense, [&](h5::File& f) {
    f.write_string("keras_version", options.keras_version);
    f.write_string("backend", "tensorflow");
    f.write_string("model_config", model_config);
    if (!training_config.empty()) f.write_string("training_config", training_config);
    {
      h5::Group g = f.create_group("model_weights");
      keras_detail::write_weights_group(g, *m, options.keras_version);
    }
    if (write_state) keras_detail::write_optimizer_weights(f, mutable_model);
  });
}

// model.load_weights("w.h5") for a model built with the same architecture: accepts a weights file or a full model
// file, and matches layers by order (Keras' by-topology rule), checking every shape before anything is changed.
// options.isolate: read the file in a child process first, as for load_model.
template <class Scalar>
void load_weights(Sequential<Scalar>& model, const std::string& path, const LoadOptions& options = {}) {
  if (!model.built()) model.build();
  if (options.isolate) {  // the child loads into its own copy of the model
    LoadOptions inner = options;
    inner.isolate = false;
    detail::run_isolated(path, [&] { load_weights(model, path, inner); });
  }
  h5::File f = h5::File::open(path);
  if (keras_detail::has_list(f, "layer_names")) {
    keras_detail::load_weights_group(model, f, options);
  } else if (f.has("model_weights")) {
    keras_detail::load_weights_group(model, f.group("model_weights"), options);
  } else {
    throw FormatError("'" + path + "' holds no Keras weights (no 'layer_names' attribute and no 'model_weights')");
  }
}

// keras.models.load_model("model.h5"): rebuilds the Sequential from model_config, sets its weights (weight_names
// order, shapes checked before reading) and, with options.compile, compiles it with training_config's optimizer and
// loss (Adam defaults and categorical_crossentropy when there is none) and restores /optimizer_weights if present.
// Missing or unreadable file: IoError. Not HDF5, truncated, missing pieces, wrong dtypes: FormatError. Shapes that
// do not fit: ShapeError. Layers or options nnlite lacks: UnsupportedError. Every message names the file.
// options.isolate: read it in a child process first (see LoadOptions), for files from sources you do not trust.
template <class Scalar = float>
Sequential<Scalar> load_model(const std::string& path, const LoadOptions& options = {}) {
  using keras_detail::json;
  if (options.isolate) {
    LoadOptions inner = options;
    inner.isolate = false;
    detail::run_isolated(path, [&] { (void)load_model<Scalar>(path, inner); });
  }
  h5::File f = h5::File::open(path);
  const std::string source = "'" + path + "'";
  if (!f.has_attribute("model_config"))
    throw FormatError(source + " has no 'model_config' attribute, so it is not a Keras model file" +
                      std::string(keras_detail::has_list(f, "layer_names") ? " (it holds weights only: use load_weights)"
                                                                           : ""));
  const json model_config =
      keras_detail::parse_json(f.read_string("model_config", options.max_attribute_bytes),
                               source + " attribute 'model_config'");
  Sequential<Scalar> model = model_from_keras_config<Scalar>(model_config, source, options);
  if (!f.has("model_weights")) throw FormatError(source + " has no group '/model_weights'");
  const std::vector<keras_detail::LoadedWeight> origin =
      keras_detail::load_weights_group(model, f.group("model_weights"), options);
  if (!options.compile) return model;

  json training_config;
  if (f.has_attribute("training_config"))
    training_config = keras_detail::parse_json(f.read_string("training_config", options.max_attribute_bytes),
                                               source + " attribute 'training_config'");
  if (!training_config.is_null() && !training_config.is_object())
    throw FormatError(source + " attribute 'training_config' is not a JSON object");
  json optimizer_config;
  if (training_config.is_object() && training_config.contains("optimizer_config"))
    optimizer_config = training_config["optimizer_config"];
  std::unique_ptr<Optimizer<Scalar>> optimizer =
      optimizer_config.is_null() ? std::make_unique<Adam<Scalar>>()
                                 : keras_detail::optimizer_from_config<Scalar>(optimizer_config, source);
  const std::string loss =
      training_config.is_object() ? keras_detail::loss_from_config(training_config, source) : "categorical_crossentropy";
  model.compile(*optimizer, loss, {"accuracy"});
  if (options.load_optimizer_state) keras_detail::read_optimizer_weights(f, model, origin, optimizer_config, options);
  return model;
}

}  // namespace nnlite
