// nnlite/plot/canvas.hpp: an RGB raster with antialiased thick/dashed lines, rectangles, stb_easy_font text
// (scaled by whole pixels, optionally rotated) and atomic PNG output through stb_image_write.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "../core/atomic_file.hpp"
#include "../core/error.hpp"
#include "../core/text.hpp"

// stb_image_write is compiled into every translation unit that includes this header, as static functions, so
// several TUs of one program never clash. If the user already included stb_image_write.h we use their copy;
// if they defined STB_IMAGE_WRITE_IMPLEMENTATION but have not included it yet, we emit it for them (with their
// linkage choice) and undefine the macro so their own later #include sees only the guarded declarations.
#if !defined(INCLUDE_STB_IMAGE_WRITE_H)
#if !defined(STB_IMAGE_WRITE_IMPLEMENTATION)
#define STB_IMAGE_WRITE_IMPLEMENTATION
#if !defined(STB_IMAGE_WRITE_STATIC)
#define STB_IMAGE_WRITE_STATIC
#define NNLITE_PLOT_DEFINED_STBIW_STATIC
#endif
#endif
#define NNLITE_PLOT_INCLUDE_STBIW
#endif

// The stb headers are C written for -Wall, not for -Wextra -Werror; silence them only, not our own code.
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunknown-warning-option"
#pragma clang diagnostic ignored "-Wunused-function"
#pragma clang diagnostic ignored "-Wunused-parameter"
#pragma clang diagnostic ignored "-Wunused-variable"
#pragma clang diagnostic ignored "-Wunused-but-set-variable"
#pragma clang diagnostic ignored "-Wsign-compare"
#pragma clang diagnostic ignored "-Wmissing-field-initializers"
#pragma clang diagnostic ignored "-Wimplicit-fallthrough"
#pragma clang diagnostic ignored "-Wcast-align"
#pragma clang diagnostic ignored "-Wcast-qual"
#pragma clang diagnostic ignored "-Wold-style-cast"
#pragma clang diagnostic ignored "-Wconversion"
#pragma clang diagnostic ignored "-Wsign-conversion"
#pragma clang diagnostic ignored "-Wdouble-promotion"
#pragma clang diagnostic ignored "-Wzero-as-null-pointer-constant"
#pragma clang diagnostic ignored "-Wmissing-prototypes"
#pragma clang diagnostic ignored "-Wcomma"
#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wcast-align"
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wuseless-cast"
#pragma GCC diagnostic ignored "-Wzero-as-null-pointer-constant"
#pragma GCC diagnostic ignored "-Wmissing-declarations"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#pragma GCC diagnostic ignored "-Warray-bounds"
#endif

#if defined(NNLITE_PLOT_INCLUDE_STBIW)
#if __has_include(<stb_image_write.h>)
#include <stb_image_write.h>
#elif __has_include(<stb/stb_image_write.h>)
#include <stb/stb_image_write.h>
#else
#error "nnlite/plot.hpp needs stb_image_write.h (Debian: libstb-dev); link nnlite::plot or add its directory"
#endif
#undef STB_IMAGE_WRITE_IMPLEMENTATION
#undef NNLITE_PLOT_INCLUDE_STBIW
#endif
#if defined(NNLITE_PLOT_DEFINED_STBIW_STATIC)
#undef STB_IMAGE_WRITE_STATIC
#undef NNLITE_PLOT_DEFINED_STBIW_STATIC
#endif

#if !defined(INCLUDE_STB_EASY_FONT_H)  // everything in it is static already: safe in every TU
#if __has_include(<stb_easy_font.h>)
#include <stb_easy_font.h>
#elif __has_include(<stb/stb_easy_font.h>)
#include <stb/stb_easy_font.h>
#else
#error "nnlite/plot.hpp needs stb_easy_font.h (Debian: libstb-dev); link nnlite::plot or add its directory"
#endif
#endif

#if defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

