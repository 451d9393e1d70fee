// Study step 2, training: one iteration = a fresh 80/20 split and a fresh model, checkpointed after every epoch so
// that a killed run resumes where it stopped and a finished iteration is never trained again.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iostream>
#include <map>
#include <nnlite/io/checkpoint.hpp>
#include <nnlite/core/atomic_file.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "study.hpp"

namespace study {

namespace fs = std::filesystem;

json Config::to_json() const {
  return {{"model", model},
          {"iterations", iterations},
          {"epochs", epochs},
          {"batch_size", batch_size},
          {"learning_rate", learning_rate},
          {"optimizer", optimizer},
          {"lr_schedule", lr_schedule},
          {"early_stopping", early_stopping},
          {"reduce_lr_on_plateau", reduce_lr_on_plateau},
          {"checkpoint_best", checkpoint_best},
          {"seed", seed},
          {"train_limit", train_limit},
          {"validation_fraction", validation_fraction}};
}

Config Config::from_json(const json& j) {
  Config c;
  c.model = j.at("model").get<std::string>();
  c.iterations = j.at("iterations").get<int>();
  c.epochs = j.at("epochs").get<int>();
  c.batch_size = j.at("batch_size").get<Index>();
  c.learning_rate = j.at("learning_rate").get<double>();
  c.optimizer = j.value("optimizer", c.optimizer);  // checkpoints from before these options: the study's defaults
  c.early_stopping = j.value("early_stopping", c.early_stopping);
  c.lr_schedule = j.value("lr_schedule", c.lr_schedule);
  c.reduce_lr_on_plateau = j.value("reduce_lr_on_plateau", c.reduce_lr_on_plateau);
  c.checkpoint_best = j.value("checkpoint_best", c.checkpoint_best);
  c.seed = j.at("seed").get<std::uint64_t>();
  c.train_limit = j.at("train_limit").get<Index>();
  c.validation_fraction = j.at("validation_fraction").get<double>();
  return c;
}

std::string status_name(Status s) {
  switch (s) {
    case Status::not_started: return "not started";
    case Status::running: return "incomplete";
    case Status::finished: return "finished";
    case Status::diverged: return "diverged";
  }
  return "?";
}

int IterationRecord::best_epoch() const {
  int best = -1;
  if (!history.has("val_loss")) return best;
  for (std::size_t e = 0; e < history["val_loss"].size(); ++e)
    if (best < 0 || history["val_loss"][e] < history["val_loss"][static_cast<std::size_t>(best)]) best = static_cast<int>(e);
  return best;
}

json IterationRecord::to_json() const {
  json j{{"iteration", iteration},       {"status", status_name(status)},   {"split_seed", split_seed},
         {"model_seed", model_seed},     {"train_samples", train_samples},  {"val_samples", val_samples},
         {"epochs_done", epochs_done()}, {"history", history.to_json()}};
  double seconds = 0;
  for (double s : history.seconds) seconds += s;
  j["seconds"] = seconds;
  if (epochs_done() > 0 && history.has_validation()) {
    const auto last = model_epoch();  // the epoch the model comes from: the last, or --early-stopping's best
    j["loss"] = history["loss"][last];
    j["accuracy"] = history["accuracy"][last];
    j["val_loss"] = history["val_loss"][last];
    j["val_accuracy"] = history["val_accuracy"][last];
    const auto best = static_cast<std::size_t>(best_epoch());
    j["best_epoch"] = best + 1;  // 1-based, as printed during training
    j["best_val_loss"] = history["val_loss"][best];
    j["best_val_accuracy"] = history["val_accuracy"][best];
    if (restored_epoch >= 0) j["restored_epoch"] = restored_epoch + 1;  // 1-based: the model's weights are its
  }
  if (!error.empty()) j["error"] = error;
  return j;
}

std::string checkpoint_dir(const std::string& out_dir) { return join(out_dir, "checkpoints"); }
std::string checkpoint_path(const std::string& out_dir, int iteration) {
  return join(checkpoint_dir(out_dir), "iteration_" + std::to_string(iteration) + ".ckpt");
}
// --early-stopping: the weights of the best epoch so far, while a later epoch's are in the checkpoint.
static std::string best_weights_path(const std::string& out_dir, int iteration) {
  return join(checkpoint_dir(out_dir), "iteration_" + std::to_string(iteration) + ".best.ckpt");
}
static std::string diverged_path(const std::string& out_dir, int iteration) {
  return join(checkpoint_dir(out_dir), "iteration_" + std::to_string(iteration) + ".diverged.json");
}

static json data_fingerprint(const StudyData& data) {
  return {{"train_images", data.train_used}, {"crc32", data.crc32}};
}

// The metadata of a checkpoint (and of a divergence note): enough to rebuild the record and to refuse a resume
// under different settings.
static json iteration_metadata(const IterationRecord& r, const Config& config, const StudyData& data) {
  json j{{"app", "nnlite fashion_mnist"},  {"config", config.to_json()},    {"data", data_fingerprint(data)},
         {"iteration", r.iteration},       {"split_seed", r.split_seed},    {"model_seed", r.model_seed},
         {"train_samples", r.train_samples}, {"val_samples", r.val_samples}, {"status", status_name(r.status)},
         {"history", r.history.to_json()}};
  if (!r.error.empty()) j["error"] = r.error;
  if (r.restored_epoch >= 0) j["restored_epoch"] = r.restored_epoch;
  return j;
}

static IterationRecord record_from_metadata(const json& m) {
  IterationRecord r;
  r.iteration = m.at("iteration").get<int>();
  r.split_seed = m.at("split_seed").get<std::uint64_t>();
  r.model_seed = m.at("model_seed").get<std::uint64_t>();
  r.train_samples = m.at("train_samples").get<Index>();
  r.val_samples = m.at("val_samples").get<Index>();
  r.history = nnlite::History::from_json(m.at("history"));
  const std::string s = m.at("status").get<std::string>();
  r.status = s == "finished" ? Status::finished : s == "diverged" ? Status::diverged : Status::running;
  r.error = m.value("error", std::string());
  r.restored_epoch = m.value("restored_epoch", -1);
  return r;
}

static json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw nnlite::IoError("cannot open '" + path + "': " + std::strerror(errno));
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw nnlite::FormatError("'" + path + "' is not valid JSON: " + e.what());
  }
}

