// nnlite/model/progress.hpp: Keras' progress bar. On a terminal it redraws one line per epoch with ETA and running
// metrics; otherwise (a log file, CI) it prints one plain line per epoch.
#pragma once

#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <unistd.h>

#include "callbacks.hpp"

namespace nnlite {

/// Whether standard output is a terminal (the live progress bar redraws only there).
inline bool stdout_is_terminal() { return ::isatty(STDOUT_FILENO) == 1; }

/// "1h02m", "3m05s", "42s", "850ms": the units Keras prints.
inline std::string format_duration(double seconds) {
  char buf[32];
  if (seconds >= 3600)
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(seconds / 3600), static_cast<int>(seconds / 60) % 60);
  else if (seconds >= 60)
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(seconds / 60), static_cast<int>(seconds) % 60);
  else if (seconds >= 1)
    std::snprintf(buf, sizeof buf, "%ds", static_cast<int>(seconds + 0.5));
  else
    std::snprintf(buf, sizeof buf, "%dms", static_cast<int>(seconds * 1000 + 0.5));
  return buf;
}

/// Keras' progress bar over the logs: every metric of the batch logs while an epoch runs, and the epoch's logs
/// (val_ ones included) at its end, in Keras' order of the names.
template <class Scalar = float>
class ProgressBar : public Callback<Scalar> {
 public:
  /// verbose 1: a live bar (falls back to 2 when not a terminal); 2: one line per epoch.
  explicit ProgressBar(int verbose = 1, std::ostream& os = std::cout, int width = 30)
      : os_(os), width_(width), live_(verbose == 1 && &os == &std::cout && stdout_is_terminal()) {}

  void on_train_begin(const Logs&) override {
    epochs_ = this->params.epochs;
    steps_ = this->params.steps;
  }
  void on_epoch_begin(int epoch, const Logs&) override {
    epoch_ = epoch;
    start_ = Clock::now();
    last_draw_ = start_;
    if (live_) os_ << "Epoch " << epoch + 1 << '/' << epochs_ << '\n' << std::flush;
  }
  void on_train_batch_end(Index batch, const Logs& logs) override {
    if (!live_) return;
    const Index step = batch + 1;
    const auto now = Clock::now();
    // Redraw at most 20 times a second: the terminal, not the model, would otherwise be the bottleneck.
    if (step != steps_ && std::chrono::duration<double>(now - last_draw_).count() < 0.05) return;
    last_draw_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double eta = step ? elapsed / static_cast<double>(step) * static_cast<double>(steps_ - step) : 0.0;
    os_ << '\r' << bar(step) << " - ETA: " << format_duration(eta) << values(logs) << "   " << std::flush;
  }
  void on_test_begin(const Logs&) override {
    if (live_ && steps_) os_ << "\r" << bar(steps_) << " - validating..." << std::string(30, ' ') << std::flush;
  }
  void on_epoch_end(int epoch, Logs& logs) override {
    std::ostringstream line;
    if (live_)
      line << '\r' << bar(steps_);
    else
      line << "Epoch " << epoch + 1 << '/' << epochs_;
    const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    const double per_step = steps_ ? seconds / static_cast<double>(steps_) : 0.0;
    line << " - " << format_duration(seconds) << ' ' << format_duration(per_step) << "/step" << values(logs);
    os_ << line.str() << "          \n" << std::flush;
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::string bar(Index step) const {
    std::ostringstream os;
    const std::string total = std::to_string(steps_);
    std::string done = std::to_string(step);
    os << std::string(total.size() - std::min(total.size(), done.size()), ' ') << done << '/' << total << " [";
    const int filled = steps_ ? static_cast<int>(width_ * step / steps_) : width_;
    for (int i = 0; i < width_; ++i) os << (i < filled - 1 || (i == filled - 1 && step == steps_) ? '=' : i == filled - 1 ? '>' : '.');
    os << ']';
    return os.str();
  }
  static std::string fixed(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4f", v);
    return buf;
  }
  /// " - loss: 0.3000 - accuracy: 0.9000 - val_loss: ...": loss first, then the other training metrics, then val_.
  static std::string values(const Logs& logs) {
    std::string s;
    auto add = [&](const std::string& k, double v) { s += " - " + k + ": " + fixed(v); };
    if (logs.count("loss")) add("loss", logs.at("loss"));
    for (const auto& [k, v] : logs)
      if (k != "loss" && k.rfind("val_", 0) != 0) add(k, v);
    if (logs.count("val_loss")) add("val_loss", logs.at("val_loss"));
    for (const auto& [k, v] : logs)
      if (k != "val_loss" && k.rfind("val_", 0) == 0) add(k, v);
    return s;
  }

  std::ostream& os_;
  int width_;
  bool live_;
  int epochs_ = 0, epoch_ = 0;
  Index steps_ = 0;
  Clock::time_point start_, last_draw_;
};

}  // namespace nnlite
