// nnlite/io/callbacks.hpp: Keras 3's callbacks that write files: ModelCheckpoint (a model or its weights, by a
// filepath with Python format fields), CSVLogger (the epochs' logs as CSV) and BackupAndRestore (a checkpoint each
// epoch, from which an interrupted fit() resumes exactly). Including this header adds them to the callback registry
// (make_callback, model/callbacks.hpp). Every file is written atomically (temporary file, then rename).
#pragma once

#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include "../core/atomic_file.hpp"
#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../core/text.hpp"
#include "../model/callbacks.hpp"
#include "../model/sequential.hpp"
#include "checkpoint.hpp"
#include "keras_h5.hpp"

namespace nnlite {

/// Keras' save_freq: "epoch" (at each epoch's end) or a number of training batches.
class SaveFreq {
 public:
  /// "epoch": at each epoch's end.
  SaveFreq() = default;
  /// "epoch", as Keras writes it; ArgumentError for any other string.
  SaveFreq(const char* s) : SaveFreq(std::string(s)) {}  // NOLINT
  /// "epoch", as Keras writes it; ArgumentError for any other string.
  SaveFreq(const std::string& s) {  // NOLINT
    if (s != "epoch") throw ArgumentError("save_freq must be 'epoch' or a number of batches, got '" + s + "'");
  }
  /// Every `batches` training batches (>= 1, else ArgumentError).
  SaveFreq(int batches) : batches_(batches) {  // NOLINT
    if (batches < 1)
      throw ArgumentError("save_freq must be 'epoch' or a number of batches >= 1, got " + std::to_string(batches));
  }
  /// Whether it is "epoch".
  bool epoch() const { return batches_ == 0; }
  /// The number of batches between saves, 0 for "epoch".
  int batches() const { return batches_; }
  /// As Keras writes it: "epoch" or the number of batches.
  std::string str() const { return epoch() ? "epoch" : std::to_string(batches_); }

 private:
  int batches_ = 0;  // 0: every epoch
};

namespace callback_detail {

/// Keras' _should_save_on_batch: counts the batches since the last save (a batch number that does not grow means a
/// new epoch began) and says when save_freq of them have passed.
struct BatchCounter {
  int since_last = 0;
  std::optional<Index> last_seen;
  bool due(Index batch, int freq) {
    const Index add = !last_seen || batch <= *last_seen ? batch + 1 : batch - *last_seen;
    since_last += static_cast<int>(add);
    last_seen = batch;
    if (since_last < freq) return false;
    since_last = 0;
    return true;
  }
};

/// A value for a format field: an integer (epoch, batch) or a float (a log).
using FieldValue = std::variant<long long, double>;

/// Python's str.format for the subset ModelCheckpoint's filepath uses: literal text, "{{" and "}}", and fields
/// {name} or {name:spec} with spec [0][width][.precision][type], type one of d, f, e, g (or none: str()).
class PathFormat {
 public:
  PathFormat() = default;
  PathFormat(std::string pattern, std::string who) : pattern_(std::move(pattern)), who_(std::move(who)) {
    const std::string& p = pattern_;
    std::string text;
    for (std::size_t i = 0; i < p.size(); ++i) {
      const char ch = p[i];
      if (ch == '}') {
        if (i + 1 < p.size() && p[i + 1] == '}') {
          text += '}';
          ++i;
          continue;
        }
        bad("a single '}' at position " + std::to_string(i) + " (write '}}' for a literal brace)");
      }
      if (ch != '{') {
        text += ch;
        continue;
      }
      if (i + 1 < p.size() && p[i + 1] == '{') {
        text += '{';
        ++i;
        continue;
      }
      const auto close = p.find('}', i);
      if (close == std::string::npos) bad("a '{' at position " + std::to_string(i) + " that is never closed");
      const std::string field = p.substr(i + 1, close - i - 1);
      if (field.find('{') != std::string::npos) bad("nested fields in '{" + field + "}' are not supported");
      pieces_.push_back({text, {}});
      text.clear();
      pieces_.back().field = parse_field(field);
      i = close;
    }
    pieces_.push_back({text, {}});
  }

  const std::string& pattern() const { return pattern_; }
  bool has_fields() const { return pieces_.size() > 1; }

