// nnlite/io/hdf5.hpp: a thin RAII layer over the HDF5 C library: owned hid_t handles, files, groups, datasets and
// string attributes as Keras/h5py store them, with every failure turned into an nnlite exception naming file and path.
#pragma once

#include <hdf5.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/error.hpp"

/// RAII wrappers over the HDF5 C library, used to read and write Keras .h5 files.
namespace nnlite::h5 {

/// HDF5 prints its error stack to stderr unless told not to; we report through exceptions instead.
inline void silence_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

/// The most specific message on HDF5's error stack ("file signature not found"), and clears the stack.
inline std::string take_error() {
  std::string msg;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
        if (n == 0 && e && e->desc) *static_cast<std::string*>(data) = e->desc;
        return 0;
      },
      &msg);
  H5Eclear2(H5E_DEFAULT);
  return msg;
}

/// Throws for a failed HDF5 call, adding HDF5's message: a FormatError when reading, an IoError when writing.
[[noreturn]] inline void fail(bool writing, const std::string& what) {
  const std::string detail = take_error();
  const std::string msg = detail.empty() ? what : what + " (HDF5: " + detail + ")";
  if (writing) throw IoError(msg);
  throw FormatError(msg);
}

/// Owns one HDF5 identifier of any kind and releases it exactly once.
class Handle {
 public:
  Handle() = default;
  /// Takes ownership of `id` (negative: no object).
  explicit Handle(hid_t id) : id_(id) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  /// Takes the other's identifier, leaving it empty.
  Handle(Handle&& other) noexcept : id_(other.release()) {}
  /// Releases the current identifier and takes the other's.
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = other.release();
    }
    return *this;
  }
  ~Handle() { reset(); }

  /// The raw identifier, for HDF5 calls.
  hid_t get() const { return id_; }
  /// True when an identifier is held.
  bool valid() const { return id_ >= 0; }
  /// Gives up ownership and returns the identifier.
  hid_t release() { return std::exchange(id_, hid_t(-1)); }
  /// Releases the identifier now (H5Idec_ref).
  void reset() {
    if (id_ >= 0) H5Idec_ref(id_);
    id_ = -1;
  }

 private:
  hid_t id_ = -1;
};

/// A checked handle: `what` says what failed if HDF5 returned an error.
inline Handle check(hid_t id, bool writing, const std::string& what) {
  if (id < 0) fail(writing, what);
  return Handle(id);
}
/// Throws like fail() when `status` is negative.
inline void check_status(herr_t status, bool writing, const std::string& what) {
  if (status < 0) fail(writing, what);
}

/// HDF5's native memory type for the C++ scalars we read and write.
template <class T>
hid_t native_type() {
  if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
  else if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
  else if constexpr (std::is_same_v<T, std::int64_t>) return H5T_NATIVE_INT64;
  else static_assert(sizeof(T) == 0, "no HDF5 type for this scalar");
}
/// The little-endian file type Keras uses for a weight of this scalar type.
template <class T>
hid_t file_type() {
  if constexpr (std::is_same_v<T, float>) return H5T_IEEE_F32LE;
  else if constexpr (std::is_same_v<T, double>) return H5T_IEEE_F64LE;
  else if constexpr (std::is_same_v<T, std::int64_t>) return H5T_STD_I64LE;
  else static_assert(sizeof(T) == 0, "no HDF5 type for this scalar");
}

/// numpy's name for an HDF5 type ("float32", "int32", "string"), for messages.
inline std::string describe_type(hid_t type) {
  const H5T_class_t cls = H5Tget_class(type);
  const std::size_t bits = H5Tget_size(type) * 8;
  switch (cls) {
    case H5T_FLOAT: return "float" + std::to_string(bits);
    case H5T_INTEGER: return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "vlen";
    case H5T_REFERENCE: return "reference";
    case H5T_OPAQUE: return "opaque";
    case H5T_BITFIELD: return "bitfield";
    default: return "unknown type";
  }
}

