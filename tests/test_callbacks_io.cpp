// The callbacks that write files (io/callbacks.hpp): ModelCheckpoint's filepath formatting (Python's str.format,
// expected names worked out with Python), save_best_only keeping the best epoch's weights by mode, full-model and
// weights-only files that load back bit for bit; CSVLogger's file against the History (columns, "\r\n", append);
// BackupAndRestore resuming an interrupted fit() to the bit-identical end; bad arguments; the registry entries.
#include <doctest/doctest.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>
#include <nnlite/nnlite.hpp>

#include "test_support.hpp"
#include "toy_problem.hpp"

namespace test_callbacks_io {

TEST_CASE("python_float_repr prints Python's repr(float)") {
  // Expected strings from Python 3: repr(v).
  CHECK(nnlite::python_float_repr(0.1) == "0.1");
  CHECK(nnlite::python_float_repr(1.0) == "1.0");
  CHECK(nnlite::python_float_repr(123.0) == "123.0");
  CHECK(nnlite::python_float_repr(0.0001) == "0.0001");
  CHECK(nnlite::python_float_repr(1e-5) == "1e-05");
  CHECK(nnlite::python_float_repr(1e16) == "1e+16");
  CHECK(nnlite::python_float_repr(1e15) == "1000000000000000.0");
  CHECK(nnlite::python_float_repr(1.5e16) == "1.5e+16");
  CHECK(nnlite::python_float_repr(-0.0) == "-0.0");
  CHECK(nnlite::python_float_repr(-2.75) == "-2.75");
  CHECK(nnlite::python_float_repr(static_cast<double>(0.3f)) == "0.30000001192092896");
  CHECK(nnlite::python_float_repr(1.0 / 3.0) == "0.3333333333333333");
  CHECK(nnlite::python_float_repr(5e-324) == "5e-324");
  CHECK(nnlite::python_float_repr(std::numeric_limits<double>::quiet_NaN()) == "nan");
  CHECK(nnlite::python_float_repr(-std::numeric_limits<double>::infinity()) == "-inf");
}

#ifdef NNLITE_WITH_IO

namespace {

using nnlite::Index;
using nnlite::Shape;
using nnlite::Tensor;
using test_support::contains;
using test_support::message_of;
using test_support::TempDir;
namespace fs = std::filesystem;
using test_support::small_model;
using test_support::toy_data;

nnlite::FitOptions<float> quiet_fit(int epochs, std::vector<nnlite::Callback<float>*> callbacks = {}) {
  nnlite::FitOptions<float> o;
  o.epochs = epochs;
  o.batch_size = 8;
  o.verbose = 0;
  o.callbacks = std::move(callbacks);
  return o;
}

std::vector<float> params_of(const nnlite::Sequential<float>& m) { return {m.params(), m.params() + m.count_params()}; }
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}
std::vector<float> state_of(nnlite::Sequential<float>& m, std::size_t k) {
  auto* v = m.optimizer().state().at(k).second;
  return {v->data(), v->data() + v->size()};
}

std::set<std::string> files_in(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

// Lines of a file whose lines end in "\r\n" (a line without it fails the check).
std::vector<std::string> crlf_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t at = 0;
  while (at < text.size()) {
    const auto end = text.find("\r\n", at);
    REQUIRE(end != std::string::npos);
    lines.push_back(text.substr(at, end - at));
    at = end + 2;
  }
  return lines;
}
std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, sep)) out.push_back(cell);
  return out;
}

// Whether a number's text has no more significant digits than it needs to read back to the same double (Python's
// repr): with one digit fewer, no rounding reads back to it.
bool shortest(const std::string& text) {
  const double v = std::strtod(text.c_str(), nullptr);
  std::string mantissa = text.substr(0, text.find_first_of("eE"));
  std::string digits;
  for (char ch : mantissa)
    if (std::isdigit(static_cast<unsigned char>(ch)) && !(digits.empty() && ch == '0')) digits += ch;
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  if (digits.size() <= 1) return true;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*e", static_cast<int>(digits.size()) - 2, v);
  return std::strtod(buf, nullptr) != v;
}

