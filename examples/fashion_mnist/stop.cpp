// Stopping on Ctrl-C (SIGINT) and SIGTERM (what Slurm sends on scancel, preemption, requeue and at the time limit,
// KillWait seconds before SIGKILL): stop at once, except while a file is being written, which is finished first.
// Every file is written to a temporary name and renamed, so stopping anywhere else loses at most the epoch in
// progress, and the same command resumes after the last finished one.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "study.hpp"

namespace study {

namespace {

// Lock-free atomics are async-signal-safe. The handler sets `pending` before it reads `writing`, and a write
// section lowers `writing` before it reads `pending` (both seq_cst), so one of the two always sees the other.
std::atomic<int> pending{0};
std::atomic<int> writing{0};
static_assert(std::atomic<int>::is_always_lock_free, "the stop handler needs lock-free atomics");

// Formatted once when the handlers are installed: the handler may only write(2) what is ready.
char message_int[768], message_term[768];

void say_stopped(int sig) {
  const char* m = sig == SIGINT ? message_int : message_term;
  ssize_t ignored = ::write(STDERR_FILENO, m, std::strlen(m));
  (void)ignored;
}

extern "C" void on_stop_signal(int sig) {
  pending.store(sig);
  if (writing.load() == 0) {
    say_stopped(sig);
    ::_exit(kStoppedExitCode);
  }
}

}  // namespace

void install_stop_handlers(const std::string& out_dir) {
  for (int sig : {SIGINT, SIGTERM}) {
    std::snprintf(sig == SIGINT ? message_int : message_term, sizeof message_int,
                  "\nfashion_mnist: stopped by %s; the files in '%.600s' are complete, and the same command resumes "
                  "after the last finished epoch\n",
                  sig == SIGINT ? "SIGINT" : "SIGTERM", out_dir.c_str());
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaddset(&action.sa_mask, SIGINT);
    sigaddset(&action.sa_mask, SIGTERM);
    action.sa_flags = SA_RESTART;  // the write being finished must not see EINTR
    ::sigaction(sig, &action, nullptr);
  }
}

WritingFiles::WritingFiles() { writing.fetch_add(1); }

WritingFiles::~WritingFiles() {
  if (writing.fetch_sub(1) == 1) {
    if (const int sig = pending.load()) {
      std::cout << std::flush;
      say_stopped(sig);
      std::_Exit(kStoppedExitCode);
    }
  }
}

}  // namespace study
