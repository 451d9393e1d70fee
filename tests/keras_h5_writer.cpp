// tests/keras_h5_writer.cpp: writes the study models as .h5 files, plus a fixed input and nnlite's predictions
// for it as .npy, into a directory, for tests/keras_h5_check.py to check from Python.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <nnlite/io/keras_h5.hpp>

#include "keras_h5_models.hpp"

namespace {

// A NumPy .npy file (format 1.0) holding a little-endian float32 or float64 array in C order.
template <class S>
void write_npy(const std::string& path, const nnlite::Tensor<S>& t) {
  std::string shape = "(";
  for (std::size_t i = 0; i < t.shape().rank(); ++i) shape += std::to_string(t.shape()[i]) + ", ";
  shape += ")";
  std::string header = std::string("{'descr': '") + (sizeof(S) == 4 ? "<f4" : "<f8") +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  // magic (6) + version (2) + length (2) + header, padded with spaces to a multiple of 64 and ended by '\n'.
  const std::size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  std::string bytes = {'\x93',
                       'N',
                       'U',
                       'M',
                       'P',
                       'Y',
                       1,
                       0,
                       static_cast<char>(header.size() & 0xff),
                       static_cast<char>(header.size() >> 8)};
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(t.data()), static_cast<std::size_t>(t.size()) * sizeof(S));
  nnlite::write_bytes_atomically(path, bytes.data(), bytes.size());
}

template <class S>
void write_model(const std::string& dir, const std::string& stem, nnlite::Sequential<S> model) {
  const nnlite::Tensor<S> x = keras_h5_test::fixed_input<S>(16);
  nnlite::save_model(model, dir + "/" + stem + ".h5");
  write_npy(dir + "/" + stem + "_input.npy", x);
  write_npy(dir + "/" + stem + "_predictions.npy", model.predict(x));
  std::cout << "wrote " << dir << "/" << stem << ".h5 (" << model.count_params() << " parameters)\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " <output directory>\n";
    return 2;
  }
  const std::string dir = argv[1];
  try {
    write_model(dir, "first", keras_h5_test::first_model<float>());
    write_model(dir, "improved", keras_h5_test::improved_model<float>());
    write_model(dir, "first_double", keras_h5_test::first_model<double>());
    // An optimizer whose learning rate is a schedule: training_config holds the serialized schedule.
    nnlite::save_model(keras_h5_test::scheduled_model<float>(), dir + "/scheduled.h5");
    std::cout << "wrote " << dir << "/scheduled.h5\n";
    // Layer names long enough that layer_names must be split (layer_names0, layer_names1, ...).
    nnlite::Sequential<float> chunked(nnlite::Shape{4});
    for (int i = 0; i < 300; ++i)
      chunked.add(nnlite::Dense<float>(2, "relu", true, "dense_" + std::to_string(i) + "_" + std::string(240, 'x')));
    nnlite::save_model(chunked, dir + "/chunked.h5");
    std::cout << "wrote " << dir << "/chunked.h5\n";
  } catch (const std::exception& e) {
    std::cerr << "keras_h5_writer: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