// Drives a callback through epochs by hand: before each epoch end the first weight is set to the epoch number, so a
// saved file tells which epoch's weights it holds.
void drive(nnlite::Callback<float>& cb, nnlite::Sequential<float>& m, const std::vector<double>& values,
           const std::string& key = "val_loss") {
  cb.model = &m;
  cb.on_train_begin({});
  for (std::size_t e = 0; e < values.size(); ++e) {
    cb.on_epoch_begin(static_cast<int>(e), {});
    m.params()[0] = static_cast<float>(e);
    nnlite::Logs logs{{key, values[e]}, {"loss", 1.0}};
    cb.on_epoch_end(static_cast<int>(e), logs);
  }
  cb.on_train_end({});
}
float first_weight_of(const std::string& weights_file) {
  auto m = small_model(1);
  nnlite::load_weights(m, weights_file);
  return m.params()[0];
}

}  // namespace

TEST_CASE("ModelCheckpoint: filepath format fields as Python's str.format, and its errors") {
  // Expected names from Python: "ckpt/{epoch:02d}-{val_loss:.4f}.keras".format(epoch=5, val_loss=0.123456), etc.
  nnlite::ModelCheckpoint<float> a("ckpt/{epoch:02d}-{val_loss:.4f}.keras");
  CHECK(a.file_path(4, -1, {{"val_loss", 0.123456}}) == "ckpt/05-0.1235.keras");  // epoch is 1-based
  nnlite::ModelCheckpoint<float> b("{epoch}_{loss}_{val_loss:e}_{val_loss:g}_{acc:08.3f}_{epoch:5d}_{epoch:.1f}.keras");
  CHECK(b.file_path(11, -1, {{"loss", 0.1}, {"val_loss", 0.123456}, {"acc", -2.5}}) ==
        "12_0.1_1.234560e-01_0.123456_-002.500_   12_12.0.keras");
  nnlite::ModelCheckpoint<float> c("{{x}}{loss:010}.h5");
  CHECK(c.file_path(0, -1, {{"loss", 0.25}}) == "{x}0000000.25.h5");
  nnlite::ModelCheckpoint<float> d("{loss:.3e}|{loss:.2g}|{big:g}|{loss:7.2f}.keras");
  CHECK(d.file_path(0, -1, {{"loss", 0.000123456}, {"big", 1234567.0}}) ==
        "1.235e-04|0.00012|1.23457e+06|   0.00.keras");
  nnlite::ModelCheckpointOptions by_batch;
  by_batch.save_freq = 2;
  by_batch.save_weights_only = true;
  nnlite::ModelCheckpoint<float> e("{epoch:03d}-{batch:04d}.weights.h5", by_batch);
  CHECK(e.file_path(0, 2, {{"loss", 1.0}}) == "001-0003.weights.h5");

  // A field that is neither epoch, batch nor a log: an ArgumentError naming the filepath and the field.
  const std::string unknown = message_of<nnlite::ArgumentError>([] {
    nnlite::ModelCheckpoint<float> cb("{epoch}-{val_acc}.keras");
    cb.file_path(0, -1, {{"val_loss", 1.0}});
  });
  CHECK(contains(unknown, "filepath '{epoch}-{val_acc}.keras'"));
  CHECK(contains(unknown, "'val_acc'"));
  CHECK(contains(unknown, "val_loss"));  // what is available
  CHECK(contains(message_of<nnlite::ArgumentError>([] {
                   nnlite::ModelCheckpoint<float> cb("{epoch}-{batch}.keras");  // batch only when saving by batches
                   cb.file_path(0, -1, {});
                 }),
                 "'batch'"));
  CHECK(contains(message_of<nnlite::ArgumentError>([] {
                   nnlite::ModelCheckpoint<float> cb("{loss:d}.keras");  // Python: no 'd' for a float
                   cb.file_path(0, -1, {{"loss", 1.0}});
                 }),
                 "Unknown format code 'd'"));
  for (const char* bad : {"{epoch:x}.keras", "{epoch.keras", "a}.keras", "{}.keras", "{epoch!r}.keras",
                          "{epoch:.2d}.keras", "{loss:.}.keras"})
    CHECK_MESSAGE(
        contains(message_of<nnlite::ArgumentError>([&] { nnlite::ModelCheckpoint<float> cb(bad); }), "filepath"), bad);

  // Keras 3's extensions: .keras or .h5 for models, .weights.h5 for weights only.
  nnlite::ModelCheckpointOptions weights_only;
  weights_only.save_weights_only = true;
  CHECK(contains(message_of<nnlite::ArgumentError>([&] { nnlite::ModelCheckpoint<float> cb("w.h5", weights_only); }),
                 "must end in `.weights.h5`"));
  CHECK(
      contains(message_of<nnlite::ArgumentError>([] { nnlite::ModelCheckpoint<float> cb("m.pt"); }), "filepath=m.pt"));
  CHECK_NOTHROW(nnlite::ModelCheckpoint<float>("m.h5"));
  CHECK_NOTHROW(nnlite::ModelCheckpoint<float>("m.weights.h5"));  // ends in .h5: a full model, as in Keras
  nnlite::ModelCheckpointOptions bad_mode;
  bad_mode.mode = "largest";
  CHECK(contains(message_of<nnlite::ArgumentError>([&] { nnlite::ModelCheckpoint<float> cb("m.keras", bad_mode); }),
                 "mode"));
  CHECK(contains(message_of<nnlite::ArgumentError>([] { nnlite::SaveFreq f(0); }), "save_freq"));
  CHECK(contains(message_of<nnlite::ArgumentError>([] { nnlite::SaveFreq f("batch"); }), "save_freq"));
}

