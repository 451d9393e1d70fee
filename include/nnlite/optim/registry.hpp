// nnlite/optim/registry.hpp: the optimizer registry: Keras class name -> the optimizer's from_config(). Model loaders
// read training_config's optimizer through it; register your own with register_optimizer.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "../core/config.hpp"
#include "../core/registry.hpp"
#include "adagrad.hpp"
#include "adam.hpp"
#include "adamax.hpp"
#include "nadam.hpp"
#include "optimizer.hpp"
#include "rmsprop.hpp"
#include "sgd.hpp"

namespace nnlite {

/// What the registry holds per class name: builds an optimizer from its Keras config.
template <class Scalar>
using OptimizerCreator = std::function<std::unique_ptr<Optimizer<Scalar>>(const ConfigReader&)>;

/// The optimizer registry for `Scalar`, holding the built-in optimizers under Keras' class names and aliases.
template <class Scalar>
Registry<OptimizerCreator<Scalar>>& optimizer_registry() {
  static Registry<OptimizerCreator<Scalar>> registry = [] {
    Registry<OptimizerCreator<Scalar>> r("optimizer");
    // Keras' class names, with the lower-case names compile() accepts as aliases.
    r.add("Adam", &Adam<Scalar>::from_config, {"adam"});
    r.add("SGD", &SGD<Scalar>::from_config, {"sgd"});
    r.add("AdamW", &AdamW<Scalar>::from_config, {"adamw"});
    r.add("RMSprop", &RMSprop<Scalar>::from_config, {"rmsprop"});
    r.add("Adagrad", &Adagrad<Scalar>::from_config, {"adagrad"});
    r.add("Nadam", &Nadam<Scalar>::from_config, {"nadam"});
    r.add("Adamax", &Adamax<Scalar>::from_config, {"adamax"});
    return r;
  }();
  return registry;
}

/// Registers `creator` under Keras class name `class_name` (and `aliases`), e.g. for a custom optimizer.
template <class Scalar>
void register_optimizer(const std::string& class_name, OptimizerCreator<Scalar> creator,
                        const std::vector<std::string>& aliases = {}) {
  optimizer_registry<Scalar>().add(class_name, std::move(creator), aliases);
}

/// An optimizer from Keras' serialized form {"class_name": "Adam", "config": {...}} (tf.keras 2.11 writes
/// "Custom>Adam"), or a bare class name with Keras' defaults. `source` prefixes every message.
template <class Scalar>
std::unique_ptr<Optimizer<Scalar>> make_optimizer(const json& spec, const std::string& source = "optimizer") {
  const auto obj = serialized_object(spec);
  if (!obj) throw FormatError(source + " must be {\"class_name\": ..., \"config\": {...}}");
  std::string cls = obj->class_name;
  if (cls.rfind("Custom>", 0) == 0) cls = cls.substr(7);  // tf.keras 2.11 registers its new optimizers so
  const auto& create = optimizer_registry<Scalar>().at(cls, source + ": ");
  ConfigReader reader{*obj->config, cls, cls, source};
  reader.kind = "optimizer";
  return create(reader);
}

}  // namespace nnlite