/// PNG charts of training histories, drawn without a plotting library (stb only).
namespace nnlite::plot {

/// An RGB colour.
struct Color {
  ///@{
  /// Red, green and blue, 0 to 255.
  std::uint8_t r = 0, g = 0, b = 0;
  ///@}
  /// Same colour.
  friend bool operator==(Color p, Color q) { return p.r == q.r && p.g == q.g && p.b == q.b; }
  /// Different colours.
  friend bool operator!=(Color p, Color q) { return !(p == q); }
};

/// The usual figure background.
inline constexpr Color white{255, 255, 255};
/// Pure black.
inline constexpr Color black{0, 0, 0};
/// Text: near-black reads softer than pure black next to colour.
inline constexpr Color text_color{34, 34, 34};
/// Axis frames and tick marks.
inline constexpr Color axis_color{60, 60, 60};
/// Grid lines behind a chart.
inline constexpr Color grid_color{228, 228, 228};
/// Marks a wrong prediction (matplotlib's tab:red).
inline constexpr Color mistake_red{214, 39, 40};
/// Marks a right prediction.
inline constexpr Color correct_green{30, 130, 30};

/// matplotlib's default "tab10" cycle, so figures look like the ones Keras users know.
inline Color tab10(std::size_t i) {
  static constexpr Color colors[10] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},
                                       {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127},
                                       {188, 189, 34},  {23, 190, 207}};
  return colors[i % 10];
}

/// Linear blend: t = 0 gives a, t = 1 gives b.
inline Color mix(Color a, Color b, double t) {
  t = std::clamp(t, 0.0, 1.0);
  auto ch = [t](std::uint8_t x, std::uint8_t y) {
    return static_cast<std::uint8_t>(std::lround(x + (static_cast<double>(y) - x) * t));
  };
  return {ch(a.r, b.r), ch(a.g, b.g), ch(a.b, b.b)};
}

/// Relative luminance in [0, 1] (sRGB weights), to pick black or white text on a coloured cell.
inline double luminance(Color c) { return (0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b) / 255.0; }

/// Horizontal text alignment relative to the anchor point.
enum class Align { left, center, right };
/// Vertical text alignment relative to the anchor point.
enum class VAlign { top, middle, bottom };
/// How a line is stroked.
enum class LineStyle { solid, dashed, dotted };

/// A point in pixel coordinates.
struct Point {
  ///@{
  /// Pixel coordinates: x to the right, y down.
  double x = 0, y = 0;
  ///@}
};

/// An axis-aligned rectangle in pixel coordinates.
struct Rect {
  ///@{
  /// Top-left corner, width and height, in pixels.
  int x = 0, y = 0, w = 0, h = 0;
  ///@}
  /// One past the right edge.
  int right() const { return x + w; }
  /// One past the bottom edge.
  int bottom() const { return y + h; }
  /// True when the point (px, py) lies inside.
  bool contains(double px, double py) const { return px >= x && px < x + w && py >= y && py < y + h; }
};

