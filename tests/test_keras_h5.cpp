// tests/test_keras_h5.cpp: Keras .h5 files: bit-exact round trips of float and double models, the layout Keras
// reads, real Keras files evaluated on Fashion-MNIST, and clear errors for malformed, hostile or unsupported files.
#include <doctest/doctest.h>

#ifdef NNLITE_WITH_IO

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <nnlite/io/keras_h5.hpp>
#include <nnlite/optim/sgd.hpp>

#include <nnlite/io/idx.hpp>

#include "keras_h5_models.hpp"

#include "test_support.hpp"

namespace test_keras_h5 {

using namespace nnlite;
using nlohmann::json;

namespace {

using test_support::contains;
using test_support::message_of;

using test_support::bitwise_equal;
using test_support::exists;
using test_support::read_bytes;
using test_support::write_bytes;

std::string tmp_file(const std::string& name) { return test_support::scratch_dir("keras_h5") + "/" + name; }

// One-hot labels for a batch, the class of sample i being i % classes.
template <class S>
Tensor<S> labels_for(Index n, Index classes) {
  Tensor<S> y(Shape{n, classes}, S(0));
  for (Index i = 0; i < n; ++i) y.at(i, i % classes) = S(1);
  return y;
}

// A small model with every non-convolutional layer class, trained a few steps so its weights are not the initial ones.
template <class S>
Sequential<S> small_model() {
  Sequential<S> m(Shape{6, 5, 2}, "small");
  m.set_seed(11);
  m.add(Flatten<S>());
  m.add(Dense<S>(16, "relu"));
  m.add(Dropout<S>(0.5));
  m.add(ReLU<S>());
  m.add(Dense<S>(8, Activation::linear, false));
  m.add(ActivationOf<S>("relu"));
  m.add(Dense<S>(4));
  m.add(Softmax<S>());
  m.compile(Adam<S>(2e-3, 0.8, 0.99, 1e-6));
  Tensor<S> x(Shape{8, 6, 5, 2});
  Rng rng(3);
  for (Index i = 0; i < x.size(); ++i) x[i] = static_cast<S>(rng.uniform(-1, 1));
  for (int step = 0; step < 3; ++step) m.train_on_batch(x, labels_for<S>(8, 4));
  return m;
}

template <class S>
Tensor<S> small_input() {
  Tensor<S> x(Shape{5, 6, 5, 2});
  Rng rng(5);
  for (Index i = 0; i < x.size(); ++i) x[i] = static_cast<S>(rng.uniform(-1, 1));
  return x;
}

// Everything a reloaded model must share with the original: summary, layer configs, weights, predictions bit for bit,
// and the compiled optimizer and loss.
template <class S>
void check_same_model(Sequential<S>& original, Sequential<S>& loaded, const Tensor<S>& x) {
  CHECK(loaded.summary() == original.summary());
  REQUIRE(loaded.size() == original.size());
  for (std::size_t i = 0; i < original.size(); ++i) {
    CHECK(loaded.layer(i).class_name() == original.layer(i).class_name());
    CHECK(loaded.layer(i).config() == original.layer(i).config());
  }
  const auto wa = original.get_weights(), wb = loaded.get_weights();
  REQUIRE(wa.size() == wb.size());
  for (std::size_t i = 0; i < wa.size(); ++i) CHECK(bitwise_equal(wa[i], wb[i]));
  CHECK(bitwise_equal(original.predict(x), loaded.predict(x)));
  REQUIRE(loaded.compiled());
  CHECK(loaded.optimizer().class_name() == original.optimizer().class_name());
  CHECK(loaded.optimizer().config() == original.optimizer().config());
  CHECK(loaded.loss().name() == original.loss().name());
  CHECK(loaded.loss().config() == original.loss().config());
}

// Reads and rewrites pieces of a saved file, to damage it on purpose.
void set_attribute(const std::string& path, const std::string& object, const std::string& name,
                   const std::string& value) {
  h5::File f = h5::File::open(path, true);
  if (object == "/") {
    f.write_string(name, value);
  } else {
    h5::Group g = f.group(object);
    g.write_string(name, value);
  }
  f.close();
}
json model_config_of(const std::string& path) {
  h5::File f = h5::File::open(path);
  return json::parse(f.read_string("model_config", 1 << 26));
}
void set_model_config(const std::string& path, const json& config) {
  set_attribute(path, "/", "model_config", config.dump());
}

// Writes a variable-length string attribute (what h5py 3 writes for str values), scalar or list, ASCII or UTF-8.
void write_vlen_strings(const h5::Object& obj, const std::string& name, const std::vector<std::string>& values,
                        bool scalar, H5T_cset_t cset) {
  if (H5Aexists(obj.id(), name.c_str()) > 0) REQUIRE(H5Adelete(obj.id(), name.c_str()) >= 0);
  h5::Handle type(H5Tcopy(H5T_C_S1));
  REQUIRE(H5Tset_size(type.get(), H5T_VARIABLE) >= 0);
  REQUIRE(H5Tset_cset(type.get(), cset) >= 0);
  const hsize_t n = values.size();
  h5::Handle space(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr));
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  h5::Handle attr(H5Acreate2(obj.id(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
  REQUIRE(attr.valid());
  REQUIRE(H5Awrite(attr.get(), type.get(), ptrs.data()) >= 0);
}

// The Fashion-MNIST test set as bytes.
struct TestSet {
  std::vector<std::uint8_t> images, labels;
  Index n = 0;
};

TestSet load_test_set(const std::string& dir) {
  IdxArray images = read_idx(dir + "/t10k-images-idx3-ubyte.gz");
  IdxArray labels = read_idx(dir + "/t10k-labels-idx1-ubyte.gz");
  REQUIRE(images.dims.size() == 3);
  REQUIRE(images.dims[1] == 28);
  REQUIRE(labels.dims[0] == images.dims[0]);
  return {std::move(images.data), std::move(labels.data), static_cast<Index>(images.dims[0])};
}

// Accuracy of a model over the test set, pixels / 255 as float32, like the Keras notebooks that made the files.
double test_accuracy(Sequential<float>& model, const TestSet& data) {
  const Index batch = 500;
  Index correct = 0;
  Tensor<float> x;
  for (Index begin = 0; begin < data.n; begin += batch) {
    const Index count = std::min(batch, data.n - begin);
    x.resize(Shape{count, 28, 28, 1});
    for (Index i = 0; i < count * 784; ++i) x[i] = static_cast<float>(data.images[begin * 784 + i]) / 255.0f;
    const Tensor<float> p = model.predict(x, batch);
    for (Index i = 0; i < count; ++i) {
      Index best = 0;
      for (Index k = 1; k < 10; ++k)
        if (p.at(i, k) > p.at(i, best)) best = k;
      correct += best == data.labels[begin + i];
    }
  }
  return static_cast<double>(correct) / static_cast<double>(data.n);
}

}  // namespace

TEST_CASE_TEMPLATE("keras_h5: Dense, Flatten, Dropout and activation layers round-trip bit for bit", S, float, double) {
  Sequential<S> model = small_model<S>();
  const std::string path = tmp_file(std::string("small_") + keras_detail::dtype_name<S>() + ".h5");
  save_model(model, path);
  Sequential<S> loaded = load_model<S>(path);
  check_same_model(model, loaded, small_input<S>());
  CHECK(loaded.name() == "small");
  CHECK(loaded.input_shape() == Shape{6, 5, 2});
}

TEST_CASE_TEMPLATE("keras_h5: the study models round-trip bit for bit", S, float, double) {
  Sequential<S> first = keras_h5_test::first_model<S>();
  Sequential<S> improved = keras_h5_test::improved_model<S>();
  CHECK(first.count_params() == 243786);
  CHECK(improved.count_params() == 225034);
  const Tensor<S> x = keras_h5_test::fixed_input<S>(8);
  for (Sequential<S>* m : {&first, &improved}) {
    const std::string path = tmp_file("study_" + std::to_string(m->count_params()) + "_" + keras_detail::dtype_name<S>() + ".h5");
    save_model(*m, path);
    Sequential<S> loaded = load_model<S>(path);
    check_same_model(*m, loaded, x);
  }
}

TEST_CASE("keras_h5: the file holds what Keras' loader reads") {
  Sequential<float> model = keras_h5_test::first_model<float>();
  const std::string path = tmp_file("layout_first.h5");
  save_model(model, path);
  h5::File f = h5::File::open(path);
  // Every string attribute is fixed-length (Keras <= 2.3 on h5py 3 cannot decode variable-length ones).
  auto is_fixed_string = [](const h5::Object& obj, const std::string& name) {
    h5::Handle a(H5Aopen(obj.id(), name.c_str(), H5P_DEFAULT));
    h5::Handle t(H5Aget_type(a.get()));
    return H5Tget_class(t.get()) == H5T_STRING && H5Tis_variable_str(t.get()) == 0;
  };
  for (const char* name : {"keras_version", "backend", "model_config", "training_config"}) {
    CAPTURE(name);
    CHECK(is_fixed_string(f, name));
  }
  CHECK(f.read_string("keras_version", 100) == "2.11.0");
  CHECK(f.read_string("backend", 100) == "tensorflow");
  const json mc = json::parse(f.read_string("model_config", 1 << 20));
  CHECK(mc["class_name"] == "Sequential");
  CHECK(mc["keras_version"] == "2.11.0");
  CHECK(mc["backend"] == "tensorflow");
  CHECK(mc["config"]["layers"][0]["class_name"] == "InputLayer");
  CHECK(mc["config"]["layers"][0]["config"]["batch_input_shape"] == json::parse("[null, 28, 28, 1]"));
  CHECK(mc["config"]["layers"][1]["config"]["batch_input_shape"] == json::parse("[null, 28, 28, 1]"));
  CHECK_FALSE(mc["config"]["layers"][1]["config"].contains("groups"));
  const json tc = json::parse(f.read_string("training_config", 1 << 20));
  CHECK(tc["loss"] == "categorical_crossentropy");
  CHECK(tc["optimizer_config"]["class_name"] == "Adam");
  CHECK(tc["optimizer_config"]["config"]["learning_rate"] == 1e-3);

  h5::Group g = f.group("model_weights");
  for (const char* name : {"layer_names", "backend", "keras_version"}) CHECK(is_fixed_string(g, name));
  CHECK(g.read_strings("layer_names", 100, 10000) ==
        std::vector<std::string>{"conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "flatten", "dense",
                                 "dropout", "dense_1"});
  CHECK(g.group("conv2d").read_strings("weight_names", 10, 1000) ==
        std::vector<std::string>{"conv2d/kernel:0", "conv2d/bias:0"});
  CHECK(g.group("conv2d").dataset("conv2d/kernel:0").dims() == std::vector<hsize_t>{3, 3, 1, 64});
  CHECK(g.group("dense").dataset("dense/kernel:0").dims() == std::vector<hsize_t>{1600, 128});
  CHECK(g.group("dense").dataset("dense/kernel:0").type_name() == "float32");
  // A weightless layer's weight_names is an empty float64 array, as numpy makes of [].
  {
    h5::Handle a(H5Aopen(g.group("flatten").id(), "weight_names", H5P_DEFAULT));
    h5::Handle t(H5Aget_type(a.get())), s(H5Aget_space(a.get()));
    CHECK(H5Tequal(t.get(), H5T_IEEE_F64LE) > 0);
    CHECK(H5Sget_simple_extent_npoints(s.get()) == 0);
    CHECK(H5Sget_simple_extent_ndims(s.get()) == 1);
  }
  CHECK(g.has("top_level_model_weights"));
  CHECK_FALSE(f.has("optimizer_weights"));  // only when asked for
}

TEST_CASE("keras_h5: double models store float64; loading converts to the Scalar asked for") {
  Sequential<double> d = keras_h5_test::first_model<double>();
  const std::string path = tmp_file("first_double.h5");
  save_model(d, path);
  {
    h5::File f = h5::File::open(path);
    CHECK(f.group("model_weights/dense/dense").dataset("kernel:0").type_name() == "float64");
    CHECK(json::parse(f.read_string("model_config", 1 << 20))["config"]["layers"][1]["config"]["dtype"] == "float64");
  }
  Sequential<float> as_float = load_model<float>(path);
  const Tensor<double> pd = d.predict(keras_h5_test::fixed_input<double>(4));
  const Tensor<float> pf = as_float.predict(keras_h5_test::fixed_input<float>(4));
  for (Index i = 0; i < pd.size(); ++i) CHECK(pf[i] == doctest::Approx(pd[i]).epsilon(1e-5));

  Sequential<float> f = keras_h5_test::first_model<float>();
  save_model(f, tmp_file("first_float.h5"));
  Sequential<double> as_double = load_model<double>(tmp_file("first_float.h5"));
  const auto wf = f.get_weights();
  const auto wd = as_double.get_weights();
  bool exact = wf.size() == wd.size();
  for (std::size_t i = 0; exact && i < wf.size(); ++i)
    for (Index k = 0; k < wf[i].size(); ++k) exact = exact && static_cast<double>(wf[i][k]) == wd[i][k];
  CHECK(exact);  // float -> double widening is exact
}

TEST_CASE("keras_h5: optimizer state saved on request resumes training bit for bit") {
  Sequential<float> m(Shape{4, 4, 1}, "resume");
  m.set_seed(21);
  m.add(Flatten<float>());
  m.add(Dense<float>(12, "relu"));
  m.add(Dense<float>(3, "softmax"));
  m.compile(Adam<float>(3e-3));
  Tensor<float> x(Shape{6, 4, 4, 1});
  Rng rng(9);
  for (Index i = 0; i < x.size(); ++i) x[i] = static_cast<float>(rng.uniform());
  const Tensor<float> y = labels_for<float>(6, 3);
  for (int i = 0; i < 3; ++i) m.train_on_batch(x, y);

  const std::string path = tmp_file("resume.h5");
  SaveOptions opts;
  opts.include_optimizer_state = true;
  save_model(m, path, opts);
  {
    h5::File f = h5::File::open(path);
    REQUIRE(f.has("optimizer_weights"));
    const auto names = f.group("optimizer_weights").read_strings("weight_names", 100, 10000);
    REQUIRE(names.size() == 9);
    CHECK(names[0] == "Adam/iter:0");
    CHECK(names[1] == "Adam/dense/kernel/m:0");
    CHECK(names[5] == "Adam/dense/kernel/v:0");
  }
  Sequential<float> loaded = load_model<float>(path);
  CHECK(loaded.optimizer().iterations() == 3);
  m.train_on_batch(x, y);
  loaded.train_on_batch(x, y);
  const auto a = m.get_weights(), b = loaded.get_weights();
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(bitwise_equal(a[i], b[i]));

  // Without the state the optimizer starts afresh, as Keras does when it cannot restore it.
  save_model(m, tmp_file("resume_nostate.h5"));
  CHECK(load_model<float>(tmp_file("resume_nostate.h5")).optimizer().iterations() == 0);
  LoadOptions no_state;
  no_state.load_optimizer_state = false;
  CHECK(load_model<float>(path, no_state).optimizer().iterations() == 0);
}

TEST_CASE("keras_h5: SGD and uncompiled models") {
  Sequential<float> m = small_model<float>();
  m.compile(SGD<float>(0.05, 0.9, true));
  save_model(m, tmp_file("sgd.h5"));
  Sequential<float> loaded = load_model<float>(tmp_file("sgd.h5"));
  CHECK(loaded.optimizer().class_name() == "SGD");
  CHECK(loaded.optimizer().config() == m.optimizer().config());

  // Not compiled: no training_config; load_model compiles with Adam's defaults.
  Sequential<float> plain(Shape{3});
  plain.add(Dense<float>(2));
  save_model(plain, tmp_file("plain.h5"));
  {
    h5::File f = h5::File::open(tmp_file("plain.h5"));
    CHECK_FALSE(f.has_attribute("training_config"));
  }
  Sequential<float> p = load_model<float>(tmp_file("plain.h5"));
  CHECK(p.optimizer().class_name() == "Adam");
  CHECK(p.optimizer().learning_rate() == 1e-3);
  LoadOptions no_compile;
  no_compile.compile = false;
  CHECK_FALSE(load_model<float>(tmp_file("plain.h5"), no_compile).compiled());
}

TEST_CASE("keras_h5: save_weights / load_weights match layers by order and check every shape") {
  Sequential<float> a = small_model<float>();
  const std::string path = tmp_file("weights_only.h5");
  save_weights(a, path);
  {
    h5::File f = h5::File::open(path);
    CHECK(f.has_attribute("layer_names"));  // at the root, as Keras' save_weights writes it
    CHECK_FALSE(f.has_attribute("model_config"));
  }
  // Same architecture, other names and seed: Keras' by-topology loading ignores the names.
  auto renamed = [](std::uint64_t seed) {
    Sequential<float> b(Shape{6, 5, 2}, "other");
    b.set_seed(seed);
    b.add(Flatten<float>("f"));
    b.add(Dense<float>(16, "relu", true, "d0"));
    b.add(Dropout<float>(0.5, "drop"));
    b.add(ReLU<float>("r"));
    b.add(Dense<float>(8, Activation::linear, false, "d1"));
    b.add(ActivationOf<float>("relu", "act"));
    b.add(Dense<float>(4, Activation::linear, true, "d2"));
    b.add(Softmax<float>("sm"));
    return b;
  };
  Sequential<float> b = renamed(99);
  CHECK_FALSE(bitwise_equal(a.predict(small_input<float>()), b.predict(small_input<float>())));
  load_weights(b, path);
  CHECK(bitwise_equal(a.predict(small_input<float>()), b.predict(small_input<float>())));

  // A full model file works too.
  save_model(a, tmp_file("weights_full.h5"));
  Sequential<float> c = renamed(98);
  load_weights(c, tmp_file("weights_full.h5"));
  CHECK(bitwise_equal(a.predict(small_input<float>()), c.predict(small_input<float>())));

  // A different shape is refused before anything changes, naming the dataset, both shapes and the layer.
  Sequential<float> wrong(Shape{6, 5, 2});
  wrong.add(Flatten<float>());
  wrong.add(Dense<float>(17, "relu"));
  wrong.add(Dense<float>(8, Activation::linear, false));
  wrong.add(Dense<float>(4));
  wrong.build();
  const auto before = wrong.get_weights();
  const std::string msg = message_of<ShapeError>([&] { load_weights(wrong, path); });
  INFO(msg);
  CHECK(contains(msg, path));
  CHECK(contains(msg, "/dense/dense/kernel:0"));
  CHECK(contains(msg, "(60, 16)"));
  CHECK(contains(msg, "(60, 17)"));
  CHECK(contains(msg, "dense"));
  const auto after = wrong.get_weights();
  for (std::size_t i = 0; i < before.size(); ++i) CHECK(bitwise_equal(before[i], after[i]));

  // A different number of layers with weights.
  Sequential<float> fewer(Shape{6, 5, 2});
  fewer.add(Flatten<float>());
  fewer.add(Dense<float>(4));
  const std::string msg2 = message_of<ShapeError>([&] { load_weights(fewer, path); });
  INFO(msg2);
  CHECK(contains(msg2, "holds weights for 3 layers"));
  CHECK(contains(msg2, "has 1 layers with weights"));
}

TEST_CASE("keras_h5: weights are taken in weight_names order, each name a path relative to the layer group") {
  Sequential<float> m = small_model<float>();
  const std::string path = tmp_file("renamed_weights.h5");
  save_model(m, path);
  {
    // Keras 3 style: nested names without ":0", listed in an order that is not the alphabetical one.
    h5::File f = h5::File::open(path, true);
    h5::Group lg = f.group("model_weights/dense");
    std::vector<float> kernel(60 * 16), bias(16);
    lg.dataset("dense/kernel:0").read(kernel.data(), kernel.size());
    lg.dataset("dense/bias:0").read(bias.data(), bias.size());
    lg.remove("dense");
    lg.create_dataset("sequential/z_dense/kernel", {60, 16}, H5T_IEEE_F32LE).write(kernel.data());
    lg.create_dataset("sequential/a_dense/bias", {16}, H5T_IEEE_F32LE).write(bias.data());
    lg.write_strings("weight_names", {"sequential/z_dense/kernel", "sequential/a_dense/bias"});
    // tf.keras >= 2.5 also writes a group that is not in layer_names; it must be ignored.
    f.close();
  }
  Sequential<float> loaded = load_model<float>(path);
  CHECK(bitwise_equal(m.predict(small_input<float>()), loaded.predict(small_input<float>())));
}

TEST_CASE("keras_h5: string attributes in every form Keras and h5py write them") {
  // A UTF-8 layer name goes out as a fixed-length UTF-8 string and comes back unchanged.
  Sequential<float> m(Shape{3}, "utf8");
  m.set_seed(8);
  m.add(Dense<float>(4, "relu", true, "dense_\xc3\xa9t\xc3\xa9"));
  m.add(Dense<float>(2, "softmax"));
  m.compile();
  const std::string path = tmp_file("strings.h5");
  save_model(m, path);
  Tensor<float> x(Shape{2, 3}, 0.25f);
  {
    Sequential<float> loaded = load_model<float>(path);
    check_same_model(m, loaded, x);
    CHECK(loaded.layer(0).name() == "dense_\xc3\xa9t\xc3\xa9");
  }
  // The same file with h5py 3's variable-length strings (UTF-8 and ASCII), model_config included, and with
  // layer_names split into variable-length chunks.
  {
    h5::File f = h5::File::open(path, true);
    const std::string mc = f.read_string("model_config", 1 << 20);
    write_vlen_strings(f, "model_config", {mc}, true, H5T_CSET_ASCII);
    write_vlen_strings(f, "keras_version", {"2.11.0"}, true, H5T_CSET_UTF8);
    h5::Group g = f.group("model_weights");
    g.remove_attribute("layer_names");
    write_vlen_strings(g, "layer_names0", {"dense_\xc3\xa9t\xc3\xa9"}, false, H5T_CSET_UTF8);
    write_vlen_strings(g, "layer_names1", {"dense"}, false, H5T_CSET_ASCII);
    h5::Group lg = g.group("dense");
    write_vlen_strings(lg, "weight_names", {"dense/kernel:0", "dense/bias:0"}, false, H5T_CSET_ASCII);
    f.close();
  }
  Sequential<float> loaded = load_model<float>(path);
  check_same_model(m, loaded, x);
}

TEST_CASE("keras_h5: long layer lists are split like Keras, and a huge model_config still saves") {
  Sequential<float> m(Shape{4}, "long");
  m.set_seed(4);
  for (int i = 0; i < 300; ++i)
    m.add(Dense<float>(2, "relu", true, "dense_" + std::to_string(i) + "_" + std::string(240, 'x')));
  m.compile();
  const std::string path = tmp_file("chunked.h5");
  save_model(m, path);
  {
    h5::File f = h5::File::open(path);
    h5::Group g = f.group("model_weights");
    CHECK_FALSE(g.has_attribute("layer_names"));
    CHECK(g.has_attribute("layer_names0"));
    CHECK(g.has_attribute("layer_names1"));
    CHECK_FALSE(g.has_attribute("layer_names2"));
    // numpy's array_split: 300 names of 250 bytes in two chunks of 150.
    CHECK(g.read_strings("layer_names0", 1000, 1 << 20).size() == 150);
    CHECK(f.read_string("model_config", 1 << 26).size() > 64512);
  }
  Sequential<float> loaded = load_model<float>(path);
  Tensor<float> x(Shape{3, 4}, 0.5f);
  check_same_model(m, loaded, x);
}

TEST_CASE("keras_h5: real Keras files load and reach their published accuracy") {
  const std::string dir = test_support::keras_fixtures_dir();
  const std::string data_dir = "/usr/share/datasets/fashion-mnist";
  if (!exists(dir)) {
    MESSAGE("SKIPPED: no Keras fixtures at " << dir);
    return;
  }
  if (!exists(data_dir + "/t10k-images-idx3-ubyte.gz")) {
    MESSAGE("SKIPPED: no Fashion-MNIST test set at " << data_dir);
    return;
  }
  const TestSet data = load_test_set(data_dir);
  REQUIRE(data.n == 10000);
  struct Case {
    const char* file;
    double accuracy;
    std::int64_t iterations;  // the optimizer steps recorded in the file
    Index params;
  };
  for (const Case& c : {Case{"hgmldl_tf2.11.0_best-cnn-model.h5", 0.9168, 10500, 333526},
                        Case{"hgmldl_tf2.4.0_best-cnn-model.h5", 0.9152, 16500, 333526},
                        Case{"sharmeen_keras3.14.1_fashion_mnist_cnn.h5", 0.9138, 15000, 225034},
                        // Conv-BN-Activation(relu)-MaxPool(same) x3, Dense300, softmax Activation; standalone
                        // Keras 2.1.6, list-style config. 250,478 = 320 + 128 + 18,496 + 256 + 73,856 + 512 +
                        // 153,900 + 3,010 (BN: 4 x channels, of which 2 x channels non-trainable).
                        // Its optimizer state (standalone Keras' 'training/Adam/Variable_N:0') is a layout nnlite does not map: a
                        // fresh optimizer, as LoadOptions::load_optimizer_state documents.
                        Case{"EXTRA_evanchien_keras2.1.6_fashion_mnist.h5", 0.9108, 0, 250478}}) {
    const std::string path = dir + "/" + c.file;
    CAPTURE(path);
    if (!exists(path)) {
      MESSAGE("SKIPPED: " << path << " is missing");
      continue;
    }
    std::vector<LoadWarning> warnings;
    LoadOptions o;
    o.on_warning = [&](const LoadWarning& w) { warnings.push_back(w); };
    Sequential<float> model = load_model<float>(path, o);
    CHECK(model.count_params() == c.params);
    CHECK(model.optimizer().class_name() == "Adam");
    // The file's metrics: "accuracy" in every form (a bare string in tf.keras 2.4, [["MeanMetricWrapper(accuracy,
    // fn=sparse_categorical_accuracy)"]] in 2.11, ["accuracy"] in Keras 3 and 2.1.6), resolved as Keras does from
    // the loss: sparse accuracy under sparse_categorical_crossentropy (all but the 2.1.6 file).
    REQUIRE(model.metric_names() == std::vector<std::string>{"accuracy"});
    const bool sparse = model.loss().name() == "sparse_categorical_crossentropy";
    CHECK(sparse == (c.iterations != 0));
    CHECK((dynamic_cast<SparseCategoricalAccuracy<float>*>(model.metrics()[0].get()) != nullptr) == sparse);
    CHECK((dynamic_cast<CategoricalAccuracy<float>*>(model.metrics()[0].get()) != nullptr) == !sparse);
    // Only the 2.1.6 file's optimizer state is skipped, and said so.
    REQUIRE(warnings.size() == (c.iterations == 0 ? 1u : 0u));
    if (!warnings.empty()) CHECK(warnings[0].item == "optimizer state");
    CHECK(model.optimizer().learning_rate() == doctest::Approx(1e-3));
    CHECK(model.optimizer().iterations() == c.iterations);  // Adam's state came back too
    const double acc = test_accuracy(model, data);
    MESSAGE(std::string(c.file) << ": test accuracy " << acc << " (published " << c.accuracy << ")");
    CHECK(std::abs(acc - c.accuracy) <= 0.0005);
    CHECK(std::round(acc * 10000) == std::round(c.accuracy * 10000));  // the README's four decimals
  }
}

TEST_CASE("keras_h5: missing, foreign, truncated and damaged files give clear errors") {
  Sequential<float> model = keras_h5_test::first_model<float>();
  const std::string good = tmp_file("damage_source.h5");
  save_model(model, good);
  const std::string bytes = read_bytes(good);

  SUBCASE("missing file") {
    const std::string path = tmp_file("does_not_exist.h5");
    const std::string msg = message_of<IoError>([&] { load_model<float>(path); });
    INFO(msg);
    CHECK(contains(msg, path));
    CHECK(contains(msg, "No such file"));
  }
  SUBCASE("not HDF5") {
    const std::string path = tmp_file("text.h5");
    write_bytes(path, "this is a text file, not a model\n");
    const std::string msg = message_of<FormatError>([&] { load_model<float>(path); });
    INFO(msg);
    CHECK(contains(msg, path));
    CHECK(contains(msg, "not a readable HDF5 file"));
  }
  SUBCASE("truncated") {
    for (std::size_t keep : {std::size_t(100), bytes.size() / 2, bytes.size() - 1000}) {
      CAPTURE(keep);
      const std::string path = tmp_file("truncated.h5");
      write_bytes(path, bytes.substr(0, keep));
      const std::string msg = message_of<FormatError>([&] { load_model<float>(path); });
      INFO(msg);
      CHECK(contains(msg, path));
    }
  }
  SUBCASE("no model_config") {
    const std::string path = tmp_file("no_config.h5");
    save_weights(model, path);
    const std::string msg = message_of<FormatError>([&] { load_model<float>(path); });
    INFO(msg);
    CHECK(contains(msg, "no 'model_config'"));
    CHECK(contains(msg, "load_weights"));
  }
  SUBCASE("model_config that is not JSON, or nests absurdly deep") {
    const std::string path = tmp_file("bad_json.h5");
    write_bytes(path, bytes);
    set_attribute(path, "/", "model_config", "{\"class_name\": \"Sequential\", ");
    std::string msg = message_of<FormatError>([&] { load_model<float>(path); });
    INFO(msg);
    CHECK(contains(msg, "'model_config' is not valid JSON"));
    set_attribute(path, "/", "model_config", std::string(30000, '[') + std::string(30000, ']'));
    msg = message_of<FormatError>([&] { load_model<float>(path); });
    CHECK(contains(msg, "nests deeper"));
  }
  SUBCASE("a dataset of the wrong shape") {
    const std::string path = tmp_file("wrong_shape.h5");
    write_bytes(path, bytes);
    {
      h5::File f = h5::File::open(path, true);
      h5::Group lg = f.group("model_weights/dense/dense");
      lg.remove("kernel:0");
      std::vector<float> v(1600 * 127, 0.5f);
      lg.create_dataset("kernel:0", {1600, 127}, H5T_IEEE_F32LE).write(v.data());
      f.close();
    }
    const std::string msg = message_of<ShapeError>([&] { load_model<float>(path); });
    INFO(msg);
    CHECK(contains(msg, path));
    CHECK(contains(msg, "/model_weights/dense/dense/kernel:0"));
    CHECK(contains(msg, "(1600, 127)"));
    CHECK(contains(msg, "(1600, 128)"));
  }
  SUBCASE("a weight of the wrong dtype") {
    const std::string path = tmp_file("wrong_dtype.h5");
    write_bytes(path, bytes);
    {
      h5::File f = h5::File::open(path, true);
      h5::Group lg = f.group("model_weights/conv2d/conv2d");
      lg.remove("bias:0");
      std::vector<int> v(64, 1);
      h5::Dataset ds = lg.create_dataset("bias:0", {64}, H5T_STD_I32LE);
      REQUIRE(H5Dwrite(ds.id(), H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) >= 0);
      ds.reset();
      f.close();
    }
    const std::string msg = message_of<FormatError>([&] { load_model<float>(path); });
    INFO(msg);
    CHECK(contains(msg, "/model_weights/conv2d/conv2d/bias:0"));
    CHECK(contains(msg, "int32"));
  }
  SUBCASE("an unknown layer class") {
    const std::string path = tmp_file("unknown_class.h5");
    write_bytes(path, bytes);
    json mc = model_config_of(path);
    mc["config"]["layers"][7]["class_name"] = "LSTM";  // the dropout layer
    set_model_config(path, mc);
    const std::string msg = message_of<UnsupportedError>([&] { load_model<float>(path); });
    INFO(msg);
    CHECK(contains(msg, "LSTM"));
    CHECK(contains(msg, "'dropout'"));
    CHECK(contains(msg, path));
  }
  SUBCASE("layer_names naming a missing group, or climbing out of model_weights") {
    const std::string path = tmp_file("bad_layer_names.h5");
    for (const char* bad : {"nonexistent", "../model_weights", "/model_weights"}) {
      CAPTURE(bad);
      write_bytes(path, bytes);
      {
        h5::File f = h5::File::open(path, true);
        h5::Group g = f.group("model_weights");
        g.write_strings("layer_names", {"conv2d", bad});
        f.close();
      }
      const std::string msg = message_of<FormatError>([&] { load_model<float>(path); });
      INFO(msg);
      CHECK(contains(msg, path));
    }
  }
  SUBCASE("a soft link instead of a dataset") {
    const std::string path = tmp_file("soft_link.h5");
    write_bytes(path, bytes);
    {
      h5::File f = h5::File::open(path, true);
      h5::Group lg = f.group("model_weights/dense_1/dense_1");
      lg.remove("bias:0");
      REQUIRE(H5Lcreate_soft("/model_weights/dense/dense/bias:0", lg.id(), "bias:0", H5P_DEFAULT, H5P_DEFAULT) >= 0);
      f.close();
    }
    const std::string msg = message_of<FormatError>([&] { load_model<float>(path); });
    INFO(msg);
    CHECK(contains(msg, "soft or external link"));
  }
  SUBCASE("an unsupported optimizer option is skipped with a warning, and the model still loads") {
    const std::string path = tmp_file("use_ema.h5");
    write_bytes(path, bytes);
    {
      h5::File f = h5::File::open(path);
      json tc = json::parse(f.read_string("training_config", 1 << 20));
      f.close();
      tc["optimizer_config"]["config"]["use_ema"] = true;  // (amsgrad, refused before, is supported now)
      set_attribute(path, "/", "training_config", tc.dump());
    }
    std::vector<LoadWarning> warnings;
    LoadOptions o;
    o.on_warning = [&](const LoadWarning& w) { warnings.push_back(w); };
    Sequential<float> m = load_model<float>(path, o);
    CHECK(m.count_params() == 243786);
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].item == "optimizer");
    CHECK(warnings[0].name == "Adam");
    CHECK(contains(warnings[0].message, "use_ema"));
    CHECK(contains(warnings[0].message, path));
    CHECK(m.compiled());  // with Adam's defaults
    CHECK(m.optimizer().learning_rate() == doctest::Approx(0.001));
    o.compile = false;
    CHECK(load_model<float>(path, o).count_params() == 243786);
  }
}

TEST_CASE(
    "keras_h5: a training_config nnlite cannot honour is skipped with warnings; the model loads and predicts the "
    "same") {
  Sequential<float> original = small_model<float>();
  const Tensor<float> x = small_input<float>();
  const Tensor<float> expected = original.predict(x);
  const std::string source = tmp_file("honour_source.h5");
  save_model(original, source, SaveOptions{true, true});  // with /optimizer_weights
  const std::string bytes = read_bytes(source);
  const json base = [&] {
    h5::File f = h5::File::open(source);
    return json::parse(f.read_string("training_config", 1 << 20));
  }();
  // Writes the file with training_config `tc` (a JSON text), loads it, and checks it predicts what the original did.
  auto load_with = [&](const std::string& name, const std::string& tc, std::vector<LoadWarning>& warnings) {
    const std::string path = tmp_file(name);
    write_bytes(path, bytes);
    set_attribute(path, "/", "training_config", tc);
    LoadOptions o;
    o.on_warning = [&](const LoadWarning& w) { warnings.push_back(w); };
    Sequential<float> m = load_model<float>(path, o);
    CHECK(bitwise_equal(m.predict(x), expected));
    for (const auto& w : warnings) CHECK(contains(w.message, path));
    return m;
  };

  SUBCASE("an unknown loss: the model loads uncompiled, and the loss is reported by name") {
    json tc = base;
    tc["loss"] = "focal_crossentropy_of_mine";
    std::vector<LoadWarning> w;
    Sequential<float> m = load_with("unknown_loss.h5", tc.dump(), w);
    CHECK_FALSE(m.compiled());
    REQUIRE(w.size() == 1);
    CHECK(w[0].item == "loss");
    CHECK(w[0].name == "focal_crossentropy_of_mine");
    CHECK(contains(w[0].message, "uncompiled"));
    // A serialized loss object of a class nnlite lacks, Keras 3's form.
    tc["loss"] = {{"module", "keras.losses"},
                  {"class_name", "CategoricalFocalCrossentropy"},
                  {"config", {{"name", "categorical_focal_crossentropy"}, {"gamma", 2.0}}},
                  {"registered_name", nullptr}};
    w.clear();
    CHECK_FALSE(load_with("unknown_loss_object.h5", tc.dump(), w).compiled());
    REQUIRE(w.size() == 1);
    CHECK(w[0].name == "categorical_focal_crossentropy");
    // A loss nnlite has, with an option it refuses.
    tc["loss"] = {{"class_name", "CategoricalCrossentropy"}, {"config", {{"axis", 1}}}};
    w.clear();
    CHECK_FALSE(load_with("refused_loss_option.h5", tc.dump(), w).compiled());
    REQUIRE(w.size() == 1);
    CHECK(w[0].item == "loss");
    CHECK(contains(w[0].message, "axis"));
  }
  SUBCASE("an unknown optimizer: compiled with Adam's defaults, its saved state not applied") {
    json tc = base;
    tc["optimizer_config"] = {{"class_name", "Lion"}, {"config", {{"learning_rate", 1e-4}, {"beta_1", 0.9}}}};
    std::vector<LoadWarning> w;
    Sequential<float> m = load_with("unknown_optimizer.h5", tc.dump(), w);
    REQUIRE(m.compiled());
    CHECK(m.optimizer().class_name() == "Adam");
    CHECK(m.optimizer().learning_rate() == doctest::Approx(0.001));
    CHECK(m.optimizer().iterations() == 0);  // the file's Lion state is not Adam's
    CHECK(m.loss().name() == "categorical_crossentropy");
    CHECK(m.metric_names() == std::vector<std::string>{"accuracy"});
    REQUIRE(w.size() == 1);
    CHECK(w[0].item == "optimizer");
    CHECK(w[0].name == "Lion");
    CHECK(contains(w[0].message, "Adam's defaults"));
  }
  SUBCASE("metrics: those nnlite has are compiled, in every Keras form; the others are reported by name") {
    json tc = base;
    tc["metrics"] = json::parse(R"([
      ["acc",
       "f1_score_of_mine",
       {"class_name": "MeanMetricWrapper", "config": {"name": "accuracy", "dtype": "float32", "fn": "categorical_accuracy"}},
       {"class_name": "MeanMetricWrapper", "config": {"name": "my_acc", "dtype": "float32", "fn": "categorical_accuracy"}},
       {"module": "keras.metrics", "class_name": "TopKCategoricalAccuracy",
        "config": {"name": "top_k_categorical_accuracy", "dtype": "float32", "k": 5}, "registered_name": null},
       {"class_name": "TopKCategoricalAccuracy", "config": {"name": "top3", "k": 3}},
       {"class_name": "Precision", "config": {"name": "precision", "thresholds": null, "top_k": null, "class_id": null}},
       {"class_name": "F1Score", "config": {"name": "f1_score"}},
       {"class_name": "Accuracy", "config": {"name": "exact", "dtype": "float32"}},
       "mae"]])");
    tc["weighted_metrics"] = json::array({"accuracy"});
    std::vector<LoadWarning> w;
    Sequential<float> m = load_with("metrics.h5", tc.dump(), w);
    REQUIRE(m.compiled());
    // "accuracy" of MeanMetricWrapper(fn=categorical_accuracy) is nnlite's "accuracy" under categorical CE;
    // my_acc is nnlite's categorical_accuracy under that name.
    CHECK(m.metric_names() == std::vector<std::string>{"acc", "accuracy", "categorical_accuracy",
                                                       "top_k_categorical_accuracy", "precision", "mae"});
    CHECK(m.optimizer().iterations() == 3);  // the file's own Adam, with its state
    std::vector<std::string> names, items;
    for (const auto& v : w) names.push_back(v.name), items.push_back(v.item);
    // Keras' Accuracy class is exact equality, which nnlite's "accuracy" (argmax) is not: skipped, not mistaken.
    CHECK(names == std::vector<std::string>{"accuracy", "f1_score_of_mine", "my_acc", "top3", "f1_score", "exact"});
    CHECK(items == std::vector<std::string>(6, "metric"));
    CHECK(contains(w[5].message, "exact-match"));
    CHECK(contains(w[0].message, "weighted_metrics"));
    CHECK(contains(w[2].message, "compiled as nnlite's 'categorical_accuracy'"));
    CHECK(contains(w[3].message, "k = 3"));
    // The compiled metrics are live: evaluate() reports each under its name.
    const Logs logs = m.evaluate(x, labels_for<float>(5, 4)).logs;
    CHECK(logs.count("acc") == 1);
    CHECK(logs.count("top_k_categorical_accuracy") == 1);
    CHECK(logs.at("top_k_categorical_accuracy") == doctest::Approx(1.0));  // 4 classes: always in the top 5
  }
  SUBCASE("a training_config that is not JSON, or not an object: uncompiled, with a warning") {
    for (const char* tc : {"{\"loss\": ", "[1, 2]"}) {
      CAPTURE(tc);
      std::vector<LoadWarning> w;
      CHECK_FALSE(load_with("bad_training_config.h5", tc, w).compiled());
      REQUIRE(w.size() == 1);
      CHECK(w[0].item == "training_config");
    }
  }
  SUBCASE("without on_warning the warnings go to std::cerr and the load goes on") {
    json tc = base;
    tc["loss"] = "no_such_loss";
    const std::string path = tmp_file("warn_to_cerr.h5");
    write_bytes(path, bytes);
    set_attribute(path, "/", "training_config", tc.dump());
    std::ostringstream captured;
    std::streambuf* old = std::cerr.rdbuf(captured.rdbuf());
    Sequential<float> m = load_model<float>(path);
    std::cerr.rdbuf(old);
    CHECK(contains(captured.str(), "WARNING: "));
    CHECK(contains(captured.str(), "no_such_loss"));
    CHECK(bitwise_equal(m.predict(x), expected));
    LoadOptions isolated;  // the child's load stays silent; the warning comes once, from here
    isolated.isolate = true;
    std::vector<LoadWarning> w;
    isolated.on_warning = [&](const LoadWarning& v) { w.push_back(v); };
    CHECK_FALSE(load_model<float>(path, isolated).compiled());
    CHECK(w.size() == 1);
  }
}

