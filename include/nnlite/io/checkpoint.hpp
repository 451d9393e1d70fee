// nnlite/io/checkpoint.hpp: training checkpoints — a model's parameters, its optimizer's state and caller metadata
// in one small binary file, written atomically, so a killed run can resume bit for bit (see Sequential::fit).
//
// File layout (version 1; integers little-endian, values in the model's Scalar, IEEE little-endian):
//   0   8 bytes   magic "NNLTCKPT"
//   8   u32       format version (1)
//   12  u32       bytes per value (4: float32, 8: float64)
//   16  u64       L, length of the JSON header
//   24  L bytes   JSON header: {"model": {"name", "layers": [{"name", "class_name", "params", "trainable"}]},
//                 "optimizer": {"class_name", "config", "iterations"} or null, "metadata": <caller's JSON>}
//   ..  u64       P, number of parameters, then P values (the model's flat buffer: trainable weights first)
//   ..  i64       optimizer iterations (steps taken; 0 without an optimizer)
//   ..  u32       K, number of optimizer state vectors, then K times:
//                   u32 name length, name bytes, u64 count (0 before the first step, else the trainable
//                   count), count values
//   ..  u64       FNV-1a 64 checksum of every byte before it
// load_checkpoint validates everything (magic, version, sizes against the file and the model, checksum) before it
// changes the model, and names the file in every error.
#pragma once

#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "../core/atomic_file.hpp"
#include "../core/error.hpp"
#include "../model/sequential.hpp"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "nnlite checkpoints copy values as little-endian bytes; add byte swapping for this platform"
#endif

namespace nnlite {

/// The first 8 bytes of an nnlite checkpoint file: "NNLTCKPT".
inline constexpr char kCheckpointMagic[8] = {'N', 'N', 'L', 'T', 'C', 'K', 'P', 'T'};
/// The checkpoint format version this code writes and reads.
inline constexpr std::uint32_t kCheckpointVersion = 1;

namespace checkpoint_detail {

inline std::uint64_t fnv1a(const char* p, std::size_t n, std::uint64_t h = 0xcbf29ce484222325ULL) {
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= 0x100000001b3ULL;
  }
  return h;
}

class Writer {
 public:
  template <class T>
  void put(T v) {
    static_assert(std::is_integral_v<T>);
    for (std::size_t i = 0; i < sizeof(T); ++i)
      buf_.push_back(static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xff));
  }
  void bytes(const void* p, std::size_t n) { buf_.append(static_cast<const char*>(p), n); }
  std::string& buffer() { return buf_; }

 private:
  std::string buf_;
};

/// Bounds-checked reads over the whole file: running past the end (before the checksum) means truncated.
class Reader {
 public:
  Reader(const std::string& data, std::size_t end, std::string where) : data_(data), end_(end), where_(std::move(where)) {}
  template <class T>
  T get(const char* what) {
    need(sizeof(T), what);
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
      v |= static_cast<std::uint64_t>(static_cast<unsigned char>(data_[pos_ + i])) << (8 * i);
    pos_ += sizeof(T);
    return static_cast<T>(v);
  }
  const char* take(std::uint64_t n, const std::string& what) {
    need(n, what);
    const char* p = data_.data() + pos_;
    pos_ += static_cast<std::size_t>(n);
    return p;
  }
  std::size_t left() const { return end_ - pos_; }
  std::size_t pos() const { return pos_; }

 private:
  void need(std::uint64_t n, const std::string& what) {
    if (n > left())
      throw FormatError(where_ + ": truncated: " + what + " needs " + std::to_string(n) + " bytes at offset " +
                        std::to_string(pos_) + " but only " + std::to_string(left()) + " remain");
  }
  const std::string& data_;
  std::size_t end_, pos_ = 0;
  std::string where_;
};

inline std::string read_whole_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw IoError("cannot open checkpoint '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(::fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    std::fclose(f);
    throw IoError("cannot read checkpoint '" + path + "': not a regular file");
  }
  std::string data(static_cast<std::size_t>(st.st_size), '\0');
  const std::size_t got = data.empty() ? 0 : std::fread(data.data(), 1, data.size(), f);
  std::fclose(f);
  if (got != data.size()) throw IoError("cannot read checkpoint '" + path + "': short read");
  return data;
}

