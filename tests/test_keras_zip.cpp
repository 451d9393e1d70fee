// Keras 3 native .keras files (io/keras_zip.hpp): the real Keras 3.4.1 fixture and malformed archives.
#include <doctest/doctest.h>

#ifdef NNLITE_WITH_IO
#include <sys/stat.h>
#include <zip.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <nnlite/io/keras_zip.hpp>

#include "test_support.hpp"

using namespace nnlite;

namespace {

using test_support::contains;
using test_support::message_of;

std::string tmp_file(const std::string& name) {
  const std::string dir = std::string(NNLITE_BINARY_DIR) + "/keras_zip_test";
  ::mkdir(dir.c_str(), 0755);
  return dir + "/" + name;
}
bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

// A zip written by libzip with the given members (name, bytes), stored or deflated.
void write_zip(const std::string& path, const std::vector<std::pair<std::string, std::string>>& members,
               bool deflate = false) {
  std::remove(path.c_str());
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  REQUIRE(z != nullptr);
  for (const auto& m : members) {
    zip_source_t* s = zip_source_buffer(z, m.second.data(), m.second.size(), 0);
    REQUIRE(s != nullptr);
    const zip_int64_t i = zip_file_add(z, m.first.c_str(), s, ZIP_FL_ENC_UTF_8);
    REQUIRE(i >= 0);
    zip_set_file_compression(z, static_cast<zip_uint64_t>(i), deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
  }
  REQUIRE(zip_close(z) == 0);
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}
std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

struct TestSet {
  std::vector<std::uint8_t> images, labels;
  Index n = 0;
};
std::vector<std::uint8_t> gunzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  REQUIRE(f != nullptr);
  std::vector<std::uint8_t> out;
  unsigned char buf[1 << 16];
  int got;
  while ((got = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + got);
  gzclose(f);
  return out;
}
double test_accuracy(Sequential<float>& model, const std::string& dir) {
  const std::vector<std::uint8_t> im = gunzip(dir + "/t10k-images-idx3-ubyte.gz");
  const std::vector<std::uint8_t> lb = gunzip(dir + "/t10k-labels-idx1-ubyte.gz");
  REQUIRE(im.size() == 16 + 10000u * 784);
  REQUIRE(lb.size() == 8 + 10000u);
  const Index n = 10000, batch = 500;
  Index correct = 0;
  Tensor<float> x;
  for (Index begin = 0; begin < n; begin += batch) {
    x.resize(Shape{batch, 28, 28, 1});
    for (Index i = 0; i < batch * 784; ++i) x[i] = static_cast<float>(im[16 + begin * 784 + i]) / 255.0f;
    const Tensor<float> p = model.predict(x, batch);
    for (Index i = 0; i < batch; ++i) {
      Index best = 0;
      for (Index k = 1; k < 10; ++k)
        if (p.at(i, k) > p.at(i, best)) best = k;
      correct += best == lb[8 + begin + i];
    }
  }
  return static_cast<double>(correct) / static_cast<double>(n);
}

const std::string kFixture = test_support::keras_fixtures_dir(NNLITE_SHARED_DIR) + "/hgmldl_keras3.4.1_best-cnn-model.keras";

}  // namespace

TEST_CASE("keras_zip: the real Keras 3.4.1 .keras file loads and reaches its published accuracy") {
  const std::string data_dir = "/usr/share/datasets/fashion-mnist";
  if (!exists(kFixture) || !exists(data_dir + "/t10k-images-idx3-ubyte.gz")) {
    MESSAGE("SKIPPED: no " << kFixture << " or no Fashion-MNIST test set");
    return;
  }
  Sequential<float> model = load_model<float>(kFixture);
  CHECK(model.count_params() == 333526);
  CHECK(model.optimizer().class_name() == "Adam");
  const double acc = test_accuracy(model, data_dir);
  MESSAGE("hgmldl_keras3.4.1_best-cnn-model.keras: test accuracy " << acc << " (published 0.9125)");
  CHECK(std::abs(acc - 0.9125) <= 0.00005);
  Sequential<float> isolated = [&] {
    LoadOptions o;
    o.isolate = true;
    return load_model<float>(kFixture, o);
  }();
  CHECK(isolated.count_params() == 333526);
}

TEST_CASE("keras_zip: malformed archives are FormatErrors naming what is wrong") {
  const std::string good_config = R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 4], "name": "in"}},
      {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}})";
  SUBCASE("not a zip") {
    const std::string p = tmp_file("text.keras");
    write_bytes(p, "this is not a zip archive at all, just text\n");
    const std::string msg = message_of<FormatError>([&] { load_model<float>(p); });
    INFO(msg);
    CHECK(contains(msg, p));
    CHECK(contains(msg, "is not a valid .keras file"));
  }
  SUBCASE("missing config.json") {
    const std::string p = tmp_file("noconfig.keras");
    write_zip(p, {{"metadata.json", "{}"}, {"model.weights.h5", "x"}});
    const std::string msg = message_of<FormatError>([&] { load_model<float>(p); });
    INFO(msg);
    CHECK(contains(msg, "has no 'config.json'"));
  }
  SUBCASE("missing model.weights.h5") {
    const std::string p = tmp_file("noweights.keras");
    write_zip(p, {{"config.json", good_config}});
    const std::string msg = message_of<FormatError>([&] { load_model<float>(p); });
    INFO(msg);
    CHECK(contains(msg, "has no 'model.weights.h5'"));
  }
  SUBCASE("a member name with ..") {
    const std::string p = tmp_file("dotdot.keras");
    write_zip(p, {{"config.json", good_config}, {"../evil", "x"}, {"model.weights.h5", "x"}});
    const std::string msg = message_of<FormatError>([&] { load_model<float>(p); });
    INFO(msg);
    CHECK(contains(msg, "'../evil' climbs out of the archive"));
  }
  SUBCASE("an absolute member name") {
    const std::string p = tmp_file("abs.keras");
    write_zip(p, {{"config.json", good_config}, {"/etc/passwd", "x"}, {"model.weights.h5", "x"}});
    const std::string msg = message_of<FormatError>([&] { load_model<float>(p); });
    INFO(msg);
    CHECK(contains(msg, "'/etc/passwd' has an absolute path"));
  }
  SUBCASE("weights that are not HDF5") {
    const std::string p = tmp_file("notHDF5.keras");
    write_zip(p, {{"config.json", good_config}, {"model.weights.h5", "not hdf5"}});
    const std::string msg = message_of<FormatError>([&] { load_model<float>(p); });
    INFO(msg);
    CHECK(contains(msg, "not an HDF5 file"));
  }
  SUBCASE("CRC mismatch") {
    const std::string p = tmp_file("crc.keras");
    write_zip(p, {{"config.json", good_config}, {"model.weights.h5", "x"}});
    std::string bytes = read_bytes(p);
    const std::size_t at = bytes.find("Sequential");  // stored, so the text is in the archive as is
    REQUIRE(at != std::string::npos);
    bytes[at] = 'X';
    write_bytes(p, bytes);
    const std::string msg = message_of<FormatError>([&] { load_model<float>(p); });
    INFO(msg);
    CHECK(contains(msg, "member 'config.json'"));
    CHECK(contains(msg, "CRC"));
  }
  SUBCASE("a Functional model") {
    const std::string p = tmp_file("functional.keras");
    write_zip(p, {{"config.json", R"({"module": "keras", "class_name": "Functional", "config": {}})"},
                  {"model.weights.h5", "x"}});
    const std::string msg = message_of<UnsupportedError>([&] { load_model<float>(p); });
    INFO(msg);
    CHECK(contains(msg, "Functional"));
  }
}
#endif