TEST_CASE("keras_h5: sizes from a hostile file are refused before anything is allocated") {
  const json base = keras_model_config(keras_h5_test::first_model<float>());
  {
    json mc = base;
    mc["config"]["layers"][6]["config"]["units"] = 1000000000000LL;
    const std::string msg = message_of<FormatError>([&] { model_from_keras_config<float>(mc, "hostile"); });
    INFO(msg);
    CHECK(contains(msg, "'units'"));
  }
  {
    json mc = base;
    mc["config"]["layers"][0]["config"]["batch_input_shape"] = json::parse("[null, 1000000, 1000000, 1000000]");
    const std::string msg = message_of<FormatError>([&] { model_from_keras_config<float>(mc, "hostile"); });
    INFO(msg);
    CHECK(contains(msg, "limit"));
  }
  {
    LoadOptions tight;
    tight.max_tensor_elements = 100000;  // the dense kernel holds 204,800
    const std::string msg = message_of<FormatError>([&] { model_from_keras_config<float>(base, "tight", tight); });
    INFO(msg);
    CHECK(contains(msg, "layer 'dense'"));
    tight.max_tensor_elements = Index(1) << 28;
    tight.max_total_params = 200000;
    CHECK(contains(message_of<FormatError>([&] { model_from_keras_config<float>(base, "tight", tight); }),
                   "exceed the limit"));
    tight.max_total_params = Index(1) << 29;
    tight.max_layers = 5;
    CHECK(contains(message_of<FormatError>([&] { model_from_keras_config<float>(base, "tight", tight); }),
                   "more than the limit of 5"));
  }
}

