// Study step 1, the data: where the IDX files are, loading them as bytes, the per-batch conversion, and the split seed
// each iteration derives from --seed.
#include <zlib.h>

#include <iostream>

#include "study.hpp"

#ifndef FASHION_MNIST_SOURCE_DIR
#define FASHION_MNIST_SOURCE_DIR "."
#endif

namespace study {

ByteImageSource::ByteImageSource(const nnlite::Dataset& data, Index classes) : data_(data), classes_(classes) {}

// The trainer and SubsetSource only ask for rows below size(): no check per batch.
void ByteImageSource::fill(const Index* indices, Index count, nnlite::Tensor<float>& x, nnlite::Tensor<float>& y) const {
  const nnlite::IndexSpan rows(indices, count);
  nnlite::to_float_images(data_.images.data(), rows, data_.h, data_.w, x);
  nnlite::to_one_hot(data_.labels.data(), rows, classes_, y);
}

std::string resolve_data_dir(const std::string& requested) {
  if (!requested.empty()) return requested;
  return nnlite::default_fashion_mnist_dir(std::string(FASHION_MNIST_SOURCE_DIR) + "/data/fashion");
}

StudyData load_study_data(const std::string& dir, Index train_limit, bool quiet) {
  StudyData d;
  d.dir = dir;
  d.sets = nnlite::load_fashion_mnist(dir);
  const Index n = d.sets.train.n;
  if (train_limit > n)
    throw nnlite::ArgumentError("--train-limit " + std::to_string(train_limit) + " is more than the " +
                                std::to_string(n) + " training images in " + dir);
  d.train_used = train_limit > 0 ? train_limit : n;
  const auto pixels = static_cast<std::size_t>(d.train_used * d.sets.train.pixels_per_image());
  uLong crc = ::crc32(0L, Z_NULL, 0);
  crc = ::crc32_z(crc, d.sets.train.images.data(), pixels);
  crc = ::crc32_z(crc, d.sets.train.labels.data(), static_cast<std::size_t>(d.train_used));
  d.crc32 = static_cast<std::uint32_t>(crc);
  if (!quiet)
    std::cout << "Data: " << dir << " (" << n << " training images, using " << d.train_used << "; "
              << d.sets.test.n << " test images)\n";
  return d;
}

// A stream of derive_seed of its own, so no split shares draws with any model's initialisation (model_seed).
std::uint64_t split_seed(std::uint64_t seed, int iteration) {
  return nnlite::derive_seed(seed, 0x5000 + static_cast<std::uint64_t>(iteration));
}

}  // namespace study
