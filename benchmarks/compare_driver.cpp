// The nnlite side of benchmarks/compare_pytorch: one epoch of a study model on the first N Fashion-MNIST training
// images (batch 32, Adam, no shuffling), inference over the 10k test images, single-image latency, and peak RSS.
// Prints one JSON object.   nnlite_compare_driver <improved|first> <threads> [images=60000] [data_dir]
#include <sys/resource.h>

#include <nnlite/data/dataset.hpp>
#include <nnlite/data/fashion_mnist.hpp>
#include <nnlite/io/idx.hpp>
#include <nnlite/nnlite.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "examples/fashion_mnist/study_models.hpp"

using namespace nnlite;

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <improved|first> <threads> [images] [data_dir]\n", argv[0]);
    return 2;
  }
  const std::string which = argv[1];
  const int threads = std::atoi(argv[2]);
  const std::string dir = argc > 4 ? argv[4] : debian_fashion_mnist_dir();
  set_num_threads(threads);
  const auto data = load_fashion_mnist(dir);
  const Index n = std::min<Index>(argc > 3 ? std::atol(argv[3]) : 60000, data.train.n);
  Tensor<float> x, y, xt, yt;
  to_float_images(data.train, IndexSpan(all_indices(n)), x);
  to_one_hot(data.train, IndexSpan(all_indices(n)), 10, y);
  to_float_images(data.test, IndexSpan(all_indices(data.test.n)), xt);
  to_one_hot(data.test, IndexSpan(all_indices(data.test.n)), 10, yt);

  auto model = study::study_model<float>(which);
  model.set_seed(1);
  model.compile(Adam<float>());
  FitOptions opt;
  opt.epochs = 1;
  opt.batch_size = 32;
  opt.shuffle = false;
  opt.verbose = 0;
  auto t0 = std::chrono::steady_clock::now();
  const History h = model.fit(x, y, opt);
  const double train_s = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  const Evaluation ev = model.evaluate(xt, yt, 256);
  const double infer_s = seconds_since(t0);

  Tensor<float> one(Shape{1, 28, 28, 1});
  std::copy(xt.data(), xt.data() + one.size(), one.data());
  std::vector<double> lat;
  for (int i = 0; i < 300; ++i) {
    t0 = std::chrono::steady_clock::now();
    model.forward(one, Mode::inference);
    lat.push_back(seconds_since(t0));
  }
  std::sort(lat.begin(), lat.end());

  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf(
      "{\"framework\": \"nnlite\", \"model\": \"%s\", \"threads\": %d, \"train_images\": %ld, \"train_s\": %.4f, "
      "\"train_img_per_s\": %.1f, \"train_loss\": %.4f, \"train_acc\": %.4f, \"test_images\": %ld, "
      "\"infer_s\": %.4f, \"infer_img_per_s\": %.1f, \"test_acc\": %.4f, \"latency_ms_median\": %.4f, "
      "\"peak_rss_mb\": %.1f}\n",
      which.c_str(), num_threads(), static_cast<long>(n), train_s, double(n) / train_s, h["loss"][0], h["accuracy"][0],
      static_cast<long>(xt.batch()), infer_s, double(xt.batch()) / infer_s, ev.accuracy,
      lat[lat.size() / 2] * 1e3, double(ru.ru_maxrss) / 1024.0);
  return 0;
}
