// Metrics (model/metrics.hpp) against Keras 3's definitions, each value worked out here: AUC (ROC over Keras' 200
// thresholds, trapezoids between consecutive ones), Precision and Recall (threshold 0.5), top_k_categorical_accuracy
// (k = 5, TensorFlow's in_top_k tie rule), binary_accuracy (threshold 0.5), and "accuracy" resolved from the loss's
// label shape; accumulation over batches and reset.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <nnlite/nnlite.hpp>
#include <string>
#include <vector>

namespace test_metrics {

using nnlite::Index;
using nnlite::Metric;
using nnlite::MetricContext;
using nnlite::Shape;
using nnlite::Tensor;

namespace {

template <class S = double>
Tensor<S> tensor(const Shape& shape, const std::vector<double>& values) {
  Tensor<S> t(shape);
  REQUIRE(static_cast<Index>(values.size()) == t.size());
  for (Index i = 0; i < t.size(); ++i) t[i] = static_cast<S>(values[static_cast<std::size_t>(i)]);
  return t;
}

// Keras' AUC from its definition: thresholds [-1e-7, 1/199, ..., 198/199, 1 + 1e-7]; at each, the true and false
// positive rates of (p > threshold) over every value (label != 0 is positive), 0 when undefined; the area is the sum
// of (FPR_i - FPR_i+1) * (TPR_i + TPR_i+1) / 2.
double keras_auc(const std::vector<double>& p, const std::vector<double>& y, int n = 200) {
  std::vector<double> t(static_cast<std::size_t>(n));
  t[0] = -1e-7;
  for (int i = 1; i < n - 1; ++i) t[static_cast<std::size_t>(i)] = static_cast<double>(i) / (n - 1);
  t[static_cast<std::size_t>(n - 1)] = 1 + 1e-7;
  std::vector<double> tpr, fpr;
  for (double th : t) {
    double tp = 0, fp = 0, pos = 0, neg = 0;
    for (std::size_t i = 0; i < p.size(); ++i) {
      const double v = std::clamp(p[i], 0.0, 1.0);
      if (y[i] != 0) {
        pos += 1;
        tp += v > th;
      } else {
        neg += 1;
        fp += v > th;
      }
    }
    tpr.push_back(pos > 0 ? tp / pos : 0.0);
    fpr.push_back(neg > 0 ? fp / neg : 0.0);
  }
  double area = 0;
  for (std::size_t i = 0; i + 1 < t.size(); ++i) area += (fpr[i] - fpr[i + 1]) * (tpr[i] + tpr[i + 1]) / 2;
  return area;
}

// The exact ROC AUC: the share of (positive, negative) pairs ranked right, ties counting one half.
double rank_auc(const std::vector<double>& p, const std::vector<double>& y) {
  double good = 0, pairs = 0;
  for (std::size_t i = 0; i < p.size(); ++i)
    for (std::size_t j = 0; j < p.size(); ++j)
      if (y[i] != 0 && y[j] == 0) {
        pairs += 1;
        good += p[i] > p[j] ? 1.0 : p[i] == p[j] ? 0.5 : 0.0;
      }
  return good / pairs;
}

template <class S = double>
std::unique_ptr<Metric<S>> metric(const std::string& name, const Shape& output = Shape{1},
                                  const std::string& loss = "binary_crossentropy") {
  const auto l = nnlite::make_loss<S>(nnlite::json(loss));
  return nnlite::make_metric<S>(name, MetricContext{l->name(), output, l->target_shape(output)});
}

}  // namespace

TEST_CASE("AUC: Keras' 200 thresholds and trapezoids, worked out here; batches accumulate, reset starts over") {
  // No prediction on a threshold and no positive and negative in one bucket: the interpolated area is the exact AUC.
  const std::vector<double> p = {0.9, 0.3, 0.65, 0.2, 0.81, 0.05, 0.47, 0.55, 0.12, 0.71};
  const std::vector<double> y = {1, 0, 1, 1, 0, 0, 1, 0, 0, 1};
  const double want = keras_auc(p, y);
  CHECK(want == doctest::Approx(rank_auc(p, y)).epsilon(1e-12));
  CHECK(want == doctest::Approx(18.0 / 25.0).epsilon(1e-12));  // 18 of the 25 pairs are ordered right

  auto auc = metric("AUC");
  CHECK(auc->name() == "AUC");
  auc->update(tensor(Shape{10, 1}, p), tensor(Shape{10, 1}, y), nullptr);
  CHECK(auc->result() == doctest::Approx(want).epsilon(1e-12));

  // Three batches of 4, 3 and 3 give the one-batch value; reset gives 0 (every rate 0, as Keras' divide_no_nan).
  auc->reset();
  CHECK(auc->result() == 0.0);
  for (auto [b, e] : {std::pair<std::size_t, std::size_t>{0, 4}, {4, 7}, {7, 10}}) {
    const std::vector<double> pb(p.begin() + static_cast<long>(b), p.begin() + static_cast<long>(e));
    const std::vector<double> yb(y.begin() + static_cast<long>(b), y.begin() + static_cast<long>(e));
    auc->update(tensor(Shape{static_cast<Index>(e - b), 1}, pb), tensor(Shape{static_cast<Index>(e - b), 1}, yb),
                nullptr);
  }
  CHECK(auc->result() == doctest::Approx(want).epsilon(1e-12));

  // A positive and a negative in one bucket (0.501 and 0.502, both in (99/199, 100/199]) are a tie for the
  // trapezoid; values outside [0, 1] are clipped; a (batch, 2) output is flattened (multi_label=False).
  const std::vector<double> q = {0.501, 0.502, 1.7, -0.3, 0.8, 0.2, 0.95, 0.35};
  const std::vector<double> z = {1, 0, 1, 0, 0, 1, 1, 0};
  const double want2 = keras_auc(q, z);
  std::vector<double> qc = q;
  for (double& v : qc) v = std::clamp(v, 0.0, 1.0);
  qc[1] = qc[0];  // the bucket tie, as a tie for the exact AUC
  CHECK(want2 == doctest::Approx(rank_auc(qc, z)).epsilon(1e-12));
  auc->reset();
  auc->update(tensor(Shape{4, 2}, q), tensor(Shape{4, 2}, z), nullptr);
  CHECK(auc->result() == doctest::Approx(want2).epsilon(1e-12));

  // Soft labels: anything non-zero is a positive (Keras casts labels to bool).
  auc->reset();
  std::vector<double> soft = y;
  for (double& v : soft) v *= 0.6;
  auc->update(tensor(Shape{10, 1}, p), tensor(Shape{10, 1}, soft), nullptr);
  CHECK(auc->result() == doctest::Approx(want).epsilon(1e-12));
}

TEST_CASE("AUC: a float prediction on a threshold lands in Keras' float32 bucket (ceil(p * 199) - 1 in float)") {
  // Find k where the float nearest k/199, times 199, is k in float arithmetic (Keras: bucket k - 1, not above
  // threshold k) but above k in exact arithmetic (which would put it in bucket k).
  float edge = 0;
  int k = 0;
  for (int i = 1; i < 198 && k == 0; ++i) {
    const float v = static_cast<float>(i) / 199.0f;
    const float scaled = v * 199.0f;
    if (scaled == static_cast<float>(i) && static_cast<double>(v) * 199.0 > i) {
      edge = v;
      k = i;
    }
  }
  REQUIRE(k > 0);
  // A negative on the edge and a positive inside bucket k: at threshold k only the positive is above, so the ROC
  // goes (1, 1) -> (0, 1) -> (0, 0) and the area is 1; with both in bucket k it would be 0.5.
  const float positive = (static_cast<float>(k) + 0.5f) / 199.0f;
  auto auc = metric<float>("AUC");
  auc->update(tensor<float>(Shape{2, 1}, {edge, positive}), tensor<float>(Shape{2, 1}, {0, 1}), nullptr);
  CHECK(auc->result() == doctest::Approx(1.0));
}

TEST_CASE("Precision and Recall: threshold 0.5 (strictly above), counts over batches, 0 without a denominator") {
  const std::vector<double> p = {0.7, 0.5, 0.2, 0.9, 0.51, 0.49, 0.95, 0.05};
  const std::vector<double> y = {1, 1, 0, 0, 1, 1, 1, 0};
  double tp = 0, fp = 0, fn = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const bool pred = p[i] > 0.5, truth = y[i] != 0;
    tp += pred && truth;
    fp += pred && !truth;
    fn += !pred && truth;
  }
  REQUIRE(tp == 3);  // 0.7, 0.51, 0.95
  REQUIRE(fp == 1);  // 0.9
  REQUIRE(fn == 2);  // 0.5 (not above), 0.49
  auto precision = metric("precision"), recall = metric("Recall");
  CHECK(precision->name() == "precision");
  for (auto* m : {precision.get(), recall.get()}) {
    m->update(tensor(Shape{5, 1}, {p.begin(), p.begin() + 5}), tensor(Shape{5, 1}, {y.begin(), y.begin() + 5}),
              nullptr);
    m->update(tensor(Shape{3, 1}, {p.begin() + 5, p.end()}), tensor(Shape{3, 1}, {y.begin() + 5, y.end()}), nullptr);
  }
  CHECK(precision->result() == doctest::Approx(tp / (tp + fp)).epsilon(1e-15));
  CHECK(recall->result() == doctest::Approx(tp / (tp + fn)).epsilon(1e-15));
  precision->reset();
  recall->reset();
  CHECK(precision->result() == 0.0);
  CHECK(recall->result() == 0.0);
  // Nothing predicted positive: precision 0; no positive label: recall 0 (Keras' divide_no_nan).
  precision->update(tensor(Shape{2, 1}, {0.1, 0.2}), tensor(Shape{2, 1}, {1, 0}), nullptr);
  recall->update(tensor(Shape{2, 1}, {0.9, 0.2}), tensor(Shape{2, 1}, {0, 0}), nullptr);
  CHECK(precision->result() == 0.0);
  CHECK(recall->result() == 0.0);
  // Every value of a (batch, 2) output counts, soft labels are positives.
  recall->reset();
  recall->update(tensor(Shape{2, 2}, {0.9, 0.4, 0.6, 0.1}), tensor(Shape{2, 2}, {0.3, 1, 1, 0}), nullptr);
  CHECK(recall->result() == doctest::Approx(2.0 / 3.0).epsilon(1e-15));
}

