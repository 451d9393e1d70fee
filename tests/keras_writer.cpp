// tests/keras_writer.cpp: writes the files the Python checks read (tests/keras_python.cmake).
//   nnlite_keras_writer h5 <dir>: the study models as .h5 files, plus a fixed input and nnlite's predictions for it
//     as .npy, for keras_h5_check.py;
//   nnlite_keras_writer keras <dir>: the every-layer model as .keras files, in float (trained two Adam steps, so
//     optimizer/vars holds real state) and in double (compiled with SGD and momentum, not trained), and an uncompiled
//     one, for keras_zip_check.py.
#include <iostream>
#include <string>
#include <vector>

#include <nnlite/io/keras_h5.hpp>

#include "keras_h5_models.hpp"
#include "keras_zip_models.hpp"

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

void write_h5_files(const std::string& dir) {
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
}

void write_keras_files(const std::string& dir) {
  using namespace nnlite;
  auto f = keras_zip_test::every_layer_model<float>();
  f.compile(Adam<float>(2e-3));
  const auto x = keras_zip_test::fixed_input<float>(6);
  const auto y = keras_zip_test::fixed_labels<float>(6);
  for (int i = 0; i < 2; ++i) f.train_on_batch(x, y);
  save_model(f, dir + "/every_layer_float.keras");
  auto d = keras_zip_test::every_layer_model<double>();
  d.compile(SGD<double>(0.05, 0.9));
  save_model(d, dir + "/every_layer_double.keras");
  save_model(keras_zip_test::every_layer_model<float>(), dir + "/every_layer_uncompiled.keras");
}

}  // namespace

int main(int argc, char** argv) {
  const std::string format = argc == 3 ? argv[1] : "";
  if (format != "h5" && format != "keras") {
    std::cerr << "usage: " << argv[0] << " h5|keras <output directory>\n";
    return 2;
  }
  try {
    if (format == "h5")
      write_h5_files(argv[2]);
    else
      write_keras_files(argv[2]);
  } catch (const std::exception& e) {
    std::cerr << "keras_writer: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
