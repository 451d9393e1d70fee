// Keras 3 optimizers (Adam with amsgrad, AdamW, RMSprop, Adagrad, Nadam, Adamax, SGD) and the base options
// (clipnorm per variable, global_clipnorm, clipvalue, weight_decay): parameters after several steps against the
// update rules of keras/src/optimizers/*.py (Keras 3.16), written out here again in double; configs through the
// registry; refusals; exact checkpoint resume; and a small model that learns with each.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <nnlite/nnlite.hpp>
#include <optional>
#include <string>
#include <vector>

#include "test_support.hpp"

#if NNLITE_WITH_IO
#include <nnlite/io/checkpoint.hpp>
#endif

namespace test_optimizers {

namespace {

using nnlite::Index;
using test_support::contains;
using test_support::message_of;
using Vec = std::vector<double>;

// Keras 3 base options, as the test applies them itself.
struct Options {
  std::optional<double> weight_decay, clipnorm, clipvalue, global_clipnorm;
  std::string str() const {
    std::string s;
    if (weight_decay) s += " weight_decay=" + std::to_string(*weight_decay);
    if (clipnorm) s += " clipnorm=" + std::to_string(*clipnorm);
    if (clipvalue) s += " clipvalue=" + std::to_string(*clipvalue);
    if (global_clipnorm) s += " global_clipnorm=" + std::to_string(*global_clipnorm);
    return s.empty() ? " (no options)" : s;
  }
};

// BaseOptimizer._clip_gradients then _apply_weight_decay, per variable (`sizes` splits the flat vector).
Vec keras_prepare(Vec& p, Vec g, const Options& o, const std::vector<std::size_t>& sizes, double lr) {
  if (o.clipnorm) {
    std::size_t begin = 0;
    for (std::size_t len : sizes) {  // _clip_by_norm: g * c / max(||g||, c)
      double l2 = 0;
      for (std::size_t i = begin; i < begin + len; ++i) l2 += g[i] * g[i];
      const double norm = std::sqrt(l2);
      for (std::size_t i = begin; i < begin + len; ++i) g[i] = g[i] * *o.clipnorm / std::max(norm, *o.clipnorm);
      begin += len;
    }
  } else if (o.global_clipnorm) {  // clip_by_global_norm: scale = c * min(1 / norm, 1 / c)
    double l2 = 0;
    for (double x : g) l2 += x * x;
    const double norm = std::sqrt(l2), c = *o.global_clipnorm;
    for (double& x : g) x *= c * std::min(1 / norm, 1 / c);
  } else if (o.clipvalue) {
    for (double& x : g) x = std::min(std::max(x, -*o.clipvalue), *o.clipvalue);
  }
  if (o.weight_decay)
    for (double& x : p) x = x - x * *o.weight_decay * lr;
  return g;
}

// One Keras update_step over the flat vector: t is the 1-based step, s the optimizer's slots by Keras 3 name.
using Rule = std::function<void(int t, Vec& p, const Vec& g, std::map<std::string, Vec>& s)>;

struct Case {
  std::string name;
  std::function<std::unique_ptr<nnlite::Optimizer<double>>()> make;
  Rule rule;
  double lr;
};

Vec& slot(std::map<std::string, Vec>& s, const std::string& k, std::size_t n, double init = 0.0) {
  auto it = s.find(k);
  if (it == s.end()) it = s.emplace(k, Vec(n, init)).first;
  return it->second;
}

Rule adam_rule(double lr, double b1, double b2, double eps, bool amsgrad) {
  return [=](int t, Vec& p, const Vec& g, std::map<std::string, Vec>& s) {
    Vec &m = slot(s, "momentum", p.size()), &v = slot(s, "velocity", p.size()), &vh = slot(s, "velocity_hat", p.size());
    const double alpha = lr * std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t));
    for (std::size_t i = 0; i < p.size(); ++i) {
      m[i] += (g[i] - m[i]) * (1 - b1);
      v[i] += (g[i] * g[i] - v[i]) * (1 - b2);
      double vv = v[i];
      if (amsgrad) vv = vh[i] = std::max(vh[i], v[i]);
      p[i] -= m[i] * alpha / (std::sqrt(vv) + eps);
    }
  };
}