/// A numpy-style shape string: "(3, 4)", "(5,)".
inline std::string dims_str(const std::vector<hsize_t>& dims) {
  std::string s = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  if (dims.size() == 1) s += ",";
  return s + ")";
}

/// One path component of a relative HDF5 path ("conv2d/kernel:0"): never empty, "." or "..", so a name read from a
/// file cannot climb out of the group it belongs to.
inline std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = path.find('/', start);
    parts.push_back(path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return parts;
}

/// `parent`/`name` as an absolute HDF5 path.
inline std::string join(const std::string& parent, const std::string& name) {
  return parent == "/" ? "/" + name : parent + "/" + name;
}

/// Bob Jenkins' lookup3 hashlittle(), the checksum HDF5 puts on its newer metadata (H5_checksum_lookup3).
inline std::uint32_t lookup3(const unsigned char* k, std::size_t length, std::uint32_t initval = 0) {
  auto rot = [](std::uint32_t x, int r) { return (x << r) | (x >> (32 - r)); };
  auto u = [](unsigned char byte, int shift) { return static_cast<std::uint32_t>(byte) << shift; };
  std::uint32_t a = 0xdeadbeef + static_cast<std::uint32_t>(length) + initval, b = a, c = a;
  while (length > 12) {
    a += u(k[0], 0) + u(k[1], 8) + u(k[2], 16) + u(k[3], 24);
    b += u(k[4], 0) + u(k[5], 8) + u(k[6], 16) + u(k[7], 24);
    c += u(k[8], 0) + u(k[9], 8) + u(k[10], 16) + u(k[11], 24);
    a -= c; a ^= rot(c, 4); c += b;
    b -= a; b ^= rot(a, 6); a += c;
    c -= b; c ^= rot(b, 8); b += a;
    a -= c; a ^= rot(c, 16); c += b;
    b -= a; b ^= rot(a, 19); a += c;
    c -= b; c ^= rot(b, 4); b += a;
    length -= 12;
    k += 12;
  }
  if (length == 0) return c;
  std::uint32_t* words[3] = {&a, &b, &c};  // the last 1..12 bytes, little-endian into a, b, c
  for (std::size_t i = 0; i < length; ++i) *words[i / 4] += u(k[i], 8 * static_cast<int>(i % 4));
  c ^= b; c -= rot(b, 14);
  a ^= c; a -= rot(c, 11);
  b ^= a; b -= rot(a, 25);
  c ^= b; c -= rot(b, 16);
  a ^= c; a -= rot(c, 4);
  b ^= a; b -= rot(a, 14);
  c ^= b; c -= rot(b, 24);
  return c;
}

class Dataset;
class Group;

/// A file, group or dataset, with its file name and object path kept for messages.
class Object {
 public:
  /// The HDF5 identifier.
  hid_t id() const { return handle_.get(); }
  /// True when the object is open.
  bool valid() const { return handle_.valid(); }
  /// The file name, for messages.
  const std::string& file() const { return file_; }
  /// The object's absolute path in the file ("/" for the root).
  const std::string& path() const { return path_; }
  /// True when opened for writing (failures are then IoError, not FormatError).
  bool writing() const { return writing_; }
  /// "file 'model.h5', object '/model_weights/dense'"
  std::string where() const { return "file '" + file_ + "', object '" + path_ + "'"; }
  /// Like where(), for a child of this object.
  std::string where(const std::string& child) const {
    return "file '" + file_ + "', object '" + join(path_, child) + "'";
  }
  /// Closes the object.
  void reset() { handle_.reset(); }

  // ---- attributes ----------------------------------------------------------------------------------------------

  /// True when the object has an attribute `name`.
  bool has_attribute(const std::string& name) const {
    const htri_t e = H5Aexists(id(), name.c_str());
    if (e < 0) fail(writing_, "cannot look up attribute '" + name + "' of " + where());
    return e > 0;
  }
  /// Deletes attribute `name`.
  void remove_attribute(const std::string& name) {
    check_status(H5Adelete(id(), name.c_str()), writing_, "cannot delete attribute '" + name + "' of " + where());
  }

