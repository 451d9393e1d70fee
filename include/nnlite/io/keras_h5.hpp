// nnlite/io/keras_h5.hpp: Keras' legacy HDF5 container (model.save("m.h5")), the layout tf.keras 2.x and Keras 3
// load with keras.models.load_model, and Keras' own .h5 files read back: attributes, weights, optimizer weights. The
// configs it stores come from keras_config.hpp.
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
#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../core/text.hpp"
#include "../model/sequential.hpp"
#include "hdf5.hpp"
#include "isolate.hpp"
#include "keras_config.hpp"

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

namespace keras_detail {

using json = nlohmann::json;

/// h5py/HDF5 cannot keep an attribute larger than this in an object header; Keras splits lists above it.
inline constexpr std::size_t kObjectHeaderLimit = 64512;
inline constexpr std::size_t kMaxWeightsPerLayer = 1024;

// ---- list attributes, Keras' way --------------------------------------------------------------------------------

/// save_attributes_to_hdf5_group: one fixed-width string array, or name0, name1, ... when it is over the object
/// header limit (numpy's array_split: the first n % k pieces get one element more). An empty list is an empty
/// float64 array, as numpy makes of [].
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

/// load_attributes_from_hdf5_group: `name`, or its chunks name0, name1, ... in order.
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

// ---- writing the configs ------------------------------------------------------------------------------------------

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

/// The optimizer's state vectors under tf.keras 2.x legacy slot names (Adam m, v; SGD momentum), without SGD's
/// unused velocity when it has no momentum.
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

/// save_weights_to_hdf5_group: layer_names, backend, keras_version, and a group per layer (created in name order,
/// as Keras does) with weight_names and the datasets they name.
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
    const auto specs = layer.param_specs();
    for (std::size_t k = 0; k < specs.size(); ++k) {
      if (!layer.weight(k)) throw Error("cannot save layer '" + layer.name() + "': its weights are not allocated");
      std::vector<hsize_t> dims(specs[k].shape.dims().begin(), specs[k].shape.dims().end());
      h5::Dataset ds = lg.create_dataset(weight_names[k], dims, h5::file_type<Scalar>());
      ds.write(layer.weight(k));
    }
  }
  h5::Group top = g.create_group("top_level_model_weights");
  write_list(top, "weight_names", {});
}

/// A tf.keras 2.x legacy slot name's names in tf.keras 2.11+ and in Keras 3 (keras/src/optimizers/*.py, 3.16).
inline std::pair<std::string, std::string> modern_slot_names(const std::string& cls, const std::string& legacy) {
  if (legacy == "momentum") return {cls == "SGD" ? "m" : "momentum", "momentum"};
  if (legacy == "rms") return {"velocity", "velocity"};
  if (legacy == "mg") return {"average_gradient", "average_gradient"};
  if (legacy == "vhat") return {"vhat", "velocity_hat"};
  if (legacy == "v" && cls == "Adamax") return {"u", "norm"};
  if (legacy == "v") return {"v", "velocity"};
  if (legacy == "m") return {"m", "momentum"};
  return {legacy, legacy};  // accumulator
}

/// Where one model weight came from in the file, for messages and for finding its optimizer slots.
struct LoadedWeight {
  std::string layer, weight_name, dataset_path;
};

/// Reads a float dataset whose shape must be `expected`, checking type and shape before reading anything.
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

/// load_weights_from_hdf5_group, Keras' by-topology rule: the file's layers that have weights, in layer_names order,
/// go one to one onto the model's layers that have weights; each layer's weights in weight_names order (each name a
/// path relative to the layer's group). Everything is read and checked before the model changes.
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