Rule rmsprop_rule(double lr, double rho, double momentum, double eps, bool centered) {
  return [=](int, Vec& p, const Vec& g, std::map<std::string, Vec>& s) {
    Vec &vel = slot(s, "velocity", p.size()), &mom = slot(s, "momentum", p.size()),
        &avg = slot(s, "average_gradient", p.size());
    for (std::size_t i = 0; i < p.size(); ++i) {
      vel[i] = rho * vel[i] + (1 - rho) * g[i] * g[i];
      double denominator = vel[i] + eps;
      if (centered) {
        avg[i] = rho * avg[i] + (1 - rho) * g[i];
        denominator = vel[i] - avg[i] * avg[i] + eps;
      }
      const double increment = lr * g[i] / std::sqrt(denominator);
      if (momentum > 0) {
        mom[i] = momentum * mom[i] + increment;
        p[i] -= mom[i];
      } else {
        p[i] -= increment;
      }
    }
  };
}

Rule adagrad_rule(double lr, double init, double eps) {
  return [=](int, Vec& p, const Vec& g, std::map<std::string, Vec>& s) {
    Vec& acc = slot(s, "accumulator", p.size(), init);
    for (std::size_t i = 0; i < p.size(); ++i) {
      acc[i] += g[i] * g[i];
      p[i] -= lr * g[i] / std::sqrt(acc[i] + eps);
    }
  };
}

// Keras 3 Nadam: _u_product *= beta_1 (1 - 0.5 * 0.96^(iterations + 1)) before the variables' update_step.
Rule nadam_rule(double lr, double b1, double b2, double eps) {
  return [=](int t, Vec& p, const Vec& g, std::map<std::string, Vec>& s) {
    Vec &m = slot(s, "momentum", p.size()), &v = slot(s, "velocity", p.size());
    Vec& u_product = slot(s, "u_product", 1, 1.0);
    u_product[0] = u_product[0] * b1 * (1.0 - 0.5 * std::pow(0.96, t));
    const double u_t = b1 * (1.0 - 0.5 * std::pow(0.96, t)), u_t_1 = b1 * (1.0 - 0.5 * std::pow(0.96, t + 1));
    const double u_product_t = u_product[0], u_product_t_1 = u_product_t * u_t_1;
    const double beta_2_power = std::pow(b2, t);
    for (std::size_t i = 0; i < p.size(); ++i) {
      m[i] += (g[i] - m[i]) * (1 - b1);
      v[i] += (g[i] * g[i] - v[i]) * (1 - b2);
      const double m_hat = u_t_1 * m[i] / (1 - u_product_t_1) + (1 - u_t) * g[i] / (1 - u_product_t);
      const double v_hat = v[i] / (1 - beta_2_power);
      p[i] -= m_hat * lr / (std::sqrt(v_hat) + eps);
    }
  };
}

Rule adamax_rule(double lr, double b1, double b2, double eps) {
  return [=](int t, Vec& p, const Vec& g, std::map<std::string, Vec>& s) {
    Vec &m = slot(s, "momentum", p.size()), &u = slot(s, "norm", p.size());
    const double beta_1_power = std::pow(b1, t);
    for (std::size_t i = 0; i < p.size(); ++i) {
      m[i] += (g[i] - m[i]) * (1 - b1);
      u[i] = std::max(b2 * u[i], std::abs(g[i]));
      p[i] -= lr * m[i] / ((1 - beta_1_power) * (u[i] + eps));
    }
  };
}

Rule sgd_rule(double lr, double momentum, bool nesterov) {
  return [=](int, Vec& p, const Vec& g, std::map<std::string, Vec>& s) {
    Vec& m = slot(s, "momentum", p.size());
    for (std::size_t i = 0; i < p.size(); ++i) {
      m[i] = momentum * m[i] - lr * g[i];
      p[i] += nesterov ? momentum * m[i] - lr * g[i] : m[i];
    }
  };
}

