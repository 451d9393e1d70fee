// Data-parallel fit (FitOptions::data_parallel) without MPI: the sharding arithmetic, and whole fits of N "ranks" as
// N threads of this process over an in-process Communicator (sums in rank order, like a reduction over ranks), against
// the single-process fit. The same code under mpirun: tests/mpi/.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nnlite/nnlite.hpp>
#include <stdexcept>
#include <thread>
#include <vector>

namespace test_data_parallel {

using nnlite::Index;
using nnlite::Shape;
using nnlite::Tensor;

namespace {

// Ranks as threads: every collective waits for all ranks; the last to arrive does the work for everyone.
class ThreadGroup {
 public:
  explicit ThreadGroup(int size) : size_(size), ptrs_(static_cast<std::size_t>(size)) {}

  class Member : public nnlite::Communicator {
   public:
    Member(ThreadGroup& g, int rank) : g_(g), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return g_.size_; }
    void allreduce_sum(float* buf, Index count) const override { g_.sum(rank_, buf, count); }
    void allreduce_sum(double* buf, Index count) const override { g_.sum(rank_, buf, count); }
    void broadcast(float* buf, Index count, int root) const override { g_.bcast(rank_, buf, count, root); }
    void broadcast(double* buf, Index count, int root) const override { g_.bcast(rank_, buf, count, root); }
    [[noreturn]] void abort(int, const std::string& message) const override { g_.fail(message); }

   private:
    ThreadGroup& g_;
    int rank_;
  };

  // Runs body(rank, communicator) on `size` threads; rethrows the first failure.
  void run(const std::function<void(int, const nnlite::Communicator&)>& body) {
    std::vector<std::thread> threads;
    std::vector<std::string> errors(static_cast<std::size_t>(size_));
    for (int r = 0; r < size_; ++r)
      threads.emplace_back([&, r] {
        Member me(*this, r);
        try {
          body(r, me);
        } catch (const std::exception& e) {
          errors[static_cast<std::size_t>(r)] = e.what();
          mark_broken();  // the others must not wait for this rank
        }
      });
    for (auto& t : threads) t.join();
    for (const auto& e : errors)
      if (!e.empty()) throw std::runtime_error(e);
  }
  std::string aborted;  // the message of the first abort()
  long collectives = 0;

 private:
  template <class T>
  void sum(int rank, T* buf, Index count) {
    collective(rank, buf, [&] {
      for (Index i = 0; i < count; ++i) {
        T s = 0;
        for (void* p : ptrs_) s += static_cast<T*>(p)[i];
        for (void* p : ptrs_) static_cast<T*>(p)[i] = s;
      }
    });
  }
  template <class T>
  void bcast(int rank, T* buf, Index count, int root) {
    collective(rank, buf, [&] {
      for (void* p : ptrs_)
        std::copy_n(static_cast<T*>(ptrs_[static_cast<std::size_t>(root)]), count, static_cast<T*>(p));
    });
  }
  void collective(int rank, void* buf, const std::function<void()>& work) {
    std::unique_lock<std::mutex> lock(m_);
    if (broken_) throw std::runtime_error("the group was aborted");
    ptrs_[static_cast<std::size_t>(rank)] = buf;
    if (++arrived_ == size_) {
      work();
      arrived_ = 0;
      ++generation_;
      ++collectives;
      cv_.notify_all();
      return;
    }
    const long g = generation_;
    cv_.wait(lock, [&] { return generation_ != g || broken_; });
    if (generation_ == g) throw std::runtime_error("the group was aborted");
  }
  [[noreturn]] void fail(const std::string& message) {
    {
      std::lock_guard<std::mutex> lock(m_);
      if (aborted.empty()) aborted = message;
    }
    mark_broken();
    throw std::runtime_error("aborted: " + message);
  }
  void mark_broken() {
    std::lock_guard<std::mutex> lock(m_);
    broken_ = true;
    cv_.notify_all();
  }

