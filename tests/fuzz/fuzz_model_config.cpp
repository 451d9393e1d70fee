// tests/fuzz/fuzz_model_config.cpp: libFuzzer target for the JSON a Keras .h5 file carries: the input is parsed as
// model_config (with load_model's depth limit) and rebuilt by model_from_keras_config, and, when that works, run on
// one zero sample. Any exception other than nnlite::Error, any crash or sanitizer report is a finding.
#include <cstdint>
#include <nnlite/io/keras_h5.hpp>
#include <string>

#include "fuzz_util.hpp"

NNLITE_FUZZ_TARGET(fuzz_model_config) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const nnlite::LoadOptions o = nnlite_fuzz::small_load_options();
  try {
    const nlohmann::json config = nnlite::parse_json(text, "fuzz model_config");
    nnlite::Sequential<float> model = nnlite::model_from_keras_config<float>(config, "fuzz", o);
    nnlite::Shape batch_shape = model.input_shape();
    std::vector<nnlite::Index> dims{1};
    for (nnlite::Index d : batch_shape.dims()) dims.push_back(d);
    nnlite::Tensor<float> x(nnlite::Shape(dims), 0.0f);
    (void)model.predict(x);
    (void)nnlite::keras_model_config(model);  // and it serialises back
  } catch (const nnlite::Error&) {
  }
  return 0;
}