template <class Opt, class... Args>
std::function<std::unique_ptr<nnlite::Optimizer<double>>()> maker(Args... args) {
  return [=] { return std::unique_ptr<nnlite::Optimizer<double>>(std::make_unique<Opt>(args...)); };
}

std::vector<Case> cases() {
  using namespace nnlite;
  return {
      {"Adam", maker<Adam<double>>(0.01, 0.8, 0.99, 1e-7, false), adam_rule(0.01, 0.8, 0.99, 1e-7, false), 0.01},
      {"Adam amsgrad", maker<Adam<double>>(0.01, 0.9, 0.999, 1e-7, true), adam_rule(0.01, 0.9, 0.999, 1e-7, true),
       0.01},
      {"AdamW", maker<AdamW<double>>(0.02, 0.004, 0.9, 0.999, 1e-7, false), adam_rule(0.02, 0.9, 0.999, 1e-7, false),
       0.02},
      {"RMSprop", maker<RMSprop<double>>(0.01, 0.9, 0.0, 1e-7, false), rmsprop_rule(0.01, 0.9, 0.0, 1e-7, false), 0.01},
      {"RMSprop momentum centered", maker<RMSprop<double>>(0.01, 0.8, 0.5, 1e-6, true),
       rmsprop_rule(0.01, 0.8, 0.5, 1e-6, true), 0.01},
      {"RMSprop momentum", maker<RMSprop<double>>(0.005, 0.95, 0.9, 1e-7, false),
       rmsprop_rule(0.005, 0.95, 0.9, 1e-7, false), 0.005},
      {"Adagrad", maker<Adagrad<double>>(0.05, 0.1, 1e-7), adagrad_rule(0.05, 0.1, 1e-7), 0.05},
      {"Adagrad init 0.5", maker<Adagrad<double>>(0.1, 0.5, 1e-5), adagrad_rule(0.1, 0.5, 1e-5), 0.1},
      {"Nadam", maker<Nadam<double>>(0.01, 0.9, 0.999, 1e-7), nadam_rule(0.01, 0.9, 0.999, 1e-7), 0.01},
      {"Adamax", maker<Adamax<double>>(0.01, 0.9, 0.999, 1e-7), adamax_rule(0.01, 0.9, 0.999, 1e-7), 0.01},
      {"SGD nesterov", maker<SGD<double>>(0.05, 0.9, true), sgd_rule(0.05, 0.9, true), 0.05},
  };
}

// The gradient of a small quadratic with a drifting linear term, at p (t = step).
Vec quadratic_grad(const Vec& p, int t) {
  Vec g(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) g[i] = 3.0 * (i + 1) * p[i] - 0.4 * t + 0.1 * double(i);
  return g;
}

}  // namespace

TEST_CASE("every optimizer's steps equal Keras 3's update rule, with each base option on and off") {
  const std::vector<std::size_t> sizes{2, 3};  // two "variables" in the flat buffer, as a model has them
  std::vector<Options> options(6);
  options[1].weight_decay = 0.05;
  options[2].clipnorm = 0.8;
  options[3].global_clipnorm = 1.1;
  options[4].clipvalue = 0.6;
  options[5].weight_decay = 0.1;
  options[5].clipnorm = 2.0;
  for (const Case& c : cases())
    for (const Options& o : options) {
      CAPTURE(c.name);
      CAPTURE(o.str());
      auto opt = c.make();
      if (c.name == "AdamW") {
        // AdamW's own decay (0.004 here) unless the case sets another.
        if (!o.weight_decay) {
          REQUIRE(opt->weight_decay() == 0.004);
        }
      }
      Options ref = o;
      if (c.name == "AdamW" && !ref.weight_decay) ref.weight_decay = 0.004;
      opt->set_weight_decay(ref.weight_decay).set_clipnorm(o.clipnorm).set_clipvalue(o.clipvalue);
      opt->set_global_clipnorm(o.global_clipnorm);
      opt->set_variable_sizes({2, 3});
      Vec p = {0.5, -1.0, 2.0, 0.25, -0.75}, expected = p;
      std::map<std::string, Vec> state;
      bool clipped = false;
      for (int t = 1; t <= 6; ++t) {
        const Vec g = quadratic_grad(p, t);
        opt->step(p.data(), g.data(), 5);
        const Vec ge = quadratic_grad(expected, t);
        const Vec gc = keras_prepare(expected, ge, ref, sizes, c.lr);
        clipped = clipped || gc != ge;
        c.rule(t, expected, gc, state);
      }
      CHECK(opt->iterations() == 6);
      if (o.clipnorm || o.clipvalue || o.global_clipnorm) CHECK(clipped);  // the options did act
      for (int i = 0; i < 5; ++i) CHECK(p[i] == doctest::Approx(expected[i]).epsilon(1e-12));
    }
}

