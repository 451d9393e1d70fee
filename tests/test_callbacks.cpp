// Keras 3's EarlyStopping: the epoch it stops at and the weights it restores, for sequences worked out here from
// Keras' rule (wait += 1 each monitored epoch, reset on an improvement that also beats the baseline, stop once
// wait >= patience after epoch 0).
#include <doctest/doctest.h>

#include <nnlite/nnlite.hpp>

namespace test_callbacks {

using nnlite::Shape;

namespace {
// Feeds `values` as the monitored log, changing the model's first weight to the epoch number before each epoch end;
// returns the epoch training stopped after (-1 if it ran through).
int run(nnlite::EarlyStopping<float>& cb, nnlite::Sequential<float>& m, const std::vector<double>& values,
        const std::string& key = "val_loss") {
  cb.model = &m;
  m.stop_training = false;
  cb.on_train_begin({});
  int stopped = -1;
  for (int e = 0; e < static_cast<int>(values.size()); ++e) {
    m.params()[0] = static_cast<float>(e);
    nnlite::Logs logs{{key, values[static_cast<std::size_t>(e)]}};
    cb.on_epoch_end(e, logs);
    if (m.stop_training) {
      stopped = e;
      break;
    }
  }
  cb.on_train_end({});
  return stopped;
}
}  // namespace

TEST_CASE("EarlyStopping: Keras 3's patience, min_delta, mode, baseline, start_from_epoch, restore_best_weights") {
  nnlite::Sequential<float> m(Shape{2});
  m.add(nnlite::Dense<float>(1));
  m.build();
  {
    nnlite::EarlyStopping<float> cb(2);  // 1.0, 0.9 improve; 0.95 (wait 1), 0.92 (wait 2): stop after epoch 3
    CHECK(run(cb, m, {1.0, 0.9, 0.95, 0.92, 0.8}) == 3);
    CHECK(cb.best_epoch() == 1);
  }
  {
    nnlite::EarlyStopping<float> cb(0);  // patience 0: the first epoch without improvement stops (never epoch 0)
    CHECK(run(cb, m, {1.0, 1.0, 0.5}) == 1);
  }
  {
    nnlite::EarlyStoppingOptions o;
    o.patience = 1;
    o.min_delta = 0.2;  // 0.85 is not below 1.0 - 0.2
    CHECK([&] { nnlite::EarlyStopping<float> cb(o); return run(cb, m, {1.0, 0.85, 0.5}); }() == 1);
  }
  {
    nnlite::EarlyStoppingOptions o;
    o.monitor = "val_accuracy";  // auto -> max
    o.patience = 1;
    o.restore_best_weights = true;
    nnlite::EarlyStopping<float> cb(o);
    CHECK(run(cb, m, {0.5, 0.7, 0.6, 0.9}, "val_accuracy") == 2);
    CHECK(m.params()[0] == 1.0f);  // the weights of epoch 1, the best
  }
  {
    nnlite::EarlyStoppingOptions o;
    o.patience = 2;
    o.baseline = 0.5;  // improving but never beating the baseline: wait is never reset
    nnlite::EarlyStopping<float> cb(o);
    CHECK(run(cb, m, {1.0, 0.9, 0.8}) == 1);
  }
  {
    nnlite::EarlyStoppingOptions o;
    o.patience = 0;
    o.start_from_epoch = 2;  // epochs 0 and 1 are not monitored
    nnlite::EarlyStopping<float> cb(o);
    CHECK(run(cb, m, {1.0, 2.0, 3.0, 4.0}) == 3);
  }
  {
    nnlite::EarlyStopping<float> cb(1);  // a monitor missing from the logs is skipped
    CHECK(run(cb, m, {1.0, 2.0, 3.0}, "loss") == -1);
  }
  CHECK_THROWS_AS(nnlite::EarlyStopping<float>(-1), nnlite::ArgumentError);
  nnlite::EarlyStoppingOptions bad;
  bad.mode = "up";
  CHECK_THROWS_WITH_AS(nnlite::EarlyStopping<float>{bad}, doctest::Contains("mode"), nnlite::ArgumentError);
}

}  // namespace test_callbacks
