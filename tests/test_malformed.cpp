// tests/test_malformed.cpp: malformed input for every loader (IDX, Keras .h5 and its JSON, checkpoints), each case
// asserting the exception type and what its message says; and saves interrupted by an exception or by SIGKILL,
// which must leave the previous file loadable. Inputs the fuzzers (tests/fuzz/) found are kept here as regressions.
#include <doctest/doctest.h>

#ifdef NNLITE_WITH_IO

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iterator>
#include <nnlite/io/checkpoint.hpp>
#include <nnlite/io/idx.hpp>
#include <nnlite/io/keras_h5.hpp>
#include <nnlite/nnlite.hpp>
#include <new>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace test_malformed {

using namespace nnlite;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("nnlite_test_malformed_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  static struct Cleanup {
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } cleanup;
  return dir / name;
}

using test_support::read_bytes;
using test_support::write_bytes;
void write_gz(const std::string& path, const std::string& bytes) {
  gzFile gz = gzopen(path.c_str(), "wb");
  REQUIRE(gz != nullptr);
  REQUIRE(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  REQUIRE(gzclose(gz) == Z_OK);
}

int cases = 0;  // malformed cases checked, reported at the end

// f must throw exactly E (not merely some nnlite::Error) whose message holds every fragment.
template <class E, class F>
void expect(const std::string& label, F&& f, std::initializer_list<std::string> fragments) {
  ++cases;
  CAPTURE(label);
  std::string msg;
  try {
    f();
    FAIL("no exception");
  } catch (const E& e) {
    msg = e.what();
  } catch (const std::exception& e) {
    FAIL("wrong exception type: " << e.what());
  }
  for (const auto& part : fragments) CHECK_MESSAGE(msg.find(part) != std::string::npos, "'" << part << "' not in: " << msg);
}

// ---- IDX ---------------------------------------------------------------------------------------------------------

std::string idx_header(unsigned dtype, const std::vector<std::uint32_t>& dims, int rank = -1) {
  std::string b{'\0', '\0', static_cast<char>(dtype), static_cast<char>(rank < 0 ? int(dims.size()) : rank)};
  for (std::uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<char>((d >> s) & 0xff));
  return b;
}

template <class Checker>
void expect_idx(const std::string& label, const std::string& bytes, bool gz, Checker checker) {
  const std::string path = scratch(gz ? "bad.idx.gz" : "bad.idx").string();
  if (gz)
    write_gz(path, bytes);
  else
    write_bytes(path, bytes);
  checker(label, path);
}

}  // namespace

TEST_CASE("malformed IDX files") {
  auto format = [](std::initializer_list<std::string> parts) {
    return [parts](const std::string& label, const std::string& path) {
      std::vector<std::string> all(parts);
      ++cases;
      CAPTURE(label);
      try {
        read_idx(path);
        FAIL("no exception");
      } catch (const FormatError& e) {
        const std::string msg = e.what();
        CHECK_MESSAGE(msg.find(path) != std::string::npos, msg);
        for (const auto& p : all) CHECK_MESSAGE(msg.find(p) != std::string::npos, "'" << p << "' not in: " << msg);
      } catch (const std::exception& e) {
        FAIL("wrong exception type: " << e.what());
      }
    };
  };
  auto unsupported = [](std::string part) {
    return [part](const std::string& label, const std::string& path) {
      expect<UnsupportedError>(label, [&] { read_idx(path); }, {part, path});
    };
  };
  expect_idx("empty file", "", false, format({"found only 0 bytes"}));
  expect_idx("bad magic", std::string("\x01\x02\x08\x01\0\0\0\1x", 9), false, format({"bad magic", "0x01 0x02"}));
  expect_idx("unknown dtype", idx_header(0x07, {1}) + "x", false, format({"unknown IDX dtype 0x07"}));
  expect_idx("float32 dtype", idx_header(0x0D, {1}) + "xxxx", false, unsupported("float32 (0x0D) is not supported"));
  expect_idx("rank 0", idx_header(0x08, {}), false, format({"rank 0"}));
  expect_idx("rank 5", idx_header(0x08, {1, 1, 1, 1, 1}) + "x", false, unsupported("rank 5 is not supported"));
  expect_idx("zero dimension", idx_header(0x08, {3, 0, 2}), false, format({"dimension 1 is 0"}));
  expect_idx("huge dimensions", idx_header(0x08, {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}), false,
             format({"IdxLimits::max_bytes"}));
  expect_idx("truncated header", idx_header(0x08, {10, 28, 28}).substr(0, 10), false,
             format({"ends inside the header", "found 6"}));
  expect_idx("header without data", idx_header(0x08, {10, 28, 28}), false, format({"(truncated)"}));
  // 1000 x 1000 x 1000 = 1e9 bytes declared (under the 2 GiB ceiling) by a gzip file of a few dozen bytes.
  expect_idx("gzip declaring a gigabyte", idx_header(0x08, {1000, 1000, 1000}), true, format({"gzip file can hold"}));
  expect_idx("gzip signature then garbage", std::string("\x1f\x8b\x08\0garbage that is not deflate", 31), false,
             format({}));
}