TEST_CASE("Keras 3 defaults of the new optimizers") {
  nnlite::RMSprop<float> rms;
  CHECK(rms.learning_rate() == 1e-3);
  CHECK(rms.rho() == 0.9);
  CHECK(rms.momentum() == 0.0);
  CHECK(rms.epsilon() == 1e-7);
  CHECK_FALSE(rms.centered());
  nnlite::Adagrad<float> ada;
  CHECK(ada.learning_rate() == 1e-3);
  CHECK(ada.initial_accumulator_value() == 0.1);
  CHECK(ada.epsilon() == 1e-7);
  for (const nnlite::Optimizer<float>* o : std::initializer_list<const nnlite::Optimizer<float>*>{&rms, &ada}) {
    CHECK_FALSE(o->weight_decay());
    CHECK_FALSE(o->clipnorm());
    CHECK_FALSE(o->clipvalue());
    CHECK_FALSE(o->global_clipnorm());
  }
  nnlite::Nadam<float> nadam;
  CHECK(nadam.learning_rate() == 1e-3);
  CHECK(nadam.beta_1() == 0.9);
  CHECK(nadam.beta_2() == 0.999);
  CHECK(nadam.epsilon() == 1e-7);
  nnlite::Adamax<float> adamax;
  CHECK(adamax.learning_rate() == 1e-3);
  CHECK(adamax.beta_1() == 0.9);
  CHECK(adamax.beta_2() == 0.999);
  CHECK(adamax.epsilon() == 1e-7);
  nnlite::AdamW<float> adamw;
  CHECK(adamw.learning_rate() == 1e-3);
  CHECK(adamw.weight_decay() == 0.004);
  CHECK(adamw.beta_1() == 0.9);
  CHECK_FALSE(adamw.amsgrad());
  CHECK_FALSE(nnlite::Adam<float>().amsgrad());
}

TEST_CASE("clipnorm clips each variable by its own norm; a zero gradient stays zero") {
  nnlite::SGD<double> sgd(1.0);
  sgd.set_clipnorm(1.0);
  sgd.set_variable_sizes({2, 2});
  // variable 1: (3, 4), norm 5 -> (0.6, 0.8); variable 2: (0.3, 0.4), norm 0.5 < 1 -> unchanged
  Vec p(4, 0.0), g = {3, 4, 0.3, 0.4};
  sgd.step(p.data(), g.data(), 4);
  CHECK(p[0] == doctest::Approx(-0.6));
  CHECK(p[1] == doctest::Approx(-0.8));
  CHECK(p[2] == doctest::Approx(-0.3));
  CHECK(p[3] == doctest::Approx(-0.4));
  Vec zero(4, 0.0), q(4, 1.0);
  sgd.step(q.data(), zero.data(), 4);
  for (double x : q) CHECK(x == 1.0);
  // global_clipnorm over both: norm sqrt(25.25) -> every gradient scaled by 1 / that
  nnlite::SGD<double> global(1.0);
  global.set_global_clipnorm(1.0);
  Vec r(4, 0.0);
  global.step(r.data(), g.data(), 4);
  const double norm = std::sqrt(25.25);
  for (int i = 0; i < 4; ++i) CHECK(r[i] == doctest::Approx(-g[i] / norm));
  // a layout that does not match the step is refused
  sgd.set_variable_sizes({2, 3});
  CHECK_THROWS_AS(sgd.step(p.data(), g.data(), 4), nnlite::ShapeError);
}