TEST_CASE("ModelCheckpoint save_best_only keeps the best epoch's weights, by mode and initial_value_threshold") {
  TempDir dir("nnlite_test_ckpt_best");
  const std::vector<double> v{0.5, 0.4, 0.45, 0.3, 0.35};
  nnlite::ModelCheckpointOptions o;
  o.save_best_only = true;
  o.save_weights_only = true;
  {
    // min: 0.5, 0.4 and 0.3 improve (epochs 0, 1, 3): the one file holds epoch 3's weights.
    auto m = small_model(2);
    nnlite::ModelCheckpoint<float> cb(dir.file("best.weights.h5"), o);
    drive(cb, m, v);
    CHECK(cb.saved().size() == 3);
    CHECK(first_weight_of(dir.file("best.weights.h5")) == 3.0f);
    CHECK(*cb.best() == 0.3);
  }
  {
    // max: nothing beats the first 0.5, so the file holds epoch 0's weights.
    auto m = small_model(2);
    o.mode = "max";
    nnlite::ModelCheckpoint<float> cb(dir.file("max.weights.h5"), o);
    drive(cb, m, v);
    CHECK(cb.saved().size() == 1);
    CHECK(first_weight_of(dir.file("max.weights.h5")) == 0.0f);
    o.mode = "auto";
  }
  {
    // A formatted name: one file per improving epoch, none for the others (1-based epochs 1, 2, 4).
    auto m = small_model(2);
    nnlite::ModelCheckpoint<float> cb((dir.path / "each" / "m-{epoch:02d}.weights.h5").string(), o);
    drive(cb, m, v);
    CHECK(files_in(dir.path / "each") ==
          std::set<std::string>{"m-01.weights.h5", "m-02.weights.h5", "m-04.weights.h5"});
    CHECK(first_weight_of((dir.path / "each" / "m-02.weights.h5").string()) == 1.0f);
  }
  {
    // initial_value_threshold 0.42: 0.5 does not beat it; 0.4 (epoch 1) and 0.3 (epoch 3) do.
    auto m = small_model(2);
    o.initial_value_threshold = 0.42;
    nnlite::ModelCheckpoint<float> cb((dir.path / "thr" / "t-{epoch}.weights.h5").string(), o);
    drive(cb, m, v);
    CHECK(files_in(dir.path / "thr") == std::set<std::string>{"t-2.weights.h5", "t-4.weights.h5"});
  }
  {
    // A monitor missing from the logs saves every epoch (Keras warns).
    auto m = small_model(2);
    o.initial_value_threshold.reset();
    o.monitor = "val_auc";
    nnlite::ModelCheckpoint<float> cb(dir.file("any.weights.h5"), o);
    drive(cb, m, v);
    CHECK(cb.saved().size() == 5);
  }
}

