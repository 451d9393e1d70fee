// Whole training steps of the two study models (batch 32 on synthetic 28x28x1 data): one step, and 100 steps as an
// "epoch-ish" run, at 1 and 2 threads (the last argument). Counter: images/s.
#include <benchmark/benchmark.h>

#include <nnlite/nnlite.hpp>

#include <string>

#include "examples/fashion_mnist/study_models.hpp"

using nnlite::Index;
using nnlite::Tensor;

namespace {

struct Data {
  Tensor<float> x, y;
  Data(Index n, std::uint64_t seed) : x(nnlite::Shape{n, 28, 28, 1}), y(nnlite::Shape{n, 10}, 0.0f) {
    nnlite::Rng rng(seed);
    for (float& v : x) v = static_cast<float>(rng.uniform());
    for (Index i = 0; i < n; ++i) y.at(i, static_cast<Index>(rng() % 10)) = 1.0f;
  }
};

// state.range(0): steps per iteration (1 or 100); state.range(1): threads.
void BM_train(benchmark::State& state, std::string which) {
  const Index steps = state.range(0), batch = 32;
  nnlite::set_num_threads(static_cast<int>(state.range(1)));
  auto model = study::study_model<float>(which);
  model.set_seed(1);
  model.compile(nnlite::Adam<float>());
  const Data data(batch * steps, 2);
  Tensor<float> xb(nnlite::Shape{batch, 28, 28, 1}), yb(nnlite::Shape{batch, 10});
  auto run = [&] {
    for (Index s = 0; s < steps; ++s) {
      std::copy(data.x.data() + s * xb.size(), data.x.data() + (s + 1) * xb.size(), xb.data());
      std::copy(data.y.data() + s * yb.size(), data.y.data() + (s + 1) * yb.size(), yb.data());
      benchmark::DoNotOptimize(model.train_on_batch(xb, yb));
    }
  };
  run();  // first step sizes every workspace
  for (auto _ : state) run();
  state.counters["images/s"] = benchmark::Counter(double(batch * steps) * double(state.iterations()),
                                                 benchmark::Counter::kIsRate);
  nnlite::set_num_threads(0);
}

void args(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 2}) {
    b->Args({1, threads});
    b->Args({100, threads});
  }
  b->ArgNames({"steps", "threads"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK_CAPTURE(BM_train, improved, std::string("improved"))->Apply(args);
BENCHMARK_CAPTURE(BM_train, first, std::string("first"))->Apply(args);

BENCHMARK_MAIN();