RunState read_run_state(const std::string& out_dir, int iterations_hint) {
  RunState state;
  std::map<int, IterationRecord> found;
  const std::string dir = checkpoint_dir(out_dir);
  if (fs::is_directory(dir)) {
    static const std::regex name(R"(iteration_([0-9]+)\.(ckpt|diverged\.json))");
    for (const auto& entry : fs::directory_iterator(dir)) {
      std::smatch m;
      const std::string file = entry.path().filename().string();
      if (!std::regex_match(file, m, name)) continue;
      const std::string path = entry.path().string();
      const json meta = m[2] == "ckpt" ? nnlite::read_checkpoint_metadata(path) : read_json_file(path);
      if (meta.value("app", "") != "nnlite fashion_mnist")
        throw ResumeError("'" + path + "' was not written by this app");
      // Every file of a run directory must come from one study.
      if (state.config.is_null()) {
        state.config = meta.at("config");
        state.data = meta.at("data");
      } else if (meta.at("config") != state.config || meta.at("data") != state.data) {
        throw ResumeError("'" + dir + "' mixes checkpoints of different studies ('" + path +
                          "' differs from the others); use a separate --out for each study");
      }
      IterationRecord r = record_from_metadata(meta);
      // A divergence note outranks the checkpoint of the epochs before it.
      if (!found.count(r.iteration) || r.status == Status::diverged) found[r.iteration] = std::move(r);
    }
  }
  int n = state.config.is_null() ? iterations_hint : state.config.at("iterations").get<int>();
  for (int i = 1; i <= n; ++i) {
    if (found.count(i)) {
      state.iterations.push_back(found[i]);
    } else {
      IterationRecord r;
      r.iteration = i;
      state.iterations.push_back(r);
    }
  }
  return state;
}

