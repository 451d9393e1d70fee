// tests/test_schedules.cpp: learning-rate schedules (optim/schedules.hpp): each one's value against Keras' formula
// worked out here, optimizers stepping with a schedule, the serialized forms (Keras 3, tf.keras 2 and its `decay`),
// and a compiled model's schedule surviving .h5, .keras and checkpoint round trips.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <nnlite/io/checkpoint.hpp>
#include <nnlite/io/keras_zip.hpp>
#include <nnlite/optim/registry.hpp>
#include <nnlite/optim/schedules.hpp>

#include "keras_h5_models.hpp"
#include "test_support.hpp"

namespace test_schedules {

using nnlite::json;
using test_support::contains;
using test_support::message_of;

namespace {

constexpr double kPi = 3.14159265358979323846;

bool approx_eq(double a, double b) { return std::fabs(a - b) <= 1e-15 + 1e-13 * std::fabs(b); }

}  // namespace

TEST_CASE("ExponentialDecay and InverseTimeDecay follow Keras' formulas, staircase included") {
  const nnlite::ExponentialDecay smooth(0.1, 1000, 0.96);
  const nnlite::ExponentialDecay stairs(0.1, 1000, 0.96, true);
  CHECK(smooth(0) == 0.1);
  CHECK(approx_eq(smooth(500), 0.1 * std::sqrt(0.96)));  // half a period: rate^(1/2)
  CHECK(approx_eq(smooth(1000), 0.096));                 // one period
  CHECK(approx_eq(smooth(2500), 0.1 * 0.96 * 0.96 * std::sqrt(0.96)));
  CHECK(stairs(999) == 0.1);  // floor(999 / 1000) = 0
  CHECK(approx_eq(stairs(1000), 0.096));
  CHECK(approx_eq(stairs(2999), 0.1 * 0.96 * 0.96));
  CHECK(approx_eq(stairs(3000), 0.1 * 0.96 * 0.96 * 0.96));

  const nnlite::InverseTimeDecay inv(0.1, 10, 0.5);
  const nnlite::InverseTimeDecay inv_stairs(0.1, 10, 0.5, true);
  CHECK(inv(0) == 0.1);
  CHECK(approx_eq(inv(5), 0.1 / 1.25));  // 1 + 0.5 * 5 / 10
  CHECK(approx_eq(inv(10), 0.1 / 1.5));
  CHECK(approx_eq(inv(30), 0.1 / 2.5));
  CHECK(inv_stairs(5) == 0.1);  // floor(0.5) = 0
  CHECK(approx_eq(inv_stairs(19), 0.1 / 1.5));
  CHECK(approx_eq(inv_stairs(20), 0.05));
}

TEST_CASE("PiecewiseConstantDecay: a step exactly at a boundary takes the value before it") {
  const nnlite::PiecewiseConstantDecay pw({100, 110}, {1.0, 0.5, 0.1});
  CHECK(pw(0) == 1.0);
  CHECK(pw(100) == 1.0);  // step <= boundaries[0]
  CHECK(pw(101) == 0.5);
  CHECK(pw(110) == 0.5);  // boundaries[0] < step <= boundaries[1]
  CHECK(pw(111) == 0.1);
  CHECK(pw(1000000) == 0.1);
  // One boundary; a float boundary is compared as the step's integer type (Keras casts it: 7.9 -> 7).
  const nnlite::PiecewiseConstantDecay one({7.9}, {0.3, 0.2});
  CHECK(one(7) == 0.3);
  CHECK(one(8) == 0.2);
  CHECK(one.config()["boundaries"] == json::array({7.9}));
  CHECK(nnlite::PiecewiseConstantDecay({5}, {1, 2}).config()["boundaries"] == json::array({5}));
}

TEST_CASE("CosineDecay: decay, alpha, clamping after decay_steps, and linear warmup") {
  const nnlite::CosineDecay plain(0.2, 100);
  CHECK(plain(0) == 0.2);
  CHECK(approx_eq(plain(25), 0.1 * (1 + std::sqrt(0.5))));  // 0.2 * 0.5 * (1 + cos(pi / 4))
  CHECK(approx_eq(plain(50), 0.1));
  CHECK(std::fabs(plain(100)) < 1e-17);
  CHECK(plain(150) == plain(100));  // min(step, decay_steps)

  const nnlite::CosineDecay floor_at(0.2, 100, 0.1);
  CHECK(approx_eq(floor_at(50), 0.2 * (0.9 * 0.5 + 0.1)));
  CHECK(approx_eq(floor_at(100), 0.02));
  CHECK(approx_eq(floor_at(5000), 0.02));

  // Warmup from 0 to 0.4 over 10 steps, then 100 steps of decay to alpha * 0.4.
  const nnlite::CosineDecay warm(0.0, 100, 0.25, "warm", 0.4, 10);
  CHECK(warm(0) == 0.0);           // warmup start: initial_learning_rate
  CHECK(approx_eq(warm(5), 0.2));  // middle: halfway to the target
  CHECK(approx_eq(warm(9), 0.36));
  CHECK(approx_eq(warm(10), 0.4));                        // end of warmup: the decay starts at warmup_target
  CHECK(approx_eq(warm(60), 0.4 * (0.75 * 0.5 + 0.25)));  // halfway through the decay
  const double at_35 = 0.4 * (0.75 * 0.5 * (1 + std::cos(kPi * 25 / 100)) + 0.25);
  CHECK(approx_eq(warm(35), at_35));
  CHECK(approx_eq(warm(110), 0.1));     // decay_steps + warmup_steps: alpha * target
  CHECK(approx_eq(warm(100000), 0.1));  // clamped after
  // warmup_target with warmup_steps = 0: no warmup, the decay starts from the target.
  const nnlite::CosineDecay no_steps(0.5, 10, 0.0, "c", 0.3, 0);
  CHECK(approx_eq(no_steps(0), 0.3));
  CHECK(approx_eq(no_steps(5), 0.15));

  const json cfg = warm.config();
  CHECK(cfg == json{{"initial_learning_rate", 0.0},
                    {"decay_steps", 100},
                    {"alpha", 0.25},
                    {"name", "warm"},
                    {"warmup_target", 0.4},
                    {"warmup_steps", 10}});
  CHECK(plain.config()["warmup_target"].is_null());
  CHECK(plain.config()["name"] == "CosineDecay");
}

TEST_CASE("SGD with a schedule: each step uses the rate at the iteration count before it, weight decay too") {
  // Loss 0.5 * |p|^2 so the gradient is p; ExponentialDecay(0.1, 2, 0.5): lr_k = 0.1 * 0.5^(k / 2).
  const double lr0 = 0.1, wd = 0.05, mu = 0.9;
  nnlite::SGD<double> sgd(nnlite::ExponentialDecay(lr0, 2, 0.5), mu);
  sgd.set_weight_decay(wd);
  std::vector<double> p{1.0, -2.0}, want = p, velocity{0.0, 0.0};
  for (int k = 0; k < 6; ++k) {
    const double lr = lr0 * std::pow(0.5, k / 2.0);
    CHECK(approx_eq(sgd.learning_rate(), lr));
    const std::vector<double> g = p;  // the gradient at the parameters before the step
    sgd.step(p.data(), g.data(), 2);
    for (int i = 0; i < 2; ++i) {
      // Keras 3: var -= var * wd * lr, then velocity = mu * velocity - lr * g, var += velocity.
      want[i] -= want[i] * wd * lr;
      velocity[i] = mu * velocity[i] - lr * g[i];
      want[i] += velocity[i];
    }
    CHECK(approx_eq(p[0], want[0]));
    CHECK(approx_eq(p[1], want[1]));
  }
  CHECK(sgd.iterations() == 6);
  CHECK(approx_eq(sgd.learning_rate(), lr0 * 0.125));  // lr_6
}

TEST_CASE("every optimizer accepts a schedule and steps as with the fixed rate of that step") {
  const nnlite::PiecewiseConstantDecay pw({0, 1}, {0.01, 0.003, 0.0005});  // a different rate at steps 0, 1, 2
  std::vector<std::unique_ptr<nnlite::Optimizer<double>>> scheduled, fixed;
  scheduled.push_back(std::make_unique<nnlite::SGD<double>>(pw, 0.5, true));
  fixed.push_back(std::make_unique<nnlite::SGD<double>>(0.01, 0.5, true));
  scheduled.push_back(std::make_unique<nnlite::Adam<double>>(pw));
  fixed.push_back(std::make_unique<nnlite::Adam<double>>(0.01));
  scheduled.push_back(std::make_unique<nnlite::AdamW<double>>(pw, 0.1));
  fixed.push_back(std::make_unique<nnlite::AdamW<double>>(0.01, 0.1));
  scheduled.push_back(std::make_unique<nnlite::RMSprop<double>>(pw, 0.9, 0.2, 1e-7, true));
  fixed.push_back(std::make_unique<nnlite::RMSprop<double>>(0.01, 0.9, 0.2, 1e-7, true));
  scheduled.push_back(std::make_unique<nnlite::Adagrad<double>>(pw));
  fixed.push_back(std::make_unique<nnlite::Adagrad<double>>(0.01));
  scheduled.push_back(std::make_unique<nnlite::Nadam<double>>(pw));
  fixed.push_back(std::make_unique<nnlite::Nadam<double>>(0.01));
  scheduled.push_back(std::make_unique<nnlite::Adamax<double>>(pw));
  fixed.push_back(std::make_unique<nnlite::Adamax<double>>(0.01));
  for (std::size_t o = 0; o < scheduled.size(); ++o) {
    auto& s = *scheduled[o];
    auto& f = *fixed[o];
    CAPTURE(s.class_name());
    REQUIRE(s.learning_rate_schedule() != nullptr);
    CHECK(f.learning_rate_schedule() == nullptr);
    std::vector<double> ps{0.5, -1.5, 2.0}, pf = ps;
    for (int k = 0; k < 3; ++k) {
      CHECK(s.learning_rate() == pw(k));
      f.set_learning_rate(pw(k));
      const std::vector<double> g{ps[0] - 0.25, 3 * ps[1], -ps[2] * ps[2]};
      s.step(ps.data(), g.data(), 3);
      f.step(pf.data(), g.data(), 3);
      CHECK(ps == pf);  // the same arithmetic on the same rate: the same bits
    }
    // The serialized schedule in the config, and back through the registry to an optimizer at the same rates.
    const json cfg = s.config();
    CHECK(cfg["learning_rate"] == nnlite::serialize_schedule(pw));
    const auto back = nnlite::make_optimizer<double>({{"class_name", s.class_name()}, {"config", cfg}});
    CHECK(back->config() == cfg);
    REQUIRE(back->learning_rate_schedule() != nullptr);
    back->set_iterations(2);
    CHECK(back->learning_rate() == 0.0005);
    // clone() keeps the schedule.
    CHECK(s.clone()->config() == cfg);
  }
}

TEST_CASE("a plain rate cannot be set on an optimizer that follows a schedule; a schedule can replace a rate") {
  nnlite::Adam<float> scheduled(nnlite::InverseTimeDecay(0.01, 1, 1.0));
  const std::string msg = message_of<nnlite::ArgumentError>([&] { scheduled.set_learning_rate(0.5); });
  CHECK(contains(msg, "created with a `LearningRateSchedule`"));
  CHECK(contains(msg, "not settable"));
  nnlite::Adam<float> plain(0.01);
  plain.set_iterations(3);
  plain.set_learning_rate(nnlite::InverseTimeDecay(0.01, 1, 1.0));
  CHECK(approx_eq(plain.learning_rate(), 0.01 / 4));
  CHECK(plain.config()["learning_rate"]["class_name"] == "InverseTimeDecay");
  // CosineDecay may reach 0: a schedule's value is not held to the > 0 rule of a fixed rate.
  nnlite::SGD<float> to_zero(nnlite::CosineDecay(0.1, 2));
  to_zero.set_iterations(2);
  CHECK(to_zero.learning_rate() < 1e-17);
}

TEST_CASE("optimizer configs: Keras 3 schedule dicts, tf.keras 2 schedule dicts, and tf.keras 2 `decay`") {
  // What Keras 3's Adam(learning_rate=CosineDecay(...)).get_config() holds.
  const json k3 = json::parse(R"({"class_name": "Adam", "config": {"name": "adam", "learning_rate": {
      "module": "keras.optimizers.schedules", "class_name": "CosineDecay",
      "config": {"initial_learning_rate": 0.0, "decay_steps": 100, "alpha": 0.0, "name": "CosineDecay",
                 "warmup_target": 0.001, "warmup_steps": 10}, "registered_name": null},
      "weight_decay": null, "clipnorm": null, "global_clipnorm": null, "clipvalue": null, "use_ema": false,
      "ema_momentum": 0.99, "ema_overwrite_frequency": null, "loss_scale_factor": null,
      "gradient_accumulation_steps": null, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": false}})");
  auto adam = nnlite::make_optimizer<float>(k3);
  REQUIRE(adam->learning_rate_schedule() != nullptr);
  CHECK(adam->learning_rate() == 0.0);
  adam->set_iterations(5);
  CHECK(approx_eq(adam->learning_rate(), 0.0005));
  adam->set_iterations(60);
  CHECK(approx_eq(adam->learning_rate(), 0.0005));  // halfway through the decay
  CHECK(adam->config()["learning_rate"] == k3["config"]["learning_rate"]);

