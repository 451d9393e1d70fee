// Tests for nnlite/plot.hpp: tick and text-metric known values, canvas drawing, and the four report figures
// rendered in memory (not blank, several colours) and written as PNG files (signature, IHDR size, errors).
#include <doctest/doctest.h>

#ifdef NNLITE_HAVE_PLOT

#include <nnlite/plot.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

#include "test_support.hpp"

namespace test_plot {

namespace fs = std::filesystem;
using namespace nnlite::plot;

namespace {

// A fresh directory under /tmp, removed with everything in it at the end of the test.
struct TempDir : test_support::TempDir {  // a fresh scratch directory per test
  TempDir() : test_support::TempDir("nnlite_test_plot") {}
};

struct PngInfo {
  bool signature_ok = false;
  std::uint32_t width = 0, height = 0;
  std::uintmax_t size = 0;
};

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

// Reads the 8-byte signature and the IHDR chunk that must follow it.
PngInfo read_png_header(const std::string& path) {
  PngInfo info;
  std::ifstream in(path, std::ios::binary);
  unsigned char h[24] = {};
  in.read(reinterpret_cast<char*>(h), sizeof h);
  if (in.gcount() != sizeof h) return info;
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  info.signature_ok = std::equal(sig, sig + 8, h) && be32(h + 8) == 13 && std::string(h + 12, h + 16) == "IHDR";
  info.width = be32(h + 16);
  info.height = be32(h + 20);
  info.size = fs::file_size(path);
  return info;
}

struct PixelStats {
  std::size_t non_background = 0;
  std::size_t distinct_colors = 0;
};

PixelStats stats(const Canvas& c) {
  PixelStats s;
  std::set<std::uint32_t> colors;
  const auto& px = c.pixels();
  const Color bg = c.background();
  for (std::size_t i = 0; i < px.size(); i += 3) {
    if (px[i] != bg.r || px[i + 1] != bg.g || px[i + 2] != bg.b) ++s.non_background;
    colors.insert((std::uint32_t{px[i]} << 16) | (std::uint32_t{px[i + 1]} << 8) | px[i + 2]);
  }
  s.distinct_colors = colors.size();
  return s;
}

// Bounding box of everything that is not background: {x, y, w, h}, or w == 0 if the canvas is blank.
Rect ink_box(const Canvas& c) {
  int x0 = c.width(), y0 = c.height(), x1 = -1, y1 = -1;
  for (int y = 0; y < c.height(); ++y)
    for (int x = 0; x < c.width(); ++x)
      if (c.pixel(x, y) != c.background()) x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
  if (x1 < 0) return {0, 0, 0, 0};
  return {x0, y0, x1 - x0 + 1, y1 - y0 + 1};
}

void check_png(const std::string& path, const Canvas& expected, std::uintmax_t min_bytes) {
  const PngInfo info = read_png_header(path);
  CHECK(info.signature_ok);
  CHECK(info.width == static_cast<std::uint32_t>(expected.width()));
  CHECK(info.height == static_cast<std::uint32_t>(expected.height()));
  CHECK(info.size > min_bytes);
  CHECK_FALSE(fs::exists(nnlite::temp_path_for(path)));
}

const std::vector<std::string> fashion = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

std::vector<nnlite::HistorySeries> realistic_history() {
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0, 1);
  std::vector<nnlite::HistorySeries> runs;
  for (int it = 0; it < 4; ++it) {
    nnlite::HistorySeries h;
    h.label = "iteration " + std::to_string(it + 1);
    for (int e = 0; e < 50; ++e) {
      const double p = 1 - std::exp(-e / (8.0 + 2 * it));
      h.accuracy.push_back(0.80 + 0.15 * p + 0.004 * noise(rng));
      h.val_accuracy.push_back(0.82 + 0.09 * p + 0.006 * noise(rng));
      h.loss.push_back(0.55 - 0.40 * p + 0.008 * noise(rng));
      h.val_loss.push_back(0.50 - 0.25 * p + 0.012 * noise(rng));
    }
    runs.push_back(h);
  }
  return runs;
}

std::vector<std::vector<long>> realistic_confusion() {
  std::mt19937 rng(3);
  std::vector<std::vector<long>> m(10, std::vector<long>(10, 0));
  for (int r = 0; r < 10; ++r) {
    long left = 1000;
    for (int k = 0; k < 10; ++k)
      if (k != r) left -= m[r][k] = std::uniform_int_distribution<long>(0, 15)(rng);
    m[r][r] = left;
  }
  return m;
}

std::vector<nnlite::LayerBox> improved_cnn() {
  return {{"conv2d", "Conv2D", "(None, 26, 26, 32)", 320},
          {"max_pooling2d", "MaxPooling2D", "(None, 13, 13, 32)", 0},
          {"dropout", "Dropout", "(None, 13, 13, 32)", 0},
          {"conv2d_1", "Conv2D", "(None, 11, 11, 64)", 18496},
          {"max_pooling2d_1", "MaxPooling2D", "(None, 5, 5, 64)", 0},
          {"dropout_1", "Dropout", "(None, 5, 5, 64)", 0},
          {"flatten", "Flatten", "(None, 1600)", 0},
          {"dense", "Dense", "(None, 128)", 204928},
          {"dropout_2", "Dropout", "(None, 128)", 0},
          {"dense_1", "Dense", "(None, 10)", 1290}};
}

}  // namespace

