// nnlite/core/random.hpp: a small, fast, seedable generator whose streams are identical on every platform
// (std::uniform_*_distribution is implementation-defined, so we draw our own numbers from raw bits).
#pragma once

#include <cstdint>
#include <cmath>
#include <vector>

namespace nnlite {

/// splitmix64: turns any seed (0 included) into well-mixed state words.
inline std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// The i-th output of the splitmix64 sequence that starts at `key`, computed directly: a counter-based draw, so a loop
/// of them has no dependency between iterations and vectorises (dropout masks), and any slice can be drawn alone.
inline std::uint64_t splitmix64_at(std::uint64_t key, std::uint64_t i) {
  std::uint64_t z = key + (i + 1) * 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// A seed for a named sub-stream, so the model's init, each dropout layer and the shuffler never share draws.
inline std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t x = seed ^ (0x5851f42d4c957f2dULL * (stream + 1));
  return splitmix64(x);
}

/// xoshiro256**: 1 ns a draw, 2^256 period, good statistical quality.
class Rng {
 public:
  /// One draw: 64 random bits.
  using result_type = std::uint64_t;
  /// A generator seeded with `seed` (same seed, same stream).
  explicit Rng(std::uint64_t seed = 0) { reseed(seed); }

  /// Restarts the generator as if constructed with `seed`.
  void reseed(std::uint64_t seed) {
    for (auto& w : s_) w = splitmix64(seed);
  }

  /// The smallest draw (UniformRandomBitGenerator).
  static constexpr result_type min() { return 0; }
  /// The largest draw (UniformRandomBitGenerator).
  static constexpr result_type max() { return ~result_type(0); }

  /// The next 64 random bits.
  result_type operator()() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

  /// Uniform integer in [0, n) without modulo bias (Lemire's method).
  std::uint64_t below(std::uint64_t n) {
    if (n == 0) return 0;
    unsigned __int128 m = static_cast<unsigned __int128>((*this)()) * n;
    auto low = static_cast<std::uint64_t>(m);
    if (low < n) {
      const std::uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<unsigned __int128>((*this)()) * n;
        low = static_cast<std::uint64_t>(m);
      }
    }
    return static_cast<std::uint64_t>(m >> 64);
  }

  /// Standard normal (Box-Muller), for initializers that need it.
  double normal() {
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

  /// Fisher-Yates shuffle, identical on every platform for the same seed.
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (std::size_t i = v.size(); i > 1; --i) {
      const auto j = static_cast<std::size_t>(below(i));
      std::swap(v[i - 1], v[j]);
    }
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

}  // namespace nnlite