  // tf.keras 2's legacy form: {"class_name", "config"} only, and tf.keras 2.x `lr`.
  const json tf2_schedule = json::parse(R"({"class_name": "SGD", "config": {"name": "SGD", "lr": {
      "class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 10,
      "decay_rate": 0.5, "staircase": true, "name": null}}, "decay": 0.0, "momentum": 0.0, "nesterov": false}})");
  auto sgd = nnlite::make_optimizer<double>(tf2_schedule);
  sgd->set_iterations(25);
  CHECK(approx_eq(sgd->learning_rate(), 0.025));                                  // 0.1 * 0.5^2
  CHECK(sgd->config()["learning_rate"]["config"]["name"] == "ExponentialDecay");  // null: Keras' default name
  CHECK(sgd->config()["learning_rate"]["module"] == "keras.optimizers.schedules");

  // tf.keras 2 legacy `decay`: lr / (1 + decay * iterations), read as InverseTimeDecay(lr, 1, decay).
  const json tf2_decay = json::parse(R"({"class_name": "RMSprop", "config": {"name": "RMSprop", "lr": 0.01,
      "decay": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-07, "centered": false}})");
  auto rms = nnlite::make_optimizer<double>(tf2_decay);
  CHECK(rms->learning_rate() == 0.01);
  rms->set_iterations(1000);
  CHECK(approx_eq(rms->learning_rate(), 0.005));
  rms->set_iterations(3);
  CHECK(approx_eq(rms->learning_rate(), 0.01 / 1.003));
  const json written = rms->config()["learning_rate"];
  CHECK(written["class_name"] == "InverseTimeDecay");
  CHECK(written["config"]["decay_steps"] == 1);
  CHECK(written["config"]["decay_rate"] == 0.001);
  CHECK(written["config"]["staircase"] == false);
  CHECK(rms->config().value("decay", 0.0) == 0.0);  // not decayed twice when read back
  // ... which steps exactly as lr / (1 + decay * t) at each t, here against the fixed rate of that step.
  nnlite::RMSprop<double> by_hand(0.01);
  rms->set_iterations(0);
  std::vector<double> pa{1.0, 2.0}, pb = pa;
  for (int t = 0; t < 4; ++t) {
    by_hand.set_learning_rate(0.01 / (1 + 0.001 * t));
    const std::vector<double> g{pa[0], -pa[1]};
    rms->step(pa.data(), g.data(), 2);
    by_hand.step(pb.data(), g.data(), 2);
  }
  CHECK(pa == pb);
  // decay 0 is no schedule; decay on top of a schedule is refused; a negative decay is an error.
  CHECK(nnlite::make_optimizer<float>({{"class_name", "SGD"}, {"config", {{"lr", 0.1}, {"decay", 0.0}}}})
            ->learning_rate_schedule() == nullptr);
  json both = tf2_schedule;
  both["config"]["decay"] = 0.01;
  CHECK(contains(message_of<nnlite::UnsupportedError>([&] { nnlite::make_optimizer<float>(both); }), "'decay'"));
  CHECK(contains(message_of<nnlite::FormatError>([] {
                   nnlite::make_optimizer<float>({{"class_name", "SGD"}, {"config", {{"decay", -0.1}}}});
                 }),
                 "'decay' must be >= 0"));
}

