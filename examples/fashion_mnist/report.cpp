// Study step 5, the report: report.json for programs, report.md for people, and the PNG figures it links, all
// written atomically into --out.
#include <cstdio>
#include <nnlite/core/atomic_file.hpp>
#include <sstream>

#include "study.hpp"

namespace study {

std::string join(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

std::string fmt(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

namespace {

const char* kHistoryPng = "training_history.png";
const char* kConfusionPng = "confusion_matrix.png";
const char* kPredictionsPng = "test_predictions.png";
const char* kModelPng = "model.png";

double training_seconds(const StudyReport& r) {
  double s = 0;
  for (const auto& it : r.iterations)
    for (double e : it.history.seconds) s += e;
  return s;
}

std::string md_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|' || c == '*' || c == '_') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

json report_json(const StudyReport& r) {
  const auto& names = nnlite::fashion_mnist_class_names();
  json j;
  j["config"] = r.config.to_json();
  j["run"] = {{"data_dir", r.data_dir}, {"out_dir", r.run.out_dir}, {"threads", nnlite::num_threads()}};
  j["data"] = {{"train_images_used", r.train_images}, {"test_images", r.test_images}, {"class_names", names}};
  j["iterations"] = json::array();
  for (const auto& it : r.iterations) j["iterations"].push_back(it.to_json());
  j["selection"] = "lowest final validation loss among finished iterations";
  j["best_iteration"] = r.best_iteration;
  j["test_loss"] = r.test.loss;
  j["test_accuracy"] = r.test.accuracy;
  j["per_class"] = json::array();
  for (std::size_t c = 0; c < r.test.per_class.size(); ++c) {
    const auto& pc = r.test.per_class[c];
    j["per_class"].push_back({{"class", c},
                              {"name", c < names.size() ? names[c] : std::to_string(c)},
                              {"precision", pc.precision},
                              {"recall", pc.recall},
                              {"f1", pc.f1},
                              {"support", pc.support}});
  }
  j["confusion_matrix"] = r.test.confusion;
  long long params = 0;
  for (const auto& l : r.layers) params += std::max(0LL, l.params);
  j["model"] = {{"name", r.config.model},
                {"params", params},
                {"file", r.wrote_model_file ? json(r.run.best_model_file()) : json()}};
  j["figures"] = r.figures;
  j["training_seconds"] = training_seconds(r);
  j["test_seconds"] = r.test.seconds;
  // The study's compute time: every epoch of every iteration (across resumed runs and separate jobs) plus the test.
  j["total_seconds"] = training_seconds(r) + r.test.seconds;
  return j;
}

std::string report_markdown(const StudyReport& r) {
  const auto& names = nnlite::fashion_mnist_class_names();
  const Config& c = r.config;
  std::ostringstream md;
  md << "# Fashion-MNIST study: the *" << c.model << "* model\n\n"
     << "Best of " << c.iterations << " iterations (iteration " << r.best_iteration << "): **test accuracy "
     << fmt(100 * r.test.accuracy, 2) << " %**, test loss " << fmt(r.test.loss) << " on " << r.test_images
     << " test images.\n\n";

  md << "## Setup\n\n| setting | value |\n|---|---|\n"
     << "| model | " << c.model << " |\n| iterations | " << c.iterations << " |\n| epochs | " << c.epochs
     << " |\n| batch size | " << c.batch_size << " |\n| optimizer | " << c.optimizer << ", learning rate "
     << c.learning_rate << (c.lr_schedule.empty() ? "" : ", schedule `" + c.lr_schedule + "`")
     << (c.reduce_lr_on_plateau >= 0 ? ", ReduceLROnPlateau (patience " + std::to_string(c.reduce_lr_on_plateau) + ")"
                                     : "")
     << (c.checkpoint_best ? ", best-model checkpoints (ModelCheckpoint)" : "")
     << (c.early_stopping >= 0
             ? ", early stopping (patience " + std::to_string(c.early_stopping) + ", best weights restored)"
             : "")
     << " |\n| seed | " << c.seed << " |\n| training images | " << r.train_images
     << (c.train_limit > 0 ? " (--train-limit)" : "") << ", each iteration split "
     << fmt(100 * (1 - c.validation_fraction), 0) << "/" << fmt(100 * c.validation_fraction, 0)
     << " into training/validation |\n| data | `" << r.data_dir << "` |\n| training time | "
     << nnlite::format_duration(training_seconds(r)) << " (all epochs), test "
     << nnlite::format_duration(r.test.seconds) << " |\n\n";

  md << "## Iterations\n\nEach iteration trains a new model on a new random split; the model with the lowest "
        "validation loss after its last epoch (with --early-stopping: its best epoch, whose weights it restores) is "
        "kept.\n\n"
     << "| iteration | status | epochs | final val_loss | final val_accuracy | best epoch | its val_loss | its "
        "val_accuracy | time |\n|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& it : r.iterations) {
    md << "| " << it.iteration << (it.iteration == r.best_iteration ? " (selected)" : "") << " | "
       << status_name(it.status) << " | " << it.epochs_done() << " | ";
    if (it.epochs_done() > 0 && it.history.has_validation()) {
      const auto b = static_cast<std::size_t>(it.best_epoch());
      double secs = 0;
      for (double s : it.history.seconds) secs += s;
      md << fmt(it.history["val_loss"][it.model_epoch()]) << " | " << fmt(it.history["val_accuracy"][it.model_epoch()])
         << " | " << b + 1 << " | " << fmt(it.history["val_loss"][b]) << " | " << fmt(it.history["val_accuracy"][b])
         << " | " << nnlite::format_duration(secs) << " |\n";
    } else {
      md << "| | | | | |\n";
    }
  }
  for (const auto& it : r.iterations)
    if (!it.error.empty()) md << "\nIteration " << it.iteration << " diverged: " << md_escape(it.error) << "\n";
  md << "\nPer-epoch numbers: `history_iter<i>.csv` and `report.json`.\n\n";

  md << "## Test set\n\n| class | precision | recall | F1 | support |\n|---|---|---|---|---|\n";
  for (std::size_t k = 0; k < r.test.per_class.size(); ++k) {
    const auto& pc = r.test.per_class[k];
    md << "| " << k << " " << md_escape(names[k]) << " | " << fmt(pc.precision, 3) << " | " << fmt(pc.recall, 3)
       << " | " << fmt(pc.f1, 3) << " | " << pc.support << " |\n";
  }
  md << "\nConfusion matrix (rows: true class, columns: predicted):\n\n| true \\ predicted |";
  for (std::size_t k = 0; k < names.size(); ++k) md << ' ' << k << " |";
  md << "\n|---|";
  for (std::size_t k = 0; k < names.size(); ++k) md << "---|";
  md << '\n';
  for (std::size_t t = 0; t < r.test.confusion.size(); ++t) {
    md << "| " << t << " " << md_escape(names[t]) << " |";
    for (long v : r.test.confusion[t]) md << ' ' << v << " |";
    md << '\n';
  }

  md << "\n## Figures\n\n"
     << "Training and validation accuracy and loss per epoch, one colour per iteration:\n\n![training history]("
     << kHistoryPng << ")\n\n![confusion matrix](" << kConfusionPng << ")\n\n"
     << "Test images with predicted and true class (mistakes framed in red):\n\n![test predictions](" << kPredictionsPng
     << ")\n\n## Model\n\n![model](" << kModelPng << ")\n\n```\n" << r.model_summary << "```\n\n";
  if (r.wrote_model_file)
    md << "The selected model is `" << r.run.best_model_file() << "` ("
       << (r.run.model_format == "keras" ? "Keras 3's native format" : "Keras HDF5 layout")
       << ": `keras.models.load_model(\"" << r.run.best_model_file() << "\")`).\n";
  return md.str();
}

void write_report(StudyReport& r) {
  const std::string& out = r.run.out_dir;
  std::vector<nnlite::HistorySeries> runs;
  for (const auto& it : r.iterations) {
    if (it.epochs_done() == 0) continue;
    runs.push_back({"iteration " + std::to_string(it.iteration), it.history["loss"], it.history["accuracy"],
                    it.history["val_loss"], it.history["val_accuracy"]});
  }
  const auto& names = nnlite::fashion_mnist_class_names();
  nnlite::plot_training_history(join(out, kHistoryPng), runs, "Training (solid) and validation (dashed) per epoch");
  nnlite::plot_confusion_matrix(join(out, kConfusionPng), r.test.confusion, names,
                                "Confusion matrix, iteration " + std::to_string(r.best_iteration) + " on the test set");
  nnlite::plot_image_grid(join(out, kPredictionsPng), r.grid_images, 28, 28, r.grid_predicted, r.grid_truth, names, 6,
                          3, "Test images: predicted / true");
  nnlite::plot_model_diagram(join(out, kModelPng), r.layers, "Model: " + r.config.model);
  r.figures = {kHistoryPng, kConfusionPng, kPredictionsPng, kModelPng};

  nnlite::write_text_atomically(join(out, "report.json"), report_json(r).dump(2) + "\n");
  nnlite::write_text_atomically(join(out, "report.md"), report_markdown(r));
}

}  // namespace study
