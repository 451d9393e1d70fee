// The Fashion-MNIST study's steps, shared by main.cpp and the step files: settings, data, one training iteration,
// selection of the best iteration, test evaluation and the report.
#pragma once

#include <nnlite/nnlite.hpp>
#include <nnlite/plot.hpp>

#include <cmath>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "study_models.hpp"

namespace study {

using nnlite::Index;
using json = nlohmann::json;

// What decides the numbers a study produces. Checkpoints record it; a resume must match it exactly.
struct Config {
  std::string model = "improved";
  int iterations = 4;
  int epochs = 50;
  Index batch_size = 32;
  double learning_rate = 1e-3;
  // Any class name the optimizer registry knows (--optimizer; stored canonical: "sgd" -> "SGD"), with Keras' defaults
  // except learning_rate.
  std::string optimizer = "Adam";
  // --lr-schedule: the optimizer's learning rate as a schedule starting at learning_rate (parse_lr_schedule); "": off.
  std::string lr_schedule;
  // --early-stopping: EarlyStopping's patience on val_loss, restoring the best weights; -1: off.
  int early_stopping = -1;
  // --reduce-lr-on-plateau: ReduceLROnPlateau's patience on val_loss (Keras' defaults otherwise); -1: off.
  int reduce_lr_on_plateau = -1;
  // --checkpoint-best: ModelCheckpoint(save_best_only=True, monitor="val_loss") into <out>/iteration_<i>/.
  bool checkpoint_best = false;
  std::uint64_t seed = 42;
  Index train_limit = 0;  // use only the first N training images; 0: all of them
  double validation_fraction = 0.2;

  json to_json() const;
  static Config from_json(const json& j);
};

// How this process runs (none of it changes the results, except that only single-threaded runs are bitwise
// reproducible).
struct RunOptions {
  std::string data_dir;  // empty: data/fashion in the source tree when it holds the files, else Debian's
  std::string out_dir = "results";
  int threads = 0;
  bool quiet = false;
  int only_iteration = 0;     // 1-based; 0: all of them
  int stop_after_epochs = 0;  // testing aid: exit as if killed after this many epochs
  double lock_wait = 0;       // seconds to wait for an iteration's lock held by another process
  bool term_while_writing = false;  // testing aid: SIGTERM to itself between an epoch's checkpoint and its CSV
  std::string model_format = "h5";  // best_model.<format>: "h5" (the study's, Keras' legacy HDF5) or "keras" (Keras 3)

  std::string best_model_file() const { return "best_model." + model_format; }
};

// ---- stop.cpp --------------------------------------------------------------------------------------------------

// Exit code of a run stopped before its end with every file complete: by Ctrl-C (SIGINT), SIGTERM (Slurm's scancel,
// preemption, requeue, time limit) or --stop-after-epochs. The same command resumes it.
constexpr int kStoppedExitCode = 75;  // EX_TEMPFAIL: try again later

// After this, SIGINT and SIGTERM stop the app at once with kStoppedExitCode and a message naming out_dir, unless a
// WritingFiles is alive: then the stop waits for its end.
void install_stop_handlers(const std::string& out_dir);

// Held around writing results and checkpoints, so that a stop signal finishes them before exiting.
class WritingFiles {
 public:
  WritingFiles();
  ~WritingFiles();  // exits with kStoppedExitCode when a stop signal came meanwhile
  WritingFiles(const WritingFiles&) = delete;
  WritingFiles& operator=(const WritingFiles&) = delete;
};

// ---- data.cpp --------------------------------------------------------------------------------------------------

// The images stay uint8 in memory; batches are converted on the fly (pixels / 255, NHWC, one-hot labels), giving
// the same floats as converting the whole set up front. A split is a nnlite::SubsetSource over it.
class ByteImageSource : public nnlite::DataSource<float> {
 public:
  explicit ByteImageSource(const nnlite::Dataset& data, Index classes = 10);
  Index size() const override { return data_.n; }
  nnlite::Shape sample_shape() const override { return {data_.h, data_.w, 1}; }
  nnlite::Shape target_shape() const override { return {classes_}; }
  void fill(const Index* indices, Index count, nnlite::Tensor<float>& x, nnlite::Tensor<float>& y) const override;

