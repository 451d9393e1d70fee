// nnlite/io/keras_zip.hpp: Keras 3's native .keras files (keras/src/saving/saving_lib.py, Keras 3.4): a zip holding
// metadata.json, config.json (Keras 3 serialization: module, class_name, config, registered_name, build_config,
// compile_config) and model.weights.h5 (layers/<layer name>/vars/0..n, optimizer/vars/0..n).
//
// Zip library: libzip (Debian libzip-dev), not minizip. libzip validates the central directory on open
// (ZIP_CHECKCONS), checks each member's CRC-32 when it is read to the end (ZIP_ER_CRC), reports every member's
// declared sizes before anything is inflated, and is a maintained library with its own API, whereas minizip is an
// unversioned contrib directory of zlib. nnlite never parses zip structures itself.
//
// Safety, before anything large is allocated: not a zip, a corrupt or truncated central directory, member names
// with "..", absolute paths, backslashes or NUL, duplicate members, a member over LoadOptions::max_attribute_bytes
// (config/metadata) or max_weights_file_bytes (the weights), a compression ratio past kMaxCompressionRatio, a
// declared size that the data disagrees with, a CRC mismatch, missing config.json or model.weights.h5: FormatError.
// The weights are opened from memory (HDF5's core driver over the inflated bytes), never from a temp file.
//
// Writing (save_keras_zip, what save_model does for a .keras path) follows Keras 3.4.1's saving_lib.py and
// serialization_lib.py (checked against the real Keras 3.4.1 file in the shared fixtures; the layout is unchanged up
// to Keras 3.16): members metadata.json, config.json, model.weights.h5 in that order, stored uncompressed as Python's
// zipfile does. model.weights.h5 holds an empty /vars (the model's own), layers/<name>/vars for every layer (empty
// for weightless ones; weights at 0..n-1 in Keras' order, trainable then non-trainable) and, when compiled,
// optimizer/vars: 0 iterations (int64), 1 learning_rate (float32, Keras' floatx; absent when the rate is a
// schedule, which Keras keeps out of the optimizer's variables), then for every trainable weight
// in model order its slots interleaved (Adam: momentum, velocity; SGD with momentum: momentum), as
// BaseOptimizer.add_optimizer_variables creates them. An optimizer that has not stepped writes zero slots, which is
// what Keras' freshly built optimizer holds. The HDF5 file and the zip are built in memory, then written to a
// temporary file renamed over the path (write_bytes_atomically).
#pragma once

#include <zip.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "keras_h5.hpp"

