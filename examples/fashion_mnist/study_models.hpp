// The two Keras models of the Fashion-MNIST study, layer for layer: *first* and *improved*, and how the study seeds
// and compiles them.
// Shared by the example, the tests and the benchmarks so there is one definition of each.
#pragma once

#include <nnlite/nnlite.hpp>

#include <cstdint>
#include <string>

namespace study {

// Conv64-Pool-Conv64-Pool-Flatten-Dense128-Dropout0.2-Dense10 softmax: 243,786 parameters.
template <class Scalar>
nnlite::Sequential<Scalar> first_model(nnlite::Shape input = {28, 28, 1}, nnlite::Index classes = 10) {
  using namespace nnlite;
  Sequential<Scalar> model(input, "first");
  model.add(Conv2D<Scalar>(64, {3, 3}, "relu"));
  model.add(MaxPool2D<Scalar>({2, 2}));
  model.add(Conv2D<Scalar>(64, {3, 3}, "relu"));
  model.add(MaxPool2D<Scalar>({2, 2}));
  model.add(Flatten<Scalar>());
  model.add(Dense<Scalar>(128, "relu"));
  model.add(Dropout<Scalar>(0.2));
  model.add(Dense<Scalar>(classes, "softmax"));
  return model;
}

// Conv32-Pool-Drop0.25-Conv64-Pool-Drop0.3-Flatten-Dense128-Drop0.3-Dense10 softmax: 225,034 parameters.
template <class Scalar>
nnlite::Sequential<Scalar> improved_model(nnlite::Shape input = {28, 28, 1}, nnlite::Index classes = 10) {
  using namespace nnlite;
  Sequential<Scalar> model(input, "improved");
  model.add(Conv2D<Scalar>(32, {3, 3}, "relu"));
  model.add(MaxPool2D<Scalar>({2, 2}));
  model.add(Dropout<Scalar>(0.25));
  model.add(Conv2D<Scalar>(64, {3, 3}, "relu"));
  model.add(MaxPool2D<Scalar>({2, 2}));
  model.add(Dropout<Scalar>(0.3));
  model.add(Flatten<Scalar>());
  model.add(Dense<Scalar>(128, "relu"));
  model.add(Dropout<Scalar>(0.3));
  model.add(Dense<Scalar>(classes, "softmax"));
  return model;
}

template <class Scalar>
nnlite::Sequential<Scalar> study_model(const std::string& which, nnlite::Shape input = {28, 28, 1}) {
  if (which == "improved") return improved_model<Scalar>(input);
  if (which == "first") return first_model<Scalar>(input);
  throw nnlite::ArgumentError("unknown model '" + which + "' (expected improved or first)");
}

// The seed of iteration i's model (1-based), derived from --seed: a stream of derive_seed that no split shares.
inline std::uint64_t model_seed(std::uint64_t seed, int iteration) {
  return nnlite::derive_seed(seed, 0x6000 + static_cast<std::uint64_t>(iteration));
}

// A fresh model as the study trains it: seeded before compile() (which creates the weights), `optimizer` on
// categorical cross-entropy, with accuracy.
template <class Scalar>
nnlite::Sequential<Scalar> compiled_study_model(const std::string& which, std::uint64_t seed,
                                                const nnlite::Optimizer<Scalar>& optimizer) {
  nnlite::Sequential<Scalar> model = study_model<Scalar>(which);
  model.set_seed(seed);
  model.compile(optimizer, "categorical_crossentropy", {"accuracy"});
  return model;
}

// The study's own: Adam at `learning_rate`.
template <class Scalar>
nnlite::Sequential<Scalar> compiled_study_model(const std::string& which, std::uint64_t seed, double learning_rate) {
  return compiled_study_model<Scalar>(which, seed, nnlite::Adam<Scalar>(learning_rate));
}

}  // namespace study