  int size_;
  std::vector<void*> ptrs_;
  std::mutex m_;
  std::condition_variable cv_;
  int arrived_ = 0;
  long generation_ = 0;
  bool broken_ = false;
};

// Three classes of 6x6 images (a bright row, column or diagonal) with noise.
void lines(Index n, std::uint64_t seed, Tensor<float>& x, Tensor<float>& y) {
  nnlite::Rng rng(seed);
  x.resize(Shape{n, 6, 6, 1});
  y.resize(Shape{n, 3});
  y.setZero();
  for (Index i = 0; i < n; ++i) {
    const auto label = static_cast<Index>(rng.below(3)), pos = static_cast<Index>(rng.below(6));
    for (Index r = 0; r < 6; ++r)
      for (Index c = 0; c < 6; ++c) {
        const bool on = label == 0 ? r == pos : label == 1 ? c == pos : r == c;
        x.at(i, r, c, 0) = static_cast<float>((on ? 0.8 : 0.0) + 0.2 * rng.uniform());
      }
    y.at(i, label) = 1;
  }
}

struct Net {
  bool dropout = false, batch_norm = false, regularized = false;
};
nnlite::Sequential<float> net(const Net& o, std::uint64_t seed) {
  nnlite::Sequential<float> model(Shape{6, 6, 1});
  model.set_seed(seed);
  auto reg = [&](nnlite::RegularizerPtr r) { return o.regularized ? r : nnlite::RegularizerPtr(); };
  model.add(nnlite::Conv2D<float>(4, {3, 3}, "relu").kernel_regularizer(reg(nnlite::regularizers::l2(0.01))));
  if (o.batch_norm) model.add(nnlite::BatchNormalization<float>());
  model.add(nnlite::Flatten<float>());
  model.add(nnlite::Dense<float>(12, "relu")
                .kernel_regularizer(reg(nnlite::regularizers::l1_l2(0.001, 0.01)))
                .bias_regularizer(reg(nnlite::regularizers::l1(0.01))));
  if (o.dropout) model.add(nnlite::Dropout<float>(0.3));
  model.add(nnlite::Dense<float>(3, "softmax"));
  return model;
}

double max_abs_diff(const float* a, const float* b, Index n) {
  double d = 0;
  for (Index i = 0; i < n; ++i) d = std::max(d, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
  return d;
}

struct Run {
  std::vector<nnlite::Sequential<float>> models;  // one per rank
  std::vector<nnlite::History> histories;
};

// One model per rank (at least one), every one from the same seed and compiled by `compile`; no History yet.
Run make_run(int ranks, const Net& shape, const std::function<void(nnlite::Sequential<float>&)>& compile) {
  Run run;
  const int n = std::max(ranks, 1);
  for (int r = 0; r < n; ++r) {
    run.models.push_back(net(shape, 5));
    compile(run.models.back());
  }
  run.histories.resize(static_cast<std::size_t>(n));
  return run;
}

// fit() of run's models on `ranks` threads (0: the single-process fit, no communicator), each rank's History kept.
void fit_run(Run& run, int ranks, nnlite::FitOptions<float> o, const Tensor<float>& x, const Tensor<float>& y,
             const Tensor<float>* xv = nullptr, const Tensor<float>* yv = nullptr, ThreadGroup* group_out = nullptr) {
  o.verbose = 0;
  auto body = [&](int r, const nnlite::Communicator* comm) {
    nnlite::FitOptions<float> mine = o;
    mine.data_parallel = comm;
    auto& m = run.models[static_cast<std::size_t>(r)];
    run.histories[static_cast<std::size_t>(r)] = xv ? m.fit(x, y, *xv, *yv, mine) : m.fit(x, y, mine);
  };
  if (ranks == 0) {
    body(0, nullptr);
  } else {
    ThreadGroup local(ranks);
    ThreadGroup& group = group_out ? *group_out : local;
    group.run([&](int r, const nnlite::Communicator& c) { body(r, &c); });
  }
}

// fit() on `ranks` threads (0: the single-process fit, no communicator), every rank from the same seed.
Run fit_ranks(int ranks, const Net& shape, nnlite::FitOptions<float> o, const Tensor<float>& x, const Tensor<float>& y,
              const Tensor<float>* xv = nullptr, const Tensor<float>* yv = nullptr,
              const std::vector<std::string>& metrics = {"accuracy"}, ThreadGroup* group_out = nullptr) {
  Run run = make_run(ranks, shape, [&](nnlite::Sequential<float>& m) {
    m.compile(nnlite::SGD<float>(0.1, 0.9), "categorical_crossentropy", metrics);
  });
  fit_run(run, ranks, std::move(o), x, y, xv, yv, group_out);
  return run;
}

// The History entries `keys` of one rank (`got`) are the single-process ones (`want`), epoch by epoch, to 1e-5.
void check_histories(const nnlite::History& got_all, const nnlite::History& want_all,
                     std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    CAPTURE(key);
    const auto& got = got_all[key];
    const auto& want = want_all[key];
    REQUIRE(got.size() == want.size());
    for (std::size_t e = 0; e < got.size(); ++e) CHECK(got[e] == doctest::Approx(want[e]).epsilon(1e-5));
  }
}

}  // namespace