TEST_CASE("plot: nice ticks follow the 1-2-5 rule") {
  const auto t = nice_ticks(0.27, 0.93);
  REQUIRE(t.size() == 7);
  for (std::size_t i = 0; i < t.size(); ++i) CHECK(t[i] == doctest::Approx(0.3 + 0.1 * static_cast<double>(i)));
  CHECK(t[0] == 0.3);  // snapped, not 0.30000000000000004

  CHECK(nice_ticks(0, 1, 6) == std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0});
  CHECK(nice_ticks(0, 100, 5) == std::vector<double>{0, 50, 100});
  CHECK(nice_ticks(-3.7, 12.2, 8) == std::vector<double>{-2, 0, 2, 4, 6, 8, 10, 12});
  CHECK(nice_ticks(0.93, 0.27) == t);  // reversed range
  CHECK(nice_step(0.785, 0.965, 8) == doctest::Approx(0.05));
  CHECK(nice_step(-1.45, 52.45, 7) == doctest::Approx(10));
  CHECK(nice_step(1, 1) == 1);  // empty range does not loop or divide by zero
  CHECK_THROWS_AS(nice_step(0, std::nan("")), nnlite::ArgumentError);

  CHECK(tick_decimals(0.05) == 2);
  CHECK(tick_decimals(0.1) == 1);
  CHECK(tick_decimals(5) == 0);
  CHECK(format_tick(0.3, 0.1) == "0.3");
  CHECK(format_tick(0.85, 0.05) == "0.85");
  CHECK(format_tick(800, 200) == "800");
  CHECK(format_tick(-1e-12, 0.1) == "0.0");
}

TEST_CASE("plot: text metrics and placement") {
  CHECK(text_width("", 2) == 0);
  CHECK(text_width("0", 1) == 4);  // a 4-unit glyph; the 2-unit gap after it is not ink
  CHECK(text_width("0", 2) == 8);
  CHECK(text_width("00", 1) == 10);
  CHECK(text_width("Epoch", 3) == 3 * text_width("Epoch", 1));
  CHECK(text_width("ab\nlonger line", 2) == text_width("longer line", 2));
  CHECK(text_height("A", 2) == 14);
  CHECK(text_height("A\nB", 2) == (12 + 7) * 2);
  CHECK(nnlite::group_thousands(204928) == "204,928");
  CHECK(nnlite::group_thousands(320) == "320");
  CHECK(nnlite::group_thousands(1000000) == "1,000,000");
  CHECK(nnlite::group_thousands(-1234) == "-1,234");

  // "HEMI" has no descenders, so the ink box is exactly the measured box.
  {
    Canvas c(200, 60);
    c.text(20, 10, "HEMI", black, 2);
    const Rect b = ink_box(c);
    CHECK(b.x == 20);
    CHECK(b.y == 10);
    CHECK(b.w == text_width("HEMI", 2));
    CHECK(b.h == text_height("HEMI", 2));
  }
  {
    Canvas c(200, 60);
    c.text(100, 30, "HEMI", black, 2, Align::center, VAlign::middle);
    const Rect b = ink_box(c);
    CHECK(std::abs(b.x + b.w / 2 - 100) <= 1);
    CHECK(std::abs(b.y + b.h / 2 - 30) <= 1);
    Canvas r(200, 60);
    r.text(150, 50, "HEMI", black, 2, Align::right, VAlign::bottom);
    const Rect rb = ink_box(r);
    CHECK(rb.right() == 150);
    CHECK(rb.bottom() == 50);
  }
  {
    // Rotated: the box turns on its side, and the text starts at the bottom (reads upwards).
    Canvas c(80, 200);
    c.text(30, 150, "HEMI", black, 2, Align::left, VAlign::top, true);
    const Rect b = ink_box(c);
    CHECK(b.x == 30);
    CHECK(b.bottom() == 151);
    CHECK(b.w == text_height("HEMI", 2));
    CHECK(b.h == text_width("HEMI", 2));
    CHECK(c.pixel(30, 150) == black);  // bottom-left of "H" lands on the anchor
  }
  {
    Canvas c(100, 40);
    c.text(5, 5, "\xc3\xa9\t~", black, 2);  // non-ASCII and control bytes are drawn as '?' instead of overrunning
    CHECK(stats(c).non_background > 0);
  }
}

