// The callbacks that need only the logs and the model, for sequences worked out here from Keras 3's rules:
// EarlyStopping (the epoch it stops at, the weights it restores), ReduceLROnPlateau (the epochs the rate drops at),
// LearningRateScheduler (the rate the optimizer steps with), TerminateOnNaN (the batch training stops after), and
// the callback registry.
#include <doctest/doctest.h>

#include <nnlite/nnlite.hpp>

#include "test_support.hpp"

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

// ---- ReduceLROnPlateau, LearningRateScheduler, TerminateOnNaN, the callback registry --------------------------------

namespace {
nnlite::Sequential<double> sgd_model(double lr) {
  nnlite::Sequential<double> m(Shape{1});
  m.add(nnlite::Dense<double>(1));
  m.compile(nnlite::SGD<double>(lr), "mse", {});
  return m;
}

// Feeds `values` as val_loss (or `key`) epoch by epoch; returns the learning rate after each epoch's end, and the
// learning_rate each epoch's logs got in `logged`.
std::vector<double> plateau(nnlite::ReduceLROnPlateau<double>& cb, nnlite::Sequential<double>& m,
                            const std::vector<double>& values, std::vector<double>* logged = nullptr,
                            const std::string& key = "val_loss") {
  cb.model = &m;
  cb.on_train_begin({});
  std::vector<double> lrs;
  for (std::size_t e = 0; e < values.size(); ++e) {
    nnlite::Logs logs{{key, values[e]}, {"loss", 1.0}};
    cb.on_epoch_end(static_cast<int>(e), logs);
    if (logged) logged->push_back(logs.at("learning_rate"));
    lrs.push_back(m.optimizer().learning_rate());
  }
  return lrs;
}

nnlite::ReduceLROnPlateauOptions plateau_options(int patience, double factor, int cooldown = 0, double min_lr = 0) {
  nnlite::ReduceLROnPlateauOptions o;
  o.patience = patience;
  o.factor = factor;
  o.cooldown = cooldown;
  o.min_lr = min_lr;
  return o;
}
}  // namespace