TEST_CASE("shard_of: contiguous shards that cover a batch once, sizes within one, empty when the batch is smaller") {
  for (Index count : {0, 1, 2, 3, 7, 64, 65, 100})
    for (int size : {1, 2, 3, 4, 8}) {
      Index next = 0;
      Index smallest = count, largest = 0;
      for (int r = 0; r < size; ++r) {
        const auto [first, n] = nnlite::shard_of(count, r, size);
        CHECK(first == next);
        CHECK(n >= 0);
        next = first + n;
        smallest = std::min(smallest, n);
        largest = std::max(largest, n);
      }
      CHECK(next == count);
      CHECK(largest - smallest <= 1);
    }
  // Worked out by hand: 7 samples over 3 ranks -> [0,2), [2,4), [4,7); 2 samples over 4 ranks -> first = 2r/4 =
  // 0, 0, 1, 1 and last = 2(r+1)/4 = 0, 1, 1, 2: rank 1 gets sample 0, rank 3 sample 1, ranks 0 and 2 none.
  CHECK(nnlite::shard_of(7, 0, 3) == std::pair<Index, Index>{0, 2});
  CHECK(nnlite::shard_of(7, 1, 3) == std::pair<Index, Index>{2, 2});
  CHECK(nnlite::shard_of(7, 2, 3) == std::pair<Index, Index>{4, 3});
  CHECK(nnlite::shard_of(2, 0, 4).second == 0);
  CHECK(nnlite::shard_of(2, 1, 4) == std::pair<Index, Index>{0, 1});
  CHECK(nnlite::shard_of(2, 2, 4).second == 0);
  CHECK(nnlite::shard_of(2, 3, 4) == std::pair<Index, Index>{1, 1});
}

TEST_CASE("data-parallel fit: N ranks with global batch B train the single-process batch-B model (to rounding)") {
  nnlite::set_num_threads(1);
  Tensor<float> x, y, xv, yv;
  lines(203, 1, x, y);  // 203 = 6 * 32 + 11: an uneven last batch
  lines(50, 2, xv, yv);
  nnlite::FitOptions<float> o;
  o.epochs = 3;
  o.batch_size = 32;
  const Run one = fit_ranks(0, {}, o, x, y, &xv, &yv);
  const auto& ref = one.models[0];
  for (int ranks : {1, 2, 3}) {
    CAPTURE(ranks);
    const Run dp = fit_ranks(ranks, {}, o, x, y, &xv, &yv);
    for (int r = 0; r < ranks; ++r) {
      const auto& m = dp.models[static_cast<std::size_t>(r)];
      const double d = max_abs_diff(m.params(), ref.params(), ref.count_params());
      MESSAGE("ranks " << ranks << ", rank " << r << ": max |weight - single-process weight| = " << d);
      if (ranks == 1)
        CHECK(d == 0);  // one rank is the single-process run, bit for bit
      else
        CHECK(d < 2e-5);
      // Every rank ends with rank 0's weights exactly: same summed gradients, same step.
      CHECK(max_abs_diff(m.params(), dp.models[0].params(), ref.count_params()) == 0);
      // The History is the single-process one on every rank: loss and accuracy reduced over ranks every step,
      // validation sharded and reduced.
      check_histories(dp.histories[static_cast<std::size_t>(r)], one.histories[0],
                      {"loss", "accuracy", "val_loss", "val_accuracy"});
    }
  }
  nnlite::set_num_threads(0);
}