TEST_CASE("top_k_categorical_accuracy: k = 5, ties with the k-th largest count as in, a non-finite row misses") {
  // Is the label's value at least the k-th largest value of the row (TensorFlow's in_top_k)?
  auto in_top = [](const std::vector<double>& row, Index label, std::size_t k) {
    for (double v : row)
      if (!std::isfinite(v)) return 0.0;
    std::vector<double> sorted = row;
    std::sort(sorted.begin(), sorted.end(), std::greater<double>());
    return row[static_cast<std::size_t>(label)] >= sorted[std::min(k, sorted.size()) - 1] ? 1.0 : 0.0;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<std::vector<double>> rows = {
      {0.30, 0.05, 0.20, 0.10, 0.15, 0.12, 0.08},  // label 4: 2nd largest
      {0.30, 0.05, 0.20, 0.10, 0.15, 0.12, 0.08},  // label 6: 6th largest -> miss
      {0.20, 0.20, 0.20, 0.10, 0.10, 0.10, 0.10},  // label 6: tied with the 4th..7th largest -> in
      {0.50, 0.10, 0.10, 0.10, 0.10, 0.05, 0.05},  // label 5: 6th and 7th tie below five larger -> miss
      {1.0 / 7, 1.0 / 7, 1.0 / 7, 1.0 / 7, 1.0 / 7, 1.0 / 7, 1.0 / 7},  // all tied -> in
      {0.9, nan, 0.0, 0.0, 0.0, 0.0, 0.1},  // label 0 is the largest, but the row has a NaN -> miss
  };
  const std::vector<Index> labels = {4, 6, 6, 5, 3, 0};
  const std::vector<double> want_each = {1, 0, 1, 0, 1, 0};
  std::vector<double> pv, yv;
  double want = 0;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    CHECK(in_top(rows[r], labels[r], 5) == want_each[r]);
    want += want_each[r];
    for (std::size_t j = 0; j < 7; ++j) {
      pv.push_back(rows[r][j]);
      yv.push_back(static_cast<Index>(j) == labels[r] ? 1.0 : 0.0);
    }
  }
  want /= static_cast<double>(rows.size());
  auto top = metric("top_k_categorical_accuracy", Shape{7}, "categorical_crossentropy");
  CHECK(top->name() == "top_k_categorical_accuracy");
  top->update(tensor(Shape{6, 7}, pv), tensor(Shape{6, 7}, yv), nullptr);
  CHECK(top->result() == doctest::Approx(want).epsilon(1e-15));
  // Two batches (4 rows, then 2) accumulate as one; reset starts over.
  top->reset();
  top->update(tensor(Shape{4, 7}, {pv.begin(), pv.begin() + 28}), tensor(Shape{4, 7}, {yv.begin(), yv.begin() + 28}),
              nullptr);
  CHECK(top->result() == doctest::Approx(2.0 / 4.0).epsilon(1e-15));
  top->update(tensor(Shape{2, 7}, {pv.begin() + 28, pv.end()}), tensor(Shape{2, 7}, {yv.begin() + 28, yv.end()}),
              nullptr);
  CHECK(top->result() == doctest::Approx(want).epsilon(1e-15));
  top->reset();
  CHECK(top->result() == 0.0);
  // Fewer classes than k: always in.
  top->update(tensor(Shape{1, 3}, {0.1, 0.2, 0.7}), tensor(Shape{1, 3}, {1, 0, 0}), nullptr);
  CHECK(top->result() == 1.0);
}

