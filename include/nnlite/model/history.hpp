// nnlite/model/history.hpp: what fit() returns, like Keras' History: one entry per epoch of each metric,
// plus wall time, with CSV and JSON for reports.
#pragma once

#include <cmath>
#include <iomanip>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace nnlite {

struct EpochLogs {
  int epoch = 0;  // 0-based, like Keras' callbacks
  double loss = 0, accuracy = 0;
  double val_loss = std::numeric_limits<double>::quiet_NaN(), val_accuracy = std::numeric_limits<double>::quiet_NaN();
  double seconds = 0;
  bool has_validation() const { return !std::isnan(val_loss); }
};

struct History {
  std::vector<int> epoch;
  std::vector<double> loss, accuracy, val_loss, val_accuracy, seconds;

  std::size_t size() const { return epoch.size(); }
  bool has_validation() const { return !val_loss.empty(); }

  void append(const EpochLogs& logs) {
    epoch.push_back(logs.epoch);
    loss.push_back(logs.loss);
    accuracy.push_back(logs.accuracy);
    if (logs.has_validation()) {
      val_loss.push_back(logs.val_loss);
      val_accuracy.push_back(logs.val_accuracy);
    }
    seconds.push_back(logs.seconds);
  }

  // Appends another run's epochs (a resumed fit continues the same history).
  void extend(const History& more) {
    epoch.insert(epoch.end(), more.epoch.begin(), more.epoch.end());
    loss.insert(loss.end(), more.loss.begin(), more.loss.end());
    accuracy.insert(accuracy.end(), more.accuracy.begin(), more.accuracy.end());
    val_loss.insert(val_loss.end(), more.val_loss.begin(), more.val_loss.end());
    val_accuracy.insert(val_accuracy.end(), more.val_accuracy.begin(), more.val_accuracy.end());
    seconds.insert(seconds.end(), more.seconds.begin(), more.seconds.end());
  }

  // Keras' CSVLogger columns: epoch,accuracy,loss,val_accuracy,val_loss (+ seconds).
  std::string to_csv() const {
    std::ostringstream os;
    os << std::setprecision(9);
    os << "epoch,accuracy,loss" << (has_validation() ? ",val_accuracy,val_loss" : "") << ",seconds\n";
    for (std::size_t i = 0; i < size(); ++i) {
      os << epoch[i] << ',' << accuracy[i] << ',' << loss[i];
      if (has_validation()) os << ',' << val_accuracy[i] << ',' << val_loss[i];
      os << ',' << seconds[i] << '\n';
    }
    return os.str();
  }

  nlohmann::json to_json() const {
    nlohmann::json j{{"epoch", epoch}, {"loss", loss}, {"accuracy", accuracy}, {"seconds", seconds}};
    if (has_validation()) {
      j["val_loss"] = val_loss;
      j["val_accuracy"] = val_accuracy;
    }
    return j;
  }

  static History from_json(const nlohmann::json& j) {
    History h;
    h.epoch = j.at("epoch").get<std::vector<int>>();
    h.loss = j.at("loss").get<std::vector<double>>();
    h.accuracy = j.at("accuracy").get<std::vector<double>>();
    h.seconds = j.at("seconds").get<std::vector<double>>();
    if (j.contains("val_loss")) {
      h.val_loss = j.at("val_loss").get<std::vector<double>>();
      h.val_accuracy = j.at("val_accuracy").get<std::vector<double>>();
    }
    return h;
  }
};

}  // namespace nnlite