TEST_CASE("plot: canvas primitives") {
  Canvas c(120, 80, white);
  CHECK(c.width() == 120);
  CHECK(c.height() == 80);
  CHECK(c.pixels().size() == 120u * 80u * 3u);
  CHECK(stats(c).non_background == 0);
  CHECK_THROWS_AS(c.pixel(120, 0), nnlite::ArgumentError);
  CHECK_THROWS_AS(Canvas(0, 10), nnlite::ArgumentError);

  c.fill_rect(10, 10, 5, 4, tab10(0));
  CHECK(stats(c).non_background == 20);
  CHECK(c.pixel(10, 10) == tab10(0));
  CHECK(c.pixel(14, 13) == tab10(0));
  CHECK(c.pixel(15, 13) == white);

  c.fill_rect(-5, -5, 10, 10, black);  // clipped at the canvas edge, no crash
  CHECK(c.pixel(0, 0) == black);

  Canvas outline(50, 50);
  outline.rect(10, 10, 20, 20, black, 2);
  CHECK(stats(outline).non_background == 20 * 20 - 16 * 16);

  // A 1-pixel line through pixel centres is crisp; thick lines cover about length x thickness.
  Canvas l(100, 100);
  l.line(10.5, 20.5, 90.5, 20.5, black, 1.0);
  CHECK(l.pixel(50, 20) == black);
  CHECK(l.pixel(50, 19) == white);
  CHECK(l.pixel(50, 21) == white);
  Canvas thick(100, 100);
  thick.line(10, 50, 90, 50, black, 4.0);
  const auto ts = stats(thick).non_background;
  CHECK(ts >= 80 * 4);
  CHECK(ts <= 90 * 6);

  // Dashes ink roughly half of a solid line, and still more than nothing.
  Canvas solid(200, 40), dashed(200, 40);
  solid.polyline({{10, 20}, {100, 22}, {190, 18}}, tab10(1), 2, LineStyle::solid);
  dashed.polyline({{10, 20}, {100, 22}, {190, 18}}, tab10(1), 2, LineStyle::dashed);
  const auto ns = stats(solid).non_background, nd = stats(dashed).non_background;
  CHECK(nd > ns / 3);
  CHECK(nd < ns * 4 / 5);

  // Dotted and dashed patterns on a long jagged curve finish (rounding once made the dash walk loop forever).
  Canvas jag(400, 100);
  std::vector<Point> zig;
  for (int i = 0; i < 300; ++i) zig.push_back({1 + i * 1.3, 50 + 20 * std::sin(i * 0.7)});
  jag.polyline(zig, tab10(2), 2, LineStyle::dotted);
  jag.polyline(zig, tab10(3), 1.5, LineStyle::dashed);
  CHECK(stats(jag).non_background > 500);

  // The clip rectangle holds back everything outside it.
  Canvas clipped(100, 100);
  clipped.set_clip({40, 40, 20, 20});
  clipped.line(0, 0, 100, 100, black, 3);
  clipped.reset_clip();
  const Rect b = ink_box(clipped);
  CHECK(b.x >= 40);
  CHECK(b.right() <= 60);

  Canvas tri(40, 40);
  tri.fill_triangle({5, 5}, {35, 5}, {20, 35}, black);
  CHECK(tri.pixel(20, 15) == black);
  CHECK(tri.pixel(3, 30) == white);
}