/// /optimizer_weights as tf.keras 2.x legacy optimizers name it: "<Opt>/iter:0", then every weight's first slot,
/// then every weight's second slot ("Adam/conv2d/kernel/m:0", ..., "Adam/conv2d/kernel/v:0", ...).
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
  const Index n = model.trainable_size();
  std::vector<Scalar> zeros;  // the state of an optimizer that has not stepped yet
  for (const auto& slot : slots)
    if (slot.second->size() != n) zeros.assign(static_cast<std::size_t>(n), Scalar(0));
  const auto trained = model.trainable_weights();
  for (const auto& [slot, vec] : slots) {
    const Scalar* base = vec->size() == n ? vec->data() : zeros.data();
    for (const auto& w : trained)
      items.push_back({prefix + "/" + model.layer(w.layer).name() + "/" + w.name + "/" + slot + ":0", w.shape,
                       base + w.offset});
  }
  for (const auto& it : items) names.push_back(it.name);
  write_list(g, "weight_names", names);
  const std::int64_t iterations = opt.iterations();
  g.create_dataset(names[0], {}, h5::file_type<std::int64_t>()).write(&iterations);
  for (const Item& it : items) {
    std::vector<hsize_t> dims(it.shape.dims().begin(), it.shape.dims().end());
    g.create_dataset(it.name, dims, h5::file_type<Scalar>()).write(it.data);
  }
}

/// Keras builds an unbuilt model before saving it (its initial weights are what gets saved): the model itself when
/// it is built, else a built copy held in `copy`.
template <class Scalar>
const Sequential<Scalar>& built_for_saving(const Sequential<Scalar>& model, std::optional<Sequential<Scalar>>& copy) {
  if (model.built()) return model;
  copy.emplace(model);
  copy->build();
  return *copy;
}

/// The end both optimizer-state readers (.h5 and .keras) share: the step count from `it` (one integer or float,
/// >= 0), then every slot from `values` (read and checked already). False, with nothing changed, when it does not fit.
template <class Scalar, class Slots>
bool commit_optimizer_state(Optimizer<Scalar>& opt, const Slots& slots, std::vector<std::vector<Scalar>>& values,
                            Index n, const h5::Dataset& it) {
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

/// Restores the optimizer's step count and state from /optimizer_weights when every piece is found under one of
/// the names tf.keras 2.x (legacy and 2.11+) or Keras 3 give it; returns false and changes nothing otherwise.
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
  std::vector<std::string> prefixes{opt.class_name(), to_lower(opt.class_name())};
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
  const Index n = model.trainable_size();
  // origin lists every weight of the layers with weights, in layer and Keras order.
  std::map<std::pair<std::size_t, std::size_t>, std::size_t> origin_of;
  for (std::size_t i = 0, w = 0; i < model.size(); ++i)
    for (std::size_t k = 0; k < model.layer(i).param_specs().size(); ++k) origin_of[{i, k}] = w++;
  const auto trained = model.trainable_weights();
  std::vector<std::vector<Scalar>> values(slots.size(), std::vector<Scalar>(static_cast<std::size_t>(n)));
  for (std::size_t s = 0; s < slots.size(); ++s) {
    const std::string& legacy = slots[s].first;  // m, v, vhat, momentum, rms, mg, accumulator
    const auto [k2, k3] = modern_slot_names(opt.class_name(), legacy);
    for (const auto& tw : trained) {
      const std::string base = strip0(origin.at(origin_of.at({tw.layer, tw.weight})).weight_name);
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
      if (ds.type_class() != H5T_FLOAT || got != tw.shape.dims()) return false;
      ds.read(values[s].data() + tw.offset, static_cast<std::uint64_t>(tw.shape.size()));
    }
  }
  return commit_optimizer_state(opt, slots, values, n, g.dataset(*iter_name));
}

/// Builds the file in memory with fill(file), then writes its image to "<path>.tmp.<pid>" and renames it over
/// `path`: a failure anywhere leaves any previous file untouched and no temporary behind.
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
  write_bytes_atomically(path, bytes.data(), bytes.size());
}

inline void check_parent_directory(const std::string& path) {
  const std::string dir = detail::parent_dir(path);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw IoError("cannot save '" + path + "': directory '" + dir + "' does not exist");
}

}  // namespace keras_detail