TEST_CASE("data-parallel fit: a last batch smaller than the ranks (empty shards), sum reduction, reducible metrics") {
  nnlite::set_num_threads(1);
  Tensor<float> x, y;
  lines(66, 3, x, y);  // batches of 16: the last has 2 samples, so 2 of 4 ranks get none
  nnlite::FitOptions<float> o;
  o.epochs = 2;
  o.batch_size = 16;
  const std::vector<std::string> metrics = {"accuracy", "mse", "AUC", "precision"};
  const Run one = fit_ranks(0, {}, o, x, y, nullptr, nullptr, metrics);
  const Run dp = fit_ranks(4, {}, o, x, y, nullptr, nullptr, metrics);
  CHECK(max_abs_diff(dp.models[3].params(), one.models[0].params(), one.models[0].count_params()) < 2e-5);
  for (const char* key : {"loss", "accuracy", "mse", "AUC", "precision"}) {
    CAPTURE(key);
    CHECK(dp.histories[2][key].back() == doctest::Approx(one.histories[0][key].back()).epsilon(1e-5));
  }

  // reduction="sum": each rank's loss is its samples' sum, unscaled; the reduced sum is the batch's.
  auto sum_fit = [&](int ranks) {
    Run run = make_run(ranks, {}, [](nnlite::Sequential<float>& m) {
      m.compile(nnlite::SGD<float>(0.005), nnlite::CategoricalCrossentropy<float>(false, 0.0, nnlite::Reduction::sum));
    });
    fit_run(run, ranks, o, x, y);
    return run;
  };
  const Run s1 = sum_fit(0), s3 = sum_fit(3);
  CHECK(max_abs_diff(s3.models[1].params(), s1.models[0].params(), s1.models[0].count_params()) < 2e-5);
  CHECK(s3.histories[1]["loss"].back() == doctest::Approx(s1.histories[0]["loss"].back()).epsilon(1e-5));
  nnlite::set_num_threads(0);
}

TEST_CASE("data-parallel fit: weight regularizers count once per batch, also when rank 0's shard is empty") {
  nnlite::set_num_threads(1);
  Tensor<float> x, y, xv, yv;
  lines(66, 4, x, y);  // batches of 16: the last has 2 samples, so with 4 ranks rank 0 gets none of them
  lines(20, 5, xv, yv);
  nnlite::FitOptions<float> o;
  o.epochs = 2;
  o.batch_size = 16;
  Net regularized;
  regularized.regularized = true;
  const Run one = fit_ranks(0, regularized, o, x, y, &xv, &yv);
  const Run plain = fit_ranks(0, {}, o, x, y, &xv, &yv);
  REQUIRE(one.models[0].regularization_loss() > 0);
  CHECK(one.histories[0]["loss"].back() != doctest::Approx(plain.histories[0]["loss"].back()).epsilon(1e-3));
  for (int ranks : {2, 4}) {
    CAPTURE(ranks);
    const Run dp = fit_ranks(ranks, regularized, o, x, y, &xv, &yv);
    for (int r = 0; r < ranks; ++r) {
      const auto& m = dp.models[static_cast<std::size_t>(r)];
      CHECK(max_abs_diff(m.params(), one.models[0].params(), m.count_params()) < 2e-5);
      check_histories(dp.histories[static_cast<std::size_t>(r)], one.histories[0], {"loss", "val_loss"});
    }
  }
  nnlite::set_num_threads(0);
}

TEST_CASE("data-parallel fit: dropout masks differ per rank, weights stay equal; BatchNormalization stats averaged") {
  nnlite::set_num_threads(1);
  Tensor<float> x, y;
  lines(128, 4, x, y);
  nnlite::FitOptions<float> o;
  o.epochs = 2;
  o.batch_size = 32;
  // Dropout: rank 0 draws the single-process masks, rank 1 others, so the 2-rank run is not the 1-rank one; the
  // weights still agree on both ranks bit for bit. One rank with dropout is still the single-process run exactly.
  const Run one = fit_ranks(0, {true, false}, o, x, y);
  const Run r1 = fit_ranks(1, {true, false}, o, x, y);
  const Run r2 = fit_ranks(2, {true, false}, o, x, y);
  const Index n = one.models[0].count_params();
  CHECK(max_abs_diff(r1.models[0].params(), one.models[0].params(), n) == 0);
  CHECK(max_abs_diff(r2.models[0].params(), r2.models[1].params(), n) == 0);
  CHECK(max_abs_diff(r2.models[0].params(), one.models[0].params(), n) > 1e-4);

  // BatchNormalization normalises each rank's shard with the shard's statistics (synchronized=False), so 2 ranks
  // differ from one process; the moving statistics are averaged every epoch, so they agree on every rank.
  const Run bn = fit_ranks(2, {false, true}, o, x, y);
  const auto& a = bn.models[0];
  REQUIRE(a.count_params() > a.trainable_size());
  CHECK(max_abs_diff(a.params(), bn.models[1].params(), a.count_params()) == 0);
  const Run bn1 = fit_ranks(0, {false, true}, o, x, y);
  CHECK(max_abs_diff(a.params() + a.trainable_size(), bn1.models[0].params() + a.trainable_size(),
                     a.count_params() - a.trainable_size()) > 0);
  nnlite::set_num_threads(0);
}