void check_resumable(const RunState& state, const Config& config, const StudyData& data, const std::string& out_dir) {
  if (state.config.is_null()) return;
  const json now = config.to_json();
  std::ostringstream diff;
  const json defaults = Config().to_json();  // a key newer than the checkpoints: they were made with its default
  for (auto it = now.begin(); it != now.end(); ++it) {
    const json then = state.config.contains(it.key()) ? state.config[it.key()] : defaults.value(it.key(), json());
    if (then != it.value()) diff << "\n  " << it.key() << ": " << then.dump() << " in the checkpoints, " << it.value().dump() << " now";
  }
  if (state.data != data_fingerprint(data))
    diff << "\n  training data: " << state.data.dump() << " in the checkpoints, " << data_fingerprint(data).dump() << " now";
  if (diff.str().empty()) return;
  throw ResumeError("'" + out_dir + "' holds checkpoints of a study with other settings, so it cannot be resumed:" +
                    diff.str() + "\nRerun with the same settings, use another --out, or delete '" +
                    checkpoint_dir(out_dir) + "' to start over.");
}

StudyClock::StudyClock(int total_epochs, int done_before, double seconds_per_epoch_hint)
    : total_(total_epochs), done_(done_before), hint_(seconds_per_epoch_hint) {}

void StudyClock::epoch_done(double seconds) {
  ++done_;
  ++timed_;
  seconds_ += seconds;
}

int StudyClock::epochs_this_run() const { return timed_; }

std::string StudyClock::line() const {
  const double per_epoch = timed_ > 0 ? seconds_ / timed_ : hint_;
  std::ostringstream os;
  os << "Study: " << done_ << '/' << total_ << " epochs done";
  if (per_epoch > 0 && done_ < total_)
    os << ", ETA " << nnlite::format_duration(per_epoch * (total_ - done_)) << " (" << fmt(per_epoch, 1) << " s/epoch)";
  return os.str();
}

namespace {

// Holds an exclusive lock on one iteration for this process's lifetime in train_iteration, so two jobs cannot
// train the same iteration into the same files. flock(2) belongs to the open file, so the kernel drops it when the
// process dies, even on kill -9: a rerun, or a requeued Slurm task, finds it free. Only a live process holds it —
// or, on NFS, a node that died, until the server's lease for it expires (90 s by default), hence `wait_seconds`.
// The holder writes who it is into the file, for the message of whoever finds it locked.
class IterationLock {
 public:
  IterationLock(const std::string& path, int iteration, double wait_seconds) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw nnlite::IoError("cannot create lock file '" + path + "': " + std::strerror(errno));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_seconds);
    bool told = false;
    while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const std::string holder = read_holder();
      if (std::chrono::steady_clock::now() >= deadline) {
        ::close(fd_);
        throw nnlite::Error("iteration " + std::to_string(iteration) + " is being trained by another process (" +
                            (holder.empty() ? "" : holder + ", ") + "it holds '" + path + "')");
      }
      if (!told) {
        std::cerr << "fashion_mnist: iteration " << iteration << " is locked (" << holder << "); waiting up to "
                  << wait_seconds << " s for '" << path << "'\n";
        told = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    write_holder();
  }
  ~IterationLock() { ::close(fd_); }
  IterationLock(const IterationLock&) = delete;
  IterationLock& operator=(const IterationLock&) = delete;