TEST_CASE("bad schedule arguments and unknown schedule classes are errors naming them") {
  using nnlite::ArgumentError;
  using nnlite::FormatError;
  CHECK(contains(message_of<ArgumentError>([] { nnlite::ExponentialDecay(0.1, 0, 0.9); }),
                 "Argument `decay_steps` must be > 0. Received: decay_steps=0"));
  CHECK(contains(message_of<ArgumentError>([] { nnlite::InverseTimeDecay(0.1, -5, 0.9); }), "decay_steps=-5"));
  CHECK(contains(message_of<ArgumentError>([] { nnlite::CosineDecay(0.1, 0); }), "decay_steps"));
  const std::string mismatch = message_of<ArgumentError>([] { nnlite::PiecewiseConstantDecay({10, 20}, {1.0, 0.5}); });
  CHECK(contains(mismatch, "The length of boundaries should be 1 less than the length of values"));
  CHECK(contains(mismatch, "boundaries=[10.0,20.0] of length 2"));
  CHECK(contains(message_of<ArgumentError>([] { nnlite::PiecewiseConstantDecay({}, {1.0}); }), "boundaries"));
  CHECK(contains(message_of<ArgumentError>([] { nnlite::ExponentialDecay(NAN, 10, 0.9); }), "initial_learning_rate"));

  // From configs: FormatError with the argument named; unknown classes list the registered ones.
  const std::string zero = message_of<FormatError>([] {
    nnlite::make_schedule(json::parse(R"({"class_name": "ExponentialDecay", "config": {
        "initial_learning_rate": 0.1, "decay_steps": 0, "decay_rate": 0.9}})"));
  });
  CHECK(contains(zero, "decay_steps"));
  CHECK(contains(message_of<FormatError>([] {
                   nnlite::make_schedule(json::parse(R"({"class_name": "InverseTimeDecay", "config": {
                       "initial_learning_rate": 0.1, "decay_rate": 0.9}})"));
                 }),
                 "'decay_steps' is missing"));
  CHECK(contains(message_of<FormatError>([] {
                   nnlite::make_schedule(json::parse(
                       R"({"class_name": "PiecewiseConstantDecay", "config": {"boundaries": [1], "values": [1]}})"));
                 }),
                 "boundaries"));
  const std::string unknown = message_of<nnlite::UnsupportedError>([] {
    nnlite::make_optimizer<float>(json::parse(R"({"class_name": "Adam", "config": {"learning_rate":
        {"module": "keras.optimizers.schedules", "class_name": "PolynomialDecay", "config": {},
         "registered_name": null}}})"));
  });
  CHECK(contains(unknown, "unknown learning-rate schedule 'PolynomialDecay'"));
  CHECK(contains(unknown, "CosineDecay, ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay"));
  CHECK(contains(unknown, "learning_rate"));
  CHECK(contains(message_of<FormatError>([] { nnlite::make_schedule(json(0.5)); }), "class_name"));
}

