// nnlite/model/communicator.hpp: what data-parallel fit() needs from a group of processes (ranks): its rank and size,
// an in-place sum over every rank, a broadcast from one rank, and a way to stop the whole job. No MPI here: the MPI
// implementation is nnlite/mpi/communicator.hpp (the nnlite::mpi target); tests use an in-process one.
//
// Also the arithmetic of data parallelism that does not depend on how ranks talk: which part of a global batch a
// rank trains on.
#pragma once

#include <string>
#include <utility>

#include "../core/tensor.hpp"

namespace nnlite {

/// Every call is collective: all ranks make the same calls, in the same order, with the same counts.
class Communicator {
 public:
  virtual ~Communicator() = default;
  /// This process's rank, 0 .. size() - 1.
  virtual int rank() const = 0;
  /// The number of ranks.
  virtual int size() const = 0;
  /// buf[i] = the sum of buf[i] over every rank, on every rank.
  virtual void allreduce_sum(float* buf, Index count) const = 0;
  /// buf[i] = the sum of buf[i] over every rank, on every rank.
  virtual void allreduce_sum(double* buf, Index count) const = 0;
  /// buf = root's buf, on every rank.
  virtual void broadcast(float* buf, Index count, int root) const = 0;
  /// buf = root's buf, on every rank.
  virtual void broadcast(double* buf, Index count, int root) const = 0;
  /// Ends every rank of the job (this rank failed and the others would wait for it forever); prints `message`
  /// first. Not collective: one rank calls it.
  [[noreturn]] virtual void abort(int code, const std::string& message) const = 0;
};

/// Rank r's part of `count` consecutive samples: [first, first + n) with first = count * r / size, so the parts are
/// contiguous, cover every sample once, differ in size by at most one, and are empty when count < size.
inline std::pair<Index, Index> shard_of(Index count, int rank, int size) {
  const Index first = count * rank / size, last = count * (rank + 1) / size;
  return {first, last - first};
}

}  // namespace nnlite