namespace nnlite {

namespace keras_zip_detail {

inline constexpr std::uint64_t kMaxCompressionRatio = 1000;       // zip-bomb bound: uncompressed / compressed
inline constexpr std::uint64_t kMaxJsonBytes = std::uint64_t(64) << 20;
inline constexpr std::uint64_t kMaxWeightsBytes = std::uint64_t(8) << 30;

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};

/// An opened .keras archive: every member's name checked; members read whole and verified.
class Archive {
 public:
  explicit Archive(const std::string& path) : path_(path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) throw IoError("cannot open '" + path + "': " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw IoError("cannot open '" + path + "': not a regular file");
    int err = 0;
    zip_t* z = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (!z) {
      zip_error_t ze;
      zip_error_init_with_code(&ze, err);
      const std::string msg = zip_error_strerror(&ze);
      zip_error_fini(&ze);
      if (err == ZIP_ER_OPEN || err == ZIP_ER_READ) throw IoError("cannot open '" + path + "': " + msg);
      if (err == ZIP_ER_EXISTS)  // libzip's answer to a central directory naming one member twice
        throw FormatError("'" + path + "' is not a valid .keras file: it holds two zip members with the same name (" +
                          msg + ")");
      throw FormatError("'" + path + "' is not a valid .keras file (zip archive): " + msg);
    }
    z_.reset(z);
    const zip_int64_t n = zip_get_num_entries(z, 0);
    if (n < 0 || n > 100000) throw FormatError("'" + path + "': implausible number of zip members");
    std::set<std::string> seen;
    for (zip_int64_t i = 0; i < n; ++i) {
      const char* raw = zip_get_name(z, static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
      if (!raw) throw FormatError("'" + path + "': zip member " + std::to_string(i) + " has no name");
      zip_stat_t zs;
      zip_stat_init(&zs);
      if (zip_stat_index(z, static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW, &zs) != 0)
        throw FormatError("'" + path + "': cannot read zip member " + std::to_string(i));
      const std::string name(raw);
      // libzip (1.7) turns a NUL inside a stored name into a space; should another version cut the name there
      // instead, the shortened name would find another member (or none), which is refused here.
      if (zip_name_locate(z, raw, ZIP_FL_ENC_RAW) != i)
        throw FormatError("'" + path + "': zip member " + std::to_string(i) + " '" + name +
                          "' cannot be told apart from another member's name (a NUL inside it, or a duplicate)");
      check_name(name, i);
      if (!seen.insert(name).second) throw FormatError("'" + path + "': duplicate zip member '" + name + "'");
    }
  }

  bool has(const std::string& name) const { return zip_name_locate(z_.get(), name.c_str(), ZIP_FL_ENC_RAW) >= 0; }

  /// The whole member, its declared size bounded by `limit`, the compression ratio bounded, its length and CRC-32
  /// checked against the central directory.
  std::vector<char> read(const std::string& name, std::uint64_t limit) const {
    const std::string where = "'" + path_ + "' member '" + name + "'";
    const zip_int64_t idx = zip_name_locate(z_.get(), name.c_str(), ZIP_FL_ENC_RAW);
    if (idx < 0) throw FormatError("'" + path_ + "' has no '" + name + "', so it is not a Keras .keras file");
    zip_stat_t zs;
    zip_stat_init(&zs);
    if (zip_stat_index(z_.get(), static_cast<zip_uint64_t>(idx), 0, &zs) != 0 || !(zs.valid & ZIP_STAT_SIZE) ||
        !(zs.valid & ZIP_STAT_COMP_SIZE))
      throw FormatError(where + ": cannot read its sizes");
    if (zs.size > limit)
      throw FormatError(where + " is " + std::to_string(zs.size) + " bytes, more than the limit of " +
                        std::to_string(limit));
    if (zs.size > kMaxCompressionRatio * std::max<zip_uint64_t>(zs.comp_size, 1))
      throw FormatError(where + " would inflate " + std::to_string(zs.comp_size) + " bytes to " +
                        std::to_string(zs.size) + ", a ratio past the zip-bomb bound of " +
                        std::to_string(kMaxCompressionRatio));
    zip_file_t* f = zip_fopen_index(z_.get(), static_cast<zip_uint64_t>(idx), 0);
    if (!f) throw FormatError(where + ": " + zip_strerror(z_.get()));
    std::vector<char> bytes(static_cast<std::size_t>(zs.size));
    zip_int64_t got = 0;
    if (!bytes.empty()) got = zip_fread(f, bytes.data(), bytes.size());
    char extra;
    const zip_int64_t more = got >= 0 ? zip_fread(f, &extra, 1) : 0;  // reading to the end checks the CRC
    std::string err = (got < 0 || more < 0) ? zip_file_strerror(f) : "";
    zip_fclose(f);
    if (got < 0 || more < 0) throw FormatError(where + ": " + err);
    if (static_cast<std::uint64_t>(got) != zs.size || more != 0)
      throw FormatError(where + ": its data (" + std::to_string(got + more) + "+ bytes) disagrees with its declared "
                        "size of " + std::to_string(zs.size) + " bytes");
    return bytes;
  }

 private:
  void check_name(const std::string& name, zip_int64_t i) const {
    const std::string where = "'" + path_ + "': zip member " + std::to_string(i) + " '" + name + "'";
    if (name.empty()) throw FormatError(where + " has an empty name");
    if (name[0] == '/' || name.find('\\') != std::string::npos || (name.size() > 1 && name[1] == ':'))
      throw FormatError(where + " has an absolute path");
    std::size_t start = 0;
    while (start <= name.size()) {
      const std::size_t end = std::min(name.find('/', start), name.size());
      if (name.compare(start, end - start, "..") == 0 && end - start == 2)
        throw FormatError(where + " climbs out of the archive ('..')");
      start = end + 1;
    }
  }

  std::string path_;
  std::unique_ptr<zip_t, ZipCloser> z_;
};

inline std::string read_json_text(const Archive& a, const std::string& name, std::uint64_t limit = kMaxJsonBytes) {
  std::vector<char> b = a.read(name, std::min(limit, kMaxJsonBytes));
  if (std::find(b.begin(), b.end(), '\0') != b.end())
    throw FormatError("member '" + name + "' holds a NUL byte, so it is not JSON");
  return std::string(b.begin(), b.end());
}

inline int next_image_id() {
  static int n = 0;
  return ++n;
}

/// model.weights.h5 as Keras 3 writes it: every layer (in model order) at layers/<name>/vars/<i>.
template <class Scalar>
void load_v3_weights(Sequential<Scalar>& model, const h5::File& f, const LoadOptions& o) {
  std::vector<Tensor<Scalar>> values;
  for (std::size_t i = 0; i < model.size(); ++i) {
    const Layer<Scalar>& layer = model.layer(i);
    const std::vector<ParamSpec> specs = layer.param_specs();
    if (specs.empty()) continue;
    const std::string gpath = "layers/" + layer.name() + "/vars";
    if (!f.has("layers") || !f.group("layers").has(layer.name()))
      throw FormatError(f.where() + " has no weights for layer '" + layer.name() + "' (no group '" + gpath + "')");
    const h5::Group g = f.group(gpath);
    if (g.has(std::to_string(specs.size())))
      throw ShapeError(g.where() + " holds more than the " + std::to_string(specs.size()) + " weights of layer '" +
                       layer.name() + "' (" + layer.class_name() + ")");
    for (std::size_t j = 0; j < specs.size(); ++j) {
      Tensor<Scalar> t(specs[j].shape);
      keras_detail::read_weight(g, std::to_string(j), specs[j].shape, t.data(),
                                "layer '" + layer.name() + "' (" + layer.class_name() + ") weight '" +
                                    specs[j].name + "'",
                                o);
      values.push_back(std::move(t));
    }
  }
  model.set_weights(values);
}

/// optimizer/vars as Keras 3 writes it (see the top of this file) into the compiled model's optimizer: the step count
/// and every slot, all read and checked before anything changes. A different count, shape or type leaves the fresh
/// optimizer and returns false, as Keras skips (with a warning) optimizer variables that do not fit. vars/1, the
/// learning rate, is not read: compile_config holds it exactly, the variable only as float32. With a schedule Keras
/// has no learning-rate variable and the slots start at vars/1.
template <class Scalar>
bool load_v3_optimizer(Sequential<Scalar>& model, const h5::File& f) {
  if (!f.has("optimizer") || !f.group("optimizer").has("vars")) return false;
  const h5::Group g = f.group("optimizer/vars");
  Optimizer<Scalar>& opt = model.optimizer();
  const auto slots = keras_detail::optimizer_slots(opt);
  const auto trained = model.trainable_weights();
  const std::size_t first = opt.learning_rate_schedule() ? 1 : 2;
  const std::size_t count = first + slots.size() * trained.size();
  for (std::size_t k = 0; k < count; ++k)
    if (!g.has(std::to_string(k))) return false;
  if (g.has(std::to_string(count))) return false;
  const Index n = model.trainable_size();
  std::vector<std::vector<Scalar>> values(slots.size(), std::vector<Scalar>(static_cast<std::size_t>(n)));
  for (std::size_t w = 0; w < trained.size(); ++w) {
    for (std::size_t s = 0; s < slots.size(); ++s) {
      h5::Dataset ds = g.dataset(std::to_string(first + w * slots.size() + s));
      std::vector<Index> got;
      for (hsize_t d : ds.dims())
        got.push_back(d > static_cast<hsize_t>(INT64_MAX) ? Index(-1) : static_cast<Index>(d));
      if (ds.type_class() != H5T_FLOAT || got != trained[w].shape.dims()) return false;
      ds.read(values[s].data() + trained[w].offset, static_cast<std::uint64_t>(trained[w].shape.size()));
    }
  }
  return keras_detail::commit_optimizer_state(opt, slots, values, n, g.dataset("0"));
}

// ---- writing -------------------------------------------------------------------------------------------------------

/// Keras 3's serialized DTypePolicy, which every layer's "dtype" holds.
inline json dtype_policy(const std::string& name) {
  return {
      {"module", "keras"}, {"class_name", "DTypePolicy"}, {"config", {{"name", name}}}, {"registered_name", nullptr}};
}

/// [null, d1, d2, ...]: a shape with its batch dimension, as build_config and batch_shape hold it.
inline json batch_shape_json(const Shape& s) {
  json v = json::array({nullptr});
  for (Index d : s.dims()) v.push_back(d);
  return v;
}

/// A Keras 3 optimizer config: nnlite's config without tf.keras 2's "decay", with the keys Keras 3's BaseOptimizer
/// get_config() adds (all at the values nnlite implements) and Keras' lower-case default name.
template <class Scalar>
json keras3_optimizer_config(const Optimizer<Scalar>& opt) {
  json c = opt.config();
  c.erase("decay");
  if (!c.contains("name") || c["name"] == opt.class_name()) c["name"] = to_lower(opt.class_name());
  for (const char* key : {"weight_decay", "clipnorm", "global_clipnorm", "clipvalue", "ema_overwrite_frequency",
                          "loss_scale_factor", "gradient_accumulation_steps"})
    if (!c.contains(key)) c[key] = nullptr;
  if (!c.contains("use_ema")) c["use_ema"] = false;
  if (!c.contains("ema_momentum")) c["ema_momentum"] = 0.99;
  return c;
}

/// config.json: serialize_keras_object(model) for a Sequential (Sequential.get_config, Model.get_build_config,
/// Trainer.get_compile_config).
template <class Scalar>
json keras3_model_config(const Sequential<Scalar>& model, bool include_compile) {
  const std::string dtype = keras_detail::dtype_name<Scalar>();
  const json input_shape = batch_shape_json(model.input_shape());
  std::string input_name = "input_layer";  // Keras 3's InputLayer name, kept distinct from every layer name
  for (bool clash = true; clash;) {
    clash = false;
    for (std::size_t i = 0; i < model.size(); ++i) clash = clash || model.layer(i).name() == input_name;
    if (clash) input_name += "_";
  }
  json layers = json::array();
  layers.push_back(
      {{"module", "keras.layers"},
       {"class_name", "InputLayer"},
       {"config", {{"batch_shape", input_shape}, {"dtype", dtype}, {"sparse", false}, {"name", input_name}}},
       {"registered_name", nullptr}});
  for (std::size_t i = 0; i < model.size(); ++i) {
    const Layer<Scalar>& layer = model.layer(i);
    json c = layer.config();
    c["name"] = layer.name();
    c["trainable"] = layer.trainable();
    c["dtype"] = dtype_policy(dtype);
    layers.push_back({{"module", "keras.layers"},
                      {"class_name", layer.class_name()},
                      {"config", c},
                      {"registered_name", nullptr},
                      {"build_config", {{"input_shape", batch_shape_json(layer.input_shape())}}}});
  }
  json out = {{"module", "keras"},
              {"class_name", "Sequential"},
              {"config",
               {{"name", model.name()},
                {"trainable", true},
                {"dtype", dtype_policy(dtype)},
                {"layers", layers},
                {"build_input_shape", input_shape}}},
              {"registered_name", nullptr},
              {"build_config", {{"input_shape", input_shape}}}};
  if (include_compile && model.compiled()) {
    json loss = keras_training_config(model)["loss"];
    if (loss.is_object())
      loss = {{"module", "keras.losses"},
              {"class_name", loss["class_name"]},
              {"config", loss["config"]},
              {"registered_name", nullptr}};
    out["compile_config"] = {{"optimizer",
                              {{"module", "keras.optimizers"},
                               {"class_name", model.optimizer().class_name()},
                               {"config", keras3_optimizer_config(model.optimizer())},
                               {"registered_name", nullptr}}},
                             {"loss", loss},
                             {"loss_weights", nullptr},
                             {"metrics", model.metric_names()},
                             {"weighted_metrics", nullptr},
                             {"run_eagerly", false},
                             {"steps_per_execution", 1},
                             {"jit_compile", false}};
  }
  return out;
}

/// model.weights.h5 (see the top of this file) as the bytes of an HDF5 file built in memory.
template <class Scalar>
std::vector<char> keras3_weights_image(Sequential<Scalar>& model, bool with_optimizer, const std::string& label) {
  h5::File f = h5::File::create_in_memory(label);
  f.create_group("vars");
  h5::Group layers = f.create_group("layers");
  for (std::size_t i = 0; i < model.size(); ++i) {
    const Layer<Scalar>& layer = model.layer(i);
    h5::Group g = layers.create_group(layer.name()).create_group("vars");
    const auto specs = layer.param_specs();
    for (std::size_t k = 0; k < specs.size(); ++k) {
      if (!layer.weight(k)) throw Error("cannot save layer '" + layer.name() + "': its weights are not allocated");
      std::vector<hsize_t> dims(specs[k].shape.dims().begin(), specs[k].shape.dims().end());
      g.create_dataset(std::to_string(k), dims, h5::file_type<Scalar>()).write(layer.weight(k));
    }
  }
  if (with_optimizer) {
    Optimizer<Scalar>& opt = model.optimizer();
    h5::Group g = f.create_group("optimizer").create_group("vars");
    const std::int64_t iterations = opt.iterations();
    g.create_dataset("0", {}, h5::file_type<std::int64_t>()).write(&iterations);
    std::size_t k = 1;
    if (!opt.learning_rate_schedule()) {  // Keras tracks a learning-rate variable only for a fixed rate
      const float lr = static_cast<float>(opt.learning_rate());
      g.create_dataset(std::to_string(k++), {}, h5::file_type<float>()).write(&lr);
    }
    const auto slots = keras_detail::optimizer_slots(opt);
    const Index n = model.trainable_size();
    std::vector<Scalar> zeros;  // the state of an optimizer that has not stepped yet
    for (const auto& slot : slots)
      if (slot.second->size() != n) zeros.assign(static_cast<std::size_t>(n), Scalar(0));
    for (const auto& w : model.trainable_weights()) {
      std::vector<hsize_t> dims(w.shape.dims().begin(), w.shape.dims().end());
      for (const auto& slot : slots) {
        const Scalar* base = slot.second->size() == n ? slot.second->data() : zeros.data();
        g.create_dataset(std::to_string(k++), dims, h5::file_type<Scalar>()).write(base + w.offset);
      }
    }
  }
  return f.image();
}

/// A zip archive of `members` (name, bytes), stored uncompressed like Python's zipfile, built in memory by libzip.
inline std::vector<char> zip_image(const std::vector<std::pair<std::string, const std::string*>>& members,
                                   const std::string& path) {
  const std::string what = "cannot save '" + path + "': ";
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t* src = zip_source_buffer_create(nullptr, 0, 0, &ze);
  if (!src) {
    const std::string msg = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    throw IoError(what + msg);
  }
  zip_source_keep(src);  // the archive's bytes stay readable after zip_close
  std::unique_ptr<zip_source_t, void (*)(zip_source_t*)> keep(src, zip_source_free);
  zip_t* z = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
  if (!z) {
    const std::string msg = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    throw IoError(what + msg);
  }
  zip_error_fini(&ze);
  std::unique_ptr<zip_t, ZipCloser> archive(z);
  const std::time_t now = std::time(nullptr);
  for (const auto& [name, bytes] : members) {
    zip_source_t* s = zip_source_buffer(z, bytes->data(), bytes->size(), 0);
    if (!s) throw IoError(what + zip_strerror(z));
    const zip_int64_t i = zip_file_add(z, name.c_str(), s, ZIP_FL_ENC_UTF_8);
    if (i < 0) {
      zip_source_free(s);
      throw IoError(what + zip_strerror(z));
    }
    if (zip_set_file_compression(z, static_cast<zip_uint64_t>(i), ZIP_CM_STORE, 0) != 0 ||
        zip_file_set_mtime(z, static_cast<zip_uint64_t>(i), now, 0) != 0)
      throw IoError(what + zip_strerror(z));
  }
  if (zip_close(z) != 0) throw IoError(what + zip_strerror(z));
  archive.release();  // zip_close freed it
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_source_stat(src, &st) != 0 || !(st.valid & ZIP_STAT_SIZE) || zip_source_open(src) != 0)
    throw IoError(what + "cannot read back the archive built in memory");
  std::vector<char> out(static_cast<std::size_t>(st.size));
  const zip_int64_t got = out.empty() ? 0 : zip_source_read(src, out.data(), out.size());
  zip_source_close(src);
  if (got < 0 || static_cast<std::uint64_t>(got) != st.size)
    throw IoError(what + "cannot read back the archive built in memory");
  return out;
}

/// metadata.json's date_saved: local time as datetime.now().strftime("%Y-%m-%d@%H:%M:%S").
inline std::string date_saved() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d@%H:%M:%S", &tm);
  return buf;
}

}  // namespace keras_zip_detail