// ---- Keras .h5 -------------------------------------------------------------------------------------------------

namespace {

Sequential<float> h5_model() {
  Sequential<float> m(Shape{6, 6, 1}, "victim");
  m.add(Conv2D<float>(2, {3, 3}, Activation::relu, Padding::valid, {1, 1}, true, "conv"));
  m.add(Flatten<float>("flat"));
  m.add(Dense<float>(2, Activation::softmax, true, "out"));
  m.compile(Adam<float>());
  return m;
}

const std::string& good_h5() {
  static const std::string bytes = [] {
    const std::string path = scratch("good.h5").string();
    save_model(h5_model(), path);
    return read_bytes(path);
  }();
  return bytes;
}

// A copy of the good file, changed by edit(file) (opened for writing), at a fresh path.
template <class Edit>
std::string damaged_h5(const std::string& name, Edit&& edit) {
  const std::string path = scratch(name + ".h5").string();
  write_bytes(path, good_h5());
  {
    h5::File f = h5::File::open(path, true);
    edit(f);
    f.close();
  }
  return path;
}

std::string with_config(const std::string& name, const std::function<void(json&)>& change) {
  json mc = keras_model_config(h5_model());
  change(mc);
  return damaged_h5(name, [&](h5::File& f) { f.write_string("model_config", mc.dump()); });
}

// load_model(path) must throw exactly E with every fragment and the path in its message, and so must the isolated
// load (LoadOptions::isolate), with the same message: the error comes back from the child process unchanged.
template <class E>
void expect_load(const std::string& label, const std::string& path, std::initializer_list<std::string> fragments) {
  std::vector<std::string> all(fragments);
  all.push_back(path);
  ++cases;
  CAPTURE(label);
  std::string msg;
  try {
    load_model<float>(path);
    FAIL("no exception");
  } catch (const E& e) {
    msg = e.what();
    for (const auto& p : all) CHECK_MESSAGE(msg.find(p) != std::string::npos, "'" << p << "' not in: " << msg);
  } catch (const std::exception& e) {
    FAIL("wrong exception type: " << e.what());
  }
  LoadOptions isolated;
  isolated.isolate = true;
  try {
    load_model<float>(path, isolated);
    FAIL("no exception (isolated)");
  } catch (const E& e) {
    CHECK(std::string(e.what()) == msg);
  } catch (const std::exception& e) {
    FAIL("wrong exception type (isolated): " << e.what());
  }
}

void replace_dataset(h5::File& f, const std::string& group, const std::string& name, std::vector<hsize_t> dims,
                     hid_t type) {
  h5::Group g = f.group(group);
  g.remove(name);
  h5::Dataset ds = g.create_dataset(name, dims, type);
  std::uint64_t n = 1;
  for (hsize_t d : dims) n *= d;
  std::vector<double> zeros(static_cast<std::size_t>(n) + 1, 0.0);
  if (H5Tget_class(type) != H5T_STRING)
    REQUIRE(H5Dwrite(ds.id(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros.data()) >= 0);
}

}  // namespace

TEST_CASE("malformed Keras .h5 files") {
  REQUIRE_NOTHROW(load_model<float>(damaged_h5("untouched", [](h5::File&) {})));

  {
    const std::string path = scratch("not_hdf5.h5").string();
    write_bytes(path, "\x89PNG\r\n\x1a\n not a model at all");
    expect_load<FormatError>("not HDF5", path, {"not a readable HDF5 file"});
  }
  for (std::size_t keep : {std::size_t(0), std::size_t(8), std::size_t(96), std::size_t(512),
                           good_h5().size() / 3, good_h5().size() - 1}) {
    const std::string path = scratch("truncated.h5").string();
    write_bytes(path, good_h5().substr(0, keep));
    expect_load<FormatError>("truncated to " + std::to_string(keep) + " bytes", path, {});
  }
  expect_load<FormatError>("missing model_config",
                           damaged_h5("no_config", [](h5::File& f) { f.remove_attribute("model_config"); }),
                           {"no 'model_config' attribute"});
  expect_load<FormatError>("model_config not JSON",
                           damaged_h5("not_json", [](h5::File& f) { f.write_string("model_config", "Sequential("); }),
                           {"'model_config' is not valid JSON"});
  expect_load<FormatError>("model_config a JSON list", damaged_h5("json_list", [](h5::File& f) {
                             f.write_string("model_config", "[1, 2, 3]");
                           }),
                           {"model_config must be"});
  expect_load<FormatError>("model_config of numbers", damaged_h5("config_numbers", [](h5::File& f) {
                             f.remove_attribute("model_config");
                             f.write_empty_list("model_config");
                             replace_dataset(f, "model_weights/out/out", "bias:0", {2}, H5T_IEEE_F32LE);
                           }),
                           {"holds no string"});

  using J = json&;
  expect_load<FormatError>("filters \"abc\"", with_config("filters", [](J c) { c["config"]["layers"][1]["config"]["filters"] = "abc"; }),
                           {"layer 'conv' (Conv2D)", "'filters' must be an integer", "\"abc\""});
  expect_load<FormatError>("negative units", with_config("units", [](J c) { c["config"]["layers"][3]["config"]["units"] = -4; }),
                           {"layer 'out' (Dense)", "'units' must be an integer in [1,", "-4"});
  expect_load<FormatError>("kernel_size [0, 3]", with_config("kernel", [](J c) {
                             c["config"]["layers"][1]["config"]["kernel_size"] = json::array({0, 3});
                           }),
                           {"'kernel_size' must be a positive integer or a pair"});
  expect_load<FormatError>("huge strides", with_config("strides", [](J c) {
                             c["config"]["layers"][1]["config"]["strides"] = json::array({1000000000000LL, 1});
                           }),
                           {"'strides' must be a positive integer or a pair"});
  expect_load<UnsupportedError>(
      "unknown activation",
      with_config("activation", [](J c) { c["config"]["layers"][1]["config"]["activation"] = "sparsemax"; }),
      {"activation 'sparsemax'", "supported: "});
  expect_load<UnsupportedError>("unknown layer class", with_config("class", [](J c) {
                                  c["config"]["layers"][2]["class_name"] = "Lambda";
                                }),
                                {"layer 'flat' has class Lambda"});
  expect_load<FormatError>("layers not a list", with_config("layers", [](J c) { c["config"]["layers"] = 5; }),
                           {"has no list of layers"});
  expect_load<FormatError>("a layer entry that is a string", with_config("entry", [](J c) { c["config"]["layers"][2] = "Flatten"; }),
                           {"layer entry 2 must be"});
  expect_load<ShapeError>("Dense before Flatten does not fit", with_config("order", [](J c) {
                            std::swap(c["config"]["layers"][2], c["config"]["layers"][3]);
                          }),
                          {"out"});
  {
    json mc = keras_model_config(h5_model());
    json& layers = mc["config"]["layers"];
    for (int i = 0; i < 100000; ++i) layers.push_back({{"class_name", "Flatten"}, {"config", {{"name", "f"}}}});
    expect<FormatError>("100000 layers", [&] { model_from_keras_config<float>(mc, "big.h5"); },
                        {"big.h5", "100004 layers, more than the limit of 10000"});
  }

  expect_load<ShapeError>("bias of the wrong shape", damaged_h5("bias_shape", [](h5::File& f) {
                            replace_dataset(f, "model_weights/out/out", "bias:0", {3}, H5T_IEEE_F32LE);
                          }),
                          {"/model_weights/out/out/bias:0", "shape (3,)", "has shape (2,)"});
  expect_load<ShapeError>("kernel of the wrong rank", damaged_h5("kernel_rank", [](h5::File& f) {
                            replace_dataset(f, "model_weights/out/out", "kernel:0", {32, 2, 1}, H5T_IEEE_F32LE);
                          }),
                          {"/model_weights/out/out/kernel:0", "(32, 2, 1)"});
  expect_load<ShapeError>("scalar bias", damaged_h5("scalar_bias", [](h5::File& f) {
                            replace_dataset(f, "model_weights/conv/conv", "bias:0", {}, H5T_IEEE_F32LE);
                          }),
                          {"/model_weights/conv/conv/bias:0", "shape ()"});
  expect_load<FormatError>("uint8 weights", damaged_h5("uint8", [](h5::File& f) {
                             replace_dataset(f, "model_weights/conv/conv", "bias:0", {2}, H5T_STD_U8LE);
                           }),
                           {"/model_weights/conv/conv/bias:0", "holds uint8 values"});
  expect_load<FormatError>("missing weight dataset", damaged_h5("no_kernel", [](h5::File& f) {
                             f.group("model_weights/out/out").remove("kernel:0");
                           }),
                           {"has no object '/model_weights/out/out/kernel:0'"});
  expect_load<FormatError>("weight_names of numbers", damaged_h5("names_int", [](h5::File& f) {
                             h5::Group g = f.group("model_weights/out");
                             g.remove_attribute("weight_names");
                             const hsize_t n = 2;
                             h5::Handle space(H5Screate_simple(1, &n, nullptr));
                             h5::Handle attr(H5Acreate2(g.id(), "weight_names", H5T_STD_I64LE, space.get(),
                                                        H5P_DEFAULT, H5P_DEFAULT));
                             const std::int64_t v[2] = {1, 2};
                             REQUIRE(H5Awrite(attr.get(), H5T_NATIVE_INT64, v) >= 0);
                           }),
                           {"attribute 'weight_names'", "/model_weights/out", "holds int64 values; expected strings"});
  expect_load<FormatError>("weight_names of rank 2", damaged_h5("names_rank2", [](h5::File& f) {
                             h5::Group g = f.group("model_weights/out");
                             g.remove_attribute("weight_names");
                             const hsize_t dims[2] = {1, 2};
                             h5::Handle space(H5Screate_simple(2, dims, nullptr));
                             h5::Handle type(H5Tcopy(H5T_C_S1));
                             REQUIRE(H5Tset_size(type.get(), 12) >= 0);
                             h5::Handle attr(H5Acreate2(g.id(), "weight_names", type.get(), space.get(), H5P_DEFAULT,
                                                        H5P_DEFAULT));
                             const char v[24] = "out/kernel:0\0out/bias:0";
                             REQUIRE(H5Awrite(attr.get(), type.get(), v) >= 0);
                           }),
                           {"attribute 'weight_names'", "has rank 2"});
  expect_load<FormatError>("no layer_names", damaged_h5("no_layer_names", [](h5::File& f) {
                             f.group("model_weights").remove_attribute("layer_names");
                           }),
                           {"has no 'layer_names' attribute"});
  expect_load<FormatError>("no model_weights group", damaged_h5("no_weights", [](h5::File& f) { f.remove("model_weights"); }),
                           {"has no group '/model_weights'"});
}

// ---- Keras .h5 read in a child process first (LoadOptions::isolate) ---------------------------------------------

namespace {

bool same_floats(const Tensor<float>& a, const Tensor<float>& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<std::size_t>(a.size())) == 0;
}

Tensor<float> h5_input() {
  Tensor<float> x(Shape{3, 6, 6, 1});
  for (Index i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37) % 11) / 5.0f - 1.0f;
  return x;
}