TEST_CASE("binary_accuracy: (p > 0.5) == label, averaged per sample then over samples, across batches") {
  // Per sample: the share of its values where (p > 0.5) equals the label exactly (a soft label 0.7 never does).
  const std::vector<double> p = {0.8, 0.5, 0.3, 0.51, 0.9, 0.1, 0.6, 0.2};
  const std::vector<double> y = {1, 1, 0, 1, 0.7, 0, 1, 1};
  std::vector<double> per_sample;
  for (std::size_t s = 0; s < 4; ++s) {
    double hits = 0;
    for (std::size_t j = 0; j < 2; ++j) hits += ((p[2 * s + j] > 0.5) ? 1.0 : 0.0) == y[2 * s + j];
    per_sample.push_back(hits / 2);
  }
  REQUIRE(per_sample == std::vector<double>{0.5, 1.0, 0.5, 0.5});
  auto acc = metric("binary_accuracy", Shape{2});
  CHECK(acc->name() == "binary_accuracy");
  acc->update(tensor(Shape{1, 2}, {p.begin(), p.begin() + 2}), tensor(Shape{1, 2}, {y.begin(), y.begin() + 2}),
              nullptr);
  CHECK(acc->result() == doctest::Approx(0.5).epsilon(1e-15));
  acc->update(tensor(Shape{3, 2}, {p.begin() + 2, p.end()}), tensor(Shape{3, 2}, {y.begin() + 2, y.end()}), nullptr);
  CHECK(acc->result() == doctest::Approx((0.5 + 1.0 + 0.5 + 0.5) / 4).epsilon(1e-15));
  acc->reset();
  CHECK(acc->result() == 0.0);
  const std::vector<double> one_p = {0.2, 0.7, 0.5, 0.99, 0.01}, one_y = {0, 1, 0, 0, 0};
  double want = 0;
  for (std::size_t i = 0; i < one_p.size(); ++i) want += ((one_p[i] > 0.5) ? 1.0 : 0.0) == one_y[i];
  want /= static_cast<double>(one_p.size());
  acc->update(tensor(Shape{5, 1}, one_p), tensor(Shape{5, 1}, one_y), nullptr);
  CHECK(acc->result() == doctest::Approx(want).epsilon(1e-15));
  CHECK(want == doctest::Approx(0.8));
}

