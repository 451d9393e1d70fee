// nnlite/io/idx.hpp: reads IDX files (the MNIST / Fashion-MNIST format), plain or gzip'd, validating the header
// against a size ceiling and the file itself before allocating anything; loads MNIST-style train/test sets. The format
// only: Fashion-MNIST itself (class names, Debian's directory, load_fashion_mnist) is in data/fashion_mnist.hpp.
#pragma once

#include <zlib.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../data/dataset.hpp"

namespace nnlite {

/// Bounds an IDX file must stay within before anything is allocated from its header.
struct IdxLimits {
  /// Largest data section (product of the dimensions, in bytes) read_idx accepts; a header declaring more is
  /// rejected before anything is allocated. Fashion-MNIST's largest file holds 47 MB.
  std::uint64_t max_bytes = std::uint64_t(1) << 31;
};

/// An IDX array of unsigned bytes: dims outermost first, data row-major.
struct IdxArray {
  std::vector<std::int64_t> dims;  ///< Dimensions, outermost first.
  std::vector<std::uint8_t> data;  ///< The values, row-major.

  /// The number of dimensions.
  std::size_t rank() const { return dims.size(); }
};

namespace detail {

/// deflate cannot expand data by more than 1032:1, so a gzip file of c bytes holds at most ~1032 * c bytes.
/// Checking this before allocating rejects a tiny .gz that declares gigabytes.
inline constexpr std::uint64_t kMaxDeflateRatio = 1032;

inline const char* idx_dtype_name(unsigned code) {
  switch (code) {
    case 0x08: return "uint8 (0x08)";
    case 0x09: return "int8 (0x09)";
    case 0x0B: return "int16 (0x0B)";
    case 0x0C: return "int32 (0x0C)";
    case 0x0D: return "float32 (0x0D)";
    case 0x0E: return "float64 (0x0E)";
    default: return nullptr;
  }
}

inline std::string hex_byte(unsigned b) {
  const char* digits = "0123456789abcdef";
  return std::string("0x") + digits[(b >> 4) & 15] + digits[b & 15];
}

inline std::string dims_str(const std::vector<std::int64_t>& dims) {
  std::string s;
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? " x " : "") + std::to_string(dims[i]);
  return s;
}

/// A file read either as plain bytes or through zlib, chosen by its first two bytes rather than its name.
class IdxSource {
 public:
  explicit IdxSource(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw IoError("cannot open IDX file '" + path + "': " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0) fail_errno("cannot stat");
    if (!S_ISREG(st.st_mode)) {
      ::close(fd_);
      throw IoError("cannot read IDX file '" + path + "': not a regular file");
    }
    file_size_ = static_cast<std::uint64_t>(st.st_size);
    unsigned char magic[2] = {0, 0};
    const ssize_t got = ::pread(fd_, magic, 2, 0);
    if (got < 0) fail_errno("cannot read");
    if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
      gz_ = ::gzdopen(fd_, "rb");  // on success zlib owns fd_ and gzclose closes it
      if (!gz_) fail_errno("cannot start gzip decompression of");
      fd_ = -1;
      ::gzbuffer(gz_, 1 << 18);  // fewer, larger reads: the 26 MB Fashion-MNIST train file in ~100 syscalls
    }
  }
  ~IdxSource() {
    if (gz_) ::gzclose(gz_);
    if (fd_ >= 0) ::close(fd_);
  }
  IdxSource(const IdxSource&) = delete;
  IdxSource& operator=(const IdxSource&) = delete;

  bool gzipped() const { return gz_ != nullptr; }
  std::uint64_t file_size() const { return file_size_; }
  const std::string& path() const { return path_; }

