// nnlite/parallel.hpp: one thread-count setting for everything nnlite runs in parallel
// (our own loops over the batch through OpenMP, and Eigen's GEMM, which uses the same OpenMP pool).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <thread>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "error.hpp"
#include "tensor.hpp"

namespace nnlite {

namespace detail {
inline int& thread_setting() {
  static int n = 0;  // 0: not set yet, use the hardware's count
  return n;
}
}  // namespace detail

inline int hardware_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

// Sets how many threads training and inference use; n = 0 means all hardware threads.
inline void set_num_threads(int n) {
  if (n < 0) throw ArgumentError("set_num_threads: thread count must be >= 0, got " + std::to_string(n));
  const int threads = n == 0 ? hardware_threads() : n;
  detail::thread_setting() = threads;
  Eigen::setNbThreads(threads);
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
}

inline int num_threads() {
  if (detail::thread_setting() == 0) set_num_threads(0);
  return detail::thread_setting();
}

// Runs body(i) for i in [0, n), split over num_threads() threads. Each i runs on exactly one thread, so bodies
// that write disjoint outputs give the same result for any thread count.
template <class Body>
void parallel_for(Index n, Body&& body) {
#ifdef _OPENMP
  const int threads = num_threads();
  if (threads > 1 && n > 1) {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (Index i = 0; i < n; ++i) body(i);
    return;
  }
#endif
  for (Index i = 0; i < n; ++i) body(i);
}

}  // namespace nnlite