  /// The path for these values; a field that none of them names is an ArgumentError listing what there is.
  template <class Lookup>
  std::string format(Lookup&& lookup, const std::string& available) const {
    std::string out;
    for (const auto& piece : pieces_) {
      out += piece.text;
      if (piece.field.name.empty()) continue;
      std::optional<FieldValue> v = lookup(piece.field.name);
      if (!v)
        throw ArgumentError(who_ + ": filepath '" + pattern_ + "' has the field '" + piece.field.name +
                            "', which is not available (available: " + available + ")");
      out += render(piece.field, *v);
    }
    return out;
  }

 private:
  struct Field {
    std::string name, spec;
    bool zero = false;
    int width = 0, precision = -1;
    char type = 0;
  };
  struct Piece {
    std::string text;
    Field field;  // empty name: the literal text is the last piece
  };

  [[noreturn]] void bad(const std::string& what) const {
    throw ArgumentError(who_ + ": filepath '" + pattern_ + "': " + what);
  }

  Field parse_field(const std::string& field) const {
    Field f;
    const auto colon = field.find(':');
    f.name = field.substr(0, colon);
    if (f.name.empty()) bad("a positional field '{" + field + "}' (name a field: {epoch}, {val_loss:.4f})");
    if (f.name.find_first_of("!.[") != std::string::npos)
      bad("the field '{" + field + "}' uses a conversion, attribute or index, which is not supported");
    if (colon == std::string::npos) return f;
    f.spec = field.substr(colon + 1);
    const std::string& s = f.spec;
    std::size_t i = 0;
    if (i < s.size() && s[i] == '0') {
      f.zero = true;
      ++i;
    }
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && f.width < 1000)
      f.width = f.width * 10 + (s[i++] - '0');
    if (i < s.size() && s[i] == '.') {
      ++i;
      if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) bad_spec(f);
      f.precision = 0;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && f.precision < 1000)
        f.precision = f.precision * 10 + (s[i++] - '0');
    }
    if (i < s.size() && (s[i] == 'd' || s[i] == 'f' || s[i] == 'e' || s[i] == 'g')) f.type = s[i++];
    if (i != s.size() || f.width >= 1000 || f.precision >= 1000) bad_spec(f);
    if (f.type == 'd' && f.precision >= 0) bad("precision is not allowed in the integer format of '{" + field + "}'");
    if (f.type == 0 && f.precision >= 0) bad_spec(f);
    return f;
  }
  [[noreturn]] void bad_spec(const Field& f) const {
    bad("the format spec ':" + f.spec + "' of field '" + f.name +
        "' is not supported (supported: [0][width][.precision] with type d, f, e or g, or none)");
  }

  std::string render(const Field& f, const FieldValue& v) const {
    std::string body;
    bool negative = false;
    if (const long long* i = std::get_if<long long>(&v)) {
      if (f.type == 0 || f.type == 'd') {
        body = std::to_string(*i < 0 ? -*i : *i);
        negative = *i < 0;
      } else {
        return render(f, FieldValue(static_cast<double>(*i)));
      }
    } else {
      const double d = std::get<double>(v);
      if (f.type == 'd')
        bad("Unknown format code 'd' for object of type 'float' in the field '" + f.name + "' (use .Nf, e or g)");
      negative = std::signbit(d) && !std::isnan(d);
      const double a = std::fabs(d);
      if (f.type == 0) {
        body = python_float_repr(a);
      } else {
        const char fmt[] = {'%', '.', '*', f.type, '\0'};
        char buf[1100];
        std::snprintf(buf, sizeof buf, fmt, f.precision < 0 ? 6 : f.precision, a);
        body = buf;
      }
    }
    // Python pads numbers on the left: with '0' between the sign and the digits, else with spaces before the sign.
    const std::size_t len = body.size() + (negative ? 1 : 0);
    const std::size_t pad = static_cast<std::size_t>(f.width) > len ? static_cast<std::size_t>(f.width) - len : 0;
    if (f.zero) return (negative ? "-" : "") + std::string(pad, '0') + body;
    return std::string(pad, ' ') + (negative ? "-" : "") + body;
  }

  std::string pattern_, who_;
  std::vector<Piece> pieces_;
};