  /// Reads up to n bytes; fewer only at the end of the (decompressed) stream. A gzip stream cut short, before
  /// its CRC trailer, counts as ended: the caller sees fewer bytes than it asked for, or truncated() on a probe.
  std::size_t read(void* buf, std::size_t n) {
    auto* out = static_cast<unsigned char*>(buf);
    std::size_t done = 0;
    while (done < n && !eof_) {
      const std::size_t want = std::min<std::size_t>(n - done, std::size_t(1) << 30);
      if (gz_) {
        const int got = ::gzread(gz_, out + done, static_cast<unsigned>(want));
        int errnum = Z_OK;
        const char* msg = ::gzerror(gz_, &errnum);
        // zlib's "unexpected end of file": the compressed input stopped early. zlib may report it while it
        // still holds decompressed bytes, so keep reading until it returns nothing.
        if (errnum == Z_BUF_ERROR) {
          truncated_ = true;
        } else if (got < 0 || errnum != Z_OK) {
          if (errnum == Z_ERRNO) fail_errno("cannot read");
          throw FormatError("IDX file '" + path_ + "': corrupt gzip data (" + std::string(msg ? msg : "?") + ")");
        }
        if (got <= 0)
          eof_ = true;
        else
          done += static_cast<std::size_t>(got);
      } else {
        const ssize_t got = ::read(fd_, out + done, want);
        if (got < 0) {
          if (errno == EINTR) continue;
          fail_errno("cannot read");
        }
        if (got == 0) eof_ = true;
        done += static_cast<std::size_t>(got);
      }
    }
    return done;
  }
  bool truncated() const { return truncated_; }

 private:
  [[noreturn]] void fail_errno(const char* what) {
    const int e = errno;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    throw IoError(std::string(what) + " IDX file '" + path_ + "': " + std::strerror(e));
  }

  std::string path_;
  int fd_ = -1;
  gzFile gz_ = nullptr;
  std::uint64_t file_size_ = 0;
  bool eof_ = false, truncated_ = false;
};

inline std::uint32_t big_endian_u32(const unsigned char* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | std::uint32_t(p[3]);
}

}  // namespace detail