namespace detail {
/// stb_easy_font indexes a table with (c - 32): anything outside printable ASCII would read out of bounds.
inline std::string printable(const std::string& s) {
  std::string out = s;
  for (char& c : out)
    if (c != '\n' && (static_cast<unsigned char>(c) < 32 || static_cast<unsigned char>(c) > 126)) c = '?';
  return out;
}
inline std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (;;) {
    const auto nl = s.find('\n', start);
    lines.push_back(s.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return lines;
}
constexpr int font_line_pitch = 12;  // stb_easy_font's own line advance, in font units
constexpr int font_cap_height = 7;   // capitals and digits span rows 0..6; descenders reach row 8
constexpr int font_glyph_gap = 2;    // every advance includes 2 empty columns after the glyph
}  // namespace detail

/// Width in pixels of the inked part of the widest line of `s` drawn at `scale`.
inline int text_width(const std::string& s, int scale = 2) {
  int widest = 0;
  for (auto& line : detail::split_lines(detail::printable(s))) {
    if (line.empty()) continue;
    const int advance = stb_easy_font_width(const_cast<char*>(line.c_str()));
    widest = std::max(widest, advance - detail::font_glyph_gap);
  }
  return std::max(0, widest) * std::max(1, scale);
}

/// Height in pixels from the top of the first line's capitals to the baseline of the last line (descenders
/// hang up to 2 * scale below it).
inline int text_height(const std::string& s, int scale = 2) {
  const int lines = static_cast<int>(detail::split_lines(s).size());
  return (detail::font_line_pitch * (lines - 1) + detail::font_cap_height) * std::max(1, scale);
}

/// Pixel distance between the tops of two consecutive lines at `scale`.
inline int line_pitch(int scale = 2) { return detail::font_line_pitch * std::max(1, scale); }

/// An RGB image in memory, row-major, 3 bytes per pixel. Coordinates: pixel (x, y) covers [x, x+1) x [y, y+1),
/// so a 1-pixel line through pixel centres uses x + 0.5. Everything drawn is clipped to the canvas and to the
/// current clip rectangle.
class Canvas {
 public:
  /// A canvas filled with `background`; ArgumentError unless both sides are 1..16384 pixels.
  Canvas(int width, int height, Color background = white) : w_(width), h_(height), bg_(background) {
    // stb_image_write takes int sizes; this also keeps a typo'd size from allocating gigabytes.
    if (width <= 0 || height <= 0 || width > 16384 || height > 16384)
      throw ArgumentError("plot canvas size must be 1..16384 pixels per side, got " + std::to_string(width) +
                          "x" + std::to_string(height));
    rgb_.resize(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3);
    clip_ = {0, 0, w_, h_};
    fill(background);
  }

  /// Width in pixels.
  int width() const noexcept { return w_; }
  /// Height in pixels.
  int height() const noexcept { return h_; }
  /// The colour the canvas was created with.
  Color background() const noexcept { return bg_; }
  /// Raw RGB bytes, width * height * 3, row-major, top row first.
  const std::vector<std::uint8_t>& pixels() const noexcept { return rgb_; }

  /// The colour at (x, y); ArgumentError outside the canvas.
  Color pixel(int x, int y) const {
    if (x < 0 || y < 0 || x >= w_ || y >= h_)
      throw ArgumentError("pixel (" + std::to_string(x) + ", " + std::to_string(y) + ") is outside the canvas");
    const std::uint8_t* p = &rgb_[index(x, y)];
    return {p[0], p[1], p[2]};
  }

  /// Restricts drawing to `r` (intersected with the canvas) until reset_clip().
  void set_clip(Rect r) {
    const int x0 = std::max(0, r.x), y0 = std::max(0, r.y);
    const int x1 = std::min(w_, r.right()), y1 = std::min(h_, r.bottom());
    clip_ = {x0, y0, std::max(0, x1 - x0), std::max(0, y1 - y0)};
  }
  /// Drawing reaches the whole canvas again.
  void reset_clip() { clip_ = {0, 0, w_, h_}; }
  /// The current clip rectangle.
  Rect clip() const { return clip_; }

  /// Sets one pixel (ignored outside the clip rectangle).
  void set_pixel(int x, int y, Color c) noexcept {
    if (!clip_.contains(x, y)) return;
    std::uint8_t* p = &rgb_[index(x, y)];
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
  }

  /// Paints `c` over the pixel with opacity `alpha` in [0, 1].
  void blend_pixel(int x, int y, Color c, double alpha) noexcept {
    if (!(alpha > 0) || !clip_.contains(x, y)) return;
    if (alpha >= 1) return set_pixel(x, y, c);
    std::uint8_t* p = &rgb_[index(x, y)];
    const Color old{p[0], p[1], p[2]};
    const Color out = mix(old, c, alpha);
    p[0] = out.r, p[1] = out.g, p[2] = out.b;
  }

  /// Paints the whole canvas `c`, ignoring the clip rectangle.
  void fill(Color c) {
    for (std::size_t i = 0; i < rgb_.size(); i += 3) rgb_[i] = c.r, rgb_[i + 1] = c.g, rgb_[i + 2] = c.b;
  }

