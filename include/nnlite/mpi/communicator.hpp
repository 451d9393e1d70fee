// nnlite/mpi/communicator.hpp: the Communicator of data-parallel fit() over MPI (the nnlite::mpi target: Debian's
// libopenmpi-dev). Every rank of an `mpirun -np N` job runs the same program:
//
//   nnlite::MpiSession mpi(argc, argv);          // MPI_Init_thread ... MPI_Finalize
//   nnlite::MpiCommunicator world;               // MPI_COMM_WORLD
//   options.data_parallel = &world;              // FitOptions: batch_size is the global batch
//   model.fit(train, &val, options);             // same weights on every rank afterwards
//   if (world.rank() == 0) model.save("model.h5");
#pragma once

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "../core/error.hpp"
#include "../model/communicator.hpp"

namespace nnlite {

/// MPI_Init_thread / MPI_Finalize for the program's lifetime (one per process). nnlite's thread pool runs the
/// kernels, but only the thread that called fit() talks to MPI: MPI_THREAD_FUNNELED.
class MpiSession {
 public:
  /// Calls MPI_Init_thread (MPI_THREAD_FUNNELED) with main's arguments; Error when it fails.
  MpiSession(int& argc, char**& argv) {
    int provided = 0;
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      throw Error("MPI_Init_thread failed");
  }
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  ~MpiSession() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
};

/// A Communicator over an MPI communicator (data-parallel fit across processes).
class MpiCommunicator : public Communicator {
 public:
  /// Wraps `comm` (default MPI_COMM_WORLD); this process's rank and the size are read once.
  explicit MpiCommunicator(MPI_Comm comm = MPI_COMM_WORLD) : comm_(comm) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  /// This process's rank in the communicator (MPI_Comm_rank).
  int rank() const override { return rank_; }
  /// The number of processes (MPI_Comm_size).
  int size() const override { return size_; }
  /// Sums `buf` over all processes in place (MPI_Allreduce), in chunks of at most INT_MAX values.
  void allreduce_sum(float* buf, Index count) const override { allreduce(buf, count, MPI_FLOAT); }
  /// Sums `buf` over all processes in place (MPI_Allreduce), in chunks of at most INT_MAX values.
  void allreduce_sum(double* buf, Index count) const override { allreduce(buf, count, MPI_DOUBLE); }
  /// Copies rank `root`'s `buf` to every process (MPI_Bcast).
  void broadcast(float* buf, Index count, int root) const override { bcast(buf, count, MPI_FLOAT, root); }
  /// Copies rank `root`'s `buf` to every process (MPI_Bcast).
  void broadcast(double* buf, Index count, int root) const override { bcast(buf, count, MPI_DOUBLE, root); }
  /// Prints `message` to stderr and ends every process with `code` (MPI_Abort).
  [[noreturn]] void abort(int code, const std::string& message) const override {
    std::fprintf(stderr, "%s\n", message.c_str());
    std::fflush(stderr);
    MPI_Abort(comm_, code);  // mpirun ends every rank
    std::abort();
  }
  /// The MPI communicator.
  MPI_Comm comm() const { return comm_; }

 private:
  /// MPI counts are ints: a larger buffer goes in chunks (MPI's default error handler aborts the job on failure).
  template <class T>
  void allreduce(T* buf, Index count, MPI_Datatype type) const {
    for (Index at = 0; at < count; at += INT_MAX)
      MPI_Allreduce(MPI_IN_PLACE, buf + at, static_cast<int>(std::min<Index>(count - at, INT_MAX)), type, MPI_SUM,
                    comm_);
  }
  template <class T>
  void bcast(T* buf, Index count, MPI_Datatype type, int root) const {
    for (Index at = 0; at < count; at += INT_MAX)
      MPI_Bcast(buf + at, static_cast<int>(std::min<Index>(count - at, INT_MAX)), type, root, comm_);
  }

  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
};

}  // namespace nnlite