template <class Scalar>
nlohmann::json layer_list(const Sequential<Scalar>& model) {
  nlohmann::json layers = nlohmann::json::array();
  for (std::size_t i = 0; i < model.size(); ++i) {
    const auto& l = model.layer(i);
    layers.push_back({{"name", l.name()}, {"class_name", l.class_name()}, {"params", l.param_count()},
                      {"trainable", l.trainable()}});
  }
  return layers;
}

/// What a checkpoint holds once parsed and checked against its own sizes (not yet against a model).
template <class Scalar>
struct Parsed {
  nlohmann::json header;
  std::vector<Scalar> params;
  std::int64_t iterations = 0;
  std::vector<std::pair<std::string, std::vector<Scalar>>> state;
};

template <class Scalar>
Parsed<Scalar> parse(const std::string& path) {
  const std::string where = "checkpoint '" + path + "'";
  const std::string data = read_whole_file(path);
  if (data.size() < 8 || std::memcmp(data.data(), kCheckpointMagic, 8) != 0)
    throw FormatError(where + " is not an nnlite checkpoint (expected the magic \"NNLTCKPT\" at its start)");
  if (data.size() < 8 + 8 + 8 + 8)
    throw FormatError(where + ": truncated: " + std::to_string(data.size()) + " bytes is shorter than any checkpoint");
  Reader r(data, data.size() - 8, where);  // the last 8 bytes are the checksum
  r.take(8, "magic");
  const auto version = r.get<std::uint32_t>("version");
  if (version != kCheckpointVersion)
    throw FormatError(where + ": format version " + std::to_string(version) + ", this nnlite reads version " +
                      std::to_string(kCheckpointVersion));
  const auto value_bytes = r.get<std::uint32_t>("value size");
  if (value_bytes != sizeof(Scalar))
    throw FormatError(where + " holds " + std::to_string(8 * value_bytes) + "-bit values, the model uses " +
                      std::to_string(8 * sizeof(Scalar)) + "-bit ones");
  const auto json_len = r.get<std::uint64_t>("header length");
  const char* json_text = r.take(json_len, "the JSON header");
  Parsed<Scalar> out;
  try {
    out.header = nlohmann::json::parse(json_text, json_text + json_len);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(where + ": its JSON header does not parse (" + e.what() + ")");
  }
  if (!out.header.is_object() || !out.header.contains("model") || !out.header.contains("metadata"))
    throw FormatError(where + ": its JSON header lacks 'model' or 'metadata'");
  // load_checkpoint reads these keys with typed accessors: check their shape here so that a header of the wrong
  // shape is a FormatError, not a nlohmann::json::type_error (found by tests/fuzz/fuzz_checkpoint).
  const nlohmann::json& model = out.header["model"];
  if (!model.is_object()) throw FormatError(where + ": its JSON header's 'model' is not an object");
  if (model.contains("layers")) {
    const nlohmann::json& layers = model["layers"];
    if (!layers.is_array()) throw FormatError(where + ": its JSON header's 'model' has 'layers' that are not a list");
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const nlohmann::json& l = layers[i];
      if (!l.is_object() || !l.contains("class_name") || !l["class_name"].is_string() || !l.contains("params") ||
          !l["params"].is_number_integer() || (l.contains("trainable") && !l["trainable"].is_boolean()))
        throw FormatError(where + ": its JSON header's 'model' layer " + std::to_string(i) +
                          " is not {\"class_name\": <string>, \"params\": <integer>, \"trainable\": <bool>, ...}");
    }
  }
  if (out.header.contains("optimizer")) {
    const nlohmann::json& opt = out.header["optimizer"];
    if (!opt.is_null() && (!opt.is_object() || (opt.contains("class_name") && !opt["class_name"].is_string())))
      throw FormatError(where + ": its JSON header's 'optimizer' is neither null nor {\"class_name\": <string>, ...}");
  }

  auto values = [&](std::vector<Scalar>& dst, const std::string& what) {
    const auto count = r.get<std::uint64_t>((what + " count").c_str());
    if (count > r.left() / sizeof(Scalar))  // checked before allocating: a corrupt count cannot ask for gigabytes
      throw FormatError(where + ": truncated: " + what + " declares " + std::to_string(count) + " values but only " +
                        std::to_string(r.left()) + " bytes remain");
    const char* p = r.take(count * sizeof(Scalar), what);
    dst.resize(static_cast<std::size_t>(count));
    if (count) std::memcpy(dst.data(), p, static_cast<std::size_t>(count) * sizeof(Scalar));
  };
  values(out.params, "parameters");
  out.iterations = r.get<std::int64_t>("optimizer iterations");
  const auto k = r.get<std::uint32_t>("optimizer state count");
  if (k > 64) throw FormatError(where + ": " + std::to_string(k) + " optimizer state vectors (corrupt count)");
  for (std::uint32_t i = 0; i < k; ++i) {
    const auto name_len = r.get<std::uint32_t>("state name length");
    if (name_len > 256) throw FormatError(where + ": optimizer state name of " + std::to_string(name_len) + " bytes");
    const char* name = r.take(name_len, "state name");
    out.state.emplace_back(std::string(name, name_len), std::vector<Scalar>{});
    values(out.state.back().second, "optimizer state '" + out.state.back().first + "'");
  }
  if (r.left() != 0)
    throw FormatError(where + ": " + std::to_string(r.left()) + " unexpected bytes after the optimizer state");
  std::uint64_t stored = 0;
  for (std::size_t i = 0; i < 8; ++i)
    stored |= static_cast<std::uint64_t>(static_cast<unsigned char>(data[data.size() - 8 + i])) << (8 * i);
  if (stored != fnv1a(data.data(), data.size() - 8))
    throw FormatError(where + " is corrupt: its checksum does not match its content");
  return out;
}

}  // namespace checkpoint_detail