inline void make_directories(const std::string& dir, const std::string& who) {
  if (dir.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw IoError(who + ": cannot create the directory '" + dir + "': " + ec.message());
}

inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace callback_detail

/// Keras 3's ModelCheckpoint arguments (besides filepath), with its defaults.
struct ModelCheckpointOptions {
  std::string monitor = "val_loss";  ///< Keras' `monitor`: the logs entry save_best_only compares.
  int verbose = 0;                   ///< Keras' `verbose`: 1 prints each save.
  bool save_best_only = false;       ///< Keras' `save_best_only`: save only when the monitored value improves.
  /// Keras' `save_weights_only`: save_weights (".weights.h5") instead of save_model (".keras" / ".h5").
  bool save_weights_only = false;
  std::string mode = "auto";  ///< Keras' `mode`: "auto", "min" or "max".
  SaveFreq save_freq;         ///< Keras' `save_freq`: "epoch" or every N batches.
  /// Keras' `initial_value_threshold`: the best value to beat at first.
  std::optional<double> initial_value_threshold;
};

/// Keras 3's ModelCheckpoint: saves the model (save_model: ".keras" or ".h5") or its weights (save_weights_only:
/// ".weights.h5", as Keras 3 requires) at each epoch's end or every save_freq batches, to `filepath` formatted with
/// Python's str.format: {epoch} (1-based), {batch} (1-based, when saving by batches) and any log ({val_loss:.4f}),
/// with the spec subset [0][width][.precision][d|f|e|g]. With save_best_only the file is written only when the
/// monitored value improves on the best so far (initial_value_threshold at first, kept across fit() calls as in
/// Keras); a monitor missing from the logs saves anyway, with a warning. mode auto is max for
/// accuracy/auc/precision/recall monitors, min otherwise. Missing directories are created; only rank 0 writes.
template <class Scalar = float>
class ModelCheckpoint : public Callback<Scalar> {
 public:
  /// Keras' ModelCheckpoint(filepath, ...); ArgumentError for a filepath without the extension the options need.
  explicit ModelCheckpoint(std::string filepath, ModelCheckpointOptions o = {}) : o_(std::move(o)) {
    if (o_.save_weights_only) {
      if (!callback_detail::ends_with(filepath, ".weights.h5"))
        throw ArgumentError(
            "ModelCheckpoint: when using `save_weights_only=True` in `ModelCheckpoint`, the filepath "
            "provided must end in `.weights.h5` (Keras weights format). Received: filepath=" +
            filepath);
    } else if (!callback_detail::ends_with(filepath, ".keras") && !callback_detail::ends_with(filepath, ".h5")) {
      throw ArgumentError(
          "ModelCheckpoint: the filepath provided must end in `.keras` (Keras model format). "
          "Received: filepath=" +
          filepath);
    }
    format_ = callback_detail::PathFormat(std::move(filepath), "ModelCheckpoint");
    max_ = monitor_is_max(o_.monitor, o_.mode, "ModelCheckpoint");
    best_ = o_.initial_value_threshold;
  }
  /// The arguments besides filepath.
  const ModelCheckpointOptions& options() const { return o_; }
  /// Keras' `filepath`, with its format fields unexpanded.
  const std::string& filepath() const { return format_.pattern(); }
  /// Keras' best: the best monitored value so far, none before the first (or initial_value_threshold).
  std::optional<double> best() const { return best_; }
  /// The files written so far, in order.
  const std::vector<std::string>& saved() const { return saved_; }

  /// The path filepath gives for 0-based `epoch` (and 0-based `batch`, or -1 when saving by epoch) and `logs`.
  std::string file_path(int epoch, Index batch, const Logs& logs) const {
    auto lookup = [&](const std::string& name) -> std::optional<callback_detail::FieldValue> {
      if (name == "epoch") return callback_detail::FieldValue(static_cast<long long>(epoch) + 1);
      auto it = logs.find(name);
      if (it != logs.end()) return callback_detail::FieldValue(it->second);
      if (name == "batch" && batch >= 0) return callback_detail::FieldValue(static_cast<long long>(batch) + 1);
      return std::nullopt;
    };
    std::string available = "epoch";
    if (batch >= 0) available += ", batch";
    for (const auto& kv : logs) available += ", " + kv.first;
    return format_.format(lookup, available);
  }

  void on_epoch_begin(int epoch, const Logs&) override { current_epoch_ = epoch; }
  void on_train_batch_end(Index batch, const Logs& logs) override {
    if (!o_.save_freq.epoch() && counter_.due(batch, o_.save_freq.batches())) save(current_epoch_, batch, logs);
  }
  void on_epoch_end(int epoch, Logs& logs) override {
    if (o_.save_freq.epoch()) save(epoch, -1, logs);
  }

 private:
  void save(int epoch, Index batch, const Logs& logs) {
    const std::string path = file_path(epoch, batch, logs);
    const bool talk = o_.verbose > 0 && this->params.rank == 0;
    if (o_.save_best_only) {
      auto it = logs.find(o_.monitor);
      if (it == logs.end()) {
        if (this->params.rank == 0) std::cerr << "Can save best model only with " << o_.monitor << " available.\n";
      } else {
        const double current = it->second;
        const std::string best_str = best_ ? fixed5(*best_) : "None";
        if (!monitor_improves(current, best_, max_, 0.0)) {
          if (talk)
            std::cout << "\nEpoch " << epoch + 1 << ": " << o_.monitor << " did not improve from " << best_str << "\n";
          return;
        }
        if (talk)
          std::cout << "\nEpoch " << epoch + 1 << ": " << o_.monitor << " improved from " << best_str << " to "
                    << fixed5(current) << ", saving model to " << path << "\n";
        best_ = current;
      }
    } else if (talk) {
      std::cout << "\nEpoch " << epoch + 1 << ": saving model to " << path << "\n";
    }
    if (this->params.rank != 0) return;
    callback_detail::make_directories(std::filesystem::path(path).parent_path().string(), "ModelCheckpoint");
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
      throw IoError(
          "Please specify a non-directory filepath for ModelCheckpoint. Filepath used is an existing "
          "directory: " +
          path);
    if (o_.save_weights_only)
      save_weights(*this->model, path);
    else
      save_model(*this->model, path);
    saved_.push_back(path);
    if (talk) std::cout << "\nEpoch " << epoch + 1 << ": finished saving model to " << path << "\n";
  }
  static std::string fixed5(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.5f", v);
    return buf;
  }

  ModelCheckpointOptions o_;
  callback_detail::PathFormat format_;
  bool max_ = false;
  std::optional<double> best_;
  int current_epoch_ = 0;
  callback_detail::BatchCounter counter_;
  std::vector<std::string> saved_;
};

/// Keras 3's CSVLogger(filename, separator, append): one row per epoch, Python's csv "excel" dialect (rows end in
/// "\r\n", a field holding the separator, a quote or a line break is quoted). The columns are fixed at the first
/// epoch end: "epoch" (0-based), then that epoch's log names sorted, and, when none of them starts with "val_", the
/// same names again with "val_" in front (as Keras does; their cells are "NA", like any missing value). Numbers are
/// written as Python's str(float): the shortest digits that read back to the same double. on_train_begin truncates
/// the file (append=false) or keeps it and adds rows without a new header when its first line is not empty
/// (append=true). The whole file is rewritten atomically after each epoch; only rank 0 writes.
template <class Scalar = float>
class CSVLogger : public Callback<Scalar> {
 public:
  /// Keras' CSVLogger(filename, separator, append); ArgumentError for an empty filename or a separator of not one char.
  explicit CSVLogger(std::string filename, std::string separator = ",", bool append = false)
      : filename_(std::move(filename)), sep_(std::move(separator)), append_(append) {
    if (filename_.empty()) throw ArgumentError("CSVLogger: filename must not be empty");
    if (sep_.size() != 1) throw ArgumentError("CSVLogger: separator must be a 1-character string, got '" + sep_ + "'");
  }
  /// Keras' `filename`.
  const std::string& filename() const { return filename_; }
  /// Keras' `separator`: one character.
  const std::string& separator() const { return sep_; }
  /// Keras' `append`: keep an existing file and add rows to it.
  bool append() const { return append_; }

  void on_train_begin(const Logs&) override {
    keys_.clear();
    header_written_ = false;
    content_.clear();
    append_header_ = true;
    if (this->params.rank != 0) return;
    if (append_) {
      std::ifstream in(filename_, std::ios::binary);
      if (in) {
        content_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        append_header_ = content_.empty();  // Keras: not len(f.readline()), and readline() keeps the newline
      }
    }
    write_text_atomically(filename_, content_);
  }
  void on_epoch_end(int epoch, Logs& logs) override {
    if (this->params.rank != 0) return;
    if (!header_written_) {
      for (const auto& kv : logs) keys_.push_back(kv.first);  // a std::map: sorted, as Keras sorts them
      bool val = false;
      for (const auto& k : keys_) val = val || k.rfind("val_", 0) == 0;
      if (!val && !keys_.empty()) {
        const std::size_t n = keys_.size();
        for (std::size_t i = 0; i < n; ++i) keys_.push_back("val_" + keys_[i]);
      }
      if (append_header_) {
        std::string line = "epoch";
        for (const auto& k : keys_) line += sep_ + quoted(k);
        content_ += line + "\r\n";
      }
      header_written_ = true;
    }
    std::string line = std::to_string(epoch);
    for (const auto& k : keys_) {
      auto it = logs.find(k);
      line += sep_ + (it == logs.end() ? std::string("NA") : python_float_repr(it->second));
    }
    content_ += line + "\r\n";
    write_text_atomically(filename_, content_);
  }

 private:
  std::string quoted(const std::string& field) const {
    if (field.find_first_of(sep_ + "\"\r\n") == std::string::npos) return field;
    std::string out = "\"";
    for (char ch : field) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    return out + "\"";
  }

  std::string filename_, sep_;
  bool append_;
  bool append_header_ = true, header_written_ = false;
  std::vector<std::string> keys_;
  std::string content_;
};

/// Keras 3's BackupAndRestore(backup_dir, save_freq, delete_checkpoint) on nnlite's checkpoint format: at each
/// epoch's end (or every save_freq batches) the weights, the optimizer's state and step count and the number of
/// finished epochs go to backup_dir/latest.ckpt (save_checkpoint: atomic). on_train_begin restores them when the
/// file exists and makes fit() continue at the saved epoch (Sequential::initial_epoch_override, Keras'
/// model._initial_epoch); with per-epoch backups the resumed run ends bit for bit where the uninterrupted one would
/// (single-threaded), since every epoch's random streams follow from (seed, epoch). A backup made by batches resumes,
/// as Keras does, at the start of the epoch it was made in, with that moment's weights. At the end of training,
/// with delete_checkpoint, the whole backup_dir is removed (as Keras' rmtree: keep nothing else there); an
/// exception out of fit() leaves it. Every rank restores; only rank 0 writes.
template <class Scalar = float>
class BackupAndRestore : public Callback<Scalar> {
 public:
  /// Keras' BackupAndRestore(backup_dir, save_freq, delete_checkpoint); ArgumentError for an empty backup_dir.
  explicit BackupAndRestore(std::string backup_dir, SaveFreq save_freq = {}, bool delete_checkpoint = true)
      : dir_(std::move(backup_dir)), freq_(save_freq), delete_(delete_checkpoint) {
    if (dir_.empty()) throw ArgumentError("BackupAndRestore: Empty `backup_dir` argument passed");
  }
  /// Keras' `backup_dir`.
  const std::string& backup_dir() const { return dir_; }
  /// Keras' `save_freq`: "epoch" or every N batches.
  const SaveFreq& save_freq() const { return freq_; }
  /// Keras' `delete_checkpoint`: remove backup_dir at the end of training.
  bool delete_checkpoint() const { return delete_; }
  /// The checkpoint file inside backup_dir.
  std::string checkpoint_path() const { return (std::filesystem::path(dir_) / "latest.ckpt").string(); }

  void on_train_begin(const Logs&) override {
    counter_ = {};
    current_epoch_ = 0;
    const std::string path = checkpoint_path();
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return;
    const nlohmann::json meta = load_checkpoint(path, *this->model);
    if (!meta.is_object() || !meta.contains("epoch") || !meta["epoch"].is_number_integer() ||
        meta["epoch"].get<int>() < 0)
      throw FormatError("BackupAndRestore: checkpoint '" + path + "' has no epoch in its metadata");
    current_epoch_ = meta["epoch"].get<int>();
    this->model->initial_epoch_override = current_epoch_;
  }
  void on_epoch_end(int epoch, Logs&) override {
    current_epoch_ = epoch + 1;
    last_batch_ = 0;
    if (freq_.epoch()) save();
  }
  void on_train_batch_end(Index batch, const Logs&) override {
    if (freq_.epoch()) return;
    const bool due = counter_.due(batch, freq_.batches());
    last_batch_ = batch;
    if (due) save();
  }
  void on_train_end(const Logs&) override {
    if (!delete_ || this->params.rank != 0) return;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    if (ec) throw IoError("BackupAndRestore: cannot delete '" + dir_ + "': " + ec.message());
  }

 private:
  void save() {
    if (this->params.rank != 0) return;
    callback_detail::make_directories(dir_, "BackupAndRestore");
    save_checkpoint(checkpoint_path(), *this->model, {{"epoch", current_epoch_}, {"batch", last_batch_}});
  }

  std::string dir_;
  SaveFreq freq_;
  bool delete_;
  int current_epoch_ = 0;
  Index last_batch_ = 0;
  callback_detail::BatchCounter counter_;
};

// ---- registry entries ----------------------------------------------------------------------------------------------

namespace callback_detail {

inline SaveFreq save_freq_arg(const ConfigReader& c) {
  if (!c.has("save_freq")) return {};
  const json& v = c.at("save_freq");
  if (v.is_string() && v.get<std::string>() == "epoch") return {};
  Index n = 0;
  if (!ConfigReader::as_integer(v, n) || n < 1 || n > std::numeric_limits<int>::max())
    c.bad("'save_freq' must be \"epoch\" or an integer >= 1, got " + dump_json(v));
  return SaveFreq(static_cast<int>(n));
}
inline std::string required_string(const ConfigReader& c, const char* key) {
  if (!c.has(key)) c.bad(std::string("'") + key + "' is missing");
  return c.string(key, "");
}

template <class Scalar>
std::unique_ptr<Callback<Scalar>> model_checkpoint(const ConfigReader& c) {
  check_keys(c, {"filepath", "monitor", "verbose", "save_best_only", "save_weights_only", "mode", "save_freq",
                 "initial_value_threshold"});
  ModelCheckpointOptions o;
  o.monitor = c.string("monitor", o.monitor);
  o.verbose = int_arg(c, "verbose", o.verbose);
  o.save_best_only = c.boolean("save_best_only", o.save_best_only);
  o.save_weights_only = c.boolean("save_weights_only", o.save_weights_only);
  o.mode = c.string("mode", o.mode);
  o.save_freq = save_freq_arg(c);
  o.initial_value_threshold = optional_number(c, "initial_value_threshold");
  return std::make_unique<ModelCheckpoint<Scalar>>(required_string(c, "filepath"), o);
}
template <class Scalar>
std::unique_ptr<Callback<Scalar>> csv_logger(const ConfigReader& c) {
  check_keys(c, {"filename", "separator", "append"});
  return std::make_unique<CSVLogger<Scalar>>(required_string(c, "filename"), c.string("separator", ","),
                                             c.boolean("append", false));
}
template <class Scalar>
std::unique_ptr<Callback<Scalar>> backup_and_restore(const ConfigReader& c) {
  check_keys(c, {"backup_dir", "save_freq", "double_checkpoint", "delete_checkpoint"});
  if (c.boolean("double_checkpoint", false)) c.unsupported("'double_checkpoint' = true");
  return std::make_unique<BackupAndRestore<Scalar>>(required_string(c, "backup_dir"), save_freq_arg(c),
                                                    c.boolean("delete_checkpoint", true));
}

template <class Scalar>
bool register_file_callbacks() {
  auto& r = callback_registry<Scalar>();
  r.add("ModelCheckpoint", &model_checkpoint<Scalar>);
  r.add("CSVLogger", &csv_logger<Scalar>);
  r.add("BackupAndRestore", &backup_and_restore<Scalar>);
  return true;
}

/// Runs before main() in every program that includes this header, so make_callback knows these classes. A user's
/// register_callback of the same name (in main or later) replaces them.
inline const bool file_callbacks_registered = register_file_callbacks<float>() && register_file_callbacks<double>();

}  // namespace callback_detail

}  // namespace nnlite