// No child process of this one is left unreaped.
bool no_zombies() { return ::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD; }

}  // namespace

TEST_CASE("isolated loading: a valid model loads exactly as in-process, errors come back unchanged") {
  const std::string path = scratch("isolated_good.h5").string();
  write_bytes(path, good_h5());
  LoadOptions isolated;
  isolated.isolate = true;
  Sequential<float> in_process = load_model<float>(path);
  Sequential<float> from_isolated = load_model<float>(path, isolated);
  CHECK(from_isolated.summary() == in_process.summary());
  CHECK(from_isolated.compiled());
  CHECK(same_floats(from_isolated.predict(h5_input()), in_process.predict(h5_input())));

  Sequential<float> target = h5_model();
  target.set_seed(99);
  target.build();
  CHECK_FALSE(same_floats(target.predict(h5_input()), in_process.predict(h5_input())));
  load_weights(target, path, isolated);
  CHECK(same_floats(target.predict(h5_input()), in_process.predict(h5_input())));

  // load_weights with a weight of the wrong shape: the same ShapeError either way, and the model keeps its weights.
  const std::string bad = damaged_h5("isolated_bias_shape", [](h5::File& f) {
    replace_dataset(f, "model_weights/out/out", "bias:0", {3}, H5T_IEEE_F32LE);
  });
  std::string msg;
  try {
    load_weights(target, bad);
    FAIL("no exception");
  } catch (const ShapeError& e) {
    msg = e.what();
  }
  CHECK(msg.find("bias:0") != std::string::npos);
  CHECK_THROWS_WITH_AS(load_weights(target, bad, isolated), msg.c_str(), ShapeError);
  CHECK(same_floats(target.predict(h5_input()), in_process.predict(h5_input())));
  CHECK_THROWS_WITH_AS(load_model<float>(scratch("nowhere.h5").string(), isolated),
                       doctest::Contains("No such file or directory"), IoError);
  CHECK(no_zombies());
}