  /// Reads a string attribute: fixed- or variable-length, ASCII or UTF-8, a scalar or a 1-D array (each element is
  /// one string). An empty numeric array (what Keras writes for a layer without weights) reads as no strings.
  /// Refuses more than max_items elements or max_bytes of text; fixed-length data is checked before it is read.
  std::vector<std::string> read_strings(const std::string& name, std::uint64_t max_items,
                                        std::uint64_t max_bytes) const {
    const std::string what = "attribute '" + name + "' of " + where();
    Handle attr = check(H5Aopen(id(), name.c_str(), H5P_DEFAULT), false, "cannot open " + what);
    Handle type = check(H5Aget_type(attr.get()), false, "cannot read the type of " + what);
    Handle space = check(H5Aget_space(attr.get()), false, "cannot read the shape of " + what);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    const hssize_t npoints = H5Sget_simple_extent_npoints(space.get());
    if (rank < 0 || npoints < 0) fail(false, "cannot read the shape of " + what);
    if (rank > 1) throw FormatError(what + " has rank " + std::to_string(rank) + "; expected a string or a list");
    const auto n = static_cast<std::uint64_t>(npoints);
    if (H5Tget_class(type.get()) != H5T_STRING) {
      if (n == 0) return {};
      throw FormatError(what + " holds " + describe_type(type.get()) + " values; expected strings");
    }
    if (n > max_items)
      throw FormatError(what + " holds " + std::to_string(n) + " strings, more than the limit of " +
                        std::to_string(max_items));
    std::vector<std::string> out;
    if (n == 0) return out;
    out.reserve(static_cast<std::size_t>(n));

    const htri_t is_var = H5Tis_variable_str(type.get());
    if (is_var < 0) fail(false, "cannot read the string type of " + what);
    if (is_var > 0) {
      // HDF5 allocates variable-length strings itself (their size lives in the file, so it is bounded by it);
      // we check the total afterwards and always give the memory back.
      Handle mem = check(H5Tcopy(H5T_C_S1), false, "cannot make a string type for " + what);
      check_status(H5Tset_size(mem.get(), H5T_VARIABLE), false, "cannot make a string type for " + what);
      check_status(H5Tset_cset(mem.get(), H5Tget_cset(type.get())), false, "cannot make a string type for " + what);
      std::vector<char*> ptrs(static_cast<std::size_t>(n), nullptr);
      if (H5Aread(attr.get(), mem.get(), ptrs.data()) < 0) fail(false, "cannot read " + what);
      std::uint64_t total = 0;
      bool too_big = false;
      for (char* p : ptrs) {
        const std::size_t len = p ? std::strlen(p) : 0;
        total += len;
        if (total > max_bytes) {
          too_big = true;
          break;
        }
        out.emplace_back(p ? p : "", len);
      }
      reclaim(mem.get(), space.get(), ptrs.data());
      if (too_big)
        throw FormatError(what + " holds more than the limit of " + std::to_string(max_bytes) + " bytes of text");
      return out;
    }

    const std::size_t size = H5Tget_size(type.get());
    if (size == 0) fail(false, "cannot read the string size of " + what);
    if (size > max_bytes || n > max_bytes / size)
      throw FormatError(what + " holds " + std::to_string(n) + " x " + std::to_string(size) +
                        " bytes, more than the limit of " + std::to_string(max_bytes) + " bytes");
    const H5T_str_t pad = H5Tget_strpad(type.get());
    std::vector<char> buf(static_cast<std::size_t>(n) * size);
    if (H5Aread(attr.get(), type.get(), buf.data()) < 0) fail(false, "cannot read " + what);
    for (std::uint64_t i = 0; i < n; ++i) {
      const char* p = buf.data() + i * size;
      std::size_t len = 0;
      while (len < size && p[len] != '\0') ++len;
      if (pad == H5T_STR_SPACEPAD)
        while (len > 0 && p[len - 1] == ' ') --len;
      out.emplace_back(p, len);
    }
    return out;
  }