 private:
  std::string read_holder() const {
    char text[256] = {};
    const ssize_t n = ::pread(fd_, text, sizeof text - 1, 0);
    std::string s(text, n > 0 ? static_cast<std::size_t>(n) : 0);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
    return s;
  }
  void write_holder() const {
    char host[128] = {};
    ::gethostname(host, sizeof host - 1);
    std::string s = "pid " + std::to_string(::getpid()) + " on " + host;
    const char* job = std::getenv("SLURM_JOB_ID");
    const char* array = std::getenv("SLURM_ARRAY_JOB_ID");
    const char* task = std::getenv("SLURM_ARRAY_TASK_ID");
    if (array && task) s += std::string(", Slurm job ") + array + "_" + task;
    else if (job) s += std::string(", Slurm job ") + job;
    if (const char* restarts = std::getenv("SLURM_RESTART_COUNT"))
      s += std::string(" after ") + restarts + " requeue(s)";
    s += '\n';
    // For messages only: the lock is what counts, so a failed write is not an error.
    if (::ftruncate(fd_, 0) != 0) return;
    const ssize_t written = ::pwrite(fd_, s.data(), s.size(), 0);
    (void)written;
  }
  int fd_ = -1;
};

// --early-stopping P: Keras' EarlyStopping(monitor="val_loss", patience=P, restore_best_weights=True), resumable. A
// resumed run rebuilds its state (wait, best value, epoch and weights) by replaying the checkpoint's val_loss
// history into it, with the best epoch's weights (from the checkpoint itself when that epoch is the last one done,
// else from iteration_<i>.best.ckpt, written after the checkpoint of every epoch that improved).
class StudyEarlyStopping : public nnlite::Callback<float> {
 public:
  StudyEarlyStopping(int patience, const nnlite::History& past, std::vector<nnlite::Tensor<float>> best_weights)
      : es_(options(patience)), patience_(patience), past_(past), best_weights_(std::move(best_weights)) {}

  // The best epoch of the epochs in `past` (0-based), by EarlyStopping's own rule; -1 without any.
  static int best_epoch_of(int patience, const nnlite::History& past, nnlite::Sequential<float>& model) {
    if (past.size() == 0) return -1;
    nnlite::EarlyStoppingOptions o = options(patience);
    o.restore_best_weights = false;
    nnlite::EarlyStopping<float> probe(o);
    probe.model = &model;
    probe.on_train_begin({});
    for (std::size_t e = 0; e < past.size(); ++e) {
      nnlite::Logs logs{{"val_loss", past["val_loss"][e]}};
      probe.on_epoch_end(static_cast<int>(e), logs);
    }
    model.stop_training = false;
    return probe.best_epoch();
  }

  void on_train_begin(const nnlite::Logs& logs) override {
    es_.model = this->model;
    es_.params = this->params;
    es_.on_train_begin(logs);
    if (past_.size() == 0) return;
    const int best = best_epoch_of(patience_, past_, *this->model);
    const std::vector<nnlite::Tensor<float>> now = this->model->get_weights();
    for (std::size_t e = 0; e < past_.size(); ++e) {  // EarlyStopping copies the weights at each improvement
      if (static_cast<int>(e) == best) this->model->set_weights(best_weights_);
      nnlite::Logs l{{"val_loss", past_["val_loss"][e]}};
      es_.on_epoch_end(static_cast<int>(e), l);
      if (static_cast<int>(e) == best) this->model->set_weights(now);
    }
    this->model->stop_training = false;
  }
  void on_epoch_end(int epoch, nnlite::Logs& logs) override {
    es_.on_epoch_end(epoch, logs);
    if (es_.best_epoch() == epoch) best_weights_ = this->model->get_weights();
  }
  void on_train_end(const nnlite::Logs& logs) override { es_.on_train_end(logs); }

  int best_epoch() const { return es_.best_epoch(); }
  // Puts the best epoch's weights into the model now (EarlyStopping does it again at the end of fit, to the same).
  void restore_best() { this->model->set_weights(best_weights_); }

