// tests/test_idx.cpp: the IDX reader and MNIST-style loader on hand-made and deliberately broken files, and on
// Debian's Fashion-MNIST files when the dataset-fashion-mnist package is installed.
#include <doctest/doctest.h>

#ifdef NNLITE_WITH_IO

#include <nnlite/data/fashion_mnist.hpp>
#include <nnlite/io/idx.hpp>

#include <unistd.h>
#include <zlib.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace test_idx {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

namespace {

struct TempDir : test_support::TempDir {  // a fresh scratch directory per test
  TempDir() : test_support::TempDir("nnlite_test_idx") {}
};

// An IDX file's bytes: magic 00 00 dtype rank, big-endian dimensions, then the data.
Bytes idx_bytes(std::vector<std::uint32_t> dims, const Bytes& data, std::uint8_t dtype = 0x08) {
  Bytes b = {0, 0, dtype, static_cast<std::uint8_t>(dims.size())};
  for (std::uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<std::uint8_t>(d >> shift));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

Bytes iota_bytes(std::size_t n, std::uint8_t mul = 1) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * mul);
  return b;
}

// Bytes that deflate cannot shrink, so cutting the .gz in half really cuts the data.
Bytes noise_bytes(std::size_t n) {
  nnlite::Rng rng(7);
  Bytes b(n);
  for (auto& v : b) v = static_cast<std::uint8_t>(rng() >> 56);
  return b;
}

void write_plain(const std::string& path, const Bytes& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(f.good());
}

void write_gz(const std::string& path, const Bytes& bytes) {
  gzFile gz = gzopen(path.c_str(), "wb");
  REQUIRE(gz != nullptr);
  if (!bytes.empty()) REQUIRE(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())) == int(bytes.size()));
  REQUIRE(gzclose(gz) == Z_OK);
}

Bytes read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Runs f, expecting exactly exception type E whose message contains every fragment.
template <class E, class F>
void check_throws(F&& f, std::initializer_list<std::string> fragments) {
  try {
    f();
    FAIL_CHECK("no exception thrown");
  } catch (const E& e) {
    const std::string msg = e.what();
    for (const std::string& frag : fragments)
      CHECK_MESSAGE(msg.find(frag) != std::string::npos, "message \"" << msg << "\" lacks \"" << frag << "\"");
  } catch (const std::exception& e) {
    FAIL_CHECK("wrong exception type, message: " << e.what());
  }
}

// Four small files in dir, as an MNIST-style dataset: `n` 3x2 images and `labels`.
void write_small_set(const TempDir& dir, const Bytes& labels, std::uint32_t n_images, bool gz) {
  auto write = [&](const std::string& base, const Bytes& bytes) {
    if (gz)
      write_gz(dir.file(base + ".gz"), bytes);
    else
      write_plain(dir.file(base), bytes);
  };
  const nnlite::MnistFileNames names;
  write(names.train_images, idx_bytes({n_images, 3, 2}, iota_bytes(n_images * 6u)));
  write(names.train_labels, idx_bytes({static_cast<std::uint32_t>(labels.size())}, labels));
  write(names.test_images, idx_bytes({1, 3, 2}, iota_bytes(6, 3)));
  write(names.test_labels, idx_bytes({1}, {4}));
}

}  // namespace

TEST_CASE("read_idx: plain and gzip'd files of rank 1 to 4, recognised by content, not name") {
  TempDir dir;
  const std::vector<std::vector<std::uint32_t>> shapes = {{5}, {3, 4}, {2, 3, 4}, {2, 1, 3, 2}};
  for (const auto& dims : shapes) {
    std::size_t n = 1;
    for (auto d : dims) n *= d;
    const Bytes data = iota_bytes(n, 7);
    const Bytes file = idx_bytes(dims, data);
    // A gzip file named like a plain one and a plain file named like a gzip one.
    write_plain(dir.file("plain.gz"), file);
    write_gz(dir.file("packed.idx"), file);
    for (const char* name : {"plain.gz", "packed.idx"}) {
      CAPTURE(name);
      const nnlite::IdxArray a = nnlite::read_idx(dir.file(name));
      REQUIRE(a.rank() == dims.size());
      for (std::size_t i = 0; i < dims.size(); ++i) CHECK(a.dims[i] == dims[i]);
      CHECK(a.data == data);
    }
  }
}