TEST_CASE("isolated loading: a reader that crashes becomes a FormatError naming the file and the signal") {
  // The child resets doctest's (and any sanitizer's) handler, so it dies of the signal as it would in HDF5.
  auto die_of = [](int sig) {
    return [sig] {
      ::signal(sig, SIG_DFL);
      ::raise(sig);
    };
  };
  const std::string path = "hostile.h5";
  for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGKILL}) {
    CAPTURE(sig);
    std::string msg;
    try {
      detail::run_isolated(path, die_of(sig));
      FAIL("no exception");
    } catch (const FormatError& e) {
      msg = e.what();
    }
    CHECK_MESSAGE(msg.find("HDF5 crashed reading 'hostile.h5'") != std::string::npos, msg);
    CHECK_MESSAGE(msg.find("signal " + std::to_string(sig) + ", SIG") != std::string::npos, msg);
    CHECK_MESSAGE(msg.find("corrupt or hostile") != std::string::npos, msg);
  }
  CHECK_THROWS_WITH_AS(detail::run_isolated(path, die_of(SIGSEGV)), doctest::Contains("SIGSEGV"), FormatError);
  CHECK_THROWS_WITH_AS(detail::run_isolated(path, [] {
                         std::signal(SIGABRT, SIG_DFL);
                         std::abort();
                       }),
                       doctest::Contains("SIGABRT"), FormatError);
  CHECK_THROWS_WITH_AS(detail::run_isolated(path, [] { ::_exit(3); }),
                       doctest::Contains("exited with status 3 without a result"), FormatError);

  // Exceptions come back as the same type and message; nothing the child changes reaches the parent.
  CHECK_THROWS_WITH_AS(detail::run_isolated(path, [] { throw ShapeError("s!"); }), "s!", ShapeError);
  CHECK_THROWS_WITH_AS(detail::run_isolated(path, [] { throw FormatError("f!"); }), "f!", FormatError);
  CHECK_THROWS_WITH_AS(detail::run_isolated(path, [] { throw UnsupportedError("u!"); }), "u!", UnsupportedError);
  CHECK_THROWS_WITH_AS(detail::run_isolated(path, [] { throw IoError("i!"); }), "i!", IoError);
  CHECK_THROWS_WITH_AS(detail::run_isolated(path, [] { throw NumericError("n!"); }), "n!", NumericError);
  CHECK_THROWS_WITH_AS(detail::run_isolated(path, [] { throw ArgumentError("a!"); }), "a!", ArgumentError);
  CHECK_THROWS_AS(detail::run_isolated(path, [] { throw std::bad_alloc(); }), std::bad_alloc);
  CHECK_THROWS_WITH_AS(detail::run_isolated(path, [] { throw std::out_of_range("r!"); }), "r!", Error);
  CHECK_THROWS_WITH_AS(detail::run_isolated(path, [] { throw 42; }),
                       doctest::Contains("exited with status 3 without a result"), FormatError);
  int touched = 0;
  CHECK_NOTHROW(detail::run_isolated(path, [&] { touched = 1; }));
  CHECK(touched == 0);
  const std::string long_message(300000, 'x');  // more than a pipe holds: the parent reads while the child writes
  CHECK_THROWS_WITH_AS(detail::run_isolated(path, [&] { throw FormatError(long_message); }), long_message.c_str(),
                       FormatError);
  CHECK(no_zombies());
}

