// Training checkpoints: bitwise round trip of parameters and Adam state, exact resume through fit(), and
// the errors for truncated, foreign, corrupt and mismatched files (the model is left untouched by each).
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nnlite/io/checkpoint.hpp>
#include <nnlite/nnlite.hpp>

#include "test_support.hpp"
#include "toy_problem.hpp"

namespace test_checkpoint {

namespace {

using nnlite::Index;
using nnlite::Shape;
using nnlite::Tensor;
namespace fs = std::filesystem;
using test_support::small_model;
using test_support::toy_data;

fs::path scratch(const std::string& name) { return fs::path(test_support::scratch_dir("checkpoint")) / name; }

std::vector<float> params_of(nnlite::Sequential<float>& m) { return {m.params(), m.params() + m.count_params()}; }

std::vector<float> state_of(nnlite::Sequential<float>& m, std::size_t k) {
  auto* v = m.optimizer().state().at(k).second;
  return {v->data(), v->data() + v->size()};
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

nnlite::FitOptions<float> quiet_fit(int epochs, int initial_epoch = 0) {
  nnlite::FitOptions<float> o;
  o.epochs = epochs;
  o.initial_epoch = initial_epoch;
  o.batch_size = 8;
  o.verbose = 0;
  return o;
}

using test_support::read_bytes;
using test_support::write_bytes;

// Expects load_checkpoint to throw E naming the file, and the model to keep its parameters.
template <class E>
void expect_rejected(const fs::path& path, const std::string& fragment) {
  auto m = small_model(99);
  const auto before = params_of(m);
  try {
    nnlite::load_checkpoint(path.string(), m);
    FAIL("no exception for " << path);
  } catch (const E& e) {
    const std::string msg = e.what();
    CHECK_MESSAGE(msg.find(path.string()) != std::string::npos, msg);
    CHECK_MESSAGE(msg.find(fragment) != std::string::npos, msg);
  }
  CHECK(same_bits(before, params_of(m)));
}

}  // namespace

TEST_CASE("a checkpoint restores parameters, Adam state, step count and metadata bit for bit") {
  Tensor<float> x, y;
  toy_data(40, x, y);
  auto a = small_model(1);
  a.fit(x, y, quiet_fit(2));
  REQUIRE(a.optimizer().iterations() == 10);
  const nlohmann::json meta{{"epochs_done", 2}, {"note", "héllo"}, {"seed", std::uint64_t(1) << 63}};
  const auto path = scratch("roundtrip.ckpt");
  nnlite::save_checkpoint(path.string(), a, meta);

  auto b = small_model(2);  // different initial weights, fresh optimizer
  CHECK_FALSE(same_bits(params_of(a), params_of(b)));
  const nlohmann::json got = nnlite::load_checkpoint(path.string(), b);
  CHECK(got == meta);
  CHECK(same_bits(params_of(a), params_of(b)));
  CHECK(b.optimizer().iterations() == 10);
  CHECK(same_bits(state_of(a, 0), state_of(b, 0)));
  CHECK(same_bits(state_of(a, 1), state_of(b, 1)));
  CHECK(nnlite::read_checkpoint_metadata(path.string()) == meta);
  const auto header = nnlite::read_checkpoint_header(path.string());
  CHECK(header["optimizer"]["class_name"] == "Adam");
  CHECK(header["model"]["layers"].size() == 5);

  // No leftover temporary file: the write went through a rename.
  for (const auto& e : fs::directory_iterator(path.parent_path()))
    CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
}

TEST_CASE("resuming fit() from a checkpoint continues exactly like the uninterrupted run") {
  const int threads = nnlite::num_threads();
  nnlite::set_num_threads(1);  // bitwise equality is promised single-threaded
  Tensor<float> x, y;
  toy_data(52, x, y);  // 7 batches of 8, the last one short

  auto whole = small_model(5);
  const auto full = whole.fit(x, y, x, y, quiet_fit(3));

  auto first = small_model(5);
  first.fit(x, y, x, y, quiet_fit(1));
  const auto path = scratch("resume.ckpt");
  nnlite::save_checkpoint(path.string(), first, {{"epochs_done", 1}});

  auto resumed = small_model(5);
  const auto meta = nnlite::load_checkpoint(path.string(), resumed);
  const auto rest = resumed.fit(x, y, x, y, quiet_fit(3, meta.at("epochs_done").get<int>()));
  REQUIRE(rest.size() == 2);
  CHECK(rest["val_loss"][1] == full["val_loss"][2]);
  CHECK(rest["loss"][0] == full["loss"][1]);
  CHECK(same_bits(params_of(whole), params_of(resumed)));
  CHECK(same_bits(state_of(whole, 0), state_of(resumed, 0)));
  nnlite::set_num_threads(threads);
}

TEST_CASE("an uncompiled model round-trips its parameters; a fresh optimizer's empty state does too") {
  nnlite::Sequential<float> a(Shape{4}, "plain");
  a.set_seed(3);
  a.add(nnlite::Dense<float>(2, "softmax"));
  a.build();
  const auto path = scratch("plain.ckpt");
  nnlite::save_checkpoint(path.string(), a);
  CHECK(nnlite::read_checkpoint_header(path.string())["optimizer"].is_null());
  nnlite::Sequential<float> b(Shape{4}, "plain");
  b.set_seed(4);
  b.add(nnlite::Dense<float>(2, "softmax"));
  nnlite::load_checkpoint(path.string(), b);
  CHECK(std::memcmp(a.params(), b.params(), sizeof(float) * static_cast<std::size_t>(a.count_params())) == 0);

  auto fresh = small_model(8);  // compiled, no step taken: Adam's m and v are still empty
  const auto fresh_path = scratch("fresh.ckpt");
  nnlite::save_checkpoint(fresh_path.string(), fresh);
  auto other = small_model(9);
  nnlite::load_checkpoint(fresh_path.string(), other);
  CHECK(other.optimizer().iterations() == 0);
  CHECK(state_of(other, 0).empty());
  CHECK(same_bits(params_of(fresh), params_of(other)));
}

TEST_CASE("truncated, foreign and corrupt files are FormatErrors that name the file") {
  Tensor<float> x, y;
  toy_data(16, x, y);
  auto a = small_model(1);
  a.fit(x, y, quiet_fit(1));
  const auto good = scratch("good.ckpt");
  nnlite::save_checkpoint(good.string(), a, {{"k", 1}});
  const std::string bytes = read_bytes(good);

  const auto bad = scratch("bad.ckpt");
  for (std::size_t keep : {std::size_t(0), std::size_t(5), std::size_t(20), std::size_t(40), bytes.size() / 2,
                           bytes.size() - 9, bytes.size() - 1}) {
    CAPTURE(keep);
    write_bytes(bad, bytes.substr(0, keep));
    expect_rejected<nnlite::FormatError>(bad, keep < 8 ? "not an nnlite checkpoint" : "truncated");
  }

  std::string wrong_magic = bytes;
  wrong_magic[3] = 'X';
  write_bytes(bad, wrong_magic);
  expect_rejected<nnlite::FormatError>(bad, "NNLTCKPT");

  std::string flipped = bytes;
  flipped[flipped.size() - 100] ^= 0x10;  // a bit inside the last optimizer state vector
  write_bytes(bad, flipped);
  expect_rejected<nnlite::FormatError>(bad, "checksum");

  std::string version = bytes;
  version[8] = 7;
  write_bytes(bad, version);
  expect_rejected<nnlite::FormatError>(bad, "version 7");

  CHECK_THROWS_AS(nnlite::read_checkpoint_metadata(scratch("missing.ckpt").string()), nnlite::IoError);
}

TEST_CASE("a checkpoint of another architecture is a ShapeError; other optimizers and precisions are refused") {
  auto a = small_model(1, 16);
  const auto path = scratch("arch.ckpt");
  nnlite::save_checkpoint(path.string(), a);

  auto wider = small_model(1, 17);
  const auto before = params_of(wider);
  CHECK_THROWS_WITH_AS(nnlite::load_checkpoint(path.string(), wider), doctest::Contains(path.string().c_str()),
                       nnlite::ShapeError);
  CHECK(same_bits(before, params_of(wider)));

  nnlite::Sequential<float> fewer(Shape{6, 6, 1}, "fewer");
  fewer.add(nnlite::Flatten<float>());
  fewer.add(nnlite::Dense<float>(3, "softmax"));
  fewer.compile(nnlite::Adam<float>());
  CHECK_THROWS_AS(nnlite::load_checkpoint(path.string(), fewer), nnlite::ShapeError);

  auto sgd = small_model(1, 16);
  sgd.compile(nnlite::SGD<float>(0.1));
  CHECK_THROWS_AS(nnlite::load_checkpoint(path.string(), sgd), nnlite::ArgumentError);

  nnlite::Sequential<double> wide(Shape{6, 6, 1});
  wide.add(nnlite::Flatten<double>());
  wide.add(nnlite::Dense<double>(3, "softmax"));
  CHECK_THROWS_WITH_AS(nnlite::load_checkpoint(path.string(), wide), doctest::Contains("32-bit values"),
                       nnlite::FormatError);
}

}  // namespace test_checkpoint