TEST_CASE("read_idx: a gzip'd file larger than one read chunk comes back intact") {
  TempDir dir;
  const Bytes data = noise_bytes(3000 * 28 * 28);  // 2.35 MB of data: several gzread calls, one growth step
  write_gz(dir.file("big.gz"), idx_bytes({3000, 28, 28}, data));
  const nnlite::IdxArray a = nnlite::read_idx(dir.file("big.gz"));
  CHECK(a.dims == std::vector<std::int64_t>{3000, 28, 28});
  CHECK(a.data == data);
  CHECK(a.data.capacity() == data.size());  // grown in steps, never beyond the declared size
}

TEST_CASE("read_idx: bad magic, dtype, rank and dimensions") {
  TempDir dir;
  const std::string p = dir.file("x.idx");
  auto read = [&] { nnlite::read_idx(p); };

  Bytes bad_magic = idx_bytes({4}, iota_bytes(4));
  bad_magic[0] = 0x50;  // "PK": a zip file, say
  bad_magic[1] = 0x4b;
  write_plain(p, bad_magic);
  check_throws<nnlite::FormatError>(read, {p, "bad magic", "0x00 0x00", "found 0x50 0x4b 0x08 0x01"});

  write_plain(p, idx_bytes({4}, Bytes(16), 0x0D));
  check_throws<nnlite::UnsupportedError>(read, {p, "float32 (0x0D)", "only uint8 (0x08)"});
  write_plain(p, idx_bytes({4}, Bytes(4), 0x09));
  check_throws<nnlite::UnsupportedError>(read, {p, "int8 (0x09)"});
  write_plain(p, idx_bytes({4}, Bytes(4), 0x42));
  check_throws<nnlite::FormatError>(read, {p, "unknown IDX dtype 0x42"});

  write_plain(p, idx_bytes({}, {}));
  check_throws<nnlite::FormatError>(read, {p, "rank 0", "expected 1 to 4"});
  write_plain(p, idx_bytes({1, 1, 1, 1, 1}, {9}));
  check_throws<nnlite::UnsupportedError>(read, {p, "rank 5"});

  write_plain(p, idx_bytes({3, 0, 2}, {}));
  check_throws<nnlite::FormatError>(read, {p, "dimension 1 is 0"});

  write_plain(p, {0, 0});
  check_throws<nnlite::FormatError>(read, {p, "4-byte magic", "found only 2"});
  write_plain(p, {0, 0, 8, 3, 0, 0, 0, 1, 0, 0});
  check_throws<nnlite::FormatError>(read, {p, "ends inside the header", "expected 12", "found 6"});
}

TEST_CASE("read_idx: truncated and trailing data, plain and gzip'd") {
  TempDir dir;
  const Bytes data = noise_bytes(40 * 28 * 28);
  const Bytes file = idx_bytes({40, 28, 28}, data);

  SUBCASE("truncated plain") {
    const std::string p = dir.file("short.idx");
    write_plain(p, Bytes(file.begin(), file.end() - 100));
    check_throws<nnlite::FormatError>([&] { nnlite::read_idx(p); },
                                      {p, "40 x 28 x 28", "should be 31376 bytes", "it is 31276", "truncated"});
  }
  SUBCASE("trailing garbage plain") {
    const std::string p = dir.file("long.idx");
    Bytes longer = file;
    longer.push_back(0xff);
    write_plain(p, longer);
    check_throws<nnlite::FormatError>([&] { nnlite::read_idx(p); }, {p, "it is 31377", "trailing data"});
  }
  SUBCASE("truncated gzip, cut inside the data") {
    const std::string p = dir.file("short.gz");
    write_gz(p, file);
    fs::resize_file(p, fs::file_size(p) / 2);
    check_throws<nnlite::FormatError>([&] { nnlite::read_idx(p); }, {p, "gzip stream ends early", "31360 data bytes"});
  }
  SUBCASE("truncated gzip, all data present but the trailer cut") {
    const std::string p = dir.file("notrailer.gz");
    write_gz(p, file);
    fs::resize_file(p, fs::file_size(p) - 4);
    check_throws<nnlite::FormatError>([&] { nnlite::read_idx(p); }, {p, "gzip stream ends early"});
  }
  SUBCASE("corrupt gzip: a CRC that does not match") {
    const std::string p = dir.file("crc.gz");
    write_gz(p, file);
    Bytes gz = read_all(p);
    gz[gz.size() - 6] ^= 0x55;  // inside the CRC-32 (the trailer is CRC-32, then ISIZE)
    write_plain(p, gz);
    check_throws<nnlite::FormatError>([&] { nnlite::read_idx(p); }, {p, "corrupt gzip data"});
  }
  SUBCASE("gzip stream that decompresses to more than the header declares") {
    const std::string p = dir.file("long.gz");
    Bytes longer = file;
    longer.insert(longer.end(), {1, 2, 3});
    write_gz(p, longer);
    check_throws<nnlite::FormatError>([&] { nnlite::read_idx(p); }, {p, "trailing data", "40 x 28 x 28"});
  }
}