TEST_CASE("ModelCheckpoint in fit(): names from the logs, full models and weights that load back bit for bit") {
  TempDir dir("nnlite_test_ckpt_fit");
  Tensor<float> x, y;
  toy_data(40, x, y);
  auto m = small_model(3);
  nnlite::ModelCheckpoint<float> full((dir.path / "m-{epoch:02d}-{val_loss:.4f}.keras").string());
  nnlite::ModelCheckpointOptions wo;
  wo.save_weights_only = true;
  nnlite::ModelCheckpoint<float> weights(dir.file("w-{epoch}.weights.h5"), wo);
  nnlite::ModelCheckpoint<float> legacy(dir.file("last.h5"));
  const auto h = m.fit(x, y, x, y, quiet_fit(2, {&full, &weights, &legacy}));
  std::set<std::string> expected{"w-1.weights.h5", "w-2.weights.h5", "last.h5"};
  for (int e = 0; e < 2; ++e) {
    char name[64];
    std::snprintf(name, sizeof name, "m-%02d-%.4f.keras", e + 1, h["val_loss"][static_cast<std::size_t>(e)]);
    expected.insert(name);
  }
  CHECK(files_in(dir.path) == expected);  // and no temporary file left behind
  char last[64];
  std::snprintf(last, sizeof last, "m-02-%.4f.keras", h["val_loss"][1]);
  const auto loaded = nnlite::load_model<float>(dir.file(last));
  CHECK(same_bits(params_of(loaded), params_of(m)));
  CHECK(same_bits(params_of(nnlite::load_model<float>(dir.file("last.h5"))), params_of(m)));
  auto fresh = small_model(4);
  REQUIRE(!same_bits(params_of(fresh), params_of(m)));
  nnlite::load_weights(fresh, dir.file("w-2.weights.h5"));
  CHECK(same_bits(params_of(fresh), params_of(m)));
}

TEST_CASE("CSVLogger: Keras' columns, Python's numbers, \\r\\n rows, append, and the order of callbacks") {
  TempDir dir("nnlite_test_csv");
  Tensor<float> x, y;
  toy_data(40, x, y);
  const std::string path = dir.file("log.csv");
  auto m = small_model(5);
  nnlite::CSVLogger<float> csv(path);
  const auto h = m.fit(x, y, x, y, quiet_fit(3, {&csv}));
  auto lines = crlf_lines(test_support::read_bytes(path));
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "epoch,accuracy,loss,val_accuracy,val_loss");
  const std::vector<std::string> keys{"accuracy", "loss", "val_accuracy", "val_loss"};
  auto check_rows = [&](const std::vector<std::string>& rows, std::size_t first_row, const nnlite::History& hist,
                        int first_epoch) {
    for (std::size_t e = 0; e < hist.size(); ++e) {
      const auto cells = split(rows[first_row + e], ',');
      REQUIRE(cells.size() == 5);
      CHECK(cells[0] == std::to_string(first_epoch + static_cast<int>(e)));  // 0-based, as Keras' epoch index
      for (std::size_t k = 0; k < keys.size(); ++k) {
        CHECK(std::strtod(cells[k + 1].c_str(), nullptr) == hist[keys[k]][e]);  // round-trips exactly
        CHECK(shortest(cells[k + 1]));
      }
    }
  };
  check_rows(lines, 1, h, 0);

  // append: the same file continues without a second header.
  nnlite::CSVLogger<float> more(path, ",", true);
  auto o = quiet_fit(5, {&more});
  o.initial_epoch = 3;
  const auto h2 = m.fit(x, y, x, y, o);
  lines = crlf_lines(test_support::read_bytes(path));
  REQUIRE(lines.size() == 6);
  CHECK(lines[0] == "epoch,accuracy,loss,val_accuracy,val_loss");
  check_rows(lines, 1, h, 0);
  check_rows(lines, 4, h2, 3);

  // append=false starts over; without validation Keras adds the val_ columns anyway, filled with NA.
  nnlite::CSVLogger<float> fresh(path, ";");
  m.fit(x, y, quiet_fit(1, {&fresh}));
  lines = crlf_lines(test_support::read_bytes(path));
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "epoch;accuracy;loss;val_accuracy;val_loss");
  const auto cells = split(lines[1], ';');
  REQUIRE(cells.size() == 5);
  CHECK(cells[3] == "NA");
  CHECK(cells[4] == "NA");

  // A callback's additions to the logs (learning_rate) reach the callbacks after it and the History only.
  nnlite::ReduceLROnPlateau<float> plateau;
  nnlite::CSVLogger<float> after(dir.file("after.csv")), before(dir.file("before.csv"));
  const auto h3 = m.fit(x, y, x, y, quiet_fit(1, {&before, &plateau, &after}));
  CHECK(h3.has("learning_rate"));
  CHECK(crlf_lines(test_support::read_bytes(dir.file("after.csv")))[0] ==
        "epoch,accuracy,learning_rate,loss,val_accuracy,val_loss");
  CHECK(crlf_lines(test_support::read_bytes(dir.file("before.csv")))[0] == "epoch,accuracy,loss,val_accuracy,val_loss");

  CHECK(contains(message_of<nnlite::ArgumentError>([&] { nnlite::CSVLogger<float> bad(path, "ab"); }), "separator"));
  CHECK(contains(message_of<nnlite::ArgumentError>([] { nnlite::CSVLogger<float> bad(""); }), "filename"));
}