// ---- public API ----------------------------------------------------------------------------------------------------

/// True when `path` ends with `ext` (".h5"), in any case.
inline bool has_extension(const std::string& path, const std::string& ext) {
  if (path.size() < ext.size()) return false;
  return to_lower(path.substr(path.size() - ext.size())) == ext;
}

/// Keras 3's native .keras format: io/keras_zip.hpp (included at the end of this file).
template <class Scalar>
void save_keras_zip(const Sequential<Scalar>& model, const std::string& path, const SaveOptions& options);
template <class Scalar = float>
Sequential<Scalar> load_keras_zip(const std::string& path, const LoadOptions& options = {});
template <class Scalar>
void save_keras3_weights(const Sequential<Scalar>& model, const std::string& path);
template <class Scalar>
void load_keras3_weights(Sequential<Scalar>& model, const std::string& path, const LoadOptions& options);

/// Writes the model's weights alone, as Keras' model.save_weights: "w.weights.h5" in Keras 3's layout
/// (`layers/<name>/vars/<i>`, as inside a .keras file), any other name in the legacy one (layer_names and the layer
/// groups at the root). Atomic like save_model.
template <class Scalar>
void save_weights(const Sequential<Scalar>& model, const std::string& path, const SaveOptions& options = {}) {
  if (has_extension(path, ".weights.h5")) return save_keras3_weights(model, path);
  std::optional<Sequential<Scalar>> copy;
  const Sequential<Scalar>* m = &keras_detail::built_for_saving(model, copy);
  keras_detail::check_saveable_names(*m);
  keras_detail::check_parent_directory(path);
  keras_detail::write_h5_atomically(path, false, [&](h5::File& f) {
    keras_detail::write_weights_group(f, *m, options.keras_version);
  });
}