/// Writes the model's parameters, its optimizer's step count and state (when compiled) and `metadata` (any JSON,
/// e.g. the run's config and history) to `path`, atomically: a crash leaves the previous checkpoint or the new one.
template <class Scalar>
void save_checkpoint(const std::string& path, const Sequential<Scalar>& model, const nlohmann::json& metadata = {}) {
  if (!model.built()) throw Error("save_checkpoint: model '" + model.name() + "' has no weights yet (build or compile it)");
  // optimizer() and state() have no const overloads; reading them changes nothing.
  auto& m = const_cast<Sequential<Scalar>&>(model);
  nlohmann::json header{{"model", {{"name", model.name()}, {"layers", checkpoint_detail::layer_list(model)}}},
                        {"optimizer", nullptr},
                        {"metadata", metadata}};
  std::vector<std::pair<std::string, typename Optimizer<Scalar>::Vector*>> state;
  std::int64_t iterations = 0;
  if (model.compiled()) {
    auto& opt = m.optimizer();
    state = opt.state();
    iterations = opt.iterations();
    header["optimizer"] = {{"class_name", opt.class_name()}, {"config", opt.config()}, {"iterations", iterations}};
  }
  const std::string text = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

  checkpoint_detail::Writer w;
  const auto n = static_cast<std::size_t>(model.count_params());
  w.buffer().reserve(64 + text.size() + (n * (1 + state.size()) + 16) * sizeof(Scalar));
  w.bytes(kCheckpointMagic, 8);
  w.put<std::uint32_t>(kCheckpointVersion);
  w.put<std::uint32_t>(sizeof(Scalar));
  w.put<std::uint64_t>(text.size());
  w.bytes(text.data(), text.size());
  w.put<std::uint64_t>(n);
  w.bytes(model.params(), n * sizeof(Scalar));
  w.put<std::int64_t>(iterations);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(state.size()));
  for (const auto& [name, vec] : state) {
    w.put<std::uint32_t>(static_cast<std::uint32_t>(name.size()));
    w.bytes(name.data(), name.size());
    w.put<std::uint64_t>(static_cast<std::uint64_t>(vec->size()));
    w.bytes(vec->data(), static_cast<std::size_t>(vec->size()) * sizeof(Scalar));
  }
  const std::uint64_t sum = checkpoint_detail::fnv1a(w.buffer().data(), w.buffer().size());
  w.put<std::uint64_t>(sum);
  write_text_atomically(path, w.buffer());
}

/// The full JSON header of a checkpoint (model layers, optimizer, metadata), after validating the whole file.
inline nlohmann::json read_checkpoint_header(const std::string& path) {
  // The value width is at offset 12; an unreadable or foreign file gets parse()'s full diagnosis.
  std::uint32_t width = 4;
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    unsigned char head[16];
    if (std::fread(head, 1, 16, f) == 16 && head[12] == 8) width = 8;
    std::fclose(f);
  }
  return width == 8 ? checkpoint_detail::parse<double>(path).header : checkpoint_detail::parse<float>(path).header;
}