/// Reads an IDX file of unsigned bytes, plain or gzip'd (recognised by the bytes 1f 8b, whatever its name).
/// Throws IoError when the file cannot be opened or read (message: path and strerror), UnsupportedError for
/// valid IDX dtypes other than uint8 and for ranks above 4, and FormatError for everything else that is not what
/// the header promises: bad magic, zero dimensions, a declared size above limits.max_bytes, a plain file whose
/// size is not exactly 4 + 4 * rank + product(dims), a gzip stream that ends early, is corrupt or decompresses
/// to more than that. Bytes after the last gzip member are ignored, as gzip(1) does.
/// Memory: nothing is allocated before the header passes; a plain file is then read straight into its vector;
/// a gzip'd one into a vector grown in steps as data arrives, never beyond the declared size.
inline IdxArray read_idx(const std::string& path, const IdxLimits& limits = {}) {
  detail::IdxSource src(path);
  const std::string where = "IDX file '" + path + "'";

  unsigned char magic[4];
  const std::size_t got_magic = src.read(magic, 4);
  if (got_magic < 4)
    throw FormatError(where + ": expected a 4-byte magic number, found only " + std::to_string(got_magic) +
                      " bytes");
  if (magic[0] != 0 || magic[1] != 0)
    throw FormatError(where + ": bad magic, expected 0x00 0x00 <dtype> <rank>, found " +
                      detail::hex_byte(magic[0]) + " " + detail::hex_byte(magic[1]) + " " +
                      detail::hex_byte(magic[2]) + " " + detail::hex_byte(magic[3]));
  const unsigned dtype = magic[2], rank = magic[3];
  if (dtype != 0x08) {
    const char* name = detail::idx_dtype_name(dtype);
    if (!name)
      throw FormatError(where + ": unknown IDX dtype " + detail::hex_byte(dtype) +
                        ", expected one of 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E");
    throw UnsupportedError(where + ": dtype " + name + " is not supported, only uint8 (0x08) is");
  }
  if (rank == 0) throw FormatError(where + ": rank 0 in the magic number, expected 1 to 4 dimensions");
  if (rank > 4) throw UnsupportedError(where + ": rank " + std::to_string(rank) + " is not supported (1 to 4)");

  unsigned char dim_bytes[16];
  const std::size_t header_dims = 4 * std::size_t(rank);
  const std::size_t got_dims = src.read(dim_bytes, header_dims);
  if (got_dims < header_dims)
    throw FormatError(where + ": file ends inside the header, expected " + std::to_string(header_dims) +
                      " bytes of dimensions after the magic number, found " + std::to_string(got_dims));

  IdxArray arr;
  arr.dims.resize(rank);
  std::uint64_t total = 1;
  bool too_big = false;
  for (unsigned i = 0; i < rank; ++i) {
    const std::uint32_t d = detail::big_endian_u32(dim_bytes + 4 * i);
    arr.dims[i] = d;
    if (d == 0)
      throw FormatError(where + ": dimension " + std::to_string(i) + " is 0, expected every dimension > 0");
    // Compare before multiplying so that four 32-bit dimensions cannot overflow the product.
    if (too_big || total > limits.max_bytes / d)
      too_big = true;
    else
      total *= d;
  }
  if (too_big || total > limits.max_bytes)
    throw FormatError(where + ": header declares " + detail::dims_str(arr.dims) + " bytes, more than the limit of " +
                      std::to_string(limits.max_bytes) + " bytes (IdxLimits::max_bytes)");

  const std::uint64_t header_size = 4 + header_dims;
  if (!src.gzipped()) {
    if (src.file_size() != header_size + total)
      throw FormatError(where + ": header declares " + detail::dims_str(arr.dims) + " = " + std::to_string(total) +
                        " data bytes, so the file should be " + std::to_string(header_size + total) +
                        " bytes long, but it is " + std::to_string(src.file_size()) +
                        (src.file_size() < header_size + total ? " (truncated)" : " (trailing data)"));
    arr.data.resize(static_cast<std::size_t>(total));
    const std::size_t got = src.read(arr.data.data(), arr.data.size());
    // The size was checked above, so a short read means the file changed under us.
    if (got != arr.data.size())
      throw FormatError(where + ": read only " + std::to_string(got) + " of " + std::to_string(total) +
                        " data bytes");
    return arr;
  }

  // Divide rather than multiply: file_size * 1032 could overflow for a sparse file of exabytes.
  if ((total > 1024 ? (total - 1024) / detail::kMaxDeflateRatio : 0) > src.file_size())
    throw FormatError(where + ": header declares " + detail::dims_str(arr.dims) + " = " + std::to_string(total) +
                      " data bytes, more than a " + std::to_string(src.file_size()) +
                      "-byte gzip file can hold (truncated or corrupt)");
  // Grow in steps so a lying header costs at most about twice the bytes actually present.
  const auto declared = static_cast<std::size_t>(total);
  std::size_t filled = 0;
  while (filled < declared) {
    if (filled == arr.data.capacity()) {
      const std::size_t cap = std::min(declared, std::max<std::size_t>(2 * filled, std::size_t(1) << 22));
      arr.data.reserve(cap);
    }
    arr.data.resize(arr.data.capacity());
    const std::size_t got = src.read(arr.data.data() + filled, arr.data.size() - filled);
    filled += got;
    if (filled < arr.data.size()) break;  // the stream ended
  }
  arr.data.resize(filled);
  if (filled < declared || src.truncated())
    throw FormatError(where + ": gzip stream ends early, header declares " + detail::dims_str(arr.dims) + " = " +
                      std::to_string(total) + " data bytes, found " + std::to_string(filled) +
                      (filled == declared ? " and no gzip trailer" : ""));
  // One more byte: reading past the data makes zlib check the CRC, and any byte found is trailing data.
  unsigned char extra;
  if (src.read(&extra, 1) != 0)
    throw FormatError(where + ": trailing data after the " + std::to_string(total) + " data bytes declared by " +
                      detail::dims_str(arr.dims));
  if (src.truncated())
    throw FormatError(where + ": gzip stream ends early, before its trailer (the " + std::to_string(total) +
                      " data bytes are present but unverified)");
  return arr;
}

/// The four files of an MNIST-style dataset, without the optional ".gz".
struct MnistFileNames {
  std::string train_images = "train-images-idx3-ubyte";  ///< Training images.
  std::string train_labels = "train-labels-idx1-ubyte";  ///< Training labels.
  std::string test_images = "t10k-images-idx3-ubyte";    ///< Test images.
  std::string test_labels = "t10k-labels-idx1-ubyte";    ///< Test labels.
};