namespace {

// A schedule of the user's own (Keras' docstring example): initial_learning_rate / (step + 1).
class MyLRSchedule : public nnlite::LearningRateSchedule {
 public:
  explicit MyLRSchedule(double initial) : initial_(initial) {}
  double operator()(std::int64_t step) const override { return initial_ / static_cast<double>(step + 1); }
  std::string class_name() const override { return "MyLRSchedule"; }
  json config() const override { return {{"initial_learning_rate", initial_}}; }
  std::unique_ptr<nnlite::LearningRateSchedule> clone() const override { return std::make_unique<MyLRSchedule>(*this); }

 private:
  double initial_;
};

}  // namespace

TEST_CASE("a user's schedule class, once registered, is read from optimizer configs") {
  nnlite::register_schedule("MyLRSchedule", [](const nnlite::ConfigReader& c) {
    return std::unique_ptr<nnlite::LearningRateSchedule>(
        std::make_unique<MyLRSchedule>(c.number("initial_learning_rate", 1.0)));
  });
  CHECK(nnlite::schedule_registry().contains("MyLRSchedule"));
  const nnlite::SGD<float> sgd(MyLRSchedule(0.3));
  const json cfg = sgd.config();
  auto back = nnlite::make_optimizer<float>({{"class_name", "SGD"}, {"config", cfg}});
  back->set_iterations(2);
  CHECK(approx_eq(back->learning_rate(), 0.1));
  CHECK(back->config() == cfg);
}