TEST_CASE("ReduceLROnPlateau: Keras 3's patience, cooldown, min_lr, min_delta and mode") {
  {
    // patience 2: 0.95 and 0.92 do not beat 0.9 (wait 1, 2): reduce at epoch 3; 0.91 (wait 1), 0.8 improves,
    // 0.85, 0.86 (wait 1, 2): reduce at epoch 7. The logs get the rate before that epoch's reduction.
    auto m = sgd_model(1.0);
    nnlite::ReduceLROnPlateau<double> cb(plateau_options(2, 0.5));
    std::vector<double> logged;
    CHECK(plateau(cb, m, {1.0, 0.9, 0.95, 0.92, 0.91, 0.8, 0.85, 0.86}, &logged) ==
          std::vector<double>{1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25});
    CHECK(logged == std::vector<double>{1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5});
  }
  {
    // patience 1, cooldown 2, never improving after epoch 0: reduce at 1 (counter = 2); epoch 2: counter 2 -> 1,
    // still cooling down; epoch 3: counter 1 -> 0, wait 1 >= 1: reduce (counter = 2); epoch 4 cools; epoch 5 reduces.
    auto m = sgd_model(1.0);
    nnlite::ReduceLROnPlateau<double> cb(plateau_options(1, 0.1, 2));
    const double a = 1.0 * 0.1, b = a * 0.1, c = b * 0.1;
    CHECK(plateau(cb, m, {1, 1, 1, 1, 1, 1}) == std::vector<double>{1, a, a, b, b, c});
  }
  {
    // min_lr 0.3: 1 -> 0.5 -> max(0.25, 0.3) = 0.3, then lr > min_lr fails and the rate stays.
    auto m = sgd_model(1.0);
    nnlite::ReduceLROnPlateau<double> cb(plateau_options(1, 0.5, 0, 0.3));
    CHECK(plateau(cb, m, {1, 1, 1, 1, 1}) == std::vector<double>{1, 0.5, 0.3, 0.3, 0.3});
  }
  {
    // The default min_delta 1e-4: 0.99995 is not below 1 - 1e-4, so epoch 1 does not improve and patience 1 reduces.
    auto m = sgd_model(1.0);
    nnlite::ReduceLROnPlateau<double> cb(plateau_options(1, 0.5));
    CHECK(plateau(cb, m, {1.0, 0.99995}).back() == 0.5);
    auto o = plateau_options(1, 0.5);
    o.min_delta = 0;
    auto m2 = sgd_model(1.0);
    nnlite::ReduceLROnPlateau<double> exact(o);
    CHECK(plateau(exact, m2, {1.0, 0.99995}).back() == 1.0);
  }
  {
    // Mode max (auto for val_accuracy, or explicit): 0.6 improves, 0.55 and 0.58 wait 1, 2 -> reduce at epoch 3.
    // The same values in mode min: 0.6, 0.55 wait 1, 2 -> reduce at 2; 0.58, 0.7 -> reduce at 4.
    const std::vector<double> v{0.5, 0.6, 0.55, 0.58, 0.7};
    auto o = plateau_options(2, 0.5);
    o.monitor = "val_accuracy";
    auto m = sgd_model(1.0);
    nnlite::ReduceLROnPlateau<double> up(o);
    CHECK(plateau(up, m, v, nullptr, "val_accuracy") == std::vector<double>{1, 1, 1, 0.5, 0.5});
    o.monitor = "val_loss";
    o.mode = "max";
    auto m2 = sgd_model(1.0);
    nnlite::ReduceLROnPlateau<double> explicit_max(o);
    CHECK(plateau(explicit_max, m2, v) == std::vector<double>{1, 1, 1, 0.5, 0.5});
    o.mode = "min";
    auto m3 = sgd_model(1.0);
    nnlite::ReduceLROnPlateau<double> down(o);
    CHECK(plateau(down, m3, v) == std::vector<double>{1, 1, 0.5, 0.5, 0.25});
  }
  {
    // A monitor missing from the logs changes nothing (Keras warns); learning_rate is still logged.
    auto m = sgd_model(1.0);
    nnlite::ReduceLROnPlateau<double> cb(plateau_options(0, 0.5));
    std::vector<double> logged;
    CHECK(plateau(cb, m, {1, 1, 1}, &logged, "loss_typo") == std::vector<double>{1, 1, 1});
    CHECK(logged == std::vector<double>{1, 1, 1});
  }
  {
    // A float model logs the rate its optimizer steps with: the float32 value, as Keras logs its float32 variable.
    nnlite::Sequential<float> m(Shape{1});
    m.add(nnlite::Dense<float>(1));
    m.compile(nnlite::SGD<float>(0.001), "mse", {});
    nnlite::ReduceLROnPlateau<float> cb;
    cb.model = &m;
    cb.on_train_begin({});
    nnlite::Logs logs{{"val_loss", 1.0}};
    cb.on_epoch_end(0, logs);
    CHECK(logs.at("learning_rate") == static_cast<double>(0.001f));
  }
  using test_support::contains;
  using test_support::message_of;
  auto make = [](nnlite::ReduceLROnPlateauOptions o) { nnlite::ReduceLROnPlateau<double> cb(o); };
  CHECK(contains(message_of<nnlite::ArgumentError>([&] { make(plateau_options(1, 1.0)); }), "factor=1.0"));
  CHECK(contains(message_of<nnlite::ArgumentError>([&] { make(plateau_options(1, 2.5)); }), "factor >= 1.0"));
  CHECK(contains(message_of<nnlite::ArgumentError>([&] { make(plateau_options(-1, 0.5)); }), "patience"));
  CHECK(contains(message_of<nnlite::ArgumentError>([&] { make(plateau_options(1, 0.5, -2)); }), "cooldown"));
  CHECK(contains(message_of<nnlite::ArgumentError>([&] { make(plateau_options(1, 0.5, 0, -1)); }), "min_lr"));
  auto bad_mode = plateau_options(1, 0.5);
  bad_mode.mode = "down";
  CHECK(contains(message_of<nnlite::ArgumentError>([&] { make(bad_mode); }), "mode"));
}

