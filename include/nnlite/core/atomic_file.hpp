// nnlite/core/atomic_file.hpp: every file nnlite writes goes to "<path>.tmp.<pid>" first, is flushed and
// fsync'd, then renamed over the target, so an interrupted write leaves either the old file or the new one.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstddef>
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

/// A temporary path beside `path` (same directory, so the final rename is atomic).
inline std::string temp_path_for(const std::string& path) { return path + ".tmp." + std::to_string(::getpid()); }

/// Calls write(tmp_path) and then commits tmp_path over `path`. If write throws, the temporary file is removed
/// and `path` is untouched.
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

/// Writes `size` bytes to a new file (the temporary one of an atomic save), reporting any short write or failed close
/// (a disk that filled up) instead of losing it. The one byte writer under every file nnlite saves.
inline void write_bytes(const std::string& path, const void* data, std::size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw IoError("cannot create '" + path + "': " + std::strerror(errno));
  const bool written = std::fwrite(data, 1, size, f) == size;
  const int err = errno;
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed) throw IoError("cannot write '" + path + "': " + std::strerror(written ? errno : err));
}

/// Writes bytes (an encoded .h5 or PNG image, a report, a CSV) atomically.
inline void write_bytes_atomically(const std::string& path, const void* data, std::size_t size) {
  write_atomically(path, [&](const std::string& tmp) { write_bytes(tmp, data, size); });
}
/// Writes a string atomically (the file is either the old one or the whole new text).
inline void write_text_atomically(const std::string& path, const std::string& text) {
  write_bytes_atomically(path, text.data(), text.size());
}

}  // namespace nnlite
