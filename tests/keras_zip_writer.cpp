// tests/keras_zip_writer.cpp: writes the .keras files keras_zip_check.py reads: the every-layer model in float
// (trained two Adam steps, so optimizer/vars holds real state) and in double (compiled with SGD and momentum, not
// trained), and an uncompiled one. Usage: nnlite_keras_zip_writer <dir>.
#include <cstdio>
#include <nnlite/io/keras_h5.hpp>

#include "keras_zip_models.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  try {
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
  } catch (const std::exception& e) {
    std::fprintf(stderr, "keras_zip_writer: %s\n", e.what());
    return 1;
  }
  return 0;
}