/// model.save("m.keras"): the Keras 3 native format (see the top of this file). The optimizer's configuration and
/// its variables are written when the model is compiled and options.include_optimizer (Keras 3 always writes both;
/// include_optimizer_state is for .h5 files, whose optimizer weights tf.keras may not restore).
/// options.keras3_version is what metadata.json says wrote it. A failure leaves any previous file untouched.
template <class Scalar>
void save_keras_zip(const Sequential<Scalar>& model, const std::string& path, const SaveOptions& options) {
  using namespace keras_zip_detail;
  std::optional<Sequential<Scalar>> copy;
  const Sequential<Scalar>* m = &keras_detail::built_for_saving(model, copy);
  keras_detail::check_saveable_names(*m);
  keras_detail::check_parent_directory(path);
  auto& mutable_model = const_cast<Sequential<Scalar>&>(*m);  // optimizer() has no const overload; nothing changes
  const bool with_optimizer = options.include_optimizer && m->compiled();
  const std::string metadata = dump_json(json{{"keras_version", options.keras3_version}, {"date_saved", date_saved()}});
  const std::string config = dump_json(keras3_model_config(*m, with_optimizer));
  const std::vector<char> image = keras3_weights_image(
      mutable_model, with_optimizer, temp_path_for(path) + "/model.weights.h5#" + std::to_string(next_image_id()));
  const std::string weights(image.begin(), image.end());
  const std::vector<char> bytes =
      zip_image({{"metadata.json", &metadata}, {"config.json", &config}, {"model.weights.h5", &weights}}, path);
  write_bytes_atomically(path, bytes.data(), bytes.size());
}