TEST_CASE("a compiled model's clipnorm sees its weight tensors") {
  nnlite::Sequential<double> model(nnlite::Shape{3});
  model.add(nnlite::Dense<double>(2));
  nnlite::SGD<double> sgd(0.1);
  sgd.set_clipnorm(1.0);
  model.compile(sgd, "mean_squared_error", {});
  CHECK(model.optimizer().variable_sizes() == std::vector<Index>{6, 2});  // kernel (3, 2), bias (2)
  CHECK(model.optimizer().clipnorm() == 1.0);
}

TEST_CASE("configs round-trip through the registry under Keras class names and lower-case aliases") {
  std::vector<std::unique_ptr<nnlite::Optimizer<float>>> all;
  all.push_back(std::make_unique<nnlite::Adam<float>>(0.002, 0.8, 0.99, 1e-6, true));
  all.push_back(std::make_unique<nnlite::AdamW<float>>(0.003, 0.01, 0.85, 0.98, 1e-5, true));
  all.push_back(std::make_unique<nnlite::RMSprop<float>>(0.004, 0.7, 0.3, 1e-6, true));
  all.push_back(std::make_unique<nnlite::Adagrad<float>>(0.005, 0.2, 1e-6));
  all.push_back(std::make_unique<nnlite::Nadam<float>>(0.006, 0.85, 0.95, 1e-6));
  all.push_back(std::make_unique<nnlite::Adamax<float>>(0.007, 0.8, 0.9, 1e-6));
  all.push_back(std::make_unique<nnlite::SGD<float>>(0.008, 0.5, true));
  all[0]->set_clipnorm(1.5);
  all[2]->set_clipvalue(0.25);
  all[3]->set_global_clipnorm(3.0);
  all[4]->set_weight_decay(0.02);
  for (const auto& o : all) {
    CAPTURE(o->class_name());
    const nlohmann::json cfg = o->config();
    for (const char* key : {"name", "learning_rate", "weight_decay", "clipnorm", "global_clipnorm", "clipvalue"})
      CHECK(cfg.contains(key));
    const auto back = nnlite::make_optimizer<float>({{"class_name", o->class_name()}, {"config", cfg}});
    CHECK(back->class_name() == o->class_name());
    CHECK(back->config() == cfg);
    std::string lower = o->class_name();
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    CHECK(nnlite::make_optimizer<float>(lower)->class_name() == o->class_name());
  }
  CHECK(all[0]->config()["amsgrad"] == true);
  CHECK(all[0]->config()["clipnorm"] == 1.5);
  CHECK(all[1]->config()["weight_decay"].get<double>() == doctest::Approx(0.01));
  CHECK(all[2]->config()["centered"] == true);
  CHECK(all[3]->config()["initial_accumulator_value"].get<double>() == doctest::Approx(0.2));
  CHECK(all[5]->config()["weight_decay"].is_null());
  // A Keras 3 config with every base key, and a tf.keras 2 one with `lr` and `decay` 0.
  const nlohmann::json k3 = {{"class_name", "RMSprop"},
                             {"config",
                              {{"name", "rmsprop"},
                               {"learning_rate", 0.01},
                               {"weight_decay", nullptr},
                               {"clipnorm", nullptr},
                               {"global_clipnorm", 2.0},
                               {"clipvalue", nullptr},
                               {"use_ema", false},
                               {"ema_momentum", 0.99},
                               {"ema_overwrite_frequency", nullptr},
                               {"loss_scale_factor", nullptr},
                               {"gradient_accumulation_steps", nullptr},
                               {"rho", 0.8},
                               {"momentum", 0.1},
                               {"epsilon", 1e-7},
                               {"centered", false}}}};
  const auto r = nnlite::make_optimizer<float>(k3);
  CHECK(r->learning_rate() == doctest::Approx(0.01));
  CHECK(r->global_clipnorm() == 2.0);
  CHECK(dynamic_cast<nnlite::RMSprop<float>&>(*r).rho() == doctest::Approx(0.8));
  const auto tf2 = nnlite::make_optimizer<float>(
      {{"class_name", "Adagrad"}, {"config", {{"lr", 0.03}, {"decay", 0.0}, {"clipvalue", 0.5}}}});
  CHECK(tf2->learning_rate() == doctest::Approx(0.03));
  CHECK(tf2->clipvalue() == 0.5);
  // AdamW without weight_decay gets Keras' 0.004; the model compiles any registered optimizer by name.
  CHECK(nnlite::make_optimizer<float>(nlohmann::json{{"class_name", "AdamW"}, {"config", nlohmann::json::object()}})
            ->weight_decay() == 0.004);
  nnlite::Sequential<float> model(nnlite::Shape{2});
  model.add(nnlite::Dense<float>(1));
  model.compile("nadam", "mean_squared_error", {});
  CHECK(model.optimizer().class_name() == "Nadam");
}