// ---- checkpoints -------------------------------------------------------------------------------------------------

namespace {

Sequential<float> ck_model(Index hidden = 8) {
  Sequential<float> m(Shape{4}, "ck");
  m.set_seed(5);
  m.add(Dense<float>(hidden, "relu"));
  m.add(Dense<float>(2, "softmax"));
  m.compile(Adam<float>());
  return m;
}

std::string good_checkpoint() {
  const std::string path = scratch("good.ckpt").string();
  save_checkpoint(path, ck_model(), {{"epoch", 3}});
  return read_bytes(path);
}

template <class T>
struct Type {
  using type = T;
};

void put_u64(std::string& b, std::size_t at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
}
// Recomputes the checksum, so that the damage is what the loader has to find.
void reseal(std::string& b) { put_u64(b, b.size() - 8, checkpoint_detail::fnv1a(b.data(), b.size() - 8)); }

// A checkpoint whose JSON header is `header` and whose sizes and checksum are otherwise right.
std::string checkpoint_with_header(const std::string& header) {
  const std::string good = good_checkpoint();
  std::uint64_t len = 0;
  for (int i = 0; i < 8; ++i) len |= std::uint64_t(static_cast<unsigned char>(good[16 + i])) << (8 * i);
  std::string b = good.substr(0, 16) + std::string(8, '\0') + header + good.substr(24 + len);
  put_u64(b, 16, header.size());
  reseal(b);
  return b;
}

template <class Kind>
void expect_checkpoint(const std::string& label, const std::string& bytes, Kind,
                       std::initializer_list<std::string> fragments) {
  using E = typename Kind::type;
  const std::string path = scratch("bad.ckpt").string();
  write_bytes(path, bytes);
  auto model = ck_model();
  const std::vector<float> before(model.params(), model.params() + model.count_params());
  std::vector<std::string> all(fragments);
  all.push_back(path);
  ++cases;
  CAPTURE(label);
  try {
    load_checkpoint(path, model);
    FAIL("no exception");
  } catch (const E& e) {
    const std::string msg = e.what();
    for (const auto& p : all) CHECK_MESSAGE(msg.find(p) != std::string::npos, "'" << p << "' not in: " << msg);
  } catch (const std::exception& e) {
    FAIL("wrong exception type: " << e.what());
  }
  CHECK(std::memcmp(before.data(), model.params(), before.size() * sizeof(float)) == 0);
}

}  // namespace