TEST_CASE("LearningRateScheduler: the schedule's rate is the one the optimizer steps with, and it is logged") {
  // Dense(1) on x = 1, y = 0 with mse: s = w + b, loss s^2, dL/dw = dL/db = 2s, so one SGD step gives s(1 - 4 lr).
  auto m = sgd_model(0.05);
  nnlite::Tensor<double> x(Shape{1, 1}), y(Shape{1, 1});
  x[0] = 1;
  y[0] = 0;
  const double s0 = m.predict(x)[0];
  std::vector<std::pair<int, double>> calls;
  nnlite::LearningRateScheduler<double> sched([&](int epoch, double lr) {
    calls.emplace_back(epoch, lr);
    return 0.01 * (epoch + 1);
  });
  nnlite::FitOptions<double> o;
  o.epochs = 3;
  o.verbose = 0;
  o.callbacks = {&sched};
  const auto h = m.fit(x, y, o);
  // The schedule gets the epoch and the rate so far: SGD's 0.05 first, then its own previous values.
  REQUIRE(calls.size() == 3);
  CHECK(calls[0] == std::pair<int, double>{0, 0.05});
  CHECK(calls[1] == std::pair<int, double>{1, 0.01});
  CHECK(calls[2] == std::pair<int, double>{2, 0.02});
  CHECK(h["learning_rate"] == std::vector<double>{0.01, 0.02, 0.03});
  const double s1 = s0 * (1 - 4 * 0.01), s2 = s1 * (1 - 4 * 0.02), s3 = s2 * (1 - 4 * 0.03);
  CHECK(h["loss"][0] == doctest::Approx(s0 * s0).epsilon(1e-12));
  CHECK(h["loss"][2] == doctest::Approx(s2 * s2).epsilon(1e-12));
  CHECK(m.predict(x)[0] == doctest::Approx(s3).epsilon(1e-12));
  CHECK(m.optimizer().learning_rate() == 0.03);

  nnlite::LearningRateScheduler<double> negative([](int, double) { return -1.0; });
  o.callbacks = {&negative};
  CHECK_THROWS_AS(m.fit(x, y, o), nnlite::ArgumentError);
}

namespace {
// Records the batches and epochs fit() went through.
struct Recorder : nnlite::Callback<double> {
  std::vector<std::pair<int, nnlite::Index>> batches;
  std::vector<int> epochs;
  int epoch = -1;
  bool ended = false;
  void on_epoch_begin(int e, const nnlite::Logs&) override { epoch = e; }
  void on_train_batch_end(nnlite::Index b, const nnlite::Logs&) override { batches.emplace_back(epoch, b); }
  void on_epoch_end(int e, nnlite::Logs&) override { epochs.push_back(e); }
  void on_train_end(const nnlite::Logs&) override { ended = true; }
};
}  // namespace

TEST_CASE("TerminateOnNaN: a NaN batch loss stops training after that batch (Keras 3), or throws with raise_error") {
  auto m = sgd_model(0.01);
  nnlite::Tensor<double> x(Shape{4, 1}), y(Shape{4, 1});
  for (int i = 0; i < 4; ++i) {
    x[i] = i + 1;
    y[i] = 0;
  }
  x[2] = std::numeric_limits<double>::quiet_NaN();  // batch 2 of epoch 0 (batch_size 1, no shuffling)
  nnlite::FitOptions<double> o;
  o.epochs = 3;
  o.batch_size = 1;
  o.shuffle = false;
  o.verbose = 0;
  o.terminate_on_nan = false;  // nnlite's own guard would throw before the step
  {
    nnlite::TerminateOnNaN<double> stop;
    Recorder rec;
    o.callbacks = {&stop, &rec};
    const auto h = m.fit(x, y, o);
    // Batches 0, 1, 2 of epoch 0 ran (later callbacks still see batch 2), then the epoch ended and training stopped.
    CHECK(rec.batches == std::vector<std::pair<int, nnlite::Index>>{{0, 0}, {0, 1}, {0, 2}});
    CHECK(rec.epochs == std::vector<int>{0});
    CHECK(rec.ended);
    REQUIRE(h.size() == 1);
    CHECK(std::isnan(h["loss"][0]));
  }
  {
    auto fresh = sgd_model(0.01);
    Recorder rec;
    o.callbacks = {&rec};  // without it, all 3 x 4 batches run
    fresh.fit(x, y, o);
    CHECK(rec.batches.size() == 12);
  }
  {
    auto fresh = sgd_model(0.01);
    nnlite::TerminateOnNaN<double> raise(true);
    Recorder rec;
    o.callbacks = {&raise, &rec};
    CHECK(test_support::contains(test_support::message_of<nnlite::NumericError>([&] { fresh.fit(x, y, o); }),
                                 "NaN or Inf loss encountered at batch 2"));
    CHECK(!rec.ended);
  }
}