  /// A single string (a scalar attribute, or a list of exactly one).
  std::string read_string(const std::string& name, std::uint64_t max_bytes) const {
    std::vector<std::string> v = read_strings(name, 1, max_bytes);
    if (v.size() != 1) throw FormatError("attribute '" + name + "' of " + where() + " holds no string");
    return std::move(v[0]);
  }

  /// Writes strings as FIXED-LENGTH, NUL-padded strings (what h5py 2 wrote): every Keras and h5py version reads
  /// them, whereas Keras <= 2.3 on h5py 3 cannot decode variable-length ones. `width` (0 = the longest value) lets
  /// Keras' chunked attributes share one width. UTF-8 when any byte is non-ASCII.
  void write_strings(const std::string& name, const std::vector<std::string>& values, bool scalar = false,
                     std::size_t width = 0) {
    const std::string what = "attribute '" + name + "' of " + where();
    if (scalar && values.size() != 1) throw Error("internal: scalar string attribute needs one value");
    bool utf8 = false;
    for (const auto& v : values) {
      width = std::max(width, v.size());
      for (char c : v) utf8 = utf8 || (static_cast<unsigned char>(c) & 0x80) != 0;
    }
    width = std::max<std::size_t>(width, 1);  // HDF5 has no zero-length string type; numpy uses S1 for b''
    Handle type = check(H5Tcopy(H5T_C_S1), true, "cannot make a string type for " + what);
    check_status(H5Tset_size(type.get(), width), true, "cannot size the string type for " + what);
    check_status(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), true, "cannot make a string type for " + what);
    check_status(H5Tset_cset(type.get(), utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII), true,
                 "cannot make a string type for " + what);
    const hsize_t n = values.size();
    Handle space = check(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), true,
                         "cannot make the shape of " + what);
    std::vector<char> buf(std::max<std::size_t>(values.size(), 1) * width, '\0');
    for (std::size_t i = 0; i < values.size(); ++i) std::memcpy(buf.data() + i * width, values[i].data(), values[i].size());
    write_attribute(name, type.get(), space.get(), buf.data());
  }
  /// Writes a scalar fixed-length string attribute.
  void write_string(const std::string& name, const std::string& value) { write_strings(name, {value}, true); }

  /// An empty float64 array of shape (0,): what Keras (via numpy) writes as weight_names of a weightless layer.
  void write_empty_list(const std::string& name) {
    const hsize_t zero = 0;
    Handle space = check(H5Screate_simple(1, &zero, nullptr), true,
                         "cannot make the shape of attribute '" + name + "' of " + where());
    const double dummy = 0;
    write_attribute(name, H5T_IEEE_F64LE, space.get(), &dummy, H5T_NATIVE_DOUBLE);
  }

 protected:
  Object() = default;
  /// Wraps an open identifier with its file name and path.
  Object(Handle handle, std::string file, std::string path, bool writing)
      : handle_(std::move(handle)), file_(std::move(file)), path_(std::move(path)), writing_(writing) {}

  /// Frees the memory HDF5 allocated for variable-length data read into `buf`.
  static void reclaim(hid_t mem_type, hid_t space, void* buf) {
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(mem_type, space, H5P_DEFAULT, buf);
#else
    H5Dvlen_reclaim(mem_type, space, H5P_DEFAULT, buf);
#endif
  }

  /// Writes (replacing) an attribute; `mem_type` is the type of `data` in memory (default: the file type).
  void write_attribute(const std::string& name, hid_t type, hid_t space, const void* data, hid_t mem_type = -1) {
    const std::string what = "attribute '" + name + "' of " + where();
    if (has_attribute(name)) remove_attribute(name);
    Handle attr = check(H5Acreate2(id(), name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), true,
                        "cannot create " + what);
    check_status(H5Awrite(attr.get(), mem_type >= 0 ? mem_type : type, data), true, "cannot write " + what);
  }

  /// The owned identifier.
  Handle handle_;
  /// The file name, for messages.
  std::string file_;
  /// The object's absolute path.
  std::string path_ = "/";
  /// True when opened for writing.
  bool writing_ = false;
};