TEST_CASE("read_idx: a tiny file declaring 4 billion images is rejected before anything is allocated") {
  TempDir dir;
  const std::string p = dir.file("liar.idx");
  Bytes liar = idx_bytes({4000000000u, 28, 28}, {});
  liar.resize(100, 0x2a);  // a 100-byte file
  write_plain(p, liar);

  // 3.1 TB declared: over the default 2 GiB ceiling.
  check_throws<nnlite::FormatError>([&] { nnlite::read_idx(p); },
                                    {p, "4000000000 x 28 x 28", "limit of 2147483648 bytes"});
  // With the ceiling lifted the file size still gives it away. Had read_idx allocated 3.1 TB first, this would be
  // std::bad_alloc (or the process killed), not a FormatError.
  nnlite::IdxLimits huge;
  huge.max_bytes = std::uint64_t(1) << 62;
  check_throws<nnlite::FormatError>([&] { nnlite::read_idx(p, huge); },
                                    {p, "3136000000000 data bytes", "should be 3136000000016", "it is 100"});
  // A gzip'd liar cannot be checked against an exact size, but against what deflate can possibly expand to.
  const std::string pgz = dir.file("liar.gz");
  write_gz(pgz, liar);
  check_throws<nnlite::FormatError>([&] { nnlite::read_idx(pgz, huge); }, {pgz, "gzip file can hold"});
  // The ceiling is applied to gzip'd files before anything else too.
  check_throws<nnlite::FormatError>([&] { nnlite::read_idx(pgz); }, {pgz, "IdxLimits::max_bytes"});
  // Four dimensions of 4e9 each overflow 64 bits; the product is compared before it is formed.
  write_plain(p, idx_bytes({4000000000u, 4000000000u, 4000000000u, 4000000000u}, {}));
  check_throws<nnlite::FormatError>([&] { nnlite::read_idx(p, huge); }, {p, "limit of"});
}

TEST_CASE("read_idx: a lower ceiling rejects an honest file that exceeds it") {
  TempDir dir;
  const std::string p = dir.file("a.idx");
  write_plain(p, idx_bytes({10, 10}, Bytes(100)));
  nnlite::IdxLimits small;
  small.max_bytes = 99;
  check_throws<nnlite::FormatError>([&] { nnlite::read_idx(p, small); }, {"10 x 10", "limit of 99 bytes"});
  small.max_bytes = 100;
  CHECK(nnlite::read_idx(p, small).data.size() == 100);
}

TEST_CASE("read_idx: a missing file or a directory is an IoError naming the path") {
  TempDir dir;
  const std::string p = dir.file("no-such-file-idx3-ubyte.gz");
  check_throws<nnlite::IoError>([&] { nnlite::read_idx(p); }, {p, "No such file or directory"});
  check_throws<nnlite::IoError>([&] { nnlite::read_idx(dir.path.string()); }, {dir.path.string(), "not a regular file"});
}