namespace {

// A fixed batch for the scheduled model (4 features, 3 one-hot classes).
template <class S>
void batch(nnlite::Tensor<S>& x, nnlite::Tensor<S>& y) {
  x = nnlite::Tensor<S>(nnlite::Shape{6, 4});
  y = nnlite::Tensor<S>(nnlite::Shape{6, 3});
  for (nnlite::Index i = 0; i < x.size(); ++i) x[i] = static_cast<S>(std::sin(0.7 * double(i)));
  for (nnlite::Index r = 0; r < 6; ++r)
    for (nnlite::Index c = 0; c < 3; ++c) y[r * 3 + c] = static_cast<S>(r % 3 == c ? 1 : 0);
}

// The loaded model is compiled as the saved one, at the same step, and its next steps give the same weights.
void same_compiled_state(nnlite::Sequential<float>& a, nnlite::Sequential<float>& b) {
  CHECK(b.optimizer().config() == a.optimizer().config());
  CHECK(b.optimizer().iterations() == a.optimizer().iterations());
  REQUIRE(b.optimizer().learning_rate_schedule() != nullptr);
  CHECK(b.optimizer().learning_rate() == a.optimizer().learning_rate());
  nnlite::Tensor<float> x, y;
  batch(x, y);
  for (int k = 0; k < 3; ++k) {
    a.train_on_batch(x, y);
    b.train_on_batch(x, y);
  }
  CHECK(std::equal(a.params(), a.params() + a.count_params(), b.params()));
  CHECK(b.optimizer().learning_rate() == a.optimizer().learning_rate());
}

}  // namespace