/// model.save(path): the format by the extension, as Keras 3 picks it: ".keras" the native zip (save_keras_zip),
/// ".h5" or ".hdf5" the legacy HDF5 layout (see the top of this file); anything else is an ArgumentError. The file is
/// built in memory, written to "<path>.tmp.<pid>" and renamed over `path`, so a failure leaves any previous file
/// untouched.
template <class Scalar>
void save_model(const Sequential<Scalar>& model, const std::string& path, const SaveOptions& options = {}) {
  if (has_extension(path, ".keras")) return save_keras_zip(model, path, options);
  if (!has_extension(path, ".h5") && !has_extension(path, ".hdf5"))
    throw ArgumentError("cannot save model '" + model.name() + "' to '" + path +
                        "': invalid filepath extension; use '.keras' for the native Keras format (recommended) or "
                        "'.h5' / '.hdf5' for the legacy HDF5 format");
  std::optional<Sequential<Scalar>> copy;
  const Sequential<Scalar>* m = &keras_detail::built_for_saving(model, copy);
  keras_detail::check_saveable_names(*m);
  // optimizer() has no const overload; reading its config and state changes nothing.
  auto& mutable_model = const_cast<Sequential<Scalar>&>(*m);
  const std::string model_config = dump_json(keras_model_config(*m, options.keras_version));
  std::string training_config;
  if (options.include_optimizer && m->compiled()) training_config = dump_json(keras_training_config(*m));
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

/// model.load_weights(path) for a model built with the same architecture. "w.weights.h5": Keras 3's weights-only
/// layout, matched by layer name; any other name: a legacy weights file or a full model file, matched by order
/// (Keras' by-topology rule). Every shape is checked before anything is changed. options.isolate: read the file in
/// a child process first, as for load_model.
template <class Scalar>
void load_weights(Sequential<Scalar>& model, const std::string& path, const LoadOptions& options = {}) {
  if (!model.built()) model.build();
  if (has_extension(path, ".weights.h5")) return load_keras3_weights(model, path, options);
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

/// keras.models.load_model("model.h5"): rebuilds the Sequential from model_config, sets its weights (weight_names
/// order, shapes checked before reading) and, with options.compile, compiles it with training_config's optimizer,
/// loss and metrics (compile_from_training_config: Adam defaults, categorical_crossentropy and accuracy when there is
/// none) and restores /optimizer_weights if present. Parts of training_config nnlite cannot honour are skipped with
/// a LoadWarning (options.on_warning), never an error. Missing or unreadable file: IoError. Not HDF5, truncated,
/// missing pieces, wrong dtypes: FormatError. Shapes that do not fit: ShapeError. Layers or layer options nnlite
/// lacks: UnsupportedError. Every message names the file.
/// options.isolate: read it in a child process first (see LoadOptions), for files from sources you do not trust.
/// The format is chosen by the extension as in Keras 3: ".keras" (load_keras_zip), ".h5" or ".hdf5"; any other is
/// an UnsupportedError naming the accepted ones.
template <class Scalar = float>
Sequential<Scalar> load_model(const std::string& path, const LoadOptions& options = {}) {
  if (has_extension(path, ".keras")) return load_keras_zip<Scalar>(path, options);  // Keras 3 native format
  if (!has_extension(path, ".h5") && !has_extension(path, ".hdf5"))
    throw UnsupportedError("file format not supported: '" + path +
                           "'; load_model reads Keras 3 native '.keras' "
                           "files and legacy HDF5 files ('.h5' or '.hdf5')");
  if (options.isolate) {
    LoadOptions inner = options;
    inner.isolate = false;
    inner.on_warning = [](const LoadWarning&) {};  // the load here reports them
    detail::run_isolated(path, [&] { (void)load_model<Scalar>(path, inner); });
  }
  h5::File f = h5::File::open(path);
  const std::string source = "'" + path + "'";
  if (!f.has_attribute("model_config"))
    throw FormatError(source + " has no 'model_config' attribute, so it is not a Keras model file" +
                      std::string(keras_detail::has_list(f, "layer_names") ? " (it holds weights only: use load_weights)"
                                                                           : ""));
  json model_config =
      parse_json(f.read_string("model_config", options.max_attribute_bytes), source + " attribute 'model_config'");
  // The writer's generation decides what "hard_sigmoid" means: the file's keras_version when the JSON has none.
  if (model_config.is_object() && !model_config.contains("keras_version") && f.has_attribute("keras_version"))
    model_config["keras_version"] = f.read_string("keras_version", options.max_attribute_bytes);
  Sequential<Scalar> model = model_from_keras_config<Scalar>(model_config, source, options);
  if (!f.has("model_weights")) throw FormatError(source + " has no group '/model_weights'");
  const std::vector<keras_detail::LoadedWeight> origin =
      keras_detail::load_weights_group(model, f.group("model_weights"), options);
  if (!options.compile) return model;

  json training_config;
  if (f.has_attribute("training_config")) {
    try {
      training_config = parse_json(f.read_string("training_config", options.max_attribute_bytes),
                                   source + " attribute 'training_config'");
    } catch (const FormatError& e) {  // the weights are fine: load them for inference
      keras_detail::warn(options, "training_config", "training_config",
                         std::string(e.what()) + "; the model is not compiled");
      return model;
    }
  }
  const TrainingConfigResult compiled = compile_from_training_config(model, training_config, source, options);
  if (compiled.optimizer_from_file && options.load_optimizer_state && f.has("optimizer_weights") &&
      !keras_detail::read_optimizer_weights(f, model, origin, training_config["optimizer_config"], options))
    keras_detail::warn(options, "optimizer state", model.optimizer().class_name(),
                       source +
                           ": skipped the optimizer state in /optimizer_weights: its names or shapes are not a "
                           "layout nnlite maps onto " +
                           model.optimizer().class_name() + "; the optimizer starts fresh");
  return model;
}

}  // namespace nnlite

#include "keras_zip.hpp"  // load_model dispatches .keras files there