TEST_CASE("load_mnist_style: a consistent set loads, plain or gzip'd") {
  for (bool gz : {false, true}) {
    CAPTURE(gz);
    TempDir dir;
    write_small_set(dir, {0, 9, 3}, 3, gz);
    CHECK(nnlite::holds_mnist_files(dir.path.string()));
    const nnlite::MnistData d = nnlite::load_mnist_style(dir.path.string());
    CHECK(d.train.n == 3);
    CHECK(d.train.h == 3);
    CHECK(d.train.w == 2);
    CHECK(d.train.images == iota_bytes(18));
    CHECK(d.train.labels == Bytes{0, 9, 3});
    CHECK(d.train.image(2)[0] == 12);
    CHECK(d.test.n == 1);
    CHECK(d.test.images == iota_bytes(6, 3));
    CHECK(d.test.labels == Bytes{4});
  }
}

TEST_CASE("load_mnist_style: sets whose files do not belong together") {
  TempDir dir;
  const std::string d = dir.path.string();
  const nnlite::MnistFileNames names;
  const std::string train_labels = dir.file(names.train_labels), train_images = dir.file(names.train_images);

  SUBCASE("more images than labels") {
    write_small_set(dir, {1, 2}, 3, false);
    check_throws<nnlite::FormatError>([&] { nnlite::load_mnist_style(d); },
                                      {train_images, train_labels, "3 images but 2 labels"});
  }
  SUBCASE("label out of range") {
    write_small_set(dir, {1, 10, 2}, 3, false);
    check_throws<nnlite::FormatError>([&] { nnlite::load_mnist_style(d); },
                                      {train_labels, "label 10 at index 1", "below 10"});
    // With more classes the same file is fine.
    CHECK(nnlite::load_mnist_style(d, 11).train.labels[1] == 10);
  }
  SUBCASE("images of the wrong rank") {
    write_small_set(dir, {1, 2, 3}, 3, false);
    write_plain(train_images, idx_bytes({3, 6}, Bytes(18)));
    check_throws<nnlite::FormatError>([&] { nnlite::load_mnist_style(d); },
                                      {train_images, "expected images of rank 3", "found rank 2 (3 x 6)"});
  }
  SUBCASE("labels of the wrong rank") {
    write_small_set(dir, {1, 2, 3}, 3, false);
    write_plain(train_labels, idx_bytes({3, 1}, Bytes(3)));
    check_throws<nnlite::FormatError>([&] { nnlite::load_mnist_style(d); },
                                      {train_labels, "expected labels of rank 1", "found rank 2"});
  }
  SUBCASE("a missing file") {
    write_small_set(dir, {1, 2, 3}, 3, false);
    fs::remove(dir.file(names.test_labels));
    CHECK_FALSE(nnlite::holds_mnist_files(d));
    check_throws<nnlite::IoError>([&] { nnlite::load_mnist_style(d); },
                                  {dir.file(names.test_labels) + ".gz", "No such file or directory"});
  }
}

TEST_CASE("default_fashion_mnist_dir: the project's directory when it holds all four files, else Debian's") {
  TempDir dir;
  const std::string d = dir.path.string();
  CHECK(nnlite::default_fashion_mnist_dir(d) == "/usr/share/datasets/fashion-mnist");
  CHECK(nnlite::default_fashion_mnist_dir(d + "/does-not-exist") == nnlite::debian_fashion_mnist_dir());
  // A mixture of plain and .gz counts.
  const nnlite::MnistFileNames names;
  write_plain(dir.file(names.train_images), {});
  write_plain(dir.file(names.train_labels + ".gz"), {});
  write_plain(dir.file(names.test_images), {});
  CHECK(nnlite::default_fashion_mnist_dir(d) == nnlite::debian_fashion_mnist_dir());
  write_plain(dir.file(names.test_labels + ".gz"), {});
  CHECK(nnlite::holds_mnist_files(d));
  CHECK(nnlite::default_fashion_mnist_dir(d) == d);
  CHECK(nnlite::find_idx_file(d, names.train_labels) == dir.file(names.train_labels + ".gz"));
  CHECK(nnlite::find_idx_file(d, names.train_images) == dir.file(names.train_images));
  CHECK(nnlite::find_idx_file(d, "nothing").empty());
}

