// Study steps 3 and 4, selection and test: the finished iteration with the lowest final validation loss wins,
// is evaluated once on the 10,000 test images and saved as best_model.h5 (or .keras, --format); then the report is
// written.
#include <chrono>
#include <iomanip>
#include <iostream>
#include <limits>
#include <nnlite/io/checkpoint.hpp>
#include <numeric>
#include <sstream>

#include "study.hpp"

#include <nnlite/io/keras_h5.hpp>  // the example is built only with nnlite::io (examples/CMakeLists.txt)

namespace study {

std::string Preprocessing::str() const {
  if (!custom) return "pixels / 255";
  std::ostringstream os;
  os << std::setprecision(10) << "pixels * " << scale << " + " << offset;
  return os.str();
}

TestResult evaluate_on_test(nnlite::Sequential<float>& model, const nnlite::Dataset& test, const Preprocessing& pre) {
  const auto start = std::chrono::steady_clock::now();
  const Index classes = 10;
  if (model.output_shape() != nnlite::Shape{classes})
    throw nnlite::ShapeError("model '" + model.name() + "' outputs " + model.output_shape().str(true) +
                             ", Fashion-MNIST needs " + nnlite::Shape{classes}.str(true));
  const ByteImageSource source(test, classes);
  TestResult r;
  double loss_sum = 0;
  Index correct = 0;
  nnlite::Tensor<float> x, y, labels;
  r.has_loss = model.compiled();
  const bool sparse = r.has_loss && model.loss().target_shape(model.output_shape()) != nnlite::Shape{classes};
  const Index batch = 250;  // inference only: a larger batch is faster and changes no per-sample value
  std::vector<Index> idx(static_cast<std::size_t>(batch));
  for (Index begin = 0; begin < test.n; begin += batch) {
    const Index count = std::min(batch, test.n - begin);
    std::iota(idx.begin(), idx.begin() + count, begin);
    source.fill(idx.data(), count, x, y);
    if (pre.custom) {  // the same pixels, mapped as the model was trained
      const float a = static_cast<float>(pre.scale), b = static_cast<float>(pre.offset);
      const std::uint8_t* px = test.image(begin);
      for (Index k = 0; k < x.size(); ++k) x[k] = static_cast<float>(px[k]) * a + b;
    }
    const nnlite::Tensor<float>& p = model.forward(x, nnlite::Mode::inference);
    if (sparse) {  // a model compiled with a sparse loss (Keras files often are) takes the class index
      labels.resize(nnlite::Shape{count});
      for (Index k = 0; k < count; ++k) labels[k] = static_cast<float>(test.labels[static_cast<std::size_t>(begin + k)]);
    }
    if (r.has_loss) loss_sum += model.compute_loss(sparse ? labels : y, p) * static_cast<double>(count);
    correct += nnlite::count_correct(p, y);
    for (int k : nnlite::argmax_rows(p)) r.predicted.push_back(k);
    for (Index k = 0; k < count; ++k) r.truth.push_back(test.labels[static_cast<std::size_t>(begin + k)]);
  }
  r.loss = r.has_loss ? loss_sum / static_cast<double>(test.n) : std::numeric_limits<double>::quiet_NaN();
  r.accuracy = static_cast<double>(correct) / static_cast<double>(test.n);
  r.confusion = nnlite::confusion_matrix(r.truth, r.predicted, static_cast<int>(classes));
  r.per_class = nnlite::per_class_report(r.confusion);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

namespace {

void print_iterations(const std::vector<IterationRecord>& iterations, int best) {
  std::cout << "\n  iter  status       epochs  final val_loss  val_acc   best epoch  val_loss  val_acc\n";
  for (const auto& r : iterations) {
    std::cout << (r.iteration == best ? "* " : "  ") << std::left << std::setw(6) << r.iteration << std::setw(13)
              << status_name(r.status) << std::setw(8) << r.epochs_done();
    if (r.epochs_done() > 0 && r.history.has_validation()) {
      const auto b = static_cast<std::size_t>(r.best_epoch());
      const auto m = r.model_epoch();  // the last epoch, or the one --early-stopping restored
      std::cout << std::setw(16) << fmt(r.history["val_loss"][m]) << std::setw(10) << fmt(r.history["val_accuracy"][m])
                << std::setw(12) << b + 1 << std::setw(10) << fmt(r.history["val_loss"][b])
                << fmt(r.history["val_accuracy"][b]);
    }
    std::cout << std::right << '\n';
  }
}

// The test images the report shows: the first ones, then the first mistakes after them, so errors are visible.
void pick_grid(const nnlite::Dataset& test, const TestResult& t, StudyReport& report) {
  const std::size_t first = 18, total = 30;
  std::vector<std::size_t> chosen;
  for (std::size_t i = 0; i < first && i < t.truth.size(); ++i) chosen.push_back(i);
  for (std::size_t i = first; i < t.truth.size() && chosen.size() < total; ++i)
    if (t.predicted[i] != t.truth[i]) chosen.push_back(i);
  const auto pixels = static_cast<std::size_t>(test.pixels_per_image());
  for (std::size_t i : chosen) {
    const std::uint8_t* img = test.image(static_cast<Index>(i));
    report.grid_images.insert(report.grid_images.end(), img, img + pixels);
    report.grid_predicted.push_back(t.predicted[i]);
    report.grid_truth.push_back(t.truth[i]);
  }
}

std::vector<nnlite::LayerBox> layer_boxes(const nnlite::Sequential<float>& model) {
  std::vector<nnlite::LayerBox> boxes{{"input", "InputLayer", model.input_shape().str(true), -1}};
  for (std::size_t i = 0; i < model.size(); ++i) {
    const auto& l = model.layer(i);
    boxes.push_back({l.name(), l.class_name(), l.output_shape().str(true), static_cast<long long>(l.param_count())});
  }
  return boxes;
}

}  // namespace

int select_and_report(const RunOptions& run, const StudyData* preloaded) {
  const RunState state = read_run_state(run.out_dir);
  if (state.config.is_null())
    throw nnlite::Error("'" + checkpoint_dir(run.out_dir) +
                        "' holds no checkpoints: train first (fashion_mnist train --out " + run.out_dir + ")");
  const Config config = Config::from_json(state.config);
  StudyData loaded;
  if (!preloaded) {
    loaded = load_study_data(resolve_data_dir(run.data_dir), config.train_limit, run.quiet);
    check_resumable(state, config, loaded, run.out_dir);  // the test must run on the data the study trained on
    preloaded = &loaded;
  }
  const StudyData& data = *preloaded;

  int best = 0;
  std::vector<std::string> left_out;
  for (const auto& r : state.iterations) {
    if (r.status != Status::finished) {
      left_out.push_back(std::to_string(r.iteration) + " (" + status_name(r.status) + ")");
      continue;
    }
    // The val_loss of the model the iteration ended with: its last epoch's, or with --early-stopping its best's.
    const auto model_val_loss = [](const IterationRecord& it) { return it.history["val_loss"][it.model_epoch()]; };
    if (best == 0 || model_val_loss(r) < model_val_loss(state.iterations[static_cast<std::size_t>(best - 1)]))
      best = r.iteration;
  }
  if (!run.quiet) print_iterations(state.iterations, best);
  if (best == 0)
    throw nnlite::Error("no iteration in '" + run.out_dir + "' has finished training, so there is nothing to select");
  if (!left_out.empty()) {
    std::cerr << "fashion_mnist: warning: selecting among the finished iterations only; left out: ";
    for (std::size_t i = 0; i < left_out.size(); ++i) std::cerr << (i ? ", " : "") << left_out[i];
    std::cerr << '\n';
  }

  nnlite::Sequential<float> model = make_model(config, best);
  nnlite::load_checkpoint(checkpoint_path(run.out_dir, best), model);
  const IterationRecord& winner = state.iterations[static_cast<std::size_t>(best - 1)];
  replay_reduce_lr(config, winner.history, model);  // best_model.* holds the reduced rate, as Keras' model.save would
  if (!run.quiet)
    std::cout << "\nBest: iteration " << best << " (final val_loss "
              << fmt(winner.history["val_loss"][winner.model_epoch()]) << "); evaluating it on " << data.sets.test.n
              << " test images\n";

  StudyReport report;
  report.config = config;
  report.run = run;
  report.data_dir = data.dir;
  report.train_images = data.train_used;
  report.test_images = data.sets.test.n;
  report.iterations = state.iterations;
  report.best_iteration = best;
  report.test = evaluate_on_test(model, data.sets.test);
  report.layers = layer_boxes(model);
  report.model_summary = model.summary();
  pick_grid(data.sets.test, report.test, report);
  const WritingFiles writing;  // a stop signal now waits for the model and the report
  nnlite::save_model(model, join(run.out_dir, run.best_model_file()));  // the format by the extension
  report.wrote_model_file = true;
  write_report(report);
  std::cout << "Test loss: " << fmt(report.test.loss) << "  Test accuracy: " << fmt(report.test.accuracy)
            << "  (iteration " << best << ", report in " << join(run.out_dir, "report.md") << ")\n";
  return 0;
}

}  // namespace study
