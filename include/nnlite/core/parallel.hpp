// nnlite/core/parallel.hpp: one thread-count setting for everything nnlite runs in parallel. Parallelism is coarse:
// a kernel splits its batch into one contiguous slice per thread (one fork/join per kernel call) on nnlite's own
// small pool, and Eigen's GEMM always runs single-threaded inside those slices.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "error.hpp"
#include "tensor.hpp"

namespace nnlite {

namespace detail {
inline int& thread_setting() {
  static int n = 0;  // 0: not set yet, use the default
  return n;
}

/// OMP_NUM_THREADS as OpenMP reads it ("4" or a nesting list "4,2": the first level counts); 0 when unset or invalid.
inline int env_threads() {
  const char* s = std::getenv("OMP_NUM_THREADS");
  if (!s) return 0;
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (end == s || v < 1 || v > 4096) return 0;
  return static_cast<int>(v);
}
}  // namespace detail

/// std::thread::hardware_concurrency(), at least 1.
inline int hardware_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

/// The thread count nnlite uses when set_num_threads() was never called (or was called with 0):
/// OMP_NUM_THREADS when it is set, otherwise every hardware thread.
inline int default_num_threads() {
  const int env = detail::env_threads();
  return env > 0 ? env : hardware_threads();
}

/// Sets how many threads training and inference use; n = 0 means the default (OMP_NUM_THREADS, else all hardware
/// threads). Eigen is pinned to one thread: its parallel GEMM synchronises by spinning several times per product,
/// which at our small shapes costs more than it saves, and collapses when another process holds a core.
inline void set_num_threads(int n) {
  if (n < 0) throw ArgumentError("set_num_threads: thread count must be >= 0, got " + std::to_string(n));
  const int threads = n == 0 ? default_num_threads() : n;
  detail::thread_setting() = threads;
  Eigen::setNbThreads(1);
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
}

/// The thread count in use (set_num_threads(), else default_num_threads()).
inline int num_threads() {
  if (detail::thread_setting() == 0) set_num_threads(0);
  return detail::thread_setting();
}

/// Below this much work per thread (in multiply-adds, or elements touched for memory-bound loops) a parallel region
/// costs more than it saves: waking a sleeping thread and the closing barrier are several microseconds each, and
/// far more when another process holds the core.
constexpr double parallel_min_work_per_thread = 1 << 16;

/// How many threads `items` independent items with `work` units in total are worth: never more than num_threads()
/// or items, and only as many as keep parallel_min_work_per_thread units each.
inline int threads_for(Index items, double work) {
  const int t = num_threads();
  if (t <= 1 || items <= 1) return 1;
  const double by_work = work / parallel_min_work_per_thread;
  const double cap = std::min<double>({double(t), double(items), std::max(1.0, by_work)});
  return std::max(1, static_cast<int>(cap));
}

/// Slice t of `threads` contiguous slices of [0, n): [n*t/threads, n*(t+1)/threads).
inline Index slice_begin(Index n, int threads, int t) { return n * t / threads; }

namespace detail {

/// A fork/join pool of worker threads that spin briefly, then sleep. Why not OpenMP: libgomp's idle workers spin for
/// a long time (the policy is fixed by OMP_WAIT_POLICY when the library loads), and on a machine where other
/// processes hold the cores those spinning workers steal the time slices of the thread doing the work: measured,
/// 2 threads ran 5x slower than 1. Here a waiting thread gives its core back after ~20 microseconds.
class Pool {
 public:
  static Pool& instance() {
    static Pool pool;
    return pool;
  }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      generation_.fetch_add(1);
    }
    work_cv_.notify_all();
    for (auto& w : workers_) w.join();
  }