  /// Fills the rectangle at (x, y) of size w x h.
  void fill_rect(int x, int y, int w, int h, Color c) {
    const int x0 = std::max(x, clip_.x), y0 = std::max(y, clip_.y);
    const int x1 = std::min(x + w, clip_.right()), y1 = std::min(y + h, clip_.bottom());
    for (int yy = y0; yy < y1; ++yy)
      for (int xx = x0; xx < x1; ++xx) set_pixel(xx, yy, c);
  }
  /// Fills `r`.
  void fill_rect(Rect r, Color c) { fill_rect(r.x, r.y, r.w, r.h, c); }

  /// Outline drawn inside the rectangle, `thickness` pixels wide.
  void rect(int x, int y, int w, int h, Color c, int thickness = 1) {
    const int t = std::max(1, std::min({thickness, (w + 1) / 2, (h + 1) / 2}));
    fill_rect(x, y, w, t, c);
    fill_rect(x, y + h - t, w, t, c);
    fill_rect(x, y + t, t, h - 2 * t, c);
    fill_rect(x + w - t, y + t, t, h - 2 * t, c);
  }
  /// Outline drawn inside `r`, `thickness` pixels wide.
  void rect(Rect r, Color c, int thickness = 1) { rect(r.x, r.y, r.w, r.h, c, thickness); }

  /// Antialiased line with round caps.
  void line(double x0, double y0, double x1, double y1, Color c, double thickness = 1.0) {
    stroke({{{x0, y0}, {x1, y1}}}, c, thickness);
  }

  /// Connected line through `pts`; joints are drawn once (no darker dots where segments overlap). Dashes keep
  /// their phase across vertices so the pattern stays even on a jagged curve. Non-finite points break the line.
  void polyline(const std::vector<Point>& pts, Color c, double thickness = 1.0,
                LineStyle style = LineStyle::solid) {
    std::vector<Segment> segs;
    const double t = std::max(thickness, 1.0);
    const double on = style == LineStyle::dashed ? 3.5 * t + 2 : 0.6 * t;
    const double off = style == LineStyle::dashed ? 2.0 * t + 2 : 1.6 * t + 1;
    bool drawing = true;     // the pattern state carries over from one segment to the next
    double remaining = on;   // length left in the current dash or gap
    for (std::size_t i = 1; i < pts.size(); ++i) {
      const Point a = pts[i - 1], b = pts[i];
      if (!finite(a) || !finite(b)) continue;
      if (style == LineStyle::solid) {
        segs.push_back({a, b});
        continue;
      }
      const double len = std::hypot(b.x - a.x, b.y - a.y);
      double s = 0;
      while (s < len) {
        const bool last = remaining >= len - s;  // explicit, so rounding can never leave a sliver to loop on
        const double s1 = last ? len : s + remaining;
        if (drawing)
          segs.push_back({{a.x + (b.x - a.x) * s / len, a.y + (b.y - a.y) * s / len},
                          {a.x + (b.x - a.x) * s1 / len, a.y + (b.y - a.y) * s1 / len}});
        remaining -= s1 - s;
        s = s1;
        if (remaining <= 1e-9) drawing = !drawing, remaining = drawing ? on : off;
      }
    }
    stroke(segs, c, thickness);
  }

  /// Filled, antialiased (4x4 supersampled) triangle: arrow heads, legend markers.
  void fill_triangle(Point a, Point b, Point c, Color col) {
    const int x0 = static_cast<int>(std::floor(std::min({a.x, b.x, c.x})));
    const int x1 = static_cast<int>(std::ceil(std::max({a.x, b.x, c.x})));
    const int y0 = static_cast<int>(std::floor(std::min({a.y, b.y, c.y})));
    const int y1 = static_cast<int>(std::ceil(std::max({a.y, b.y, c.y})));
    auto edge = [](Point p, Point q, double x, double y) { return (q.x - p.x) * (y - p.y) - (q.y - p.y) * (x - p.x); };
    const double area = edge(a, b, c.x, c.y);
    if (area == 0) return;
    for (int y = std::max(y0, clip_.y); y <= std::min(y1, clip_.bottom() - 1); ++y)
      for (int x = std::max(x0, clip_.x); x <= std::min(x1, clip_.right() - 1); ++x) {
        int inside = 0;
        for (int sy = 0; sy < 4; ++sy)
          for (int sx = 0; sx < 4; ++sx) {
            const double px = x + (sx + 0.5) / 4, py = y + (sy + 0.5) / 4;
            const double e0 = edge(a, b, px, py) / area, e1 = edge(b, c, px, py) / area,
                         e2 = edge(c, a, px, py) / area;
            inside += e0 >= 0 && e1 >= 0 && e2 >= 0;
          }
        blend_pixel(x, y, col, inside / 16.0);
      }
  }

