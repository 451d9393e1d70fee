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
#pragma once

#include <zip.h>

#include <cstdint>
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

// An opened .keras archive: every member's name checked; members read whole and verified.
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
      // libzip stores names with their length; a NUL inside makes the C string shorter than the stored name.
      check_name(name, i);
      if (!seen.insert(name).second) throw FormatError("'" + path + "': duplicate zip member '" + name + "'");
    }
  }

  bool has(const std::string& name) const { return zip_name_locate(z_.get(), name.c_str(), ZIP_FL_ENC_RAW) >= 0; }

  // The whole member, its declared size bounded by `limit`, the compression ratio bounded, its length and CRC-32
  // checked against the central directory.
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

inline std::string read_json_text(const Archive& a, const std::string& name) {
  std::vector<char> b = a.read(name, kMaxJsonBytes);
  if (std::find(b.begin(), b.end(), '\0') != b.end())
    throw FormatError("member '" + name + "' holds a NUL byte, so it is not JSON");
  return std::string(b.begin(), b.end());
}

inline int next_image_id() {
  static int n = 0;
  return ++n;
}

// model.weights.h5 as Keras 3 writes it: every layer (in model order) at layers/<name>/vars/<i>.
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

}  // namespace keras_zip_detail

// keras.models.load_model("m.keras") (Keras 3 native format) for a Sequential model.
template <class Scalar>
Sequential<Scalar> load_keras_zip(const std::string& path, const LoadOptions& options) {
  if (options.isolate) {
    LoadOptions inner = options;
    inner.isolate = false;
    detail::run_isolated(path, [&] { (void)load_keras_zip<Scalar>(path, inner); });
  }
  using namespace keras_zip_detail;
  const Archive a(path);
  const std::string source = "'" + path + "'";
  if (!a.has("config.json")) throw FormatError(source + " has no 'config.json', so it is not a Keras .keras file");
  if (!a.has("model.weights.h5"))
    throw FormatError(source + " has no 'model.weights.h5', so it is not a Keras .keras file");
  if (a.has("metadata.json")) {
    const json meta = parse_json(read_json_text(a, "metadata.json"), source + " metadata.json");
    if (!meta.is_object()) throw FormatError(source + " metadata.json is not a JSON object");
  }
  const json config = parse_json(read_json_text(a, "config.json"), source + " config.json");
  if (!config.is_object()) throw FormatError(source + " config.json is not a JSON object");
  if (config.contains("registered_name") && config["registered_name"].is_string() &&
      config["registered_name"] != "Sequential" && config.value("class_name", json()) != "Sequential")
    throw UnsupportedError(source + " config.json: the model is the custom class '" +
                           config["registered_name"].get<std::string>() + "', which nnlite does not know");
  Sequential<Scalar> model = model_from_keras_config<Scalar>(config, source + " config.json", options);
  {
    const std::vector<char> image = a.read("model.weights.h5", kMaxWeightsBytes);
    const h5::File f =
        h5::File::open_image(path + "/model.weights.h5#" + std::to_string(next_image_id()), image);
    load_v3_weights(model, f, options);
  }
  if (!options.compile) return model;
  json training_config = json::object();
  if (config.contains("compile_config") && config["compile_config"].is_object()) {
    const json& cc = config["compile_config"];
    if (cc.contains("optimizer")) training_config["optimizer_config"] = cc["optimizer"];
    if (cc.contains("loss")) training_config["loss"] = cc["loss"];
  }
  try {
    model.compile(*optimizer_from_training_config<Scalar>(training_config, source + " config.json compile_config"),
                  *loss_from_training_config<Scalar>(training_config, source + " config.json compile_config"),
                  {"accuracy"});
  } catch (const UnsupportedError& e) {
    throw UnsupportedError(std::string(e.what()) + " (load with LoadOptions::compile = false to skip compiling)");
  }
  return model;
}

}  // namespace nnlite
