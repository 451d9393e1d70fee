// nnlite/io/isolate.hpp: a read through the HDF5 C library done first in a forked child process, so that HDF5
// crashing on a corrupt or hostile file (Debian 12's 1.10.8 can) kills the child and becomes a FormatError here.
// LoadOptions::isolate uses it; POSIX only.
#pragma once

#include <cerrno>
#include <cstring>
#include <exception>
#include <functional>
#include <new>
#include <string>
#include <utility>

#include "../core/error.hpp"
#include "../core/parallel.hpp"

#if defined(__unix__) || defined(__APPLE__)
#define NNLITE_HAVE_ISOLATE 1
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

namespace nnlite::detail {

#ifdef NNLITE_HAVE_ISOLATE
inline std::string signal_text(int sig) {
  static const std::pair<int, const char*> names[] = {{SIGSEGV, "SIGSEGV"}, {SIGBUS, "SIGBUS"},   {SIGABRT, "SIGABRT"},
                                                      {SIGFPE, "SIGFPE"},   {SIGILL, "SIGILL"},   {SIGKILL, "SIGKILL"},
                                                      {SIGTERM, "SIGTERM"}, {SIGTRAP, "SIGTRAP"}, {SIGSYS, "SIGSYS"}};
  for (const auto& [n, name] : names)
    if (n == sig) return "signal " + std::to_string(sig) + ", " + name;
  return "signal " + std::to_string(sig);
}
#endif

/// Runs work() in a child process forked from this one and waits for it. Returns when work() returned there;
/// rethrows an nnlite error it threw as the same type with the same message (std::bad_alloc as std::bad_alloc, any
/// other exception as nnlite::Error); throws FormatError naming `path` when the child died of a signal or exited
/// without reporting, i.e. HDF5 crashed reading the file. Nothing work() changes reaches this process. The child
/// runs nnlite single-threaded (fork copies only the calling thread), writes no core file, and ends with _exit
/// (no atexit handlers, no destructors, no stdio flush). Not for a process where other threads are inside HDF5
/// at the same moment (fork could copy its lock held), nor one that ignores SIGCHLD or reaps every child itself
/// (waitpid then fails: IoError). Fork and pipe failures are IoErrors. Elsewhere than POSIX: UnsupportedError.
inline void run_isolated(const std::string& path, const std::function<void()>& work) {
#ifdef NNLITE_HAVE_ISOLATE
  const std::string what = "cannot read '" + path + "' in an isolated process: ";
  int fds[2];
  if (::pipe(fds) != 0) throw IoError(what + "pipe: " + std::strerror(errno));
  ::fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  ::fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    throw IoError(what + "fork: " + std::strerror(err));
  }
  if (pid == 0) {  // the child: one status byte, then the message; never returns
    ::close(fds[0]);
    ::signal(SIGPIPE, SIG_IGN);
    struct rlimit no_core {};
    ::setrlimit(RLIMIT_CORE, &no_core);
    try {
      std::string status = "o";
      try {
        set_num_threads(1);  // the worker pool's threads do not exist here
        work();
      } catch (const ShapeError& e) {
        status = std::string("S") + e.what();
      } catch (const FormatError& e) {
        status = std::string("F") + e.what();
      } catch (const UnsupportedError& e) {
        status = std::string("U") + e.what();
      } catch (const IoError& e) {
        status = std::string("I") + e.what();
      } catch (const NumericError& e) {
        status = std::string("N") + e.what();
      } catch (const ArgumentError& e) {
        status = std::string("A") + e.what();
      } catch (const std::bad_alloc&) {
        status = "M";
      } catch (const std::exception& e) {
        status = std::string("E") + e.what();
      }
      for (std::size_t done = 0; done < status.size();) {
        const ssize_t n = ::write(fds[1], status.data() + done, status.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) ::_exit(2);
        done += static_cast<std::size_t>(n);
      }
    } catch (...) {
      ::_exit(3);  // an exception not derived from std::exception, or a failure while reporting
    }
    ::_exit(0);
  }

  ::close(fds[1]);
  std::string status;
  char buf[4096];
  for (;;) {  // to end of file: the child has exited (or closed its end by dying)
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      status.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      if (n < 0) ::kill(pid, SIGKILL);  // cannot happen on a pipe we own; never leave the child behind
      break;
    }
  }
  ::close(fds[0]);
  int wstatus = 0;
  pid_t waited = 0;
  while ((waited = ::waitpid(pid, &wstatus, 0)) < 0 && errno == EINTR) {
  }
  if (waited != pid) throw IoError(what + "waitpid: " + std::strerror(errno));

  const std::string crashed = "HDF5 crashed reading '" + path + "' (the isolated reader process ";
  const std::string hostile = "), so the file is corrupt or hostile";
  if (WIFSIGNALED(wstatus)) throw FormatError(crashed + "died of " + signal_text(WTERMSIG(wstatus)) + hostile);
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0 || status.empty())
    throw FormatError(crashed + "exited with status " + std::to_string(WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1) +
                      " without a result" + hostile);
  const std::string message = status.substr(1);
  switch (status[0]) {
    case 'o': return;
    case 'S': throw ShapeError(message);
    case 'F': throw FormatError(message);
    case 'U': throw UnsupportedError(message);
    case 'I': throw IoError(message);
    case 'N': throw NumericError(message);
    case 'A': throw ArgumentError(message);
    case 'M': throw std::bad_alloc();
    default: throw Error(message);
  }
#else
  (void)work;
  throw UnsupportedError("cannot read '" + path + "' in an isolated process: LoadOptions::isolate needs fork (POSIX)");
#endif
}

}  // namespace nnlite::detail
