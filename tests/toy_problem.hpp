// tests/toy_problem.hpp: the small problem the training-loop tests (checkpoints, callbacks that resume or save) fit:
// 6x6 single-channel images of 3 classes whose pixels in one residue class mod 3 are brighter, and a small CNN with
// Dropout (so that resuming must also restore the per-epoch random streams).
#pragma once

#include <cstdint>
#include <nnlite/nnlite.hpp>

namespace test_support {

inline nnlite::Sequential<float> small_model(std::uint64_t seed, nnlite::Index hidden = 16) {
  nnlite::Sequential<float> m(nnlite::Shape{6, 6, 1}, "small");
  m.set_seed(seed);
  m.add(nnlite::Conv2D<float>(4, {3, 3}, "relu"));
  m.add(nnlite::Flatten<float>());
  m.add(nnlite::Dense<float>(hidden, "relu"));
  m.add(nnlite::Dropout<float>(0.25));
  m.add(nnlite::Dense<float>(3, "softmax"));
  m.compile(nnlite::Adam<float>(1e-2));
  return m;
}

inline void toy_data(nnlite::Index n, nnlite::Tensor<float>& x, nnlite::Tensor<float>& y) {
  nnlite::Rng rng(7);
  x.resize(nnlite::Shape{n, 6, 6, 1});
  y.resize(nnlite::Shape{n, 3});
  y.setZero();
  for (nnlite::Index i = 0; i < n; ++i) {
    const auto label = static_cast<nnlite::Index>(rng.below(3));
    for (nnlite::Index p = 0; p < 36; ++p)
      x[i * 36 + p] = static_cast<float>(rng.uniform() + (p % 3 == label ? 0.5 : 0.0));
    y[i * 3 + label] = 1;
  }
}

}  // namespace test_support