namespace {
struct Interrupt : nnlite::Callback<float> {
  int at;
  explicit Interrupt(int epoch) : at(epoch) {}
  void on_epoch_begin(int epoch, const nnlite::Logs&) override {
    if (epoch == at) throw std::runtime_error("interrupted");
  }
};
}  // namespace

TEST_CASE("BackupAndRestore: an interrupted fit() rerun with it ends bit-identical to the uninterrupted run") {
  const int threads = nnlite::num_threads();
  nnlite::set_num_threads(1);  // bitwise equality is promised single-threaded
  TempDir dir("nnlite_test_backup");
  const std::string backup = (dir.path / "backup").string();
  Tensor<float> x, y;
  toy_data(52, x, y);  // 7 batches of 8, the last one short

  auto whole = small_model(5);
  const auto full = whole.fit(x, y, x, y, quiet_fit(5));

  auto first = small_model(5);
  nnlite::BackupAndRestore<float> cb(backup);
  Interrupt stop(3);
  CHECK_THROWS_WITH(first.fit(x, y, x, y, quiet_fit(5, {&cb, &stop})), "interrupted");
  REQUIRE(fs::exists(cb.checkpoint_path()));  // an exception does not reach on_train_end: the backup stays
  CHECK(nnlite::read_checkpoint_metadata(cb.checkpoint_path()).at("epoch") == 3);

  auto second = small_model(5);  // a new process would start from fresh weights
  nnlite::BackupAndRestore<float> again(backup);
  const auto rest = second.fit(x, y, x, y, quiet_fit(5, {&again}));
  REQUIRE(rest.size() == 2);  // epochs 3 and 4
  CHECK(rest.epoch == std::vector<int>{3, 4});
  CHECK(rest["loss"][0] == full["loss"][3]);
  CHECK(rest["val_loss"][1] == full["val_loss"][4]);
  CHECK(same_bits(params_of(whole), params_of(second)));
  CHECK(same_bits(state_of(whole, 0), state_of(second, 0)));
  CHECK(same_bits(state_of(whole, 1), state_of(second, 1)));
  CHECK(whole.optimizer().iterations() == second.optimizer().iterations());
  CHECK(!fs::exists(backup));  // delete_checkpoint: removed at the end of training

  // delete_checkpoint = false keeps it; a later fit() then starts after the last saved epoch (nothing left to run).
  auto third = small_model(5);
  nnlite::BackupAndRestore<float> keep(backup, "epoch", false);
  third.fit(x, y, x, y, quiet_fit(2, {&keep}));
  CHECK(nnlite::read_checkpoint_metadata(keep.checkpoint_path()).at("epoch") == 2);
  const auto none = third.fit(x, y, x, y, quiet_fit(2, {&keep}));
  CHECK(none.size() == 0);
  nnlite::set_num_threads(threads);
}