TEST_CASE("data-parallel fit: rank 0's weights at the start, stop_training from any rank, abort naming the rank") {
  nnlite::set_num_threads(1);
  Tensor<float> x, y;
  lines(64, 5, x, y);
  nnlite::FitOptions<float> o;
  o.epochs = 3;
  o.batch_size = 16;
  o.verbose = 0;
  std::vector<nnlite::Sequential<float>> models;
  for (int r = 0; r < 2; ++r) {
    models.push_back(net({}, 100 + static_cast<std::uint64_t>(r)));  // different initial weights per rank
    models.back().compile(nnlite::Adam<float>(1e-3));
  }
  std::vector<nnlite::History> h(2);
  // A callback on rank 1 alone stops training after the first epoch: both ranks stop.
  ThreadGroup(2).run([&](int r, const nnlite::Communicator& c) {
    nnlite::LambdaCallback<float> stop([&, r](int, nnlite::Logs&) {
      if (r == 1) models[1].stop_training = true;
    });
    nnlite::FitOptions<float> mine = o;
    mine.data_parallel = &c;
    mine.callbacks = {&stop};
    h[static_cast<std::size_t>(r)] = models[static_cast<std::size_t>(r)].fit(x, y, mine);
  });
  CHECK(h[0].size() == 1);
  CHECK(h[1].size() == 1);
  CHECK(max_abs_diff(models[0].params(), models[1].params(), models[0].count_params()) == 0);
  // Adam's state and step count came from rank 0 too: one more identical epoch keeps them identical.
  CHECK(models[0].optimizer().iterations() == 4);
  CHECK(models[1].optimizer().iterations() == 4);

  // An exception on rank 1 (here a callback's) ends the job through abort(), naming the rank.
  ThreadGroup group(2);
  CHECK_THROWS(group.run([&](int r, const nnlite::Communicator& c) {
    nnlite::LambdaCallback<float> boom([r](int, nnlite::Logs&) {
      if (r == 1) throw std::runtime_error("injected failure");
    });
    nnlite::FitOptions<float> mine = o;
    mine.data_parallel = &c;
    mine.callbacks = {&boom};
    models[static_cast<std::size_t>(r)].fit(x, y, mine);
  }));
  CHECK(group.aborted == "nnlite: rank 1 of 2 failed in data-parallel fit(): injected failure; stopping every rank");

  // Ranks that would take different numbers of steps are refused before the first one (rank 1 names the cause).
  Tensor<float> x_more, y_more;
  lines(80, 6, x_more, y_more);
  ThreadGroup mismatch(2);
  CHECK_THROWS(mismatch.run([&](int r, const nnlite::Communicator& c) {
    nnlite::FitOptions<float> mine = o;
    mine.data_parallel = &c;
    models[static_cast<std::size_t>(r)].fit(r == 0 ? x_more : x, r == 0 ? y_more : y, mine);
  }));
  CHECK(mismatch.aborted ==
        "nnlite: rank 1 of 2 failed in data-parallel fit(): fit: every rank must train the same model on the same "
        "data with the same options, but training samples is 64 here and 80 on rank 0; stopping every rank");

  // A NaN loss is seen on every rank (the loss is reduced): NumericError everywhere, no abort.
  Tensor<float> bad = x;
  bad[5] = std::nanf("");
  ThreadGroup nan_group(2);
  int numeric = 0;
  std::mutex mu;
  nan_group.run([&](int r, const nnlite::Communicator& c) {
    nnlite::FitOptions<float> mine = o;
    mine.data_parallel = &c;
    try {
      models[static_cast<std::size_t>(r)].fit(bad, y, mine);
    } catch (const nnlite::NumericError&) {
      std::lock_guard<std::mutex> lock(mu);
      ++numeric;
    }
  });
  CHECK(numeric == 2);
  CHECK(nan_group.aborted.empty());
  nnlite::set_num_threads(0);
}

}  // namespace test_data_parallel