TEST_CASE("plot: training history figure") {
  TempDir dir;
  const auto runs = realistic_history();
  const Canvas c = nnlite::render_training_history(runs, "Fashion-MNIST");
  CHECK(c.width() == 1400);
  CHECK(c.height() == 620);
  const auto s = stats(c);
  CHECK(s.non_background > 20000);
  CHECK(s.distinct_colors > 50);  // four palette colours plus their antialiased blends, grays for text
  for (std::size_t i = 0; i < 4; ++i) {  // every run's colour is really on the figure
    bool found = false;
    for (int y = 0; y < c.height() && !found; ++y)
      for (int x = 0; x < c.width() && !found; ++x) found = c.pixel(x, y) == tab10(i);
    CHECK(found);
  }
  const std::string path = dir.file("history.png");
  nnlite::plot_training_history(path, runs, "Fashion-MNIST");
  check_png(path, c, 20000);

  // Runs without validation data, a single epoch, and no runs at all still draw.
  nnlite::HistorySeries one{"single", {0.5}, {0.8}, {}, {}};
  CHECK(stats(nnlite::render_training_history({one})).non_background > 1000);
  CHECK(stats(nnlite::render_training_history({})).non_background > 1000);
}

TEST_CASE("plot: line chart with explicit limits and legend") {
  Series a, b;
  a.label = "train";
  a.y = {0.9, 0.5, 0.3, 0.25, 0.2};
  b.label = "validation";
  b.y = {1.0, 0.7, 0.5, 0.45, std::nan("")};  // NaN: a gap, not a crash
  b.style = LineStyle::dashed;
  b.color = tab10(1);
  ChartOptions opt;
  opt.title = "Loss";
  opt.x_label = "Epoch";
  opt.y_label = "Loss";
  opt.y_min = 0;
  opt.y_max = 1.2;
  opt.integer_x = true;
  const Canvas c = render_line_chart({a, b}, opt, 640, 480);
  CHECK(stats(c).non_background > 5000);
  Series bad;
  bad.x = {1, 2};
  bad.y = {1};
  CHECK_THROWS_AS(render_line_chart({bad}), nnlite::ArgumentError);
}

TEST_CASE("plot: confusion matrix figure") {
  TempDir dir;
  const auto m = realistic_confusion();
  const Canvas c = nnlite::render_confusion_matrix(m, fashion, "Confusion matrix");
  CHECK(c.width() > 600);
  CHECK(c.height() > 600);
  const auto s = stats(c);
  CHECK(s.non_background > c.width() * c.height() / 4);
  CHECK(s.distinct_colors > 20);
  // The diagonal cells are dark blue and carry white digits.
  bool dark = false, white_ink = false;
  for (int y = 0; y < c.height(); ++y)
    for (int x = 0; x < c.width(); ++x) {
      const Color p = c.pixel(x, y);
      dark = dark || (p.b > 90 && p.r < 20);
      white_ink = white_ink || (p == white && x > 200 && y > 100 && x < 700);
    }
  CHECK(dark);
  CHECK(white_ink);
  const std::string path = dir.file("confusion.png");
  nnlite::plot_confusion_matrix(path, m, fashion, "Confusion matrix");
  check_png(path, c, 10000);

  // Other integer types, no names (digits lie flat), and the errors.
  const std::vector<std::vector<int>> small = {{5, 1}, {2, 7}};
  CHECK(stats(nnlite::render_confusion_matrix(small)).non_background > 1000);
  const std::string long_title = "A long title over a two-class matrix";
  CHECK(nnlite::render_confusion_matrix(small, {"cat", "dog"}, long_title).width() > text_width(long_title, 3));
  CHECK_THROWS_AS(nnlite::render_confusion_matrix(std::vector<std::vector<long>>{{1, 2}, {3}}), nnlite::ArgumentError);
  CHECK_THROWS_AS(nnlite::render_confusion_matrix(m, {"a", "b"}), nnlite::ArgumentError);
  CHECK_THROWS_AS(nnlite::render_confusion_matrix(std::vector<std::vector<long>>{}), nnlite::ArgumentError);
}

