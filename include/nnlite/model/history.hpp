// nnlite/model/history.hpp: what fit() returns, like Keras' History: History.history maps each logged name ("loss",
// "accuracy", "val_loss", ...) to one value per epoch; plus the epoch numbers and wall time, with CSV and JSON.
#pragma once

#include <cmath>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "../core/error.hpp"

namespace nnlite {

/// Keras' `logs` dict: what an epoch or a batch reports, by name.
using Logs = std::map<std::string, double>;

/// Keras' History: per-epoch logs of fit() (loss, metrics, val_ ones), with CSV export.
struct History {
  std::vector<int> epoch;       ///< Keras' History.epoch: each logged epoch, 0-based like Keras' callbacks.
  std::vector<double> seconds;  ///< Each epoch's wall time in seconds.
  std::map<std::string, std::vector<double>> history;  ///< Keras' History.history: name -> one value per epoch.

  /// The number of epochs logged.
  std::size_t size() const { return epoch.size(); }
  /// Whether `key` ("val_accuracy") was logged.
  bool has(const std::string& key) const { return history.count(key) != 0; }
  /// Whether fit() had validation data (val_loss was logged).
  bool has_validation() const { return has("val_loss"); }

  /// history["val_loss"], or an ArgumentError that lists what was logged.
  const std::vector<double>& operator[](const std::string& key) const {
    auto it = history.find(key);
    if (it == history.end()) {
      std::string keys;
      for (const auto& kv : history) keys += (keys.empty() ? "" : ", ") + kv.first;
      throw ArgumentError("History has no '" + key + "' (it logged: " + keys + ")");
    }
    return it->second;
  }

  /// Records one epoch: its index, its logs and its wall time.
  void append(int epoch_index, const Logs& logs, double wall_seconds) {
    epoch.push_back(epoch_index);
    seconds.push_back(wall_seconds);
    for (const auto& [key, value] : logs) history[key].push_back(value);
  }

  /// Appends another run's epochs (a resumed fit continues the same history).
  void extend(const History& more) {
    epoch.insert(epoch.end(), more.epoch.begin(), more.epoch.end());
    seconds.insert(seconds.end(), more.seconds.begin(), more.seconds.end());
    for (const auto& [key, values] : more.history) {
      auto& mine = history[key];
      mine.insert(mine.end(), values.begin(), values.end());
    }
  }

  /// Keras' CSVLogger columns: epoch, then the logged names sorted (accuracy,loss,val_accuracy,val_loss), + seconds.
  std::string to_csv() const {
    std::ostringstream os;
    os << std::setprecision(9) << "epoch";
    for (const auto& kv : history) os << ',' << kv.first;
    os << ",seconds\n";
    for (std::size_t i = 0; i < size(); ++i) {
      os << epoch[i];
      for (const auto& kv : history) {
        os << ',';
        if (i < kv.second.size()) os << kv.second[i];
      }
      os << ',' << seconds[i] << '\n';
    }
    return os.str();
  }

  /// {"epoch": [...], "seconds": [...], "loss": [...], ...}.
  nlohmann::json to_json() const {
    nlohmann::json j{{"epoch", epoch}, {"seconds", seconds}};
    for (const auto& kv : history) j[kv.first] = kv.second;
    return j;
  }

  /// The History to_json() wrote.
  static History from_json(const nlohmann::json& j) {
    History h;
    h.epoch = j.at("epoch").get<std::vector<int>>();
    h.seconds = j.at("seconds").get<std::vector<double>>();
    for (const auto& [key, value] : j.items())
      if (key != "epoch" && key != "seconds") h.history[key] = value.get<std::vector<double>>();
    return h;
  }
};

}  // namespace nnlite