/// model.save_weights("w.weights.h5"): Keras 3's weights-only file, the model.weights.h5 of a .keras archive without
/// the optimizer. A failure leaves any previous file untouched.
template <class Scalar>
void save_keras3_weights(const Sequential<Scalar>& model, const std::string& path) {
  std::optional<Sequential<Scalar>> copy;
  const Sequential<Scalar>* m = &keras_detail::built_for_saving(model, copy);
  keras_detail::check_saveable_names(*m);
  keras_detail::check_parent_directory(path);
  auto& mutable_model = const_cast<Sequential<Scalar>&>(*m);  // the image only reads the weights
  const std::vector<char> image = keras_zip_detail::keras3_weights_image(
      mutable_model, false, temp_path_for(path) + "#" + std::to_string(keras_zip_detail::next_image_id()));
  write_bytes_atomically(path, image.data(), image.size());
}

/// model.load_weights("w.weights.h5"): Keras 3's weights-only file, every layer's weights by its name.
template <class Scalar>
void load_keras3_weights(Sequential<Scalar>& model, const std::string& path, const LoadOptions& options) {
  if (options.isolate) {  // the child loads into its own copy of the model
    LoadOptions inner = options;
    inner.isolate = false;
    detail::run_isolated(path, [&] { load_keras3_weights(model, path, inner); });
  }
  keras_zip_detail::load_v3_weights(model, h5::File::open(path), options);
}