TEST_CASE("keras_h5: Keras config variants and unsupported options") {
  // Standalone Keras 2.1: "config" is the list of layers, the input shape sits on the first layer.
  const json list_style = json::parse(R"({"class_name": "Sequential", "config": [
      {"class_name": "Conv2D", "config": {"name": "conv2d_1", "trainable": true, "batch_input_shape": [null, 8, 8, 1],
        "dtype": "float32", "filters": 4, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same",
        "data_format": "channels_last", "dilation_rate": [1, 1], "activation": "linear", "use_bias": false}},
      {"class_name": "Activation", "config": {"name": "activation_1", "activation": "relu"}},
      {"class_name": "MaxPooling2D", "config": {"name": "max_pooling2d_1", "pool_size": [2, 2], "padding": "same",
        "strides": [1, 1], "data_format": "channels_last"}},
      {"class_name": "Flatten", "config": {"name": "flatten_1"}},
      {"class_name": "Dense", "config": {"name": "dense_1", "units": 3, "activation": "softmax", "use_bias": true}}]})");
  Sequential<float> a = model_from_keras_config<float>(list_style);
  CHECK(a.input_shape() == Shape{8, 8, 1});
  CHECK(a.size() == 5);
  const auto& conv = dynamic_cast<const Conv2D<float>&>(a.layer(0));
  CHECK(conv.strides() == Size2(2, 2));
  CHECK(conv.padding() == Padding::same);
  CHECK_FALSE(conv.use_bias());
  CHECK(a.layer(0).output_shape() == Shape{4, 4, 4});
  CHECK(a.layer(2).output_shape() == Shape{4, 4, 4});
  CHECK(a.layer(4).name() == "dense_1");

  // Keras 3: DTypePolicy dicts, "batch_shape", module / registered_name / build_config keys.
  const json keras3 = json::parse(R"({"module": "keras", "class_name": "Sequential", "registered_name": null,
      "config": {"name": "seq3", "trainable": true,
        "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
        "layers": [
          {"module": "keras.layers", "class_name": "InputLayer", "registered_name": null,
           "config": {"batch_shape": [null, 5], "dtype": "float32", "sparse": false, "ragged": false, "name": "input_layer", "optional": false}},
          {"module": "keras.layers", "class_name": "Dense", "registered_name": null, "build_config": {"input_shape": [null, 5]},
           "config": {"name": "dense", "trainable": true, "units": 7, "activation": "relu", "use_bias": true,
             "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
             "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null},
             "quantization_config": null}},
          {"module": "keras.layers", "class_name": "Softmax", "registered_name": null, "config": {"name": "softmax", "axis": -1}}],
        "build_input_shape": [null, 5]}})");
  Sequential<float> b = model_from_keras_config<float>(keras3);
  CHECK(b.name() == "seq3");
  CHECK(b.input_shape() == Shape{5});
  CHECK(b.count_params() == 42);

  // Only build_input_shape.
  json only_build = keras3;
  only_build["config"]["layers"].erase(0);
  CHECK(model_from_keras_config<float>(only_build).input_shape() == Shape{5});

  auto unsupported = [&](json mc, const std::string& fragment) {
    const std::string msg = message_of<UnsupportedError>([&] { model_from_keras_config<float>(mc, "variant"); });
    INFO(msg);
    CHECK(contains(msg, fragment));
    return msg;
  };
  auto with = [&](const char* key, const json& value) {
    json mc = list_style;
    mc["config"][0]["config"][key] = value;
    return mc;
  };
  CHECK(contains(unsupported(with("dilation_rate", {2, 2}), "dilation_rate"), "'conv2d_1'"));
  unsupported(with("groups", 2), "groups");
  unsupported(with("data_format", "channels_first"), "channels_first");
  unsupported(with("activation", "sparsemax"), "sparsemax");
  unsupported(with("padding", "causal"), "causal");
  unsupported(with("batch_input_shape", json::parse("[null, null, 8, 1]")), "unknown dimension");
  {
    json mc = keras3;
    mc["config"]["layers"][1]["config"]["quantization_config"] = {{"mode", "int8"}};
    unsupported(mc, "quantization_config");
    mc = keras3;
    mc["config"]["layers"][2]["config"]["axis"] = 0;
    unsupported(mc, "axis");
    mc = keras3;
    mc["config"]["layers"][1]["class_name"] = "LayerNormalization";  // a class nnlite does not have
    CHECK(contains(unsupported(mc, "LayerNormalization"), "'dense'"));
    mc = keras3;
    mc["class_name"] = "Functional";
    unsupported(mc, "Sequential models only");
  }
  CHECK(contains(message_of<FormatError>([&] { model_from_keras_config<float>(with("filters", "four"), "v"); }),
                 "'filters'"));
  // Layers that do not fit together, or share a name, are reported with the file they came from.
  {
    json mc = list_style;
    json flatten = mc["config"][3];  // Flatten first: the Conv2D then gets a flat input
    flatten["config"]["batch_input_shape"] = json::parse("[null, 8, 8, 1]");
    mc["config"][0]["config"].erase("batch_input_shape");
    mc["config"].erase(3);
    mc["config"].insert(mc["config"].begin(), flatten);
    const std::string msg = message_of<ShapeError>([&] { model_from_keras_config<float>(mc, "file.h5"); });
    INFO(msg);
    CHECK(contains(msg, "file.h5"));
    CHECK(contains(msg, "conv2d_1"));
    mc = list_style;
    mc["config"][4]["config"]["name"] = "conv2d_1";
    CHECK(contains(message_of<FormatError>([&] { model_from_keras_config<float>(mc, "file.h5"); }), "conv2d_1"));
  }
}

