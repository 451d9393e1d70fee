// Keras 3 native .keras files (io/keras_zip.hpp): the real Keras 3.4.1 fixture, malformed archives, and nnlite's own
// .keras files written and read back (every registered layer class, float and double, optimizer state).
#include <doctest/doctest.h>

#ifdef NNLITE_WITH_IO
#include <sys/stat.h>
#include <zip.h>
#include <zlib.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nnlite/io/keras_zip.hpp>

#include "keras_zip_models.hpp"
#include "test_support.hpp"

namespace test_keras_zip {

using namespace nnlite;

namespace {

using test_support::contains;
using test_support::message_of;

using test_support::bitwise_equal;
using test_support::exists;
using test_support::read_bytes;
using test_support::write_bytes;

std::string tmp_file(const std::string& name) { return test_support::scratch_dir("keras_zip") + "/" + name; }

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

const std::string kFixture = test_support::keras_fixtures_dir() + "/hgmldl_keras3.4.1_best-cnn-model.keras";

}  // namespace

TEST_CASE("keras_zip: the real Keras 3.4.1 .keras file loads and reaches its published accuracy") {
  const std::string data_dir = "/usr/share/datasets/fashion-mnist";
  if (!exists(kFixture) || !exists(data_dir + "/t10k-images-idx3-ubyte.gz")) {
    MESSAGE("SKIPPED: no " << kFixture << " or no Fashion-MNIST test set");
    return;
  }
  std::vector<LoadWarning> warnings;
  LoadOptions o;
  o.on_warning = [&](const LoadWarning& w) { warnings.push_back(w); };
  Sequential<float> model = load_model<float>(kFixture, o);
  CHECK(model.count_params() == 333526);
  CHECK(model.optimizer().class_name() == "Adam");
  CHECK(warnings.empty());
  // compile_config's metrics ["accuracy"], under sparse_categorical_crossentropy: sparse accuracy, as in Keras.
  CHECK(model.loss().name() == "sparse_categorical_crossentropy");
  REQUIRE(model.metric_names() == std::vector<std::string>{"accuracy"});
  CHECK(dynamic_cast<SparseCategoricalAccuracy<float>*>(model.metrics()[0].get()) != nullptr);
  const double acc = test_accuracy(model, data_dir);
  MESSAGE("hgmldl_keras3.4.1_best-cnn-model.keras: test accuracy " << acc << " (published 0.9125)");
  CHECK(std::abs(acc - 0.9125) <= 0.00005);
  // optimizer/vars: h5py reads iterations 9000 and conv2d kernel velocity[0, 0, 0, 0:3] = 0.00266949, 0.00621216,
  // 0.00109008 (Adam interleaves momentum and velocity per weight: vars/3 is the first weight's velocity).
  CHECK(model.optimizer().iterations() == 9000);
  const auto state = model.optimizer().state();
  REQUIRE(state.size() == 2);
  REQUIRE(state[1].second->size() == model.trainable_size());
  CHECK((*state[1].second)[0] == doctest::Approx(0.00266949).epsilon(1e-5));
  CHECK((*state[1].second)[1] == doctest::Approx(0.00621216).epsilon(1e-5));  // C order, as the file holds it
  CHECK((*state[1].second)[2] == doctest::Approx(0.00109008).epsilon(1e-5));
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

// ---- nnlite's own .keras files ------------------------------------------------------------------------------------

namespace {

template <class S>
void check_same_weights(Sequential<S>& a, Sequential<S>& b) {
  const auto wa = a.get_weights(), wb = b.get_weights();
  REQUIRE(wa.size() == wb.size());
  for (std::size_t i = 0; i < wa.size(); ++i) CHECK(bitwise_equal(wa[i], wb[i]));
}
// The optimizer state vectors, element for element (an empty vector is the zero state of an unstepped optimizer).
template <class S>
void check_same_optimizer_state(Sequential<S>& a, Sequential<S>& b) {
  CHECK(a.optimizer().class_name() == b.optimizer().class_name());
  CHECK(a.optimizer().iterations() == b.optimizer().iterations());
  CHECK(a.optimizer().learning_rate() == b.optimizer().learning_rate());
  CHECK(a.optimizer().config() == b.optimizer().config());
  const auto sa = a.optimizer().state(), sb = b.optimizer().state();
  REQUIRE(sa.size() == sb.size());
  for (std::size_t s = 0; s < sa.size(); ++s) {
    const auto& va = *sa[s].second;
    const auto& vb = *sb[s].second;
    CAPTURE(sa[s].first);
    for (Index i = 0; i < a.trainable_size(); ++i) {
      const S x = va.size() ? va[i] : S(0), y = vb.size() ? vb[i] : S(0);
      if (std::memcmp(&x, &y, sizeof(S)) != 0) {
        CHECK(x == y);
        break;
      }
    }
  }
}
// The weights file inside an archive, opened as the reader opens it.
h5::File weights_of(const std::string& path, std::vector<char>& image) {
  const keras_zip_detail::Archive a(path);
  image = a.read("model.weights.h5", std::uint64_t(1) << 30);
  return h5::File::open_image(path + "#test" + std::to_string(keras_zip_detail::next_image_id()), image);
}

template <class S>
void round_trip(const Optimizer<S>& optimizer, int steps, const std::string& file) {
  using namespace keras_zip_test;
  Sequential<S> m = every_layer_model<S>();
  m.compile(optimizer);
  const Tensor<S> x = fixed_input<S>(6), y = fixed_labels<S>(6);
  for (int i = 0; i < steps; ++i) m.train_on_batch(x, y);
  const std::string path = tmp_file(file);
  m.save(path);
  Sequential<S> loaded = load_model<S>(path);
  CHECK(loaded.summary() == m.summary());
  CHECK(loaded.name() == m.name());
  check_same_weights(m, loaded);
  CHECK(bitwise_equal(m.predict(x), loaded.predict(x)));
  check_same_optimizer_state(m, loaded);
  CHECK(loaded.optimizer().iterations() == steps);
  // A continued fit from the file takes exactly the steps the original takes, given the same random streams for the
  // noise and dropout layers (Keras 3.4.1 does not save its SeedGenerator states either).
  for (std::size_t i = 0; i < m.size(); ++i) {
    m.layer(i).seed(100 + i);
    loaded.layer(i).seed(100 + i);
  }
  for (int i = 0; i < 2; ++i) {
    const auto ea = m.train_on_batch(x, y), eb = loaded.train_on_batch(x, y);
    CHECK(ea.loss == eb.loss);
  }
  check_same_weights(m, loaded);
  check_same_optimizer_state(m, loaded);
}

}  // namespace

TEST_CASE_TEMPLATE("keras_zip: every registered layer class round-trips bit for bit, with the optimizer state", S,
                   float, double) {
  // Every class the registry knows is in the model: a new layer class must be added to every_layer_model.
  {
    std::set<std::string> in_model;
    const Sequential<S> m = keras_zip_test::every_layer_model<S>();
    for (std::size_t i = 0; i < m.size(); ++i) in_model.insert(m.layer(i).class_name());
    for (const auto& cls : layer_registry<S>().names()) {
      CAPTURE(cls);
      CHECK(in_model.count(cls) == 1);
    }
  }
  SUBCASE("Adam after two steps") { round_trip<S>(Adam<S>(2e-3), 2, "adam_trained.keras"); }
  SUBCASE("Adam never stepped (zero slots written, as Keras' freshly built optimizer)") {
    round_trip<S>(Adam<S>(), 0, "adam_fresh.keras");
  }
  SUBCASE("SGD with Nesterov momentum after three steps") {
    round_trip<S>(SGD<S>(0.05, 0.9, true), 3, "sgd_momentum.keras");
  }
  SUBCASE("SGD without momentum (no slots: iterations and learning_rate only)") {
    round_trip<S>(SGD<S>(0.1), 2, "sgd_plain.keras");
  }
}

TEST_CASE("keras_zip: the written archive has Keras 3.4.1's members, config and variable layout") {
  Sequential<float> m = keras_zip_test::every_layer_model<float>();
  m.compile(Adam<float>(2e-3));
  const Tensor<float> x = keras_zip_test::fixed_input<float>(6), y = keras_zip_test::fixed_labels<float>(6);
  m.train_on_batch(x, y);
  const std::string path = tmp_file("layout.keras");
  save_model(m, path);

  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err);
  REQUIRE(z != nullptr);
  REQUIRE(zip_get_num_entries(z, 0) == 3);
  CHECK(std::string(zip_get_name(z, 0, 0)) == "metadata.json");
  CHECK(std::string(zip_get_name(z, 1, 0)) == "config.json");
  CHECK(std::string(zip_get_name(z, 2, 0)) == "model.weights.h5");
  for (zip_uint64_t i = 0; i < 3; ++i) {
    zip_stat_t st;
    REQUIRE(zip_stat_index(z, i, 0, &st) == 0);
    CHECK(st.comp_method == ZIP_CM_STORE);  // Python's zipfile default, which Keras uses
  }
  zip_discard(z);

  const keras_zip_detail::Archive a(path);
  const json meta = json::parse(keras_zip_detail::read_json_text(a, "metadata.json"));
  CHECK(meta["keras_version"] == "3.4.1");
  const std::string date = meta["date_saved"];
  CHECK(date.size() == 19);  // 2024-08-06@07:21:23
  CHECK(date[10] == '@');
  const json c = json::parse(keras_zip_detail::read_json_text(a, "config.json"));
  CHECK(c["module"] == "keras");
  CHECK(c["class_name"] == "Sequential");
  CHECK(c["registered_name"].is_null());
  CHECK(c["build_config"]["input_shape"] == json::parse("[null, 8, 8, 2]"));
  CHECK(c["config"]["name"] == "every_layer");
  CHECK(c["config"]["dtype"]["class_name"] == "DTypePolicy");
  CHECK(c["config"]["dtype"]["config"]["name"] == "float32");
  const json& layers = c["config"]["layers"];
  REQUIRE(layers.size() == m.size() + 1);
  CHECK(layers[0]["class_name"] == "InputLayer");
  CHECK(layers[0]["config"]["batch_shape"] == json::parse("[null, 8, 8, 2]"));
  for (std::size_t i = 0; i < m.size(); ++i) {
    const json& e = layers[i + 1];
    CAPTURE(m.layer(i).name());
    CHECK(e["module"] == "keras.layers");
    CHECK(e["class_name"] == m.layer(i).class_name());
    CHECK(e.contains("registered_name"));
    CHECK(e["registered_name"].is_null());
    CHECK(e["config"]["name"] == m.layer(i).name());
    CHECK(e["config"]["trainable"] == true);
  }
  // ZeroPadding2D(1, 0, 2, 1) on (8, 8, 2) gives the next layer's build input shape.
  CHECK(layers[2]["build_config"]["input_shape"] == json::parse("[null, 9, 11, 2]"));
  const json& cc = c["compile_config"];
  CHECK(cc["optimizer"]["module"] == "keras.optimizers");
  CHECK(cc["optimizer"]["class_name"] == "Adam");
  CHECK(cc["optimizer"]["registered_name"].is_null());
  CHECK(cc["optimizer"]["config"]["name"] == "adam");
  CHECK(cc["optimizer"]["config"]["learning_rate"] == 2e-3);
  CHECK(!cc["optimizer"]["config"].contains("decay"));  // Keras 3 has no decay argument
  CHECK(cc["loss"] == "categorical_crossentropy");
  CHECK(cc["metrics"] == json::parse(R"(["accuracy"])"));

  std::vector<char> image;
  const h5::File f = weights_of(path, image);
  CHECK(f.has("vars"));
  CHECK(f.group("layers/dense/vars").dataset("0").type_name() == "float32");
  CHECK(f.group("layers").has("dropout"));  // weightless layers get their (empty) group too, as in Keras 3.4.1
  CHECK(f.group("layers/dropout").has("vars"));
  CHECK(!f.group("layers/dropout/vars").has("0"));
  // BatchNormalization: gamma, beta, moving_mean, moving_variance (trainable, then non-trainable).
  const h5::Group bn = f.group("layers/batch_normalization/vars");
  for (const char* k : {"0", "1", "2", "3"}) CHECK(bn.has(k));
  CHECK(!bn.has("4"));
  Tensor<float> t(Shape{4});
  bn.dataset("2").read(t.data(), 4);  // moving_mean after one training step: not the initial zeros
  CHECK(bitwise_equal(t, [&] {
    Tensor<float> w(Shape{4});
    std::memcpy(w.data(), m.layer(3).weight(2), sizeof(float) * 4);
    return w;
  }()));
  // optimizer/vars: iterations, learning_rate, then momentum and velocity per trainable weight in model order.
  const h5::Group ov = f.group("optimizer/vars");
  const auto trained = m.trainable_weights();
  // conv2d 2, batch_normalization gamma and beta, depthwise_conv2d 2, separable_conv2d 3, conv2d_1 2, dense 2,
  // p_re_lu 1, dense_1 2 (kernel, bias, ...).
  REQUIRE(trained.size() == 16);
  CHECK(ov.has(std::to_string(2 + 2 * trained.size() - 1)));
  CHECK(!ov.has(std::to_string(2 + 2 * trained.size())));
  std::int64_t it = -1;
  ov.dataset("0").read(&it, 1);
  CHECK(it == 1);
  CHECK(ov.dataset("0").type_class() == H5T_INTEGER);
  float lr = 0;
  ov.dataset("1").read(&lr, 1);
  CHECK(lr == 2e-3f);
  auto state = m.optimizer().state();
  for (std::size_t w = 0; w < trained.size(); ++w) {
    for (std::size_t s = 0; s < 2; ++s) {
      CAPTURE(w);
      CAPTURE(s);
      h5::Dataset ds = ov.dataset(std::to_string(2 + 2 * w + s));
      std::vector<Index> dims;
      for (hsize_t d : ds.dims()) dims.push_back(static_cast<Index>(d));
      CHECK(dims == trained[w].shape.dims());
      std::vector<float> v(static_cast<std::size_t>(trained[w].shape.size()));
      ds.read(v.data(), v.size());
      CHECK(std::memcmp(v.data(), state[s].second->data() + trained[w].offset, v.size() * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("keras_zip: uncompiled models, include_optimizer = false, and double dtypes") {
  Sequential<double> m = keras_zip_test::every_layer_model<double>();
  const std::string path = tmp_file("uncompiled.keras");
  save_model(m, path);
  {
    const keras_zip_detail::Archive a(path);
    const json c = json::parse(keras_zip_detail::read_json_text(a, "config.json"));
    CHECK(!c.contains("compile_config"));
    CHECK(c["config"]["layers"][1]["config"]["dtype"]["config"]["name"] == "float64");
    std::vector<char> image;
    const h5::File f = weights_of(path, image);
    CHECK(!f.has("optimizer"));
    CHECK(f.group("layers/dense/vars").dataset("0").type_name() == "float64");
  }
  Sequential<double> loaded = load_model<double>(path);  // compiled with Adam's defaults, as from a Keras file
  CHECK(loaded.summary() == m.summary());
  check_same_weights(m, loaded);
  CHECK(loaded.optimizer().class_name() == "Adam");
  // A double model read as float: the float64 weights are converted.
  Sequential<float> as_float = load_model<float>(path);
  CHECK(as_float.count_params() == m.count_params());

  m.compile(SGD<double>(0.05, 0.9));
  SaveOptions no_optimizer;
  no_optimizer.include_optimizer = false;
  save_model(m, tmp_file("no_optimizer.keras"), no_optimizer);
  std::vector<char> image;
  CHECK(!weights_of(tmp_file("no_optimizer.keras"), image).has("optimizer"));
  CHECK(load_model<double>(tmp_file("no_optimizer.keras")).optimizer().class_name() == "Adam");
  LoadOptions no_state;
  no_state.load_optimizer_state = false;
  m.train_on_batch(keras_zip_test::fixed_input<double>(3), keras_zip_test::fixed_labels<double>(3));
  save_model(m, tmp_file("sgd_state.keras"));
  CHECK(load_model<double>(tmp_file("sgd_state.keras")).optimizer().iterations() == 1);
  CHECK(load_model<double>(tmp_file("sgd_state.keras"), no_state).optimizer().iterations() == 0);
}

TEST_CASE(
    "keras_zip: a compile_config nnlite cannot honour is skipped with warnings; the model loads and predicts the "
    "same") {
  Sequential<float> m = keras_zip_test::every_layer_model<float>();
  m.compile(Adam<float>(2e-3), "categorical_crossentropy", {"accuracy"});
  const Tensor<float> x = keras_zip_test::fixed_input<float>(3);
  m.train_on_batch(x, keras_zip_test::fixed_labels<float>(3));
  const Tensor<float> expected = m.predict(x);
  const std::string source = tmp_file("honour_source.keras");
  save_model(m, source);
  std::string metadata, weights;
  json config;
  {
    const keras_zip_detail::Archive a(source);
    metadata = keras_zip_detail::read_json_text(a, "metadata.json");
    config = json::parse(keras_zip_detail::read_json_text(a, "config.json"));
    const std::vector<char> w = a.read("model.weights.h5", std::uint64_t(1) << 30);
    weights.assign(w.begin(), w.end());
  }
  REQUIRE(config.contains("compile_config"));
  auto load_with = [&](const std::string& name, const json& compile_config, std::vector<LoadWarning>& warnings) {
    json c = config;
    c["compile_config"] = compile_config;
    const std::string path = tmp_file(name);
    write_zip(path, {{"metadata.json", metadata}, {"config.json", c.dump()}, {"model.weights.h5", weights}});
    LoadOptions o;
    o.on_warning = [&](const LoadWarning& w) { warnings.push_back(w); };
    Sequential<float> loaded = load_model<float>(path, o);
    const Tensor<float> p = loaded.predict(x);
    REQUIRE(p.shape() == expected.shape());
    CHECK(std::memcmp(p.data(), expected.data(), sizeof(float) * static_cast<std::size_t>(p.size())) == 0);
    for (const auto& w : warnings) CHECK(contains(w.message, path));
    return loaded;
  };
  const json cc = config["compile_config"];

  SUBCASE("an unknown loss (a registered custom object): uncompiled, reported by name") {
    json c = cc;
    c["loss"] = {{"module", nullptr},
                 {"class_name", "MyLoss"},
                 {"config", {{"name", "my_loss"}}},
                 {"registered_name", "Custom>MyLoss"}};
    std::vector<LoadWarning> w;
    CHECK_FALSE(load_with("unknown_loss.keras", c, w).compiled());
    REQUIRE(w.size() == 1);
    CHECK(w[0].item == "loss");
    CHECK(w[0].name == "my_loss");
  }
  SUBCASE("an unknown optimizer: Adam's defaults, and optimizer/vars left alone") {
    json c = cc;
    c["optimizer"] = {{"module", "keras.optimizers"},
                      {"class_name", "Lion"},
                      {"config", {{"name", "lion"}, {"learning_rate", 1e-4}}},
                      {"registered_name", nullptr}};
    std::vector<LoadWarning> w;
    Sequential<float> loaded = load_with("unknown_optimizer.keras", c, w);
    REQUIRE(loaded.compiled());
    CHECK(loaded.optimizer().class_name() == "Adam");
    CHECK(loaded.optimizer().learning_rate() == doctest::Approx(0.001));
    CHECK(loaded.optimizer().iterations() == 0);
    REQUIRE(w.size() == 1);
    CHECK(w[0].item == "optimizer");
    CHECK(w[0].name == "Lion");
    // The file's own Adam (learning rate 2e-3) with its one step, for comparison.
    std::vector<LoadWarning> none;
    Sequential<float> same = load_with("own_optimizer.keras", cc, none);
    CHECK(none.empty());
    CHECK(same.optimizer().learning_rate() == doctest::Approx(2e-3));
    CHECK(same.optimizer().iterations() == 1);
  }
  SUBCASE("Keras 3 metrics: strings and serialized metrics nnlite has are compiled, the others reported") {
    json c = cc;
    c["metrics"] = json::parse(R"(["accuracy",
      {"module": "keras.metrics", "class_name": "CategoricalAccuracy",
       "config": {"name": "categorical_accuracy", "dtype": "float32"}, "registered_name": null},
      {"module": "keras.metrics", "class_name": "AUC", "config": {"name": "auc", "num_thresholds": 200,
       "curve": "ROC", "summation_method": "interpolation", "multi_label": false, "num_labels": null,
       "label_weights": null, "from_logits": false, "thresholds": null, "dtype": "float32"}, "registered_name": null},
      {"module": "keras.metrics", "class_name": "AUC", "config": {"name": "pr_auc", "curve": "PR"},
       "registered_name": null},
      {"module": null, "class_name": "MyMetric", "config": {"name": "mine"}, "registered_name": "Custom>MyMetric"}])");
    std::vector<LoadWarning> w;
    Sequential<float> loaded = load_with("metrics.keras", c, w);
    REQUIRE(loaded.compiled());
    CHECK(loaded.metric_names() == std::vector<std::string>{"accuracy", "categorical_accuracy", "auc"});
    REQUIRE(w.size() == 2);
    CHECK(w[0].name == "pr_auc");
    CHECK(contains(w[0].message, "curve"));
    CHECK(w[1].name == "mine");
    CHECK(w[1].item == "metric");
  }
}

TEST_CASE("keras_zip: saving is atomic and checks names and directories") {
  Sequential<float> m = keras_zip_test::every_layer_model<float>();
  const std::string path = tmp_file("atomic.keras");
  write_bytes(path, "previous contents");
  Sequential<float> bad = m;
  bad.layer(0).set_name("a/b");
  const std::string msg = message_of<ArgumentError>([&] { save_model(bad, path); });
  INFO(msg);
  CHECK(contains(msg, "'a/b'"));
  CHECK(read_bytes(path) == "previous contents");
  CHECK(!exists(path + ".tmp." + std::to_string(::getpid())));
  CHECK(contains(message_of<IoError>([&] { save_model(m, tmp_file("no/such/dir/m.keras")); }), "does not exist"));
  save_model(m, path);  // over the previous file
  CHECK(load_model<float>(path).count_params() == m.count_params());
  CHECK(!exists(path + ".tmp." + std::to_string(::getpid())));
}

TEST_CASE("keras_zip: the extension chooses the format, as in Keras 3") {
  Sequential<float> m = keras_zip_test::every_layer_model<float>();
  for (const char* ext : {".keras", ".KERAS", ".h5", ".hdf5", ".H5"}) {
    const std::string p = tmp_file(std::string("ext") + ext);
    CAPTURE(p);
    m.save(p);
    std::string head = read_bytes(p).substr(0, 8);
    if (has_extension(p, ".keras"))
      CHECK(head.substr(0, 4) == "PK\x03\x04");
    else
      CHECK(head == "\x89HDF\r\n\x1a\n");
    CHECK(load_model<float>(p).count_params() == m.count_params());
  }
  for (const char* name : {"model", "model.json", "model.keras.tmp", "model.h5x", "weights.npz"}) {
    const std::string p = tmp_file(name);
    CAPTURE(p);
    std::remove(p.c_str());
    const std::string save_msg = message_of<ArgumentError>([&] { save_model(m, p); });
    CHECK(contains(save_msg, p));
    CHECK(contains(save_msg, "'.keras'"));
    CHECK(contains(save_msg, "'.h5'"));
    CHECK(!exists(p));
    write_bytes(p, "whatever");
    const std::string load_msg = message_of<UnsupportedError>([&] { load_model<float>(p); });
    CHECK(contains(load_msg, p));
    CHECK(contains(load_msg, "'.keras'"));
    CHECK(contains(load_msg, "'.hdf5'"));
  }
}

// ---- hostile archives (the reading side) ---------------------------------------------------------------------------

namespace {

// Rewrites the sizes (compressed and uncompressed, -1 keeps one) and optionally the name of the member `name` in
// both its local header and its central directory record, so that libzip's consistency check still passes.
void patch_member(std::string& zip, const std::string& name, long long comp, long long size,
                  const std::string& new_name = "") {
  auto put32 = [&](std::size_t at, long long v) {
    for (int i = 0; i < 4; ++i) zip[at + static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  };
  auto get16 = [&](std::size_t at) {
    return static_cast<std::size_t>(static_cast<unsigned char>(zip[at])) |
           static_cast<std::size_t>(static_cast<unsigned char>(zip[at + 1])) << 8;
  };
  int patched = 0;
  for (const auto& [sig, comp_at, size_at, len_at, name_at] :
       {std::tuple<std::string, std::size_t, std::size_t, std::size_t, std::size_t>{"PK\x03\x04", 18, 22, 26, 30},
        {"PK\x01\x02", 20, 24, 28, 46}}) {
    for (std::size_t at = zip.find(sig); at != std::string::npos; at = zip.find(sig, at + 1)) {
      if (at + name_at > zip.size() || get16(at + len_at) != name.size() ||
          zip.compare(at + name_at, name.size(), name))
        continue;
      if (comp >= 0) put32(at + comp_at, comp);
      if (size >= 0) put32(at + size_at, size);
      if (!new_name.empty()) zip.replace(at + name_at, new_name.size(), new_name);
      ++patched;
    }
  }
  REQUIRE(patched == 2);
}

}  // namespace

TEST_CASE("keras_zip: zip bombs, lying sizes, NUL and duplicate names are refused before anything is inflated") {
  Sequential<float> m = keras_zip_test::every_layer_model<float>();
  const std::string good = tmp_file("hostile_source.keras");
  save_model(m, good);
  const std::string config = [&] {
    const keras_zip_detail::Archive a(good);
    return keras_zip_detail::read_json_text(a, "config.json");
  }();
  const std::string weights = [&] {
    const keras_zip_detail::Archive a(good);
    const auto b = a.read("model.weights.h5", std::uint64_t(1) << 30);
    return std::string(b.begin(), b.end());
  }();
  SUBCASE("a member that would inflate past the zip-bomb ratio") {
    // 4 MiB of spaces after the JSON deflate about 1000:1; the declared size is then raised to 2000 x compressed.
    const std::string p = tmp_file("bomb.keras");
    write_zip(p, {{"config.json", config + std::string(std::size_t(4) << 20, ' ')}, {"model.weights.h5", weights}},
              true);
    std::string bytes = read_bytes(p);
    int err = 0;
    zip_t* z = zip_open(p.c_str(), ZIP_RDONLY, &err);
    REQUIRE(z != nullptr);
    zip_stat_t st;
    REQUIRE(zip_stat(z, "config.json", 0, &st) == 0);
    zip_discard(z);
    patch_member(bytes, "config.json", -1, static_cast<long long>(st.comp_size) * 2000);
    write_bytes(p, bytes);
    const std::string msg = message_of<FormatError>([&] { load_model<float>(p); });
    INFO(msg);
    CHECK(contains(msg, "member 'config.json'"));
    CHECK(contains(msg, "zip-bomb bound of 1000"));
  }
  SUBCASE("a member declared larger than the limit") {
    const std::string p = tmp_file("huge.keras");
    write_zip(p, {{"config.json", config}, {"model.weights.h5", weights}});
    LoadOptions small;
    small.max_attribute_bytes = 1000;
    const std::string msg = message_of<FormatError>([&] { load_model<float>(p, small); });
    INFO(msg);
    CHECK(contains(msg,
                   "member 'config.json' is " + std::to_string(config.size()) + " bytes, more than the limit of 1000"));
  }
  SUBCASE("a stored member declared to run past the end of the archive") {
    const std::string p = tmp_file("past_end.keras");
    write_zip(p, {{"config.json", config}, {"model.weights.h5", weights}});
    std::string bytes = read_bytes(p);
    patch_member(bytes, "config.json", 0x7fffffff, 0x7fffffff);  // stored: both sizes say 2 GiB
    write_bytes(p, bytes);
    const std::string msg = message_of<FormatError>([&] { load_model<float>(p); });
    INFO(msg);
    CHECK(contains(msg, "'" + p + "' is not a valid .keras file (zip archive)"));  // libzip's consistency check
  }
  SUBCASE("a deflated member whose data is shorter than its declared size") {
    const std::string p = tmp_file("short.keras");
    write_zip(p, {{"config.json", config}, {"model.weights.h5", weights}}, true);
    std::string bytes = read_bytes(p);
    patch_member(bytes, "config.json", -1, static_cast<long long>(config.size()) + 100);
    write_bytes(p, bytes);
    const std::string msg = message_of<FormatError>([&] { load_model<float>(p); });
    INFO(msg);
    CHECK(contains(msg, "member 'config.json'"));
    CHECK((contains(msg, "disagrees with its declared size") || contains(msg, "CRC")));
  }
  SUBCASE("a deflated member whose data is longer than its declared size") {
    const std::string p = tmp_file("long.keras");
    write_zip(p, {{"config.json", config}, {"model.weights.h5", weights}}, true);
    std::string bytes = read_bytes(p);
    patch_member(bytes, "config.json", -1, static_cast<long long>(config.size()) - 100);
    write_bytes(p, bytes);
    const std::string msg = message_of<FormatError>([&] { load_model<float>(p); });
    INFO(msg);
    CHECK(contains(msg, "member 'config.json'"));
    CHECK((contains(msg, "disagrees with its declared size") || contains(msg, "CRC")));
  }
  SUBCASE("a NUL inside a member name") {
    // "config.json\0evil" must not pass for config.json: libzip 1.7 reads it as "config.json evil", so the archive
    // has no config.json (another libzip cutting the name at the NUL is refused by the name-lookup check).
    const std::string p = tmp_file("nul.keras");
    write_zip(p, {{"config.jsonXevil", config}, {"model.weights.h5", weights}});
    std::string bytes = read_bytes(p);
    patch_member(bytes, "config.jsonXevil", -1, -1, std::string("config.json\0", 12));
    write_bytes(p, bytes);
    const std::string msg = message_of<FormatError>([&] { load_model<float>(p); });
    INFO(msg);
    CHECK(contains(msg, p));
    CHECK((contains(msg, "has no 'config.json'") || contains(msg, "a NUL inside it")));
  }
  SUBCASE("optimizer variables that do not fit the compiled optimizer") {
    // config.json of an Adam model, model.weights.h5 of the same model stepped with plain SGD (2 optimizer vars,
    // where Adam needs 2 + 2 per weight): the weights load, the optimizer starts afresh.
    Sequential<float> a = keras_zip_test::every_layer_model<float>(), b = a;
    a.compile(Adam<float>());
    b.compile(SGD<float>(0.1));
    const Tensor<float> x = keras_zip_test::fixed_input<float>(3), y = keras_zip_test::fixed_labels<float>(3);
    a.train_on_batch(x, y);
    b.train_on_batch(x, y);
    save_model(a, tmp_file("adam_side.keras"));
    save_model(b, tmp_file("sgd_side.keras"));
    const keras_zip_detail::Archive ka(tmp_file("adam_side.keras")), kb(tmp_file("sgd_side.keras"));
    const std::string adam_config = keras_zip_detail::read_json_text(ka, "config.json");
    const auto sgd_weights = kb.read("model.weights.h5", std::uint64_t(1) << 30);
    const std::string p = tmp_file("mismatch.keras");
    write_zip(
        p, {{"config.json", adam_config}, {"model.weights.h5", std::string(sgd_weights.begin(), sgd_weights.end())}});
    Sequential<float> loaded = load_model<float>(p);
    CHECK(loaded.optimizer().class_name() == "Adam");
    CHECK(loaded.optimizer().iterations() == 0);
    check_same_weights(b, loaded);
  }
  SUBCASE("two members with the same name") {
    const std::string p = tmp_file("duplicate.keras");
    write_zip(p, {{"config.json", config},
                  {"config.jsoX", R"({"class_name": "Functional", "config": {}})"},
                  {"model.weights.h5", weights}});
    std::string bytes = read_bytes(p);
    patch_member(bytes, "config.jsoX", -1, -1, "config.json");
    write_bytes(p, bytes);
    const std::string msg = message_of<FormatError>([&] { load_model<float>(p); });
    INFO(msg);
    CHECK(contains(msg, p));
    CHECK(contains(msg, "two zip members with the same name"));
  }
}

TEST_CASE_TEMPLATE("keras_zip: save_weights('w.weights.h5') writes Keras 3's weights-only layout and reads it back", S,
                   float, double) {
  Sequential<S> m = keras_zip_test::every_layer_model<S>(3);
  const std::string p = tmp_file(std::string("every_layer_") + (sizeof(S) == 4 ? "f" : "d") + ".weights.h5");
  save_weights(m, p);
  {
    // Keras 3's layout (saving_lib.save_weights_only, Keras 3.4.1): layers/<name>/vars/<i>, no optimizer, and no
    // legacy layer_names attribute.
    const h5::File f = h5::File::open(p);
    CHECK(f.has("layers"));
    CHECK_FALSE(f.has("optimizer"));
    CHECK_FALSE(f.has("model_weights"));
    const h5::Group bn = f.group("layers/" + m.layer(3).name() + "/vars");
    for (int i = 0; i < 4; ++i) CHECK(bn.has(std::to_string(i)));  // gamma, beta, moving_mean, moving_variance
    CHECK_FALSE(bn.has("4"));
  }
  Sequential<S> fresh = keras_zip_test::every_layer_model<S>(99);  // same architecture, other initial weights
  const Tensor<S> x = keras_zip_test::fixed_input<S>(6);
  REQUIRE_FALSE(bitwise_equal(fresh.predict(x), m.predict(x)));
  load_weights(fresh, p);
  check_same_weights(m, fresh);
  CHECK(bitwise_equal(fresh.predict(x), m.predict(x)));

  // A model whose layers do not match: refused, naming the layer, and nothing of it changes.
  Sequential<S> other(Shape{8, 8, 2});
  other.add(Flatten<S>());
  other.add(Dense<S>(3));
  other.build();
  const auto before = other.get_weights();
  CHECK(contains(message_of<Error>([&] { load_weights(other, p); }), "dense"));
  const auto after = other.get_weights();
  REQUIRE(before.size() == after.size());
  for (std::size_t i = 0; i < before.size(); ++i) CHECK(bitwise_equal(before[i], after[i]));
}

}  // namespace test_keras_zip

#endif  // NNLITE_WITH_IO