 private:
  const nnlite::Dataset& data_;
  Index classes_;
};

struct StudyData {
  std::string dir;
  nnlite::MnistData sets;
  Index train_used = 0;     // the first train_used training images take part (--train-limit)
  std::uint32_t crc32 = 0;  // of those images and labels: a resume must see the same data
};

std::string resolve_data_dir(const std::string& requested);
StudyData load_study_data(const std::string& dir, Index train_limit, bool quiet);

// The seed of iteration i's split (1-based), derived from --seed; model_seed (study_models.hpp) seeds its model.
std::uint64_t split_seed(std::uint64_t seed, int iteration);

// --lr-schedule's SPEC (Keras' schedules, decay steps counted in batches, the initial rate `initial`):
//   cosine:DECAY_STEPS[:ALPHA]            CosineDecay(initial, DECAY_STEPS, ALPHA=0)
//   exponential:DECAY_STEPS:RATE          ExponentialDecay(initial, DECAY_STEPS, RATE)
//   inverse_time:DECAY_STEPS:RATE         InverseTimeDecay(initial, DECAY_STEPS, RATE)
//   piecewise:B1,B2,...:V0,V1,V2,...      PiecewiseConstantDecay([B1, ...], [V0, ...]) (the values are the rates)
// A malformed SPEC is an ArgumentError naming it; the schedules' own checks (decay_steps > 0, ...) apply.
inline std::shared_ptr<const nnlite::LearningRateSchedule> parse_lr_schedule(const std::string& spec, double initial) {
  auto fail = [&](const std::string& why) {
    return nnlite::ArgumentError("--lr-schedule '" + spec + "': " + why +
                                 " (expected cosine:DECAY_STEPS[:ALPHA], exponential:DECAY_STEPS:RATE, "
                                 "inverse_time:DECAY_STEPS:RATE or piecewise:B1,B2,...:V0,V1,V2,...)");
  };
  auto split = [](const std::string& text, char sep) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (;;) {
      const std::size_t at = text.find(sep, start);
      parts.push_back(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
      if (at == std::string::npos) return parts;
      start = at + 1;
    }
  };
  auto number = [&](const std::string& text) {
    try {
      std::size_t used = 0;
      const double v = std::stod(text, &used);
      if (used == text.size() && std::isfinite(v)) return v;
    } catch (const std::exception&) {}
    throw fail("'" + text + "' is not a number");
  };
  auto numbers = [&](const std::string& text) {
    std::vector<double> v;
    for (const std::string& part : split(text, ',')) v.push_back(number(part));
    return v;
  };
  const std::vector<std::string> f = split(spec, ':');
  const std::string& kind = f[0];
  try {
    if (kind == "cosine" && (f.size() == 2 || f.size() == 3))
      return std::make_shared<nnlite::CosineDecay>(initial, number(f[1]), f.size() == 3 ? number(f[2]) : 0.0);
    if (kind == "exponential" && f.size() == 3)
      return std::make_shared<nnlite::ExponentialDecay>(initial, number(f[1]), number(f[2]));
    if (kind == "inverse_time" && f.size() == 3)
      return std::make_shared<nnlite::InverseTimeDecay>(initial, number(f[1]), number(f[2]));
    if (kind == "piecewise" && f.size() == 3)
      return std::make_shared<nnlite::PiecewiseConstantDecay>(numbers(f[1]), numbers(f[2]));
  } catch (const nnlite::ArgumentError& e) {
    if (std::string(e.what()).rfind("--lr-schedule", 0) == 0) throw;
    throw fail(e.what());
  }
  if (kind != "cosine" && kind != "exponential" && kind != "inverse_time" && kind != "piecewise")
    throw fail("unknown schedule '" + kind + "'");
  throw fail("wrong number of ':'-separated fields for " + kind);
}

// The run's optimizer: config.optimizer with Keras' defaults and config.learning_rate, or the --lr-schedule starting
// there. An unknown name is the registry's UnsupportedError listing the supported ones.
inline std::unique_ptr<nnlite::Optimizer<float>> make_optimizer(const Config& config) {
  const json rate = config.lr_schedule.empty()
                        ? json(config.learning_rate)
                        : nnlite::serialize_schedule(*parse_lr_schedule(config.lr_schedule, config.learning_rate));
  return nnlite::make_optimizer<float>(json{{"class_name", config.optimizer}, {"config", {{"learning_rate", rate}}}},
                                       "--optimizer");
}

// A fresh, compiled study model with the iteration's seed (study_models.hpp says how).
inline nnlite::Sequential<float> make_model(const Config& config, int iteration) {
  return compiled_study_model<float>(config.model, model_seed(config.seed, iteration), *make_optimizer(config));
}

// ---- train.cpp -------------------------------------------------------------------------------------------------

enum class Status { not_started, running, finished, diverged };
std::string status_name(Status s);

// One iteration as its checkpoint (and divergence note) describe it.
struct IterationRecord {
  int iteration = 0;
  Status status = Status::not_started;
  std::uint64_t split_seed = 0, model_seed = 0;
  Index train_samples = 0, val_samples = 0;
  nnlite::History history;
  std::string error;  // why it diverged
  int restored_epoch = -1;  // 0-based epoch whose weights the model ended with (--early-stopping); -1: the last

