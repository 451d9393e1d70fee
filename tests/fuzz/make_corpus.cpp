// tests/fuzz/make_corpus.cpp: writes the fuzzers' seed corpus (tests/fuzz/corpus/<target>/), small valid inputs
// made with nnlite itself: IDX files plain and gzip'd, model_config JSON, .h5 and .keras models and a checkpoint.
// Usage: fuzz_make_corpus <corpus dir>. Rerun it when a format changes; the files are committed.
#include <sys/stat.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <nnlite/io/checkpoint.hpp>
#include <nnlite/io/keras_h5.hpp>
#include <nnlite/nnlite.hpp>
#include <string>
#include <vector>

namespace {

void write_file(const std::string& path, const std::string& bytes) {
  nnlite::write_bytes(path, bytes.data(), bytes.size());
}

std::string idx(const std::vector<std::uint32_t>& dims) {
  std::string b{'\0', '\0', '\x08', static_cast<char>(dims.size())};
  std::uint64_t n = 1;
  for (std::uint32_t d : dims) {
    n *= d;
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<char>((d >> s) & 0xff));
  }
  for (std::uint64_t i = 0; i < n; ++i) b.push_back(static_cast<char>(i * 37));
  return b;
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile gz = gzopen(path.c_str(), "wb9");
  if (!gz || gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())) != static_cast<int>(bytes.size()) ||
      gzclose(gz) != Z_OK)
    throw nnlite::IoError("cannot write " + path);
}

nnlite::Sequential<float> dense_model() {
  nnlite::Sequential<float> m(nnlite::Shape{4}, "dense");
  m.add(nnlite::Dense<float>(3, "relu"));
  m.add(nnlite::Dropout<float>(0.25));
  m.add(nnlite::Dense<float>(2, "softmax"));
  m.compile(nnlite::Adam<float>());
  return m;
}

nnlite::Sequential<float> conv_model() {
  nnlite::Sequential<float> m(nnlite::Shape{6, 6, 1}, "conv");
  m.add(nnlite::Conv2D<float>(2, {3, 3}, "relu"));
  m.add(nnlite::MaxPool2D<float>({2, 2}));
  m.add(nnlite::Flatten<float>());
  m.add(nnlite::Dense<float>(2));
  m.add(nnlite::Softmax<float>());
  m.compile(nnlite::SGD<float>(0.1, 0.9));
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const std::string root = argv[1];
  for (const char* t : {"", "/fuzz_idx", "/fuzz_model_config", "/fuzz_keras_h5", "/fuzz_checkpoint", "/fuzz_keras_zip"})
    ::mkdir((root + t).c_str(), 0755);

  const std::string d = root + "/fuzz_idx/";
  write_file(d + "rank1", idx({5}));
  write_file(d + "rank2", idx({2, 3}));
  write_file(d + "rank3", idx({2, 3, 3}));
  write_file(d + "rank4", idx({1, 2, 2, 3}));
  write_gz(d + "rank1.gz", idx({7}));
  write_gz(d + "rank3.gz", idx({3, 4, 4}));

  auto dense = dense_model();
  auto conv = conv_model();
  const std::string mc = root + "/fuzz_model_config/";
  write_file(mc + "dense.json", nnlite::keras_model_config(dense).dump());
  write_file(mc + "conv.json", nnlite::keras_model_config(conv).dump());
  // Keras 2.1's list-style config with the input shape on the first layer, and Keras 3's forms.
  write_file(mc + "list_style.json",
             R"({"class_name":"Sequential","config":[{"class_name":"Dense","config":{"name":"d","units":2,)"
             R"("batch_input_shape":[null,3],"activation":"relu"}}]})");
  write_file(mc + "keras3.json",
             R"({"class_name":"Sequential","config":{"name":"s","layers":[{"class_name":"InputLayer","config":)"
             R"({"batch_shape":[null,4,4,1],"name":"in"}},{"class_name":"Conv2D","config":{"name":"c","filters":1,)"
             R"("kernel_size":[2,2],"strides":[1,1],"padding":"same","activation":{"class_name":"function",)"
             R"("config":"relu"},"dtype":{"class_name":"DTypePolicy","config":{"name":"float32"}}}},)"
             R"({"class_name":"Flatten","config":{"name":"f"}},{"class_name":"ReLU","config":{"name":"r"}},)"
             R"({"class_name":"Activation","config":{"name":"a","activation":"softmax"}}]}})");

  const std::string h = root + "/fuzz_keras_h5/";
  nnlite::save_model(dense, h + "dense.h5");
  nnlite::save_model(conv, h + "conv.h5");

  const std::string k = root + "/fuzz_keras_zip/";
  nnlite::save_model(dense, k + "dense.keras");
  nnlite::save_model(conv, k + "conv.keras");

  nnlite::Tensor<float> x(nnlite::Shape{2, 4}, 0.5f), y(nnlite::Shape{2, 2}, 0.0f);
  y.at(0, 0) = y.at(1, 1) = 1;
  dense.train_on_batch(x, y);
  nnlite::save_model(dense, k + "dense_stepped.keras");  // optimizer/vars with Adam's slots
  // fuzz_checkpoint loads into a model shaped like dense_model() without the Dropout.
  nnlite::Sequential<float> ck(nnlite::Shape{4}, "fuzz");
  ck.add(nnlite::Dense<float>(3, "relu"));
  ck.add(nnlite::Dense<float>(2, "softmax"));
  ck.compile(nnlite::Adam<float>());
  nnlite::save_checkpoint(root + "/fuzz_checkpoint/fresh.ckpt", ck, {{"epoch", 0}});
  ck.train_on_batch(x, y);
  nnlite::save_checkpoint(root + "/fuzz_checkpoint/stepped.ckpt", ck, {{"epoch", 1}, {"note", "x"}});
  std::printf("corpus written to %s\n", root.c_str());
  return 0;
}