/// Only the caller's metadata, without needing a model (to decide whether and how to resume).
inline nlohmann::json read_checkpoint_metadata(const std::string& path) { return read_checkpoint_header(path).at("metadata"); }

/// Restores parameters and optimizer state into `model` (built and, if the file holds optimizer state, compiled
/// with the same optimizer class) and returns the metadata. Nothing in the model changes unless the whole file is
/// valid: FormatError for a file that is not a complete, intact checkpoint; ShapeError when its layers or sizes
/// differ from the model's; ArgumentError when the optimizer differs.
template <class Scalar>
nlohmann::json load_checkpoint(const std::string& path, Sequential<Scalar>& model) {
  const std::string where = "checkpoint '" + path + "'";
  auto parsed = checkpoint_detail::parse<Scalar>(path);
  if (!model.built()) model.build();

  const nlohmann::json& saved_layers = parsed.header["model"].value("layers", nlohmann::json::array());
  const nlohmann::json layers = checkpoint_detail::layer_list(model);
  if (saved_layers.size() != layers.size())
    throw ShapeError(where + " holds a model of " + std::to_string(saved_layers.size()) + " layers, model '" +
                     model.name() + "' has " + std::to_string(layers.size()));
  for (std::size_t i = 0; i < layers.size(); ++i)
    if (saved_layers[i].value("class_name", "") != layers[i]["class_name"] ||
        saved_layers[i].value("params", Index(-1)) != layers[i]["params"].template get<Index>() ||
        saved_layers[i].value("trainable", true) != layers[i]["trainable"].template get<bool>())
      throw ShapeError(where + ": layer " + std::to_string(i) + " is " + saved_layers[i].dump() + " there but " +
                       layers[i].dump() + " in model '" + model.name() + "'");
  const auto n = static_cast<std::size_t>(model.count_params());
  if (parsed.params.size() != n)
    throw ShapeError(where + " holds " + std::to_string(parsed.params.size()) + " parameters, model '" + model.name() +
                     "' has " + std::to_string(n));

  std::vector<std::pair<std::string, typename Optimizer<Scalar>::Vector*>> state;
  const nlohmann::json& saved_opt = parsed.header["optimizer"];
  if (!saved_opt.is_null() || !parsed.state.empty()) {
    if (!model.compiled())
      throw ArgumentError(where + " holds optimizer state: compile model '" + model.name() + "' before loading it");
    auto& opt = model.optimizer();
    if (saved_opt.is_object() && saved_opt.value("class_name", "") != opt.class_name())
      throw ArgumentError(where + " holds state of a " + saved_opt.value("class_name", std::string("?")) +
                          " optimizer, the model is compiled with " + opt.class_name());
    state = opt.state();
    if (state.size() != parsed.state.size())
      throw FormatError(where + " holds " + std::to_string(parsed.state.size()) + " optimizer state vectors, " +
                        opt.class_name() + " has " + std::to_string(state.size()));
    for (std::size_t i = 0; i < state.size(); ++i) {
      const auto& [name, values] = parsed.state[i];
      if (name != state[i].first)
        throw FormatError(where + ": optimizer state " + std::to_string(i) + " is '" + name + "', expected '" +
                          state[i].first + "'");
      const auto trained = static_cast<std::size_t>(model.trainable_size());
      if (!values.empty() && values.size() != trained)
        throw ShapeError(where + ": optimizer state '" + name + "' holds " + std::to_string(values.size()) +
                         " values, the model trains " + std::to_string(trained) + " parameters");
    }
  }

  // Everything checked: now change the model.
  std::copy(parsed.params.begin(), parsed.params.end(), model.params());
  if (!state.empty() || !saved_opt.is_null()) {
    for (std::size_t i = 0; i < state.size(); ++i) {
      const auto& values = parsed.state[i].second;
      auto& v = *state[i].second;
      v.resize(static_cast<Index>(values.size()));
      std::copy(values.begin(), values.end(), v.data());
    }
    model.optimizer().set_iterations(parsed.iterations);
  }
  return parsed.header["metadata"];
}

}  // namespace nnlite