  // The epoch the iteration's model comes from: its val_loss is what the selection compares.
  std::size_t model_epoch() const {
    return restored_epoch >= 0 ? static_cast<std::size_t>(restored_epoch) : history.size() - 1;
  }

  int epochs_done() const { return static_cast<int>(history.size()); }
  int best_epoch() const;  // 0-based index of the lowest val_loss; -1 without any epoch
  json to_json() const;
};

std::string checkpoint_dir(const std::string& out_dir);
std::string checkpoint_path(const std::string& out_dir, int iteration);

// What a run directory holds: the config its checkpoints were made with (null if none) and each iteration's state.
struct RunState {
  json config = nullptr;
  json data = nullptr;
  std::vector<IterationRecord> iterations;  // config.iterations entries, 1-based order
};
RunState read_run_state(const std::string& out_dir, int iterations_hint = 0);

// Throws ResumeError when out_dir holds checkpoints of another config or other data.
struct ResumeError : nnlite::Error {
  using nnlite::Error::Error;
};
void check_resumable(const RunState& state, const Config& config, const StudyData& data, const std::string& out_dir);

// Reports the overall ETA after each epoch from the mean time of the epochs finished so far.
class StudyClock {
 public:
  StudyClock(int total_epochs, int done_before, double seconds_per_epoch_hint);
  void epoch_done(double seconds);
  int epochs_this_run() const;
  std::string line() const;

 private:
  int total_, done_;
  int timed_ = 0;
  double seconds_ = 0, hint_;
};

// Trains (or resumes, or skips when already finished) iteration i, checkpointing after every epoch.
// --reduce-lr-on-plateau: puts into `model`'s optimizer the rate ReduceLROnPlateau had reached after the epochs of
// `past` (replayed from config.learning_rate); a checkpoint holds the weights and optimizer state, not that rate.
void replay_reduce_lr(const Config& config, const nnlite::History& past, nnlite::Sequential<float>& model);

IterationRecord train_iteration(const Config& config, const RunOptions& run, const StudyData& data, int iteration,
                                StudyClock& clock);

// ---- select.cpp ------------------------------------------------------------------------------------------------

struct TestResult {
  double loss = 0, accuracy = 0;
  bool has_loss = true;  // false: the model is not compiled (its file's loss is one nnlite lacks), accuracy only
  std::vector<int> predicted, truth;
  std::vector<std::vector<long>> confusion;
  std::vector<nnlite::ClassReport> per_class;
  double seconds = 0;
};

// Loss, accuracy and every prediction over the whole test set (the same numbers for a model from a checkpoint
// and the same model read back from best_model.h5). The loss is the model's compiled one, fed the labels it takes
// (class indices for a sparse loss, one-hot otherwise); an uncompiled model gives accuracy only (has_loss false).
// The pixel preprocessing a model expects: pixels / 255 (the study's, bit-identical to numpy's float32 x / 255) unless
// `custom`, then pixel * scale + offset in float (Keras' Rescaling(scale, offset); e.g. scale 1/127.5, offset -1).
struct Preprocessing {
  bool custom = false;
  double scale = 1.0 / 255.0, offset = 0.0;
  std::string str() const;
};

TestResult evaluate_on_test(nnlite::Sequential<float>& model, const nnlite::Dataset& test,
                            const Preprocessing& pre = {});

// Picks the finished iteration with the lowest final validation loss, evaluates it on the test set, writes
// best_model.h5 and the report. Returns the process exit code.
int select_and_report(const RunOptions& run, const StudyData* preloaded);

// ---- report.cpp ------------------------------------------------------------------------------------------------

struct StudyReport {
  Config config;
  RunOptions run;
  std::string data_dir;
  Index train_images = 0, test_images = 0;
  std::vector<IterationRecord> iterations;
  int best_iteration = 0;  // 1-based
  TestResult test;
  std::vector<nnlite::LayerBox> layers;
  std::string model_summary;
  bool wrote_model_file = false;
  std::vector<std::uint8_t> grid_images;  // the test images shown in the grid, and their labels
  std::vector<int> grid_predicted, grid_truth;
  std::vector<std::string> figures;  // file names written
};

json report_json(const StudyReport& r);
std::string report_markdown(const StudyReport& r);
void write_report(StudyReport& r);  // figures, report.json, report.md; all atomic

std::string join(const std::string& dir, const std::string& name);
std::string fmt(double v, int digits = 4);

}  // namespace study