TEST_CASE("bad optimizer arguments are refused with the option named") {
  using nnlite::ArgumentError;
  CHECK(contains(message_of<ArgumentError>([] { nnlite::RMSprop<float>(-0.1); }), "learning_rate"));
  CHECK(contains(message_of<ArgumentError>([] { nnlite::Nadam<float>(0.0); }), "learning_rate"));
  CHECK(contains(message_of<ArgumentError>([] { nnlite::RMSprop<float>(1e-3, 1.0); }), "rho"));
  CHECK(contains(message_of<ArgumentError>([] { nnlite::RMSprop<float>(1e-3, -0.1); }), "rho"));
  CHECK(contains(message_of<ArgumentError>([] { nnlite::RMSprop<float>(1e-3, 0.9, -1.0); }), "momentum"));
  CHECK(contains(message_of<ArgumentError>([] { nnlite::Adagrad<float>(1e-3, -1.0); }), "initial_accumulator_value"));
  CHECK(contains(message_of<ArgumentError>([] { nnlite::Adamax<float>(1e-3, 1.0); }), "beta_1"));
  CHECK(contains(message_of<ArgumentError>([] { nnlite::AdamW<float>(1e-3, -0.5); }), "weight_decay"));
  nnlite::Adam<float> adam;
  CHECK(contains(message_of<ArgumentError>([&] { adam.set_clipnorm(0.0); }), "clipnorm must be > 0"));
  CHECK(contains(message_of<ArgumentError>([&] { adam.set_clipnorm(-1.0); }), "clipnorm"));
  CHECK(contains(message_of<ArgumentError>([&] { adam.set_clipvalue(0.0); }), "clipvalue"));
  CHECK(contains(message_of<ArgumentError>([&] { adam.set_global_clipnorm(-2.0); }), "global_clipnorm"));
  CHECK(contains(message_of<ArgumentError>([&] { adam.set_weight_decay(-0.1); }), "weight_decay"));
  adam.set_clipnorm(1.0);
  CHECK(contains(message_of<ArgumentError>([&] { adam.set_clipvalue(0.5); }), "only one of clipnorm"));
  // configs: FormatError naming the option; an unknown class lists the supported ones.
  using nnlite::FormatError;
  const std::string neg = message_of<FormatError>([] {
    nnlite::make_optimizer<float>({{"class_name", "RMSprop"}, {"config", {{"learning_rate", -1.0}}}});
  });
  CHECK(contains(neg, "learning rate"));
  CHECK(contains(message_of<FormatError>([] {
                   nnlite::make_optimizer<float>({{"class_name", "RMSprop"}, {"config", {{"rho", 1.5}}}});
                 }),
                 "rho"));
  CHECK(contains(message_of<FormatError>([] {
                   nnlite::make_optimizer<float>({{"class_name", "Adam"}, {"config", {{"clipnorm", 0.0}}}});
                 }),
                 "clipnorm"));
  CHECK(contains(
      message_of<FormatError>([] {
        nnlite::make_optimizer<float>({{"class_name", "SGD"}, {"config", {{"clipnorm", 1.0}, {"clipvalue", 1.0}}}});
      }),
      "only one of"));
  CHECK(contains(message_of<FormatError>([] {
                   nnlite::make_optimizer<float>({{"class_name", "AdamW"}, {"config", {{"weight_decay", nullptr}}}});
                 }),
                 "weight_decay"));
  const std::string unknown =
      message_of<nnlite::UnsupportedError>([] { nnlite::make_optimizer<float>(nlohmann::json("Lion")); });
  CHECK(contains(unknown, "'Lion'"));
  for (const char* name : {"Adam", "AdamW", "RMSprop", "Adagrad", "Nadam", "Adamax", "SGD"})
    CHECK(contains(unknown, name));
  CHECK(contains(message_of<nnlite::UnsupportedError>([] {
                   nnlite::make_optimizer<float>({{"class_name", "Nadam"}, {"config", {{"use_ema", true}}}});
                 }),
                 "use_ema"));
}

