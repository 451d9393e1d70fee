// Data-parallel fit over MPI, run by ctest under `mpirun -np 2` (tests/mpi.cmake). Every rank runs the same mode:
//   equivalence  2 ranks with global batch 64 end with the weights of one process with batch 64 (same data and seed,
//                no dropout), to float rounding; both ranks hold the same weights bit for bit
//   fashion      a short Fashion-MNIST run (Debian's dataset, with dropout) learns: validation accuracy above a bar
//   fail         rank 1 throws inside fit(): the job must end (non-zero, naming the rank), not hang
// Exit 0 when the check holds (the same code on every rank).
#include <nnlite/mpi/communicator.hpp>
#include <nnlite/nnlite.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>

#if NNLITE_WITH_IO
#include <nnlite/data/fashion_mnist.hpp>
#endif

using nnlite::Index;
using nnlite::Shape;
using nnlite::Tensor;

namespace {

// Four classes of 14x14 images: a bright row, column, diagonal or anti-diagonal, with noise.
void lines(Index n, std::uint64_t seed, Tensor<float>& x, Tensor<float>& y) {
  nnlite::Rng rng(seed);
  x.resize(Shape{n, 14, 14, 1});
  y.resize(Shape{n, 4});
  y.setZero();
  for (Index i = 0; i < n; ++i) {
    const auto label = static_cast<Index>(rng.below(4)), pos = static_cast<Index>(rng.below(14));
    for (Index r = 0; r < 14; ++r)
      for (Index c = 0; c < 14; ++c) {
        const bool on = label == 0 ? r == pos : label == 1 ? c == pos : label == 2 ? r == c : r + c == 13;
        x.at(i, r, c, 0) = static_cast<float>((on ? 0.8 : 0.0) + 0.3 * rng.uniform());
      }
    y.at(i, label) = 1;
  }
}

nnlite::Sequential<float> small_cnn() {
  nnlite::Sequential<float> model(Shape{14, 14, 1}, "small_cnn");
  model.set_seed(7);
  model.add(nnlite::Conv2D<float>(8, {3, 3}, "relu"));
  model.add(nnlite::MaxPool2D<float>(2));
  model.add(nnlite::Flatten<float>());
  model.add(nnlite::Dense<float>(32, "relu"));
  model.add(nnlite::Dense<float>(4, "softmax"));
  model.compile(nnlite::SGD<float>(0.05, 0.9));
  return model;
}

// The largest |a_i - b_i| over every rank (0 on every rank when all ranks hold rank 0's values exactly).
double max_diff_to_rank0(const nnlite::MpiCommunicator& world, const nnlite::Sequential<float>& m) {
  std::vector<float> root(m.params(), m.params() + m.count_params());
  world.broadcast(root.data(), m.count_params(), 0);
  double d = 0;
  for (Index i = 0; i < m.count_params(); ++i)
    d = std::max(d, std::abs(static_cast<double>(m.params()[i]) - root[static_cast<std::size_t>(i)]));
  double worst = 0;
  MPI_Allreduce(&d, &worst, 1, MPI_DOUBLE, MPI_MAX, world.comm());
  return worst;
}

int equivalence(const nnlite::MpiCommunicator& world) {
  Tensor<float> x, y, xv, yv;
  lines(64 * 6 + 24, 1, x, y);  // 6 full global batches and a last one of 24
  lines(100, 2, xv, yv);
  nnlite::FitOptions<float> o;
  o.epochs = 2;
  o.batch_size = 64;  // the global batch: 32 samples per rank
  o.verbose = 0;
  o.data_parallel = &world;
  auto model = small_cnn();
  const nnlite::History h = model.fit(x, y, xv, yv, o);
  const double ranks_apart = max_diff_to_rank0(world, model);
  int ok = 1;
  if (world.rank() == 0) {
    auto single = small_cnn();
    o.data_parallel = nullptr;
    const nnlite::History h1 = single.fit(x, y, xv, yv, o);
    double d = 0, largest = 0;
    for (Index i = 0; i < model.count_params(); ++i) {
      d = std::max(d, std::abs(static_cast<double>(model.params()[i]) - single.params()[i]));
      largest = std::max(largest, std::abs(static_cast<double>(single.params()[i])));
    }
    const double dloss = std::abs(h["val_loss"].back() - h1["val_loss"].back());
    std::printf(
        "equivalence: %d ranks x global batch 64 vs 1 process x batch 64, %lld steps: max |weight difference| "
        "= %.3g (largest |weight| %.3g); ranks apart: %.3g; val_loss %.7f vs %.7f\n",
        world.size(), static_cast<long long>(model.optimizer().iterations()), d, largest, ranks_apart,
        h["val_loss"].back(), h1["val_loss"].back());
    ok = d < 1e-5 && ranks_apart == 0 && dloss < 1e-5;
  }
  double pass = ok;
  world.broadcast(&pass, 1, 0);
  return pass > 0 ? 0 : 1;
}

int fashion(const nnlite::MpiCommunicator& world) {
#if NNLITE_WITH_IO
  const double bar = 0.80;
  const nnlite::MnistData data = nnlite::load_fashion_mnist(nnlite::debian_fashion_mnist_dir());
  Tensor<float> x, y, xv, yv;
  const auto train_idx = nnlite::all_indices(12000), val_idx = nnlite::all_indices(2000);
  nnlite::to_float_images(data.train, train_idx, x);
  nnlite::to_one_hot(data.train, train_idx, 10, y);
  nnlite::to_float_images(data.test, val_idx, xv);
  nnlite::to_one_hot(data.test, val_idx, 10, yv);
  nnlite::Sequential<float> model(Shape{28, 28, 1}, "mlp");
  model.set_seed(3);
  model.add(nnlite::Flatten<float>());
  model.add(nnlite::Dense<float>(128, "relu"));
  model.add(nnlite::Dropout<float>(0.2));  // masks differ per rank
  model.add(nnlite::Dense<float>(10, "softmax"));
  model.compile(nnlite::Adam<float>(1e-3));
  nnlite::FitOptions<float> o;
  o.epochs = 2;
  o.batch_size = 64;
  o.verbose = 2;  // one line per epoch, on rank 0 only
  o.data_parallel = &world;
  const nnlite::History h = model.fit(x, y, xv, yv, o);
  const double ranks_apart = max_diff_to_rank0(world, model);
  const double acc = h["val_accuracy"].back();
  if (world.rank() == 0)
    std::printf(
        "fashion: %d ranks, 12000 training images, 2 epochs: val_accuracy %.4f (bar %.2f), loss %.4f -> %.4f; "
        "ranks apart: %.3g\n",
        world.size(), acc, bar, h["loss"].front(), h["loss"].back(), ranks_apart);
  return acc > bar && ranks_apart == 0 ? 0 : 1;
#else
  (void)world;
  std::printf("fashion: needs nnlite::io (zlib) for the dataset\n");
  return 77;
#endif
}

// Rank 1 throws from a callback at its third batch; rank 0 is then waiting in the step's allreduce.
int fail(const nnlite::MpiCommunicator& world) {
  Tensor<float> x, y;
  lines(640, 3, x, y);
  struct Boom : nnlite::Callback<float> {
    int rank = 0;
    void on_train_batch_end(Index batch, const nnlite::Logs&) override {
      if (rank == 1 && batch == 2) throw std::runtime_error("injected failure (the test's callback)");
    }
  } boom;
  boom.rank = world.rank();
  nnlite::FitOptions<float> o;
  o.epochs = 5;
  o.batch_size = 64;
  o.verbose = 0;
  o.callbacks = {&boom};
  o.data_parallel = &world;
  auto model = small_cnn();
  model.fit(x, y, o);
  std::printf("fail: rank %d finished fit(), which it must not\n", world.rank());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  nnlite::MpiSession mpi(argc, argv);
  const nnlite::MpiCommunicator world;
  nnlite::set_num_threads(1);  // one thread per rank: ranks, not threads, share the cores here
  const std::string mode = argc > 1 ? argv[1] : "";
  try {
    if (mode == "equivalence") return equivalence(world);
    if (mode == "fashion") return fashion(world);
    if (mode == "fail") return fail(world);
    if (world.rank() == 0) std::fprintf(stderr, "usage: mpirun -np N nnlite_mpi_fit equivalence|fashion|fail\n");
    return 2;
  } catch (const std::exception& e) {
    world.abort(2, "nnlite_mpi_fit: rank " + std::to_string(world.rank()) + ": " + e.what());
  }
}