TEST_CASE("malformed checkpoints") {
  const std::string good = good_checkpoint();
  for (std::size_t keep : {std::size_t(0), std::size_t(5), std::size_t(20), std::size_t(40), good.size() / 2,
                           good.size() - 9, good.size() - 1}) {
    const std::string expected = keep < 8 ? "is not an nnlite checkpoint" : "truncated";
    expect_checkpoint("truncated to " + std::to_string(keep), good.substr(0, keep), Type<FormatError>{}, {expected});
  }
  {
    std::string b = good;
    b[3] = 'X';
    expect_checkpoint("wrong magic", b, Type<FormatError>{}, {"is not an nnlite checkpoint"});
  }
  {
    // A flipped bit in a value (a parameter, an optimizer state value, the checksum) only the checksum can see; one in
    // the structure (the JSON header, a length) is usually caught earlier, by what it breaks. Either is a FormatError.
    std::uint64_t len = 0;
    for (int i = 0; i < 8; ++i) len |= std::uint64_t(static_cast<unsigned char>(good[16 + i])) << (8 * i);
    const std::size_t first_param = 24 + static_cast<std::size_t>(len) + 8;
    for (std::size_t at : {first_param, first_param + 17, first_param + 40, good.size() - 1}) {
      std::string b = good;
      b[at] = static_cast<char>(b[at] ^ 0x10);
      expect_checkpoint("value bit flip at " + std::to_string(at), b, Type<FormatError>{}, {"checksum does not match"});
    }
    for (std::size_t at : {std::size_t(30), std::size_t(20), first_param - 3}) {
      std::string b = good;
      b[at] = static_cast<char>(b[at] ^ 0x10);
      expect_checkpoint("structure bit flip at " + std::to_string(at), b, Type<FormatError>{}, {});
    }
  }
  {
    std::string b = good;
    b[8] = 2;
    reseal(b);
    expect_checkpoint("format version 2", b, Type<FormatError>{}, {"format version 2"});
  }
  {
    std::string b = good;
    put_u64(b, 16, ~std::uint64_t(0));  // header length 2^64 - 1
    reseal(b);
    expect_checkpoint("absurd header length", b, Type<FormatError>{}, {"truncated: the JSON header needs"});
  }
  expect_checkpoint("header not JSON", checkpoint_with_header("{not json"), Type<FormatError>{},
                    {"JSON header does not parse"});
  expect_checkpoint("header without metadata", checkpoint_with_header(R"({"model": {}})"), Type<FormatError>{},
                    {"lacks 'model' or 'metadata'"});
  // Found by fuzz_checkpoint: JSON of the wrong shape escaped as nlohmann::json::type_error.
  expect_checkpoint("model not an object", checkpoint_with_header(R"({"model": 5, "metadata": {}, "optimizer": null})"),
                    Type<FormatError>{}, {"'model'"});
  expect_checkpoint("layers of numbers", checkpoint_with_header(R"({"model": {"layers": [1, 2]}, "metadata": {}})"),
                    Type<FormatError>{}, {"'model'"});
  expect_checkpoint("optimizer a string",
                    checkpoint_with_header(
                        R"({"model": {"layers": [{"class_name": "Dense", "params": 40}, {"class_name": "Dense", "params": 18}]},)"
                        R"( "metadata": {}, "optimizer": "Adam"})"),
                    Type<FormatError>{}, {"'optimizer'"});
  expect_checkpoint("another architecture", [] {
    const std::string path = scratch("other.ckpt").string();
    save_checkpoint(path, ck_model(9));
    return read_bytes(path);
  }(), Type<ShapeError>{}, {"layer 0"});
  MESSAGE(cases << " malformed-input cases checked so far");
}