TEST_CASE("state() names the slots Keras creates, and Nadam's u_product follows the step count") {
  nnlite::RMSprop<double> plain, full(1e-3, 0.9, 0.5, 1e-7, true);
  CHECK(plain.state().size() == 1);
  CHECK(plain.state()[0].first == "rms");
  REQUIRE(full.state().size() == 3);
  CHECK(full.state()[1].first == "momentum");
  CHECK(full.state()[2].first == "mg");
  CHECK(nnlite::Adam<double>(1e-3, 0.9, 0.999, 1e-7, true).state().at(2).first == "vhat");
  CHECK(nnlite::Adagrad<double>().state().at(0).first == "accumulator");

  nnlite::Nadam<double> a, b;
  Vec p = {1.0, -2.0}, q = p, g = {0.5, 0.25};
  for (int t = 0; t < 5; ++t) a.step(p.data(), g.data(), 2);
  double u = 1;
  for (int t = 1; t <= 5; ++t) u *= 0.9 * (1 - 0.5 * std::pow(0.96, t));
  CHECK(a.u_product() == doctest::Approx(u).epsilon(1e-15));
  b.set_iterations(5);
  CHECK(b.u_product() == a.u_product());
  a.reset();
  CHECK(a.u_product() == 1.0);
}

#if NNLITE_WITH_IO
namespace {
nnlite::Sequential<float> resume_model(const nnlite::Optimizer<float>& opt) {
  nnlite::Sequential<float> m(nnlite::Shape{4}, "resume");
  m.set_seed(11);
  m.add(nnlite::Dense<float>(8, "sigmoid"));
  m.add(nnlite::Dense<float>(3, "softmax"));
  m.compile(opt, "categorical_crossentropy", {});
  return m;
}
void blobs(Index n, nnlite::Tensor<float>& x, nnlite::Tensor<float>& y) {
  nnlite::Rng rng(3);
  x.resize(nnlite::Shape{n, 4});
  y.resize(nnlite::Shape{n, 3});
  y.setZero();
  for (Index i = 0; i < n; ++i) {
    const auto label = static_cast<Index>(rng.below(3));
    for (Index k = 0; k < 4; ++k) x[i * 4 + k] = static_cast<float>(rng.uniform() + (k % 3 == label ? 1.0 : 0.0));
    y[i * 3 + label] = 1;
  }
}
bool same_bits(const float* a, const float* b, Index n) { return std::memcmp(a, b, sizeof(float) * n) == 0; }
}  // namespace

