// Data-parallel training throughput over MPI: one study model trained by fit() on synthetic 28x28x1 data with a fixed
// global batch, on however many ranks mpirun starts, one thread per rank by default. Prints (rank 0) the images per
// second of the second epoch (the first sizes every workspace), the allreduce's bytes per step and what one allreduce
// of that size costs here alone.
//   mpirun -np 1 bench_mpi --model improved --images 6400 --batch 64
//   mpirun -np 2 --oversubscribe bench_mpi --model improved --images 6400 --batch 64
#include <nnlite/mpi/communicator.hpp>
#include <nnlite/nnlite.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "examples/fashion_mnist/study_models.hpp"

using nnlite::Index;
using nnlite::Tensor;

int main(int argc, char** argv) {
  nnlite::MpiSession mpi(argc, argv);
  const nnlite::MpiCommunicator world;
  std::string which = "improved";
  Index images = 6400, batch = 64;
  int threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--model")
      which = value;
    else if (key == "--images")
      images = std::atol(value.c_str());
    else if (key == "--batch")
      batch = std::atol(value.c_str());
    else if (key == "--threads")
      threads = std::atoi(value.c_str());
  }
  nnlite::set_num_threads(threads);

  Tensor<float> x(nnlite::Shape{images, 28, 28, 1}), y(nnlite::Shape{images, 10}, 0.0f);
  nnlite::Rng rng(2);
  for (float& v : x) v = static_cast<float>(rng.uniform());
  for (Index i = 0; i < images; ++i) y.at(i, static_cast<Index>(rng() % 10)) = 1.0f;

  auto model = study::study_model<float>(which);
  model.set_seed(1);
  model.compile(nnlite::Adam<float>());
  nnlite::FitOptions<float> o;
  o.epochs = 2;
  o.batch_size = batch;
  o.verbose = 0;
  o.data_parallel = &world;
  const nnlite::History h = model.fit(x, y, o);

  // One allreduce of the gradient buffer alone, as fit() does it every step.
  std::vector<float> grads(static_cast<std::size_t>(model.trainable_size()), 1.0f);
  const int reps = 20;
  MPI_Barrier(world.comm());
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) world.allreduce_sum(grads.data(), model.trainable_size());
  const double allreduce_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;

  if (world.rank() == 0) {
    const double bytes = static_cast<double>(model.trainable_size()) * sizeof(float);
    std::printf("bench_mpi: model %s, %d rank(s) x %d thread(s), global batch %lld (%lld per rank), %lld images\n",
                which.c_str(), world.size(), threads, static_cast<long long>(batch),
                static_cast<long long>(batch / world.size()), static_cast<long long>(images));
    std::printf("  epoch 2: %.2f s, %.0f img/s; loss %.4f\n", h.seconds[1], static_cast<double>(images) / h.seconds[1],
                h["loss"][1]);
    std::printf("  allreduce per step: %lld trainable params x 4 = %.2f MB; one allreduce here: %.3f ms\n",
                static_cast<long long>(model.trainable_size()), bytes / 1e6, allreduce_ms);
  }
  return 0;
}