TEST_CASE("a compiled model's schedule and position survive .h5, .keras and checkpoint round trips") {
  test_support::TempDir dir("nnlite_schedules");
  nnlite::Tensor<float> x, y;
  batch(x, y);
  auto trained = [&] {
    auto m = keras_h5_test::scheduled_model<float>();
    for (int k = 0; k < 4; ++k) m.train_on_batch(x, y);
    return m;
  };
  // ExponentialDecay(0.1, 3, 0.5, staircase) after 4 steps: 0.1 * 0.5^floor(4 / 3).
  {
    auto m = trained();
    CHECK(m.optimizer().iterations() == 4);
    CHECK(approx_eq(m.optimizer().learning_rate(), 0.05));
  }
  SUBCASE(".h5 with the optimizer state") {
    auto m = trained();
    nnlite::SaveOptions o;
    o.include_optimizer_state = true;
    const std::string path = dir.file("scheduled.h5");
    nnlite::save_model(m, path, o);
    auto back = nnlite::load_model<float>(path);
    CHECK(nnlite::keras_training_config(back) == nnlite::keras_training_config(m));
    const json lr = nnlite::keras_training_config(back)["optimizer_config"]["config"]["learning_rate"];
    CHECK(lr == json{{"module", "keras.optimizers.schedules"},
                     {"class_name", "ExponentialDecay"},
                     {"config",
                      {{"initial_learning_rate", 0.1},
                       {"decay_steps", 3},
                       {"decay_rate", 0.5},
                       {"staircase", true},
                       {"name", "ExponentialDecay"}}},
                     {"registered_name", nullptr}});
    same_compiled_state(m, back);
  }
  SUBCASE(".keras (no learning-rate variable with a schedule, as Keras)") {
    auto m = trained();
    const std::string path = dir.file("scheduled.keras");
    nnlite::save_model(m, path);
    auto back = nnlite::load_model<float>(path);
    same_compiled_state(m, back);
  }
  SUBCASE("checkpoint") {
    auto m = trained();
    const std::string path = dir.file("scheduled.ckpt");
    nnlite::save_checkpoint(path, m);
    auto back = keras_h5_test::scheduled_model<float>();
    nnlite::load_checkpoint(path, back);
    same_compiled_state(m, back);
  }
}

}  // namespace test_schedules
