// nnlite/core/atomic_file.hpp: every file nnlite writes goes to "<path>.tmp.<pid>" first, is flushed and
// fsync'd, then renamed over the target, so an interrupted write leaves either the old file or the new one.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>

#include "error.hpp"

namespace nnlite {

namespace detail {
inline void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw IoError("cannot open '" + path + "' to sync it: " + std::strerror(errno));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw IoError("fsync of '" + path + "' failed: " + std::strerror(errno));
}
inline std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}
}  // namespace detail

// A temporary path beside `path` (same directory, so the final rename is atomic).
inline std::string temp_path_for(const std::string& path) { return path + ".tmp." + std::to_string(::getpid()); }

// Calls write(tmp_path) and then commits tmp_path over `path`. If write throws, the temporary file is removed
// and `path` is untouched.
template <class WriteFn>
void write_atomically(const std::string& path, WriteFn&& write) {
  const std::string tmp = temp_path_for(path);
  try {
    write(tmp);
    detail::fsync_path(tmp);
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      throw IoError("cannot rename '" + tmp + "' to '" + path + "': " + std::strerror(errno));
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  // Make the rename itself durable.
  const int dfd = ::open(detail::parent_dir(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

// Writes a string (a report, a CSV) atomically.
inline void write_text_atomically(const std::string& path, const std::string& text) {
  write_atomically(path, [&](const std::string& tmp) {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw IoError("cannot create '" + tmp + "': " + std::strerror(errno));
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    const bool closed = std::fclose(f) == 0;
    if (!ok || !closed) throw IoError("cannot write '" + tmp + "': " + std::strerror(errno));
  });
}

}  // namespace nnlite