 private:
  static nnlite::EarlyStoppingOptions options(int patience) {
    nnlite::EarlyStoppingOptions o;
    o.monitor = "val_loss";
    o.patience = patience;
    o.restore_best_weights = true;
    return o;
  }
  nnlite::EarlyStopping<float> es_;
  int patience_;
  const nnlite::History past_;  // the epochs done before this run
  std::vector<nnlite::Tensor<float>> best_weights_;
};

// --reduce-lr-on-plateau P: Keras' ReduceLROnPlateau(monitor="val_loss", patience=P), resumable. A resumed run
// rebuilds its state (wait, cooldown, best value and the reduced rate) by replaying the checkpoint's val_loss history
// into it from the study's learning rate, as StudyEarlyStopping does. Each reduction is printed (unless --quiet).
class StudyReduceLR : public nnlite::Callback<float> {
 public:
  StudyReduceLR(int patience, double initial_lr, bool quiet, const nnlite::History& past)
      : plateau_(options(patience)), initial_lr_(initial_lr), quiet_(quiet), past_(past) {}

  void on_train_begin(const nnlite::Logs& logs) override {
    plateau_.model = this->model;
    plateau_.params = this->params;
    plateau_.on_train_begin(logs);
    replay(plateau_, initial_lr_, past_, *this->model);
  }
  static void replay(nnlite::ReduceLROnPlateau<float>& into, double initial_lr, const nnlite::History& past,
                     nnlite::Sequential<float>& model) {
    if (past.size() == 0) return;
    model.optimizer().set_learning_rate(initial_lr);
    for (std::size_t e = 0; e < past.size(); ++e) {
      nnlite::Logs l{{"val_loss", past["val_loss"][e]}};
      into.on_epoch_end(static_cast<int>(e), l);
    }
  }
  static nnlite::ReduceLROnPlateauOptions options(int patience) {
    nnlite::ReduceLROnPlateauOptions o;
    o.monitor = "val_loss";
    o.patience = patience;
    return o;
  }
  void on_epoch_end(int epoch, nnlite::Logs& logs) override {
    const double before = this->model->optimizer().learning_rate();
    plateau_.on_epoch_end(epoch, logs);
    const double after = this->model->optimizer().learning_rate();
    if (after != before && !quiet_)  // Keras' verbose=1 message
      std::cout << "\nEpoch " << epoch + 1 << ": ReduceLROnPlateau reducing learning rate to " << after << ".\n";
  }

 private:
  nnlite::ReduceLROnPlateau<float> plateau_;
  double initial_lr_;
  bool quiet_;
  const nnlite::History past_;  // the epochs done before this run
};

}  // namespace

void replay_reduce_lr(const Config& config, const nnlite::History& past, nnlite::Sequential<float>& model) {
  if (config.reduce_lr_on_plateau < 0) return;
  nnlite::ReduceLROnPlateau<float> plateau(StudyReduceLR::options(config.reduce_lr_on_plateau));
  plateau.model = &model;
  plateau.on_train_begin({});
  StudyReduceLR::replay(plateau, config.learning_rate, past, model);
}