/// A dataset: its shape and type, and reads/writes of the whole array in C order.
class Dataset : public Object {
 public:
  Dataset() = default;
  /// Wraps an open dataset identifier.
  Dataset(Handle handle, std::string file, std::string path, bool writing)
      : Object(std::move(handle), std::move(file), std::move(path), writing) {}

  /// The dataset's shape.
  std::vector<hsize_t> dims() const {
    Handle space = check(H5Dget_space(id()), writing_, "cannot read the shape of " + where());
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0) fail(writing_, "cannot read the shape of " + where());
    std::vector<hsize_t> d(static_cast<std::size_t>(rank));
    if (rank > 0 && H5Sget_simple_extent_dims(space.get(), d.data(), nullptr) < 0)
      fail(writing_, "cannot read the shape of " + where());
    return d;
  }
  /// The HDF5 type class of the stored elements (H5T_FLOAT, H5T_INTEGER, ...).
  H5T_class_t type_class() const {
    Handle type = check(H5Dget_type(id()), writing_, "cannot read the type of " + where());
    return H5Tget_class(type.get());
  }
  /// numpy's name of the stored type ("float32"), for messages.
  std::string type_name() const {
    Handle type = check(H5Dget_type(id()), writing_, "cannot read the type of " + where());
    return describe_type(type.get());
  }

  /// Reads all `count` elements, converted by HDF5 to T (float64 -> float32 and back, any byte order).
  template <class T>
  void read(T* out, std::uint64_t count) const {
    std::uint64_t n = 1;
    for (hsize_t d : dims()) n *= d;
    if (n != count)
      throw FormatError(where() + " holds " + std::to_string(n) + " values, expected " + std::to_string(count));
    if (H5Dread(id(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) fail(false, "cannot read " + where());
  }
  template <class T>
  /// Writes the whole dataset from `data`, converted by HDF5 from T.
  void write(const T* data) {
    check_status(H5Dwrite(id(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data), true,
                 "cannot write " + where());
  }
};

/// A group (or the root of a file): children looked up safely, groups and datasets created.
class Group : public Object {
 public:
  Group() = default;
  /// Wraps an open group identifier.
  Group(Handle handle, std::string file, std::string path, bool writing)
      : Object(std::move(handle), std::move(file), std::move(path), writing) {}

  /// True when `name` (one component) is a link in this group.
  bool has(const std::string& name) const {
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") return false;
    const htri_t e = H5Lexists(id(), name.c_str(), H5P_DEFAULT);
    if (e < 0) fail(writing_, "cannot look up '" + name + "' in " + where());
    return e > 0;
  }

  /// Opens a group or dataset at a path relative to this group. Each component must exist and be a hard link
  /// (like Keras' safe_get_h5_group: soft and external links could point anywhere), and nothing may climb up.
  Group group(const std::string& relpath) const {
    std::string path;
    Handle h = open_object(relpath, H5I_GROUP, path);
    return Group(std::move(h), file_, path, writing_);
  }
  /// Opens a dataset at a relative path, checked like group(); refuses data kept outside the file.
  Dataset dataset(const std::string& relpath) const {
    std::string path;
    Handle h = open_object(relpath, H5I_DATASET, path);
    // External raw-data files and virtual datasets would read outside this file.
    Handle dcpl = check(H5Dget_create_plist(h.get()), writing_, "cannot read the storage of " + where(relpath));
    const int external = H5Pget_external_count(dcpl.get());
    if (external != 0 || H5Pget_layout(dcpl.get()) == H5D_VIRTUAL)
      throw FormatError(where(relpath) + " keeps its data outside the file (external or virtual), which is refused");
    return Dataset(std::move(h), file_, path, writing_);
  }

  /// Creates a child group `name`.
  Group create_group(const std::string& name) {
    Handle h = check(H5Gcreate2(id(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), true,
                     "cannot create group " + where(name));
    return Group(std::move(h), file_, join(path_, name), true);
  }

  /// Creates a contiguous dataset at a relative path, making the groups on the way (Keras' "conv2d/kernel:0").
  /// Empty dims make a scalar.
  Dataset create_dataset(const std::string& relpath, const std::vector<hsize_t>& dims, hid_t type) {
    const std::string what = "dataset " + where(relpath);
    Handle lcpl = check(H5Pcreate(H5P_LINK_CREATE), true, "cannot create " + what);
    check_status(H5Pset_create_intermediate_group(lcpl.get(), 1), true, "cannot create " + what);
    Handle space = check(dims.empty() ? H5Screate(H5S_SCALAR)
                                      : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                         true, "cannot make the shape of " + what);
    Handle h = check(H5Dcreate2(id(), relpath.c_str(), type, space.get(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT), true,
                     "cannot create " + what);
    return Dataset(std::move(h), file_, join(path_, relpath), true);
  }

  /// Removes a link (used by tests that damage files on purpose).
  void remove(const std::string& relpath) {
    check_status(H5Ldelete(id(), relpath.c_str(), H5P_DEFAULT), true, "cannot delete " + where(relpath));
  }

 private:
  Handle open_object(const std::string& relpath, H5I_type_t want, std::string& path) const {
    const std::string kind = want == H5I_GROUP ? "group" : "dataset";
    if (relpath.empty() || relpath[0] == '/')
      throw FormatError(where() + ": '" + relpath + "' is not a relative path to a " + kind);
    Handle current;  // empty: this group
    path = path_;
    for (const std::string& part : split_path(relpath)) {
      const hid_t loc = current.valid() ? current.get() : id();
      if (part.empty() || part == "." || part == "..")
        throw FormatError(where() + ": '" + relpath + "' is not a valid path to a " + kind);
      const std::string here = join(path, part);
      const htri_t e = H5Lexists(loc, part.c_str(), H5P_DEFAULT);
      if (e < 0) fail(writing_, "cannot look up file '" + file_ + "', object '" + here + "'");
      if (e == 0) throw FormatError("file '" + file_ + "' has no object '" + here + "'");
      H5L_info_t info;
      if (H5Lget_info(loc, part.c_str(), &info, H5P_DEFAULT) < 0)
        fail(writing_, "cannot read the link file '" + file_ + "', object '" + here + "'");
      if (info.type != H5L_TYPE_HARD)
        throw FormatError("file '" + file_ + "', object '" + here + "' is a soft or external link, which is refused");
      current = check(H5Oopen(loc, part.c_str(), H5P_DEFAULT), writing_,
                      "cannot open file '" + file_ + "', object '" + here + "'");
      path = here;
    }
    if (H5Iget_type(current.get()) != want)
      throw FormatError("file '" + file_ + "', object '" + path + "' is not a " + kind);
    return current;
  }
};

/// An open HDF5 file; its root group. Opening checks the operating system's answer first, so a missing or
/// unreadable file is an IoError and only a file that is there but not valid HDF5 is a FormatError.
class File : public Group {
 public:
  File() = default;

  /// Opens an existing file (read-only unless `writable`); IoError when the OS cannot, FormatError when not HDF5.
  static File open(const std::string& path, bool writable = false) {
    silence_errors();
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw IoError("cannot open '" + path + "': " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw IoError("cannot open '" + path + "': not a regular file");
    const int fd = ::open(path.c_str(), writable ? O_RDWR : O_RDONLY);
    if (fd < 0) throw IoError("cannot open '" + path + "': " + std::strerror(errno));
    ::close(fd);
    const hid_t id = H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id < 0) fail(false, "'" + path + "' is not a readable HDF5 file (not HDF5, truncated or corrupt)");
    return File(Handle(id), path, writable);
  }

  /// Creates a file in memory (HDF5's core driver, nothing touches the disk) that image() turns into bytes. Saving
  /// this way means HDF5 never meets a full disk: when it fails to flush on close it keeps the file open and
  /// crashes at exit, whereas our own write of the image fails cleanly. `name` only labels messages and must be
  /// unique among open files. With dense_root_attributes the root keeps its attributes in dense storage (HDF5 1.8
  /// file format), which a single attribute over 64 KiB needs (a very large model_config); otherwise the layout is
  /// h5py's default, readable by every HDF5 version.
  static File create_in_memory(const std::string& name, bool dense_root_attributes = false) {
    silence_errors();
    const std::string what = "cannot create '" + name + "' in memory";
    Handle fcpl = check(H5Pcreate(H5P_FILE_CREATE), true, what);
    Handle fapl = check(H5Pcreate(H5P_FILE_ACCESS), true, what);
    check_status(H5Pset_fapl_core(fapl.get(), std::size_t(1) << 20, 0), true, what);
    if (dense_root_attributes) {
      check_status(H5Pset_attr_phase_change(fcpl.get(), 0, 0), true, what);
#if H5_VERSION_GE(1, 10, 2)
      const H5F_libver_t low = H5F_LIBVER_V18;
#else
      const H5F_libver_t low = H5F_LIBVER_LATEST;
#endif
      check_status(H5Pset_libver_bounds(fapl.get(), low, H5F_LIBVER_LATEST), true, what);
    }
    const hid_t id = H5Fcreate(name.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get());
    if (id < 0) fail(true, what);
    return File(Handle(id), name, true);
  }

  /// Opens, read-only, an HDF5 file held in memory (the weights inside a .keras zip): HDF5's core driver over a copy
  /// of `bytes` it owns, nothing touches the disk. `name` labels messages and must be unique among open files.
  static File open_image(const std::string& name, const std::vector<char>& bytes) {
    silence_errors();
    const std::string what = "cannot open '" + name + "'";
    if (bytes.size() < 8 || std::memcmp(bytes.data(), "\x89HDF\r\n\x1a\n", 8) != 0)
      throw FormatError(what + ": not an HDF5 file (no HDF5 signature)");
    Handle fapl = check(H5Pcreate(H5P_FILE_ACCESS), false, what);
    check_status(H5Pset_fapl_core(fapl.get(), std::size_t(1) << 20, 0), false, what);
    check_status(H5Pset_file_image(fapl.get(), const_cast<char*>(bytes.data()), bytes.size()), false, what);
    const hid_t id = H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl.get());
    if (id < 0) fail(false, what);
    return File(Handle(id), name, false);
  }

  /// The bytes of the whole file as it would lie on disk (after a flush).
  std::vector<char> image() const {
    check_status(H5Fflush(id(), H5F_SCOPE_GLOBAL), true, "cannot flush '" + file_ + "'");
    const ssize_t size = H5Fget_file_image(id(), nullptr, 0);
    if (size < 0) fail(true, "cannot take the image of '" + file_ + "'");
    std::vector<char> bytes(static_cast<std::size_t>(size));
    if (size > 0 && H5Fget_file_image(id(), bytes.data(), bytes.size()) != size)
      fail(true, "cannot take the image of '" + file_ + "'");
    // HDF5 1.10 clears a version 2/3 superblock's status flags in the image without updating its checksum, so such
    // an image would not open again: recompute it (superblock: 12 bytes, four addresses, then the checksum).
    auto* b = reinterpret_cast<unsigned char*>(bytes.data());
    if (bytes.size() >= 48 && std::memcmp(b, "\x89HDF\r\n\x1a\n", 8) == 0 && (b[8] == 2 || b[8] == 3)) {
      const std::size_t at = 12 + 4 * static_cast<std::size_t>(b[9]);
      if (at + 4 <= bytes.size()) {
        const std::uint32_t sum = lookup3(b, at);
        for (int i = 0; i < 4; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<unsigned char>(sum >> (8 * i));
      }
    }
    return bytes;
  }

  /// Flushes and closes, reporting a failure (a disk that filled up) instead of losing it in a destructor.
  void close() {
    if (!valid()) return;
    const hid_t id = handle_.release();
    if (H5Fclose(id) < 0) fail(writing_, "cannot close '" + file_ + "'");
  }

 private:
  File(Handle handle, const std::string& path, bool writing) : Group(std::move(handle), path, "/", writing) {}
};

}  // namespace nnlite::h5