TEST_CASE("BackupAndRestore by batches: saves every save_freq batches, across epochs, with the epochs finished") {
  TempDir dir("nnlite_test_backup_batches");
  Tensor<float> x, y;
  toy_data(56, x, y);  // 7 batches of 8
  struct StopAtBatch : nnlite::Callback<float> {
    int epoch = 0;
    void on_epoch_begin(int e, const nnlite::Logs&) override { epoch = e; }
    void on_train_batch_begin(Index b, const nnlite::Logs&) override {
      if (epoch == 1 && b == 4) throw std::runtime_error("interrupted");
    }
  };
  // Every 3 batches: after batches 2 and 5 of epoch 0, then batch 6 and epoch 1's 0 and 1 make 3 more: the last
  // save is at epoch 1, batch 1, with 1 epoch finished.
  auto m = small_model(6);
  nnlite::BackupAndRestore<float> cb((dir.path / "b").string(), 3);
  StopAtBatch stop;
  CHECK_THROWS(m.fit(x, y, quiet_fit(3, {&cb, &stop})));
  const auto meta = nnlite::read_checkpoint_metadata(cb.checkpoint_path());
  CHECK(meta.at("epoch") == 1);
  CHECK(meta.at("batch") == 1);
  CHECK(contains(message_of<nnlite::ArgumentError>([] { nnlite::BackupAndRestore<float> bad(""); }), "backup_dir"));
}

TEST_CASE("callback registry: ModelCheckpoint, CSVLogger and BackupAndRestore from their Keras configs") {
  auto mc = nnlite::make_callback<float>({{"class_name", "ModelCheckpoint"},
                                          {"config",
                                           {{"filepath", "out/{epoch:02d}.weights.h5"},
                                            {"monitor", "val_accuracy"},
                                            {"save_best_only", true},
                                            {"save_weights_only", true},
                                            {"save_freq", 5},
                                            {"initial_value_threshold", 0.5}}}});
  auto& checkpoint = dynamic_cast<nnlite::ModelCheckpoint<float>&>(*mc);
  CHECK(checkpoint.filepath() == "out/{epoch:02d}.weights.h5");
  CHECK(checkpoint.options().monitor == "val_accuracy");
  CHECK(checkpoint.options().save_best_only);
  CHECK(checkpoint.options().save_freq.batches() == 5);
  CHECK(*checkpoint.best() == 0.5);
  auto defaults =
      nnlite::make_callback<float>({{"class_name", "ModelCheckpoint"}, {"config", {{"filepath", "m.keras"}}}});
  CHECK(dynamic_cast<nnlite::ModelCheckpoint<float>&>(*defaults).options().save_freq.epoch());

  auto csv = nnlite::make_callback<double>(
      {{"class_name", "CSVLogger"}, {"config", {{"filename", "log.csv"}, {"separator", ";"}, {"append", true}}}});
  auto& logger = dynamic_cast<nnlite::CSVLogger<double>&>(*csv);
  CHECK(logger.filename() == "log.csv");
  CHECK(logger.separator() == ";");
  CHECK(logger.append());

  auto br = nnlite::make_callback<float>(
      {{"class_name", "BackupAndRestore"}, {"config", {{"backup_dir", "bk"}, {"delete_checkpoint", false}}}});
  auto& backup = dynamic_cast<nnlite::BackupAndRestore<float>&>(*br);
  CHECK(backup.backup_dir() == "bk");
  CHECK(!backup.delete_checkpoint());
  CHECK(backup.save_freq().epoch());

  CHECK(contains(message_of<nnlite::FormatError>([] {
                   nnlite::make_callback<float>({{"class_name", "CSVLogger"}, {"config", nlohmann::json::object()}});
                 }),
                 "'filename' is missing"));
  CHECK(contains(message_of<nnlite::FormatError>([] {
                   nnlite::make_callback<float>({{"class_name", "ModelCheckpoint"},
                                                 {"config", {{"filepath", "m.keras"}, {"save_freq", "daily"}}}});
                 }),
                 "save_freq"));
  CHECK(
      contains(message_of<nnlite::ArgumentError>([] {
                 nnlite::make_callback<float>({{"class_name", "ModelCheckpoint"}, {"config", {{"filepath", "m.pt"}}}});
               }),
               "filepath"));
  const std::string unknown = message_of<nnlite::UnsupportedError>([] { nnlite::make_callback<float>("TensorBoard"); });
  for (const char* name :
       {"BackupAndRestore", "CSVLogger", "EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau", "TerminateOnNaN"})
    CHECK_MESSAGE(contains(unknown, name), unknown);
  CHECK(contains(unknown, "unknown callback 'TensorBoard' (supported: "));
}

#endif  // NNLITE_WITH_IO

}  // namespace test_callbacks_io