TEST_CASE("accuracy: resolved from the loss's labels and the output as Keras 3 does, with the right values") {
  auto is = [](const Metric<double>& m, const char* kind) {
    if (std::string(kind) == "binary") return dynamic_cast<const nnlite::BinaryAccuracy<double>*>(&m) != nullptr;
    if (std::string(kind) == "sparse")
      return dynamic_cast<const nnlite::SparseCategoricalAccuracy<double>*>(&m) != nullptr;
    return dynamic_cast<const nnlite::CategoricalAccuracy<double>*>(&m) != nullptr;
  };
  // Categorical: one-hot labels, argmax against argmax (the first of tied maxima).
  auto cat = metric("accuracy", Shape{3}, "categorical_crossentropy");
  CHECK(cat->name() == "accuracy");
  CHECK(is(*cat, "categorical"));
  const std::vector<double> p = {0.2, 0.5, 0.3, 0.6, 0.3, 0.1, 0.4, 0.4, 0.2, 0.1, 0.1, 0.8};
  const std::vector<double> labels = {1, 1, 1, 2};  // sample 2: tied 0.4, 0.4 -> argmax 0 -> wrong
  std::vector<double> onehot(12, 0.0);
  for (std::size_t i = 0; i < 4; ++i) onehot[3 * i + static_cast<std::size_t>(labels[i])] = 1;
  double want = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const auto first = p.begin() + static_cast<long>(3 * i);
    want += static_cast<double>(std::max_element(first, first + 3) - first) == labels[i];
  }
  want /= 4;
  REQUIRE(want == 0.5);
  cat->update(tensor(Shape{4, 3}, p), tensor(Shape{4, 3}, onehot), nullptr);
  CHECK(cat->result() == doctest::Approx(want).epsilon(1e-15));

  // Sparse: integer labels, no class axis.
  auto sparse = metric("accuracy", Shape{3}, "sparse_categorical_crossentropy");
  CHECK(is(*sparse, "sparse"));
  sparse->update(tensor(Shape{4, 3}, p), tensor(Shape{4}, labels), nullptr);
  CHECK(sparse->result() == doctest::Approx(want).epsilon(1e-15));
  auto acc = metric("acc", Shape{3}, "sparse_categorical_crossentropy");
  CHECK(acc->name() == "acc");
  CHECK(is(*acc, "sparse"));

  // Binary: one output value.
  auto bin = metric("accuracy", Shape{1}, "binary_crossentropy");
  CHECK(is(*bin, "binary"));
  bin->update(tensor(Shape{4, 1}, {0.6, 0.4, 0.5, 0.9}), tensor(Shape{4, 1}, {1, 1, 0, 0}), nullptr);
  CHECK(bin->result() == doctest::Approx(0.5).epsilon(1e-15));  // right: 0.6 -> 1, 0.5 -> 0
  // Keras 3 decides by shapes, not by the loss: binary_crossentropy over 3 outputs (multi-label) with labels of the
  // same shape is categorical accuracy (tf.keras 2 took binary accuracy from the loss).
  CHECK(is(*metric("accuracy", Shape{3}, "binary_crossentropy"), "categorical"));
  CHECK(is(*metric("accuracy", Shape{1}, "mse"), "binary"));

  // Through a compiled model whose output is its input: evaluate() reports the same values, in batches of 3 and 1.
  nnlite::Sequential<double> m(Shape{3});
  m.add(nnlite::ActivationOf<double>("linear"));
  m.compile("adam", "categorical_crossentropy", {"accuracy"});
  CHECK(m.evaluate(tensor(Shape{4, 3}, p), tensor(Shape{4, 3}, onehot), 3)["accuracy"] == doctest::Approx(want));
  m.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  CHECK(m.evaluate(tensor(Shape{4, 3}, p), tensor(Shape{4}, labels), 3)["accuracy"] == doctest::Approx(want));
}

}  // namespace test_metrics