TEST_CASE("callback registry: Keras class names and configs to callbacks; unknown names and arguments refused") {
  using test_support::contains;
  using test_support::message_of;
  {
    auto cb = nnlite::make_callback<float>({{"class_name", "EarlyStopping"}, {"config", {{"patience", 3}}}});
    auto* es = dynamic_cast<nnlite::EarlyStopping<float>*>(cb.get());
    REQUIRE(es != nullptr);
    nnlite::Sequential<float> m(Shape{2});
    m.add(nnlite::Dense<float>(1));
    m.build();
    // 1.0 best, then three epochs without improvement: wait 3 >= patience 3 stops after epoch 3.
    CHECK(run(*es, m, {1.0, 2.0, 2.0, 2.0, 2.0}) == 3);
  }
  {
    auto cb = nnlite::make_callback<double>(
        {{"class_name", "ReduceLROnPlateau"},
         {"config", {{"monitor", "loss"}, {"factor", 0.2}, {"patience", 4}, {"cooldown", 1}, {"min_lr", 1e-5}}}});
    auto* r = dynamic_cast<nnlite::ReduceLROnPlateau<double>*>(cb.get());
    REQUIRE(r != nullptr);
    CHECK(r->options().monitor == "loss");
    CHECK(r->options().factor == 0.2);
    CHECK(r->options().patience == 4);
    CHECK(r->options().cooldown == 1);
    CHECK(r->options().min_lr == 1e-5);
    CHECK(r->options().min_delta == 1e-4);  // Keras' default
  }
  {
    auto cb = nnlite::make_callback<double>("TerminateOnNaN");
    auto* t = dynamic_cast<nnlite::TerminateOnNaN<double>*>(cb.get());
    REQUIRE(t != nullptr);
    CHECK(!t->raise_error());
    auto strict =
        nnlite::make_callback<double>({{"class_name", "TerminateOnNaN"}, {"config", {{"raise_error", true}}}});
    CHECK(dynamic_cast<nnlite::TerminateOnNaN<double>&>(*strict).raise_error());
  }
  const std::string unknown = message_of<nnlite::UnsupportedError>([] { nnlite::make_callback<float>("Nope"); });
  CHECK(contains(unknown, "unknown callback 'Nope'"));
  CHECK(contains(unknown, "supported: "));
  CHECK(contains(unknown, "EarlyStopping"));
  CHECK(contains(unknown, "ReduceLROnPlateau"));
  CHECK(contains(unknown, "TerminateOnNaN"));
  CHECK(!contains(unknown, "LearningRateScheduler"));
  CHECK(contains(message_of<nnlite::FormatError>([] {
                   nnlite::make_callback<float>({{"class_name", "EarlyStopping"}, {"config", {{"patiense", 3}}}});
                 }),
                 "unknown argument 'patiense'"));
  CHECK(contains(message_of<nnlite::FormatError>([] {
                   nnlite::make_callback<float>({{"class_name", "EarlyStopping"}, {"config", {{"patience", "3"}}}});
                 }),
                 "patience"));
  CHECK(contains(message_of<nnlite::ArgumentError>([] {
                   nnlite::make_callback<float>({{"class_name", "ReduceLROnPlateau"}, {"config", {{"factor", 1.5}}}});
                 }),
                 "factor"));
  CHECK_THROWS_AS(nnlite::make_callback<float>(nlohmann::json(3)), nnlite::FormatError);

  // A user's own class, by its name, with its config.
  struct Marker : nnlite::Callback<float> {
    int tag = 0;
  };
  nnlite::register_callback<float>("Marker", [](const nnlite::ConfigReader& c) {
    auto m = std::make_unique<Marker>();
    m->tag = static_cast<int>(c.integer("tag", 0, 100));
    return std::unique_ptr<nnlite::Callback<float>>(std::move(m));
  });
  auto mine = nnlite::make_callback<float>({{"class_name", "Marker"}, {"config", {{"tag", 7}}}});
  CHECK(dynamic_cast<Marker&>(*mine).tag == 7);
}

}  // namespace test_callbacks