// ---- interrupted saves -------------------------------------------------------------------------------------------

TEST_CASE("a save that throws midway leaves the previous file readable and unchanged, and no temporary file") {
  const std::string path = scratch("interrupted.ckpt").string();
  auto model = ck_model();
  save_checkpoint(path, model, {{"epoch", 1}});
  const std::string before = read_bytes(path);
  CHECK_THROWS_AS(write_atomically(path,
                                   [&](const std::string& tmp) {
                                     std::ofstream out(tmp, std::ios::binary);
                                     out << before.substr(0, before.size() / 2);  // half a new file...
                                     out.close();
                                     throw IoError("simulated failure in the middle of the write");  // ...then dies
                                   }),
                  IoError);
  CHECK(read_bytes(path) == before);
  CHECK_FALSE(fs::exists(temp_path_for(path)));
  auto loaded = ck_model(8);
  CHECK(load_checkpoint(path, loaded)["epoch"] == 1);

  // The same for a .h5 model: the writer dies after writing a prefix of the new file.
  const std::string h5 = scratch("interrupted.h5").string();
  save_model(h5_model(), h5);
  const std::string h5_before = read_bytes(h5);
  CHECK_THROWS_AS(write_atomically(h5,
                                   [&](const std::string& tmp) {
                                     write_bytes(tmp, h5_before.substr(0, 100));
                                     throw std::runtime_error("not an nnlite error");
                                   }),
                  std::runtime_error);
  CHECK(read_bytes(h5) == h5_before);
  CHECK_FALSE(fs::exists(temp_path_for(h5)));
  CHECK_NOTHROW(load_model<float>(h5));
}

TEST_CASE("a process killed with SIGKILL while writing checkpoints leaves a loadable checkpoint") {
  const std::string path = scratch("killed.ckpt").string();
  auto model = ck_model(256);  // ~1.4 MB with Adam's state, so a kill often lands inside a write
  save_checkpoint(path, model, {{"i", -1}});
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> delay_us(1000, 40000);
  for (int round = 0; round < 5; ++round) {
    CAPTURE(round);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      try {
        for (int i = 0;; ++i) save_checkpoint(path, model, {{"i", i}});
      } catch (...) {
      }
      ::_exit(1);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
    REQUIRE(::kill(child, SIGKILL) == 0);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status));
    auto loaded = ck_model(256);
    json metadata;
    REQUIRE_NOTHROW(metadata = load_checkpoint(path, loaded));
    CHECK(metadata["i"].get<int>() >= -1);
    CHECK(std::memcmp(loaded.params(), model.params(),
                      sizeof(float) * static_cast<std::size_t>(model.count_params())) == 0);
    // The killed writer's temporary file may remain: it is never read, and the next save from a process with the
    // same pid replaces it. Remove it so rounds do not accumulate them.
    std::error_code ignored;
    fs::remove(path + ".tmp." + std::to_string(child), ignored);
  }
}

}  // namespace test_malformed

#endif  // NNLITE_WITH_IO
