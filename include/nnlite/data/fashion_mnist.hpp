// nnlite/data/fashion_mnist.hpp: the Fashion-MNIST data set: its class names, where Debian's
// dataset-fashion-mnist package puts it, and load_fashion_mnist over io/idx.hpp's MNIST-style loader. A data-set
// policy over the IDX format, so it sits above io/ (tests/scripts/check_layering.py knows it).
#pragma once

#include <string>
#include <vector>

#include "../io/idx.hpp"

namespace nnlite {

/// Where Debian's dataset-fashion-mnist package puts the gzip'd files.
inline const std::string& debian_fashion_mnist_dir() {
  static const std::string dir = "/usr/share/datasets/fashion-mnist";
  return dir;
}

/// The ten Fashion-MNIST class names, label 0 ("T-shirt/top") to 9 ("Ankle boot").
inline const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

/// The directory the app reads Fashion-MNIST from: preferred_dir (the project's data/fashion) when it holds the
/// four files, otherwise Debian's package directory (whether or not that exists; loading then reports it).
inline std::string default_fashion_mnist_dir(const std::string& preferred_dir) {
  return holds_mnist_files(preferred_dir) ? preferred_dir : debian_fashion_mnist_dir();
}

/// Fashion-MNIST: 60000 training and 10000 test images of 28 x 28, 10 classes (fashion_mnist_class_names()).
inline MnistData load_fashion_mnist(const std::string& dir, const IdxLimits& limits = {}) {
  return load_mnist_style(dir, 10, MnistFileNames{}, limits);
}

}  // namespace nnlite