TEST_CASE("keras_h5: a save that fails leaves the previous file untouched") {
  Sequential<float> small = small_model<float>();
  const std::string path = tmp_file("atomic.h5");
  save_model(small, path);
  const std::string before = read_bytes(path);
  const std::string tmp = temp_path_for(path);

  SUBCASE("the disk fills up in the middle of the weights") {
    // RLIMIT_FSIZE makes every write past 100 kB fail with EFBIG (SIGXFSZ ignored), as a full disk would.
    Sequential<float> big = keras_h5_test::first_model<float>();
    struct rlimit old {};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
    auto old_handler = signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = old;
    lim.rlim_cur = 100000;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    const std::string msg = message_of<IoError>([&] { save_model(big, path); });
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);
    INFO(msg);
    CHECK(contains(msg, tmp));
  }
  SUBCASE("a layer name HDF5 cannot hold") {
    Sequential<float> bad(Shape{3});
    bad.add(Dense<float>(2, "relu", true, "a/b"));
    CHECK(contains(message_of<ArgumentError>([&] { save_model(bad, path); }), "'a/b'"));
  }
  CHECK(read_bytes(path) == before);
  CHECK_FALSE(exists(tmp));
  Sequential<float> loaded = load_model<float>(path);
  CHECK(bitwise_equal(small.predict(small_input<float>()), loaded.predict(small_input<float>())));

  const std::string nowhere = tmp_file("no_such_dir/model.h5");
  const std::string msg = message_of<IoError>([&] { save_model(small, nowhere); });
  INFO(msg);
  CHECK(contains(msg, "does not exist"));
  CHECK_FALSE(exists(nowhere));
}

}  // namespace test_keras_h5

#endif  // NNLITE_WITH_IO