TEST_CASE("fashion_mnist_class_names") {
  const auto& names = nnlite::fashion_mnist_class_names();
  REQUIRE(names.size() == 10);
  CHECK(names[0] == "T-shirt/top");
  CHECK(names[9] == "Ankle boot");
}

namespace {
// Debian's Fashion-MNIST, loaded once for every test below; null (with a message) when it is not installed.
const nnlite::MnistData* debian_fashion_mnist() {
  static std::unique_ptr<nnlite::MnistData> data;
  static bool tried = false;
  if (!tried) {
    tried = true;
    if (nnlite::holds_mnist_files(nnlite::debian_fashion_mnist_dir())) {
      const auto start = std::chrono::steady_clock::now();
      data = std::make_unique<nnlite::MnistData>(nnlite::load_fashion_mnist(nnlite::debian_fashion_mnist_dir()));
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
      MESSAGE("loaded Debian's Fashion-MNIST (.gz) in " << took.count() << " s");
    }
  }
  if (!data)
    MESSAGE("skipped: " << nnlite::debian_fashion_mnist_dir()
                        << " does not hold Fashion-MNIST (install the dataset-fashion-mnist package)");
  return data.get();
}
}  // namespace

TEST_CASE("Fashion-MNIST from Debian's package: shapes, first labels, checksums, class balance") {
  const nnlite::MnistData* d = debian_fashion_mnist();
  if (!d) return;
  CHECK(d->train.n == 60000);
  CHECK(d->train.h == 28);
  CHECK(d->train.w == 28);
  CHECK(d->train.images.size() == 60000u * 28 * 28);
  CHECK(d->test.n == 10000);
  CHECK(d->test.h == 28);
  CHECK(d->test.w == 28);

  // Values computed once with python3's gzip module, independently of this reader:
  //   python3 -c "import gzip; d=gzip.open('train-labels-idx1-ubyte.gz').read(); print(list(d[8:18]))"
  const Bytes first_train{9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
  const Bytes first_test{9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
  CHECK(Bytes(d->train.labels.begin(), d->train.labels.begin() + 10) == first_train);
  CHECK(Bytes(d->test.labels.begin(), d->test.labels.begin() + 10) == first_test);

  // Sums of pixel bytes, the same way: d=gzip.open('train-images-idx3-ubyte.gz').read();
  //   sum(d[16:16+784]) -> 76247, sum(d[16+784:16+2*784]) -> 84598, sum(d[16:]) -> 3431114169;
  //   for t10k-images: sum(d[16:16+784]) -> 33456, sum(d[16:]) -> 573469082.
  auto sum = [](const std::uint8_t* p, std::size_t n) {
    std::uint64_t s = 0;
    for (std::size_t i = 0; i < n; ++i) s += p[i];
    return s;
  };
  CHECK(sum(d->train.image(0), 784) == 76247u);
  CHECK(sum(d->train.image(1), 784) == 84598u);
  CHECK(sum(d->train.images.data(), d->train.images.size()) == 3431114169u);
  CHECK(sum(d->test.image(0), 784) == 33456u);
  CHECK(sum(d->test.images.data(), d->test.images.size()) == 573469082u);

  std::array<int, 10> train_hist{}, test_hist{};
  for (auto l : d->train.labels) ++train_hist.at(l);
  for (auto l : d->test.labels) ++test_hist.at(l);
  for (int c = 0; c < 10; ++c) {
    CAPTURE(c);
    CHECK(train_hist[c] == 6000);
    CHECK(test_hist[c] == 1000);
  }
}

TEST_CASE("Fashion-MNIST from Debian's package: read_idx on one file") {
  if (!nnlite::holds_mnist_files(nnlite::debian_fashion_mnist_dir())) {
    MESSAGE("skipped: " << nnlite::debian_fashion_mnist_dir() << " does not hold Fashion-MNIST");
    return;
  }
  const nnlite::IdxArray labels =
      nnlite::read_idx(nnlite::find_idx_file(nnlite::debian_fashion_mnist_dir(), "t10k-labels-idx1-ubyte"));
  CHECK(labels.dims == std::vector<std::int64_t>{10000});
  CHECK(labels.data.size() == 10000u);
}

}  // namespace test_idx

#endif  // NNLITE_WITH_IO