/// An MNIST-style data set in memory: training and test images (uint8) with their labels.
struct MnistData {
  Dataset train;  ///< The training set.
  Dataset test;   ///< The test set.
};

namespace detail {
inline std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}
inline bool is_regular_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
}  // namespace detail

/// dir/base if it exists, else dir/base.gz, else an empty string.
inline std::string find_idx_file(const std::string& dir, const std::string& base) {
  const std::string plain = detail::join_path(dir, base);
  if (detail::is_regular_file(plain)) return plain;
  if (detail::is_regular_file(plain + ".gz")) return plain + ".gz";
  return {};
}

/// True if dir holds all four files, each plain or .gz.
inline bool holds_mnist_files(const std::string& dir, const MnistFileNames& names = {}) {
  for (const std::string* base : {&names.train_images, &names.train_labels, &names.test_images, &names.test_labels})
    if (find_idx_file(dir, *base).empty()) return false;
  return true;
}

/// Loads one images/labels pair and checks that they belong together: images rank 3 (n, h, w), labels rank 1 (n),
/// the same n, and every label below num_classes. The bytes are moved into the Dataset, not copied.
inline Dataset load_idx_pair(const std::string& images_path, const std::string& labels_path, int num_classes = 10,
                             const IdxLimits& limits = {}) {
  if (num_classes < 1 || num_classes > 256)
    throw ArgumentError("load_idx_pair: num_classes must be in 1..256, got " + std::to_string(num_classes));
  IdxArray images = read_idx(images_path, limits);
  if (images.rank() != 3)
    throw FormatError("IDX file '" + images_path + "': expected images of rank 3 (n, height, width), found rank " +
                      std::to_string(images.rank()) + " (" + detail::dims_str(images.dims) + ")");
  IdxArray labels = read_idx(labels_path, limits);
  if (labels.rank() != 1)
    throw FormatError("IDX file '" + labels_path + "': expected labels of rank 1 (n), found rank " +
                      std::to_string(labels.rank()) + " (" + detail::dims_str(labels.dims) + ")");
  if (labels.dims[0] != images.dims[0])
    throw FormatError("IDX files '" + images_path + "' and '" + labels_path + "': " +
                      std::to_string(images.dims[0]) + " images but " + std::to_string(labels.dims[0]) + " labels");
  for (std::size_t i = 0; i < labels.data.size(); ++i)
    if (labels.data[i] >= num_classes)
      throw FormatError("IDX file '" + labels_path + "': label " + std::to_string(labels.data[i]) + " at index " +
                        std::to_string(i) + ", expected values below " + std::to_string(num_classes));
  Dataset d;
  d.n = images.dims[0];
  d.h = images.dims[1];
  d.w = images.dims[2];
  d.images = std::move(images.data);
  d.labels = std::move(labels.data);
  return d;
}

/// Loads train and test sets from dir, each file plain or .gz (IoError naming the missing file otherwise), and
/// checks that both sets have images of the same size.
inline MnistData load_mnist_style(const std::string& dir, int num_classes = 10, const MnistFileNames& names = {},
                                  const IdxLimits& limits = {}) {
  auto locate = [&](const std::string& base) {
    std::string p = find_idx_file(dir, base);
    if (p.empty()) {
      const std::string plain = detail::join_path(dir, base);
      throw IoError("cannot find '" + plain + "' or '" + plain + ".gz': " + std::strerror(ENOENT));
    }
    return p;
  };
  // Locate all four first, so a missing file is reported before anything is loaded.
  const std::string train_images = locate(names.train_images), train_labels = locate(names.train_labels);
  const std::string test_images = locate(names.test_images), test_labels = locate(names.test_labels);
  MnistData data;
  data.train = load_idx_pair(train_images, train_labels, num_classes, limits);
  data.test = load_idx_pair(test_images, test_labels, num_classes, limits);
  if (data.train.h != data.test.h || data.train.w != data.test.w)
    throw FormatError("IDX files '" + train_images + "' and '" + test_images + "': training images are " +
                      std::to_string(data.train.h) + " x " + std::to_string(data.train.w) + " but test images are " +
                      std::to_string(data.test.h) + " x " + std::to_string(data.test.w));
  return data;
}

}  // namespace nnlite
