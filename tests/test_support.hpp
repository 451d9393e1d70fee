// tests/test_support.hpp: what several test files need around their checks: error messages of a call that should
// throw, scratch directories, files as bytes, where the real Keras fixtures live, and central-difference gradients.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace test_support {

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The message of the exception of type E that f throws, or a note saying what happened instead (which then fails
// the caller's check on the message's content).
template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<wrong exception type> ") + e.what();
  }
  return "<no exception>";
}

// A fresh directory under the system's temp dir, removed with everything in it when the object goes.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix) {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           (prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
};

inline std::string read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
inline void write_bytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

// shared/fixtures/keras (read where it lives, never copied): NNLITE_SHARED_DIR from the environment (ctest sets it,
// tests/CMakeLists.txt), else ../shared beside the working directory's checkout. Tests skip when it is absent.
// Paths come from the environment, not from the compiler's command line, so every test TU compiles to the same ccache
// key from any clone (a fresh clone elsewhere reuses the cache; see .ci/run).
inline std::string keras_fixtures_dir() {
  const char* env = std::getenv("NNLITE_SHARED_DIR");
  return std::string(env ? env : "../shared") + "/fixtures/keras";
}

// A directory for one test file's scratch files, under one temp directory per test process that is removed with
// everything in it when the process ends.
inline std::string scratch_dir(const std::string& name) {
  static const TempDir root("nnlite_tests");
  const std::filesystem::path dir = root.path / name;
  std::filesystem::create_directories(dir);
  return dir.string();
}

// Whether a file (or directory) exists.
inline bool exists(const std::string& path) { return std::filesystem::exists(path); }

// Same shape and the same bits (not only equal values: -0 and NaN payloads count), for nnlite tensors.
template <class T>
bool bitwise_equal(const T& a, const T& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), sizeof(*a.data()) * static_cast<std::size_t>(a.size())) == 0;
}

// d(loss)/d(params[i]) by central differences of the loss m.compute_gradients(x, y) reports, with step h; the
// parameter is restored.
template <class Model, class X, class Y, class I>
double central_difference(Model& m, const X& x, const Y& y, I i, double h) {
  const double saved = m.params()[i];
  m.params()[i] = saved + h;
  const double up = m.compute_gradients(x, y);
  m.params()[i] = saved - h;
  const double down = m.compute_gradients(x, y);
  m.params()[i] = saved;
  return (up - down) / (2 * h);
}

// The largest relative error between analytic and numeric gradients, |a - n| / max(|a| + |n|, 1e-3 * scale) with
// scale the largest |a| + |n| (nnlite::check_gradients' measure).
inline double max_relative_error(const std::vector<double>& a, const std::vector<double>& n) {
  double scale = 0, worst = 0;
  for (std::size_t k = 0; k < a.size(); ++k) scale = std::max(scale, std::abs(a[k]) + std::abs(n[k]));
  for (std::size_t k = 0; k < a.size(); ++k)
    worst = std::max(worst, std::abs(a[k] - n[k]) / std::max(std::abs(a[k]) + std::abs(n[k]), 1e-3 * scale));
  return worst;
}

}  // namespace test_support