  /// Runs job(t) for t in [0, threads): t = 0 on the calling thread, the others on workers; returns when all are
  /// done and rethrows the first exception any of them threw. Calls from inside a job run serially (no nesting).
  void run(int threads, const std::function<void(int)>& job) {
    if (threads <= 1 || inside_job()) {
      for (int t = 0; t < threads; ++t) job(t);
      return;
    }
    std::lock_guard<std::mutex> serial(run_mutex_);  // one fork/join at a time (calls from several user threads)
    grow(threads - 1);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &job;
      job_threads_ = threads;
      error_ = nullptr;
      pending_.store(threads - 1);
      generation_.fetch_add(1);
    }
    work_cv_.notify_all();
    run_one(job, 0);
    // Wait for the workers: spin a little (they usually finish together with us), then sleep.
    if (!spin_until([&] { return pending_.load() == 0; })) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_cv_.wait(lock, [&] { return pending_.load() == 0; });
    }
    std::exception_ptr err;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = nullptr;
      err = error_;
    }
    if (err) std::rethrow_exception(err);
  }

 private:
  Pool() = default;

  static bool& inside_job() {
    static thread_local bool inside = false;
    return inside;
  }

  template <class Pred>
  static bool spin_until(Pred ready) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(20);
    for (int i = 0;; ++i) {
      if (ready()) return true;
      if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) return false;
    }
  }

  void run_one(const std::function<void(int)>& job, int t) {
    inside_job() = true;
    try {
      job(t);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    inside_job() = false;
  }

  void grow(int workers) {
    while (static_cast<int>(workers_.size()) < workers) {
      const int t = static_cast<int>(workers_.size()) + 1;
      const std::uint64_t now = generation_.load();  // read before this run's job is posted
      workers_.emplace_back([this, t, now] { work(t, now); });
    }
  }

  void work(int t, std::uint64_t seen) {
    for (;;) {
      if (!spin_until([&] { return generation_.load() != seen; })) {
        std::unique_lock<std::mutex> lock(mutex_);
        work_cv_.wait(lock, [&] { return generation_.load() != seen; });
      }
      const std::function<void(int)>* job = nullptr;
      int threads = 0;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stop_) return;
        seen = generation_.load();
        job = job_;
        threads = job_threads_;
      }
      if (job && t < threads) {
        run_one(*job, t);
        if (pending_.fetch_sub(1) == 1) {
          std::lock_guard<std::mutex> lock(mutex_);  // pairs with the caller's predicate check under the mutex
          done_cv_.notify_one();
        }
      }
    }
  }

  std::mutex run_mutex_, mutex_;
  std::condition_variable work_cv_, done_cv_;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* job_ = nullptr;
  int job_threads_ = 0;
  std::exception_ptr error_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  bool stop_ = false;
};

}  // namespace detail

/// Runs body(t, begin, end) for t in [0, threads), each on its own thread, over contiguous slices of [0, n). Which
/// slice a thread gets depends only on (n, threads), so outputs written per slice are deterministic.
template <class Body>
void parallel_slices(Index n, int threads, Body&& body) {
  threads = static_cast<int>(std::max<Index>(1, std::min<Index>(threads, n)));
  if (threads == 1) {
    body(0, Index(0), n);
    return;
  }
  struct Context {
    Index n;
    int threads;
    std::remove_reference_t<Body>* body;
  } ctx{n, threads, &body};
  // Captures one pointer, so std::function keeps it inline: no allocation per fork/join.
  const std::function<void(int)> job = [c = &ctx](int t) {
    (*c->body)(t, slice_begin(c->n, c->threads, t), slice_begin(c->n, c->threads, t + 1));
  };
  detail::Pool::instance().run(threads, job);
}

/// Runs body(i) for i in [0, n), split over up to num_threads() threads in contiguous slices. Each i runs on exactly
/// one thread, so bodies that write disjoint outputs give the same result for any thread count. `work_per_item`
/// (multiply-adds or elements per item) lets small loops stay on the calling thread; by default any n > 1 splits.
template <class Body>
void parallel_for(Index n, Body&& body, double work_per_item = parallel_min_work_per_thread) {
  const int threads = threads_for(n, work_per_item * static_cast<double>(n));
  parallel_slices(n, threads, [&](int, Index begin, Index end) {
    for (Index i = begin; i < end; ++i) body(i);
  });
}

}  // namespace nnlite
