// fashion_mnist: the Fashion-MNIST study as a command-line app — train (resumable, or one iteration per job),
// select the best iteration and report on the test set, or evaluate any Keras model (.h5 or .keras).
#include <CLI/CLI.hpp>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "study.hpp"

#include <nnlite/io/keras_h5.hpp>  // the example is built only with nnlite::io (examples/CMakeLists.txt)

namespace {

using namespace study;

// CLI11's PositiveNumber prints the whole range up to DBL_MAX in its message; this says it plainly.
const CLI::Validator kPositive(
    [](std::string& text) -> std::string {
      try {
        std::size_t used = 0;
        const double v = std::stod(text, &used);
        if (used == text.size() && v > 0 && std::isfinite(v)) return {};
      } catch (const std::exception&) {
      }
      return "must be a positive number, got '" + text + "'";
    },
    "POSITIVE");

void add_common_options(CLI::App* app, RunOptions& run) {
  app->add_option("--format", run.model_format,
                  "Format of best_model.*: h5 (Keras' HDF5 layout, the study's) or keras (Keras 3's native .keras)")
      ->check(CLI::IsMember({"h5", "keras"}))
      ->capture_default_str();
  app->add_option("--data", run.data_dir,
                  "Directory of the four Fashion-MNIST IDX files, plain or .gz (default: data/fashion in the source "
                  "tree when it holds them, else /usr/share/datasets/fashion-mnist)");
  app->add_option("--threads", run.threads, "Threads for training and inference; 0: all hardware threads")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
}

void add_train_options(CLI::App* app, Config& config, RunOptions& run) {
  add_common_options(app, run);
  app->add_option("--out", run.out_dir, "Directory for the model, report, figures and checkpoints")->capture_default_str();
  app->add_option("--model", config.model, "Which study model to train")
      ->check(CLI::IsMember({"improved", "first"}))
      ->capture_default_str();
  app->add_option("--iterations", config.iterations, "Independent split-and-train iterations")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app->add_option("--epochs", config.epochs, "Epochs per iteration")->check(CLI::Range(1, 100000))->capture_default_str();
  app->add_option("--batch-size", config.batch_size, "Images per training batch")
      ->check(CLI::Range(Index(1), Index(1) << 20))
      ->capture_default_str();
  app->add_option("--learning-rate", config.learning_rate, "The optimizer's learning rate")
      ->check(kPositive)
      ->capture_default_str();
  app->add_option("--optimizer", config.optimizer,
                  "Optimizer, by any name nnlite's optimizer registry knows (" +
                      nnlite::optimizer_registry<float>().supported() +
                      ", or their lower-case names), with Keras' defaults except --learning-rate")
      ->capture_default_str();
  app->add_option("--lr-schedule", config.lr_schedule,
                  "The learning rate as a Keras schedule starting at --learning-rate, DECAY_STEPS in batches: "
                  "cosine:DECAY_STEPS[:ALPHA] (CosineDecay), exponential:DECAY_STEPS:RATE (ExponentialDecay), "
                  "inverse_time:DECAY_STEPS:RATE (InverseTimeDecay) or piecewise:B1,B2,...:V0,V1,V2,... "
                  "(PiecewiseConstantDecay, the V are the rates); off by default")
      ->type_name("SPEC");
  app->add_option("--reduce-lr-on-plateau", config.reduce_lr_on_plateau,
                  "Multiply the learning rate by 0.1 once val_loss has not improved for PATIENCE epochs (Keras' "
                  "ReduceLROnPlateau(monitor='val_loss', patience=PATIENCE), its defaults otherwise); not with "
                  "--lr-schedule; off by default")
      ->type_name("PATIENCE")
      ->check(CLI::Range(0, 100000));
  app->add_flag("--checkpoint-best", config.checkpoint_best,
                "Save the model whenever val_loss improves, as OUT/iteration_<i>/best-<epoch>-<val_loss>.keras "
                "(Keras' ModelCheckpoint(save_best_only=True, monitor='val_loss')); off by default");
  app->add_option("--early-stopping", config.early_stopping,
                  "Stop an iteration once val_loss has not improved for PATIENCE epochs and keep its best epoch's "
                  "weights (Keras' EarlyStopping(monitor='val_loss', patience=PATIENCE, restore_best_weights=True)); "
                  "off by default")
      ->type_name("PATIENCE")
      ->check(CLI::Range(0, 100000));
  app->add_option("--seed", config.seed, "Seed of every split, initialisation, shuffle and dropout mask")
      ->capture_default_str();
  app->add_option("--train-limit", config.train_limit,
                  "Use only the first N training images (quick runs, tests); 0: all 60,000")
      ->check(CLI::Range(Index(0), Index(1) << 40))
      ->capture_default_str();
  app->add_option("--only-iteration", run.only_iteration,
                  "Train only iteration I (1-based) and stop; run `select` when all are done")
      ->check(CLI::Range(1, 1000));
  app->add_option("--lock-wait", run.lock_wait,
                  "Seconds to wait for an iteration locked by another process before giving up (a requeued job's "
                  "earlier run may still hold it)")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  app->add_flag("--quiet", run.quiet, "Print only warnings, errors and the final result");
  // Testing aid, hidden from --help: exit right after the K-th epoch's checkpoint, as a kill would.
  app->add_option("--stop-after-epochs", run.stop_after_epochs)->check(CLI::Range(1, 1000000))->group("");
  // Testing aid, hidden: SIGTERM to itself while an epoch's files are being written (they must be finished).
  app->add_flag("--term-while-writing", run.term_while_writing)->group("");
}

int train(Config config, const RunOptions& run) {
  // The optimizer by its canonical class name ("sgd" -> "SGD"), so that checkpoints of either spelling match; an
  // unknown name is the registry's error, listing the supported ones, before any data is read.
  if (!config.lr_schedule.empty() && config.reduce_lr_on_plateau >= 0)  // Keras cannot set a scheduled rate either
    throw nnlite::ArgumentError("--reduce-lr-on-plateau cannot be used with --lr-schedule '" + config.lr_schedule +
                                "': an optimizer that follows a schedule has no settable learning rate");
  (void)make_optimizer(config);  // also checks --lr-schedule
  config.optimizer = nnlite::optimizer_registry<float>().canonical(config.optimizer);
  if (config.train_limit != 0 && config.train_limit < 10)
    throw nnlite::ArgumentError("--train-limit must be 0 (all images) or at least 10, got " +
                                std::to_string(config.train_limit));
  if (run.only_iteration > config.iterations)
    throw nnlite::ArgumentError("--only-iteration " + std::to_string(run.only_iteration) + " is beyond --iterations " +
                                std::to_string(config.iterations));
  StudyData data = load_study_data(resolve_data_dir(run.data_dir), config.train_limit, run.quiet);
  std::filesystem::create_directories(run.out_dir);
  const RunState state = read_run_state(run.out_dir, config.iterations);
  check_resumable(state, config, data, run.out_dir);  // before anything is trained or written

  if (!run.quiet) {
    std::cout << "Study: model " << config.model << ", " << config.iterations << " iteration(s) x " << config.epochs
              << " epoch(s), batch size " << config.batch_size << ", " << config.optimizer << "(learning_rate "
              << config.learning_rate << (config.lr_schedule.empty() ? "" : ", schedule " + config.lr_schedule) << ")"
              << (config.reduce_lr_on_plateau >= 0
                      ? ", ReduceLROnPlateau (patience " + std::to_string(config.reduce_lr_on_plateau) + ")"
                      : std::string())
              << (config.checkpoint_best ? ", best-model checkpoints" : "")
              << (config.early_stopping >= 0
                      ? ", early stopping (patience " + std::to_string(config.early_stopping) + ")"
                      : std::string())
              << ", seed " << config.seed << ", " << nnlite::num_threads() << " thread(s), output in " << run.out_dir
              << "\n\n"
              << make_model(config, 1).summary();
  }

  std::vector<int> todo;
  for (int i = 1; i <= config.iterations; ++i)
    if (run.only_iteration == 0 || run.only_iteration == i) todo.push_back(i);
  int done = 0, timed = 0;
  double seconds = 0;
  for (int i : todo) {
    const IterationRecord& r = state.iterations[static_cast<std::size_t>(i - 1)];
    done += r.status == Status::finished || r.status == Status::diverged ? config.epochs : r.epochs_done();
    for (double s : r.history.seconds) seconds += s, ++timed;
  }
  StudyClock clock(static_cast<int>(todo.size()) * config.epochs, done, timed ? seconds / timed : 0.0);

  for (int i : todo) train_iteration(config, run, data, i, clock);

  if (run.only_iteration != 0) {
    std::cout << "Iteration " << run.only_iteration << " is done. When every iteration is, run: fashion_mnist select --out "
              << run.out_dir << '\n';
    return 0;
  }
  return select_and_report(run, &data);
}

// The compiled loss as the report names it: "sparse_categorical_crossentropy (from_logits=true)".
std::string loss_description(const nnlite::Sequential<float>& model) {
  const nnlite::Loss<float>& loss = model.loss();
  std::string s = loss.name();
  const json c = loss.config();
  if (c.contains("from_logits") && c["from_logits"] == true) s += " (from_logits=true)";
  return s;
}

int evaluate(const std::string& model_path, const RunOptions& run, bool as_json, bool isolate,
             const Preprocessing& pre) {
  // The file may come from anywhere: read it in a child process first, so that HDF5 crashing on a corrupt or
  // hostile file is an error message here rather than a crash (LoadOptions::isolate).
  nnlite::LoadOptions options;
  options.isolate = isolate;
  // Whatever the file was compiled with loads: what nnlite lacks is a warning (a loss it lacks leaves the model
  // uncompiled, so only accuracy can be reported).
  std::vector<nnlite::LoadWarning> warnings;
  options.on_warning = [&](const nnlite::LoadWarning& w) { warnings.push_back(w); };
  nnlite::Sequential<float> model = nnlite::load_model<float>(model_path, options);
  for (const auto& w : warnings) std::cerr << "fashion_mnist: warning: " << w.message << '\n';
  std::string loss_name, no_loss_reason;
  if (model.compiled()) {
    loss_name = loss_description(model);
  } else {
    no_loss_reason = "the model is not compiled";
    for (const auto& w : warnings)
      if (w.item == "loss" || w.item == "training_config") no_loss_reason = w.message;
  }
  const std::string dir = resolve_data_dir(run.data_dir);
  const nnlite::MnistData data = nnlite::load_fashion_mnist(dir);
  const TestResult t = evaluate_on_test(model, data.test, pre);
  if (as_json) {
    json warning_list = json::array();
    for (const auto& w : warnings) warning_list.push_back({{"item", w.item}, {"name", w.name}, {"message", w.message}});
    json out{{"model", model_path},
             {"data_dir", dir},
             {"test_samples", data.test.n},
             {"loss", t.has_loss ? json(loss_name) : json(nullptr)},
             {"test_loss", t.has_loss ? json(t.loss) : json(nullptr)},
             {"test_accuracy", t.accuracy},
             {"preprocessing", pre.str()},
             {"scale", pre.custom ? json(pre.scale) : json(1.0 / 255.0)},
             {"offset", pre.offset},
             {"warnings", warning_list}};
    if (!t.has_loss) out["no_loss_reason"] = no_loss_reason;
    std::cout << out.dump(2) << '\n';
  } else {
    std::cout << "Model: " << model_path << "\nPreprocessing: " << pre.str() << '\n';
    if (t.has_loss)
      std::cout << "Loss: " << loss_name << "\nTest loss: " << fmt(t.loss) << '\n';
    else
      std::cout << "Test loss: not available (" << no_loss_reason << ")\n";
    std::cout << "Test accuracy: " << fmt(t.accuracy) << " ("
              << static_cast<long>(t.accuracy * static_cast<double>(data.test.n) + 0.5) << " of " << data.test.n
              << " test images of " << dir << ")\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  RunOptions run;
  CLI::App app{
      "Fashion-MNIST study with nnlite: trains the study model on several random 80/20 splits, keeps the "
      "one with the lowest validation loss, and reports on the test set.\n"
      "  fashion_mnist [train] [options]       train (resumes from --out's checkpoints)\n"
      "  fashion_mnist select --out DIR        select, test and report over finished iterations\n"
      "  fashion_mnist evaluate MODEL.h5|.keras test loss and accuracy of a Keras model",
      "fashion_mnist"};
  app.require_subcommand(0, 1);
  add_train_options(&app, config, run);
  CLI::App* train_cmd = app.add_subcommand("train", "Train the study (the default when no command is given)");
  add_train_options(train_cmd, config, run);

  CLI::App* select_cmd = app.add_subcommand("select", "Pick the best finished iteration in --out, test it, report");
  add_common_options(select_cmd, run);
  select_cmd->add_option("--out", run.out_dir, "The study's output directory")->capture_default_str();
  select_cmd->add_flag("--quiet", run.quiet, "Print only warnings, errors and the final result");

  std::string model_path;
  bool as_json = false;
  CLI::App* eval_cmd = app.add_subcommand("evaluate", "Test loss and accuracy of a Keras model (.h5 or .keras)");
  eval_cmd->add_option("MODEL", model_path, "The model file (.h5, .hdf5 or .keras)")
      ->required()
      ->check(CLI::ExistingFile);
  add_common_options(eval_cmd, run);
  eval_cmd->add_flag("--json", as_json, "Print the result as JSON");
  bool in_process = false;
  eval_cmd->add_flag("--no-isolate", in_process,
                     "Read the model in this process only, skipping the first read in a child process that guards "
                     "against HDF5 crashing on a corrupt file (for files you trust)");

  double scale = 1.0 / 255.0, offset = 0.0;
  CLI::Option* scale_opt = eval_cmd->add_option(
      "--scale", scale, "Input = pixel * SCALE + OFFSET, for a model trained on another preprocessing (default: "
                        "pixels / 255); e.g. --scale 0.00784313725490196 --offset -1 for [-1, 1]");
  CLI::Option* offset_opt = eval_cmd->add_option("--offset", offset, "Added after --scale (default 0)");

  CLI11_PARSE(app, argc, argv);

  try {
    nnlite::set_num_threads(run.threads);
    if (*eval_cmd) {
      Preprocessing pre;
      pre.custom = scale_opt->count() > 0 || offset_opt->count() > 0;
      pre.scale = scale;
      pre.offset = offset;
      return evaluate(model_path, run, as_json, !in_process, pre);
    }
    install_stop_handlers(run.out_dir);  // Ctrl-C and SIGTERM finish the file being written, then exit with 75
    if (*select_cmd) return select_and_report(run, nullptr);
    return train(config, run);
  } catch (const std::exception& e) {
    std::cerr << "fashion_mnist: error: " << e.what() << '\n';
    return 1;
  }
}