TEST_CASE("plot: image grid figure") {
  TempDir dir;
  std::mt19937 rng(11);
  const int count = 15, h = 28, w = 28;
  std::vector<std::uint8_t> images(static_cast<std::size_t>(count * h * w));
  for (auto& v : images) v = static_cast<std::uint8_t>(std::uniform_int_distribution<int>(0, 255)(rng));
  std::vector<int> truth, pred;
  for (int i = 0; i < count; ++i) {
    truth.push_back(i % 10);
    pred.push_back(i % 4 == 1 ? (i + 3) % 10 : i % 10);
  }
  const Canvas c = nnlite::render_image_grid(images, h, w, pred, truth, fashion, 5, 3, "Predictions");
  const auto s = stats(c);
  CHECK(s.non_background > count * (h * 3) * (w * 3) * 9 / 10);  // the scaled images alone
  CHECK(s.distinct_colors > 200);                                // noise has every gray level
  bool red = false, green = false;
  for (int y = 0; y < c.height(); ++y)
    for (int x = 0; x < c.width(); ++x) {
      red = red || c.pixel(x, y) == mistake_red;
      green = green || c.pixel(x, y) == correct_green;
    }
  CHECK(red);
  CHECK(green);
  const std::string path = dir.file("grid.png");
  nnlite::plot_image_grid(path, images, h, w, pred, truth, fashion, 5);
  check_png(path, nnlite::render_image_grid(images, h, w, pred, truth, fashion, 5), 30000);

  CHECK_THROWS_AS(nnlite::render_image_grid(std::vector<std::uint8_t>(100), h, w, {}, {}), nnlite::ArgumentError);
  CHECK_THROWS_AS(nnlite::render_image_grid(images, h, w, {1, 2}, truth), nnlite::ArgumentError);
  CHECK(stats(nnlite::render_image_grid(images, h, w, {}, {})).non_background > 0);  // no captions
}

TEST_CASE("plot: model diagram figure") {
  TempDir dir;
  auto layers = improved_cnn();
  layers.insert(layers.begin(), nnlite::LayerBox{"input", "InputLayer", "(None, 28, 28, 1)"});
  const Canvas c = nnlite::render_model_diagram(layers, "Improved CNN");
  CHECK(c.height() > c.width());  // a vertical stack
  CHECK(c.height() > 11 * 60);
  const auto s = stats(c);
  CHECK(s.non_background > 50000);
  CHECK(s.distinct_colors > 10);
  const std::string path = dir.file("model.png");
  nnlite::plot_model_diagram(path, layers, "Improved CNN");
  check_png(path, c, 10000);
  CHECK_THROWS_AS(nnlite::render_model_diagram({}), nnlite::ArgumentError);
}

TEST_CASE("plot: save_png errors name the path and leave no temporary file") {
  TempDir dir;
  Canvas c(10, 10);
  const std::string missing = dir.file("no/such/dir/figure.png");
  try {
    c.save_png(missing);
    FAIL("expected IoError");
  } catch (const nnlite::IoError& e) {
    CHECK(std::string(e.what()).find(missing) != std::string::npos);
  }
  CHECK_FALSE(fs::exists(nnlite::temp_path_for(missing)));

  // The PNG is written, but renaming it over a non-empty directory fails: the temporary must be removed.
  const std::string blocked = dir.file("blocked");
  fs::create_directories(fs::path(blocked) / "child");
  CHECK_THROWS_AS(c.save_png(blocked), nnlite::IoError);
  CHECK_FALSE(fs::exists(nnlite::temp_path_for(blocked)));
  CHECK(fs::is_directory(blocked));

  // Overwriting an existing PNG works and replaces it.
  const std::string ok = dir.file("ok.png");
  c.save_png(ok);
  Canvas big(40, 30);
  big.save_png(ok);
  CHECK(read_png_header(ok).width == 40);
  CHECK(read_png_header(ok).height == 30);
}

}  // namespace test_plot

#endif  // NNLITE_HAVE_PLOT