  /// Filled, antialiased disc of radius `r` centred at (cx, cy).
  void fill_circle(double cx, double cy, double r, Color c) {
    const int x0 = static_cast<int>(std::floor(cx - r - 1)), x1 = static_cast<int>(std::ceil(cx + r + 1));
    const int y0 = static_cast<int>(std::floor(cy - r - 1)), y1 = static_cast<int>(std::ceil(cy + r + 1));
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x)
        blend_pixel(x, y, c, std::clamp(r + 0.5 - std::hypot(x + 0.5 - cx, y + 0.5 - cy), 0.0, 1.0));
  }

  /// Draws `s` (may contain '\n'; each line aligned on its own) with stb_easy_font, every font pixel becoming a
  /// scale x scale block. (x, y) is the anchor: `align` picks which end of the text it marks, `valign` whether it
  /// is the capitals' top, their middle or the baseline. Vertical text is turned 90 degrees counter-clockwise
  /// (reads bottom to top, like a y-axis label); `align` then runs along the text (left = its start, lowest on
  /// screen) and `valign` across it (top = the glyph tops, which face left).
  void text(int x, int y, const std::string& s, Color c, int scale = 2, Align align = Align::left,
            VAlign valign = VAlign::top, bool vertical = false) {
    scale = std::max(1, scale);
    const auto lines = detail::split_lines(detail::printable(s));
    const int block_h = text_height(s, scale);
    const int across = valign == VAlign::top ? 0 : valign == VAlign::middle ? block_h / 2 : block_h;
    std::vector<char> vbuf;
    for (std::size_t li = 0; li < lines.size(); ++li) {
      const std::string& line = lines[li];
      if (line.empty()) continue;
      const int w = text_width(line, scale);
      const int along = align == Align::left ? 0 : align == Align::center ? w / 2 : w;
      const int line_top = static_cast<int>(li) * line_pitch(scale) - across;  // in text frame, from anchor
      vbuf.assign(line.size() * 1024 + 64, 0);  // a glyph is at most ~10 quads of 64 bytes
      std::string buf = line;
      const int quads = stb_easy_font_print(0, 0, buf.data(), nullptr, vbuf.data(), static_cast<int>(vbuf.size()));
      for (int q = 0; q < quads; ++q) {
        float v0[2], v2[2];  // corners 0 and 2 of the quad are its min and max
        std::memcpy(v0, vbuf.data() + q * 64, sizeof v0);
        std::memcpy(v2, vbuf.data() + q * 64 + 32, sizeof v2);
        const int u0 = static_cast<int>(std::lround(v0[0])) * scale - along;
        const int u1 = static_cast<int>(std::lround(v2[0])) * scale - along;
        const int t0 = static_cast<int>(std::lround(v0[1])) * scale + line_top;
        const int t1 = static_cast<int>(std::lround(v2[1])) * scale + line_top;
        if (!vertical)
          fill_rect(x + u0, y + t0, u1 - u0, t1 - t0, c);
        else  // text frame (u, t) -> screen (x + t, y - u)
          fill_rect(x + t0, y - u1 + 1, t1 - t0, u1 - u0, c);
      }
    }
  }

  /// Grayscale image (0 = black, 255 = white), each source pixel drawn as a scale x scale block.
  void gray_image(int x, int y, const std::uint8_t* data, int w, int h, int scale = 1) {
    for (int r = 0; r < h; ++r)
      for (int col = 0; col < w; ++col) {
        const std::uint8_t v = data[static_cast<std::size_t>(r) * static_cast<std::size_t>(w) + col];
        fill_rect(x + col * scale, y + r * scale, scale, scale, {v, v, v});
      }
  }