IterationRecord train_iteration(const Config& config, const RunOptions& run, const StudyData& data, int iteration,
                                StudyClock& clock) {
  fs::create_directories(checkpoint_dir(run.out_dir));
  const std::string path = checkpoint_path(run.out_dir, iteration);
  IterationLock lock(path + ".lock", iteration, run.lock_wait);
  const std::string head = "Iteration " + std::to_string(iteration) + "/" + std::to_string(config.iterations);

  // Read the state under the lock: another job may have finished this iteration meanwhile.
  if (fs::exists(diverged_path(run.out_dir, iteration))) {
    IterationRecord r = record_from_metadata(read_json_file(diverged_path(run.out_dir, iteration)));
    if (!run.quiet) std::cout << head << " diverged in an earlier run (" << r.error << "): skipped\n";
    return r;
  }
  nnlite::Sequential<float> model = make_model(config, iteration);
  IterationRecord rec;
  rec.iteration = iteration;
  rec.split_seed = split_seed(config.seed, iteration);
  rec.model_seed = model_seed(config.seed, iteration);
  if (fs::exists(path)) {
    rec = record_from_metadata(nnlite::load_checkpoint(path, model));
    if (rec.status == Status::finished) {
      if (!run.quiet)
        std::cout << head << " finished in an earlier run (val_loss " << fmt(rec.history["val_loss"].back())
                  << ", val_accuracy " << fmt(rec.history["val_accuracy"].back()) << "): skipped\n";
      return rec;
    }
  }

  const nnlite::SplitIndices split = nnlite::train_test_split(data.train_used, config.validation_fraction, rec.split_seed);
  rec.train_samples = static_cast<Index>(split.train.size());
  rec.val_samples = static_cast<Index>(split.test.size());
  const ByteImageSource all(data.sets.train);
  const nnlite::SubsetSource<float> train(all, split.train), val(all, split.test);
  if (!run.quiet) {
    std::cout << '\n' << head << " \u2014 split seed " << rec.split_seed << ", model seed " << rec.model_seed << ": "
              << rec.train_samples << " training / " << rec.val_samples << " validation images";
    if (rec.epochs_done() > 0) std::cout << ", resuming after epoch " << rec.epochs_done() << '/' << config.epochs;
    std::cout << '\n' << std::flush;
  }

  // --early-stopping: the state of the epochs done so far comes back with the best epoch's weights.
  std::unique_ptr<StudyEarlyStopping> early_stopping;
  const std::string best_path = best_weights_path(run.out_dir, iteration);
  if (config.early_stopping >= 0) {
    std::vector<nnlite::Tensor<float>> best_weights;
    const int best = StudyEarlyStopping::best_epoch_of(config.early_stopping, rec.history, model);
    if (best >= 0 && best + 1 == rec.epochs_done()) {
      best_weights = model.get_weights();  // the checkpoint's own
    } else if (best >= 0) {
      nnlite::Sequential<float> copy = make_model(config, iteration);
      const json meta = fs::exists(best_path) ? nnlite::load_checkpoint(best_path, copy) : json();
      if (meta.value("epoch", -1) != best)
        throw ResumeError("cannot resume iteration " + std::to_string(iteration) + " with --early-stopping: '" +
                          best_path + "' does not hold the weights of its best epoch " + std::to_string(best + 1) +
                          "; delete '" + path + "' to train it again");
      best_weights = copy.get_weights();
    }
    early_stopping = std::make_unique<StudyEarlyStopping>(config.early_stopping, rec.history, std::move(best_weights));
  }

  std::unique_ptr<StudyReduceLR> reduce_lr;
  if (config.reduce_lr_on_plateau >= 0)
    reduce_lr =
        std::make_unique<StudyReduceLR>(config.reduce_lr_on_plateau, config.learning_rate, run.quiet, rec.history);
  // --checkpoint-best: Keras' ModelCheckpoint(save_best_only=True) on val_loss; a resumed run starts from the best
  // val_loss of the epochs done (Keras keeps `best` across fit() calls).
  std::unique_ptr<nnlite::ModelCheckpoint<float>> checkpoint_best;
  if (config.checkpoint_best) {
    nnlite::ModelCheckpointOptions o;
    o.monitor = "val_loss";
    o.save_best_only = true;
    if (rec.best_epoch() >= 0)
      o.initial_value_threshold = rec.history["val_loss"][static_cast<std::size_t>(rec.best_epoch())];
    const std::string dir = join(run.out_dir, "iteration_" + std::to_string(iteration));
    fs::create_directories(dir);
    checkpoint_best =
        std::make_unique<nnlite::ModelCheckpoint<float>>(join(dir, "best-{epoch:02d}-{val_loss:.4f}.keras"), o);
  }

  const std::string csv_path = join(run.out_dir, "history_iter" + std::to_string(iteration) + ".csv");
  // After every epoch: the record, the checkpoint and the CSV, all written atomically.
  struct SaveEachEpoch : nnlite::Callback<float> {
    std::function<void(int, const nnlite::Logs&, double)> done;
    std::chrono::steady_clock::time_point start;
    void on_epoch_begin(int, const nnlite::Logs&) override { start = std::chrono::steady_clock::now(); }
    void on_epoch_end(int epoch, nnlite::Logs& logs) override {
      done(epoch, logs, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  } save_each_epoch;
  save_each_epoch.done = [&](int epoch, const nnlite::Logs& logs, double seconds) {
    rec.history.append(epoch, logs, seconds);
    // The last epoch: all of them, or early stopping's patience ran out (it then restores the best epoch's weights).
    const bool last = rec.epochs_done() >= config.epochs || model.stop_training;
    rec.status = last ? Status::finished : Status::running;
    if (early_stopping && last) {
      early_stopping->restore_best();  // the checkpoint holds the model the iteration ends with
      rec.restored_epoch = early_stopping->best_epoch();
    }
    {
      const WritingFiles writing;  // a stop signal now waits for both files
      nnlite::save_checkpoint(path, model, iteration_metadata(rec, config, data));
      if (run.term_while_writing) ::raise(SIGTERM);
      nnlite::write_text_atomically(csv_path, rec.history.to_csv());
      // After the checkpoint: a stop in between leaves the best epoch's weights in the checkpoint itself.
      if (early_stopping && !last && early_stopping->best_epoch() == epoch)
        nnlite::save_checkpoint(best_path, model, json{{"epoch", epoch}});
      if (early_stopping && last) fs::remove(best_path);  // the checkpoint holds the best weights now
    }
    clock.epoch_done(seconds);
    if (!run.quiet) std::cout << clock.line() << '\n' << std::flush;
    if (run.stop_after_epochs > 0 && clock.epochs_this_run() >= run.stop_after_epochs) {
      std::cout << "Stopping after " << run.stop_after_epochs << " epochs (--stop-after-epochs), as if killed\n"
                << std::flush;
      std::_Exit(kStoppedExitCode);
    }
  };
  nnlite::FitOptions<float> options;
  options.epochs = config.epochs;
  options.batch_size = config.batch_size;
  options.shuffle = true;
  options.initial_epoch = rec.epochs_done();
  options.verbose = run.quiet ? 0 : 1;
  options.terminate_on_nan = true;
  options.callbacks = {&save_each_epoch};
  // EarlyStopping first: the epoch's checkpoint then knows whether training stops there.
  if (early_stopping) options.callbacks.insert(options.callbacks.begin(), early_stopping.get());
  // Before the epoch's record: ReduceLROnPlateau puts learning_rate into the logs it keeps.
  if (reduce_lr) options.callbacks.insert(options.callbacks.end() - 1, reduce_lr.get());
  if (checkpoint_best) options.callbacks.insert(options.callbacks.end() - 1, checkpoint_best.get());
  try {
    model.fit(train, &val, options);
    if (early_stopping && !run.quiet)
      std::cout << (rec.epochs_done() < config.epochs
                        ? "Early stopping after epoch " + std::to_string(rec.epochs_done()) +
                              " (val_loss has not improved for " + std::to_string(config.early_stopping) +
                              " epoch(s)); "
                        : std::string())
                << "restored the weights of the best epoch, " << rec.restored_epoch + 1 << '\n';
  } catch (const nnlite::NumericError& e) {
    // The checkpoint of the last good epoch stays as it is; the note keeps a rerun from training this again
    // (it would diverge the same way) and keeps this iteration out of the selection.
    rec.status = Status::diverged;
    rec.error = e.what();
    const WritingFiles writing;
    nnlite::write_text_atomically(diverged_path(run.out_dir, iteration), iteration_metadata(rec, config, data).dump(2));
    std::cerr << "fashion_mnist: " << head << " diverged: " << e.what() << "\n  It is left out of the selection; "
              << run.best_model_file() << " is not touched by it.\n";
  }
  return rec;
}

}  // namespace study