TEST_CASE("a checkpoint resumes RMSprop, Nadam, Adagrad and AdamW bit for bit") {
  const int threads = nnlite::num_threads();
  nnlite::set_num_threads(1);
  test_support::TempDir dir("nnlite_test_optimizers");
  nnlite::Tensor<float> x, y;
  blobs(40, x, y);
  nnlite::FitOptions<float> o;
  o.batch_size = 8;
  o.verbose = 0;
  nnlite::RMSprop<float> rms(0.01, 0.9, 0.5, 1e-7, true);
  rms.set_clipnorm(1.0);
  nnlite::Nadam<float> nadam(0.01);
  nadam.set_weight_decay(0.01);
  std::vector<std::unique_ptr<nnlite::Optimizer<float>>> opts;
  opts.push_back(rms.clone());
  opts.push_back(nadam.clone());
  opts.push_back(std::make_unique<nnlite::Adagrad<float>>(0.05));
  opts.push_back(std::make_unique<nnlite::AdamW<float>>(0.01));
  for (const auto& opt : opts) {
    CAPTURE(opt->class_name());
    auto whole = resume_model(*opt);
    o.epochs = 3;
    o.initial_epoch = 0;
    whole.fit(x, y, o);
    auto first = resume_model(*opt);
    o.epochs = 1;
    first.fit(x, y, o);
    const std::string path = dir.file(opt->class_name() + ".ckpt");
    nnlite::save_checkpoint(path, first);
    auto resumed = resume_model(*opt);
    nnlite::load_checkpoint(path, resumed);
    o.epochs = 3;
    o.initial_epoch = 1;
    resumed.fit(x, y, o);
    CHECK(resumed.optimizer().iterations() == whole.optimizer().iterations());
    CHECK(same_bits(whole.params(), resumed.params(), whole.count_params()));
    auto sw = whole.optimizer().state(), sr = resumed.optimizer().state();
    REQUIRE(sw.size() == sr.size());
    for (std::size_t k = 0; k < sw.size(); ++k)
      CHECK(same_bits(sw[k].second->data(), sr[k].second->data(), sw[k].second->size()));
  }
  nnlite::set_num_threads(threads);
}
#endif

TEST_CASE("a small model learns with each new optimizer") {
  nnlite::Rng rng(5);
  const Index n = 64;
  nnlite::Tensor<float> x(nnlite::Shape{n, 3}), y(nnlite::Shape{n, 1});
  for (Index i = 0; i < n; ++i) {
    float s = 0;
    for (Index k = 0; k < 3; ++k) {
      x[i * 3 + k] = static_cast<float>(rng.uniform() * 2 - 1);
      s += x[i * 3 + k] * static_cast<float>(k + 1);
    }
    y[i] = 0.5f * s - 0.2f;
  }
  std::vector<std::unique_ptr<nnlite::Optimizer<float>>> opts;
  opts.push_back(std::make_unique<nnlite::AdamW<float>>(0.01));
  opts.push_back(std::make_unique<nnlite::Adam<float>>(0.01, 0.9, 0.999, 1e-7, true));
  opts.push_back(std::make_unique<nnlite::RMSprop<float>>(0.005));
  opts.push_back(std::make_unique<nnlite::Adagrad<float>>(0.1));
  opts.push_back(std::make_unique<nnlite::Nadam<float>>(0.01));
  opts.push_back(std::make_unique<nnlite::Adamax<float>>(0.02));
  opts.back()->set_global_clipnorm(5.0);
  for (const auto& opt : opts) {
    CAPTURE(opt->class_name());
    nnlite::Sequential<float> m(nnlite::Shape{3});
    m.set_seed(2);
    m.add(nnlite::Dense<float>(8, "sigmoid"));
    m.add(nnlite::Dense<float>(1));
    m.compile(*opt, "mean_squared_error", {});
    nnlite::FitOptions<float> o;
    o.epochs = 30;
    o.batch_size = 16;
    o.verbose = 0;
    const auto h = m.fit(x, y, o);
    CHECK(h["loss"].back() < 0.5 * h["loss"].front());
  }
}

}  // namespace test_optimizers