/// keras.models.load_model("m.keras") (Keras 3 native format) for a Sequential model, compiled from compile_config
/// as load_model compiles an .h5 file from training_config (what nnlite cannot honour is a LoadWarning).
template <class Scalar>
Sequential<Scalar> load_keras_zip(const std::string& path, const LoadOptions& options) {
  if (options.isolate) {
    LoadOptions inner = options;
    inner.isolate = false;
    inner.on_warning = [](const LoadWarning&) {};  // the load here reports them
    detail::run_isolated(path, [&] { (void)load_keras_zip<Scalar>(path, inner); });
  }
  using namespace keras_zip_detail;
  const Archive a(path);
  const std::string source = "'" + path + "'";
  if (!a.has("config.json")) throw FormatError(source + " has no 'config.json', so it is not a Keras .keras file");
  if (!a.has("model.weights.h5"))
    throw FormatError(source + " has no 'model.weights.h5', so it is not a Keras .keras file");
  if (a.has("metadata.json")) {
    const json meta =
        parse_json(read_json_text(a, "metadata.json", options.max_attribute_bytes), source + " metadata.json");
    if (!meta.is_object()) throw FormatError(source + " metadata.json is not a JSON object");
  }
  const json config =
      parse_json(read_json_text(a, "config.json", options.max_attribute_bytes), source + " config.json");
  if (!config.is_object()) throw FormatError(source + " config.json is not a JSON object");
  if (config.contains("registered_name") && config["registered_name"].is_string() &&
      config["registered_name"] != "Sequential" && config.value("class_name", json()) != "Sequential")
    throw UnsupportedError(source + " config.json: the model is the custom class '" +
                           config["registered_name"].get<std::string>() + "', which nnlite does not know");
  Sequential<Scalar> model = model_from_keras_config<Scalar>(config, source + " config.json", options);
  const std::vector<char> image = a.read("model.weights.h5", kMaxWeightsBytes);
  const h5::File f = h5::File::open_image(path + "/model.weights.h5#" + std::to_string(next_image_id()), image);
  load_v3_weights(model, f, options);
  if (!options.compile) return model;
  // compile_config holds what Keras 3's compile() was given; as a training_config: optimizer_config, loss, metrics.
  json training_config;
  if (config.contains("compile_config") && !config["compile_config"].is_null()) {
    const json& cc = config["compile_config"];
    training_config = cc;
    if (cc.is_object()) {
      training_config.erase("optimizer");
      if (cc.contains("optimizer")) training_config["optimizer_config"] = cc["optimizer"];
    }
  }
  const std::string where = source + " config.json compile_config";
  const TrainingConfigResult compiled = compile_from_training_config(model, training_config, where, options);
  if (compiled.optimizer_from_file && options.load_optimizer_state && f.has("optimizer") &&
      !load_v3_optimizer(model, f))
    keras_detail::warn(options, "optimizer state", model.optimizer().class_name(),
                       source +
                           ": skipped the optimizer variables in model.weights.h5 optimizer/vars: their count, "
                           "shapes or types do not fit " +
                           model.optimizer().class_name() + "; the optimizer starts fresh");
  return model;
}

}  // namespace nnlite