  /// Writes the canvas as an 8-bit RGB PNG, atomically (temp file + rename). Throws IoError naming `path`.
  void save_png(const std::string& path) const {
    std::vector<unsigned char> png;  // encoded in memory, then written by the one atomic byte writer
    const int encoded = stbi_write_png_to_func(
        [](void* ctx, void* data, int size) {
          auto* out = static_cast<std::vector<unsigned char>*>(ctx);
          const auto* bytes = static_cast<const unsigned char*>(data);
          out->insert(out->end(), bytes, bytes + size);
        },
        &png, w_, h_, 3, rgb_.data(), w_ * 3);
    if (!encoded) throw IoError("cannot encode PNG '" + path + "' (out of memory?)");
    write_bytes_atomically(path, png.data(), png.size());
  }

 private:
  struct Segment {
    Point a, b;
  };

  static bool finite(Point p) { return std::isfinite(p.x) && std::isfinite(p.y); }

  std::size_t index(int x, int y) const {
    return (static_cast<std::size_t>(y) * static_cast<std::size_t>(w_) + static_cast<std::size_t>(x)) * 3;
  }

  /// Rasterises round-capped segments into one coverage map (max over segments) and blends it once, so
  /// overlapping pieces of the same stroke do not darken each other's antialiased edges.
  void stroke(const std::vector<Segment>& segs, Color c, double thickness) {
    if (segs.empty()) return;
    const double r = std::max(thickness, 0.5) / 2;
    double minx = 1e300, miny = 1e300, maxx = -1e300, maxy = -1e300;
    for (auto& s : segs) {
      minx = std::min({minx, s.a.x, s.b.x}), maxx = std::max({maxx, s.a.x, s.b.x});
      miny = std::min({miny, s.a.y, s.b.y}), maxy = std::max({maxy, s.a.y, s.b.y});
    }
    const int bx0 = std::max(clip_.x, static_cast<int>(std::floor(minx - r - 1)));
    const int by0 = std::max(clip_.y, static_cast<int>(std::floor(miny - r - 1)));
    const int bx1 = std::min(clip_.right(), static_cast<int>(std::ceil(maxx + r + 1)));
    const int by1 = std::min(clip_.bottom(), static_cast<int>(std::ceil(maxy + r + 1)));
    if (bx0 >= bx1 || by0 >= by1) return;
    const int bw = bx1 - bx0;
    std::vector<float> cov(static_cast<std::size_t>(bw) * static_cast<std::size_t>(by1 - by0), 0.f);
    for (auto& s : segs) {
      const int x0 = std::max(bx0, static_cast<int>(std::floor(std::min(s.a.x, s.b.x) - r - 1)));
      const int x1 = std::min(bx1, static_cast<int>(std::ceil(std::max(s.a.x, s.b.x) + r + 1)));
      const int y0 = std::max(by0, static_cast<int>(std::floor(std::min(s.a.y, s.b.y) - r - 1)));
      const int y1 = std::min(by1, static_cast<int>(std::ceil(std::max(s.a.y, s.b.y) + r + 1)));
      const double dx = s.b.x - s.a.x, dy = s.b.y - s.a.y, len2 = dx * dx + dy * dy;
      for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) {
          const double px = x + 0.5 - s.a.x, py = y + 0.5 - s.a.y;
          const double u = len2 > 0 ? std::clamp((px * dx + py * dy) / len2, 0.0, 1.0) : 0.0;
          const double d = std::hypot(px - u * dx, py - u * dy);
          const float a = static_cast<float>(std::clamp(r + 0.5 - d, 0.0, 1.0));
          float& slot = cov[static_cast<std::size_t>(y - by0) * static_cast<std::size_t>(bw) + (x - bx0)];
          slot = std::max(slot, a);
        }
    }
    for (int y = by0; y < by1; ++y)
      for (int x = bx0; x < bx1; ++x)
        blend_pixel(x, y, c, cov[static_cast<std::size_t>(y - by0) * static_cast<std::size_t>(bw) + (x - bx0)]);
  }

  int w_, h_;
  Color bg_;
  Rect clip_;
  std::vector<std::uint8_t> rgb_;
};

}  // namespace nnlite::plot
