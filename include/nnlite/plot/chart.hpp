// nnlite/plot/chart.hpp: "nice" axis ticks (1-2-5 rule), legends and a matplotlib-like line chart (frame,
// grid, tick labels, axis labels, title, solid/dashed series) drawn into any rectangle of a Canvas.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "canvas.hpp"

namespace nnlite::plot {

/// The smallest step of the form {1, 2, 5} x 10^k that puts at most `max_ticks` ticks in [lo, hi].
inline double nice_step(double lo, double hi, int max_ticks = 8) {
  if (!std::isfinite(lo) || !std::isfinite(hi))
    throw ArgumentError("nice_step: the axis range must be finite");
  if (hi < lo) std::swap(lo, hi);
  max_ticks = std::max(max_ticks, 2);
  const double span = hi - lo;
  if (span <= 0) return 1;
  const double raw = span / (max_ticks - 1);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (;;) {
    for (double m : {1.0, 2.0, 5.0}) {
      const double step = m * mag;
      const double first = std::ceil(lo / step - 1e-9), last = std::floor(hi / step + 1e-9);
      if (last - first + 1 <= max_ticks) return step;
    }
    mag *= 10;
  }
}

/// Tick values inside [lo, hi], multiples of nice_step(lo, hi, max_ticks). Values are snapped to the step's
/// decimals so 0.1 * 3 comes back as 0.3, not 0.30000000000000004.
inline std::vector<double> nice_ticks(double lo, double hi, int max_ticks = 8) {
  if (hi < lo) std::swap(lo, hi);
  const double step = nice_step(lo, hi, max_ticks);
  std::vector<double> ticks;
  const long long first = std::llround(std::ceil(lo / step - 1e-9));
  const long long last = std::llround(std::floor(hi / step + 1e-9));
  const double snap = std::pow(10.0, std::max(0.0, -std::floor(std::log10(step)) + 1));
  for (long long k = first; k <= last; ++k) ticks.push_back(std::round(k * step * snap) / snap);
  return ticks;
}

/// Digits after the point needed to tell apart ticks `step` apart (0.05 -> 2, 0.1 -> 1, 5 -> 0).
inline int tick_decimals(double step) {
  if (!(step > 0) || !std::isfinite(step)) return 0;
  return std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
}

/// A tick label for v with as many decimals as `step` needs ("0.25", "3"; never "-0.0").
inline std::string format_tick(double v, double step) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", tick_decimals(step), v);
  std::string s = buf;
  if (s.find_first_not_of("-0.") == std::string::npos && s[0] == '-') s.erase(0, 1);  // no "-0.0"
  return s;
}

/// One line of a chart: its points, label and colour.
struct Series {
  std::string label;                   ///< Legend label; empty: not listed in the automatic legend.
  std::vector<double> x;               ///< x values; empty: 1, 2, ..., y.size() (epochs).
  std::vector<double> y;               ///< y values (non-finite ones break the line).
  Color color = tab10(0);              ///< Line colour.
  LineStyle style = LineStyle::solid;  ///< Solid, dashed or dotted.
  double thickness = 2.0;              ///< Line width in pixels.
};

/// One legend row: a label and its colour.
struct LegendEntry {
  std::string label;                   ///< The text.
  Color color;                         ///< The sample line's colour.
  LineStyle style = LineStyle::solid;  ///< The sample line's style.
};

/// Where the legend goes, as matplotlib's `loc` ("best": the corner that hides the fewest points; none: no legend).
enum class LegendPos { best, upper_right, upper_left, lower_left, lower_right, none };

/// A chart's title, axis labels, size and ranges.
struct ChartOptions {
  ///@{
  /// Title above the plot and labels of the x and y axes (empty: none).
  std::string title, x_label, y_label;
  ///@}
  ///@{
  /// Axis ranges; NaN: from the data, plus 5% margins like matplotlib.
  double x_min = std::numeric_limits<double>::quiet_NaN(), x_max = std::numeric_limits<double>::quiet_NaN();
  double y_min = std::numeric_limits<double>::quiet_NaN(), y_max = std::numeric_limits<double>::quiet_NaN();
  ///@}
  bool integer_x = false;                   ///< Ticks on whole numbers only (epochs).
  bool grid = true;                         ///< Light grid lines at the ticks.
  LegendPos legend = LegendPos::best;       ///< Where the legend goes.
  std::vector<LegendEntry> legend_entries;  ///< Legend rows; empty: one per series with a label.
  int text_scale = 2;                       ///< Font scale of tick labels, axis labels and legend.
  int title_scale = 3;                      ///< Font scale of the title.
};

namespace detail {
constexpr int legend_sample_len = 34;  // length of the line sample in front of a legend label

/// Size of a boxed legend listing `entries` one per row.
inline Point legend_size(const std::vector<LegendEntry>& entries, int scale) {
  int w = 0;
  for (auto& e : entries) w = std::max(w, text_width(e.label, scale));
  const int row = line_pitch(scale) - 2 * scale + 6;
  return {static_cast<double>(12 + legend_sample_len + 8 + w + 12),
          static_cast<double>(10 + row * static_cast<int>(entries.size()) - (row - text_height("A", scale)) + 10)};
}

inline void legend_sample(Canvas& c, int x, int y_mid, const LegendEntry& e) {
  const double y = y_mid + 0.5;
  c.polyline({{x + 1.0, y}, {x + legend_sample_len - 1.0, y}}, e.color, 2.5, e.style);
}
}  // namespace detail

/// A framed legend box with its top-left corner at (x, y).
inline void draw_legend(Canvas& c, int x, int y, const std::vector<LegendEntry>& entries, int scale = 2) {
  if (entries.empty()) return;
  const Point size = detail::legend_size(entries, scale);
  const int w = static_cast<int>(size.x), h = static_cast<int>(size.y);
  // A slightly translucent box lets curves under it show through, like matplotlib's framealpha=0.8.
  for (int yy = y; yy < y + h; ++yy)
    for (int xx = x; xx < x + w; ++xx) c.blend_pixel(xx, yy, white, 0.85);
  c.rect(x, y, w, h, {200, 200, 200});
  const int row = line_pitch(scale) - 2 * scale + 6;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const int top = y + 10 + row * static_cast<int>(i);
    detail::legend_sample(c, x + 12, top + text_height("A", scale) / 2, entries[i]);
    c.text(x + 12 + detail::legend_sample_len + 8, top, entries[i].label, text_color, scale);
  }
}

/// Legend laid out in rows (wrapping as needed) centred in `area`; returns the height it used.
inline int draw_legend_row(Canvas& c, Rect area, const std::vector<LegendEntry>& entries, int scale = 2,
                           bool draw = true) {
  if (entries.empty()) return 0;
  const int gap = 28, row_h = line_pitch(scale) + 4;
  std::vector<std::vector<std::size_t>> rows(1);
  std::vector<int> widths(1, 0);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const int ew = detail::legend_sample_len + 8 + text_width(entries[i].label, scale);
    if (!rows.back().empty() && widths.back() + gap + ew > area.w) rows.emplace_back(), widths.push_back(0);
    widths.back() += (rows.back().empty() ? 0 : gap) + ew;
    rows.back().push_back(i);
  }
  const int used = static_cast<int>(rows.size()) * row_h;
  if (!draw) return used;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    int x = area.x + (area.w - widths[r]) / 2;
    const int top = area.y + static_cast<int>(r) * row_h;
    for (std::size_t i : rows[r]) {
      detail::legend_sample(c, x, top + text_height("A", scale) / 2, entries[i]);
      c.text(x + detail::legend_sample_len + 8, top, entries[i].label, text_color, scale);
      x += detail::legend_sample_len + 8 + text_width(entries[i].label, scale) + gap;
    }
  }
  return used;
}

/// Draws a complete line chart inside `area` of the canvas.
inline void draw_line_chart(Canvas& c, Rect area, const std::vector<Series>& series,
                            const ChartOptions& opt = ChartOptions{}) {
  const int ts = std::max(1, opt.text_scale);
  // Data range over finite points only (NaN marks a gap, e.g. a missing validation value).
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  auto x_of = [](const Series& s, std::size_t i) { return s.x.empty() ? static_cast<double>(i + 1) : s.x[i]; };
  for (auto& s : series) {
    if (!s.x.empty() && s.x.size() != s.y.size())
      throw ArgumentError("line chart series '" + s.label + "' has " + std::to_string(s.x.size()) + " x values but " +
                          std::to_string(s.y.size()) + " y values");
    for (std::size_t i = 0; i < s.y.size(); ++i) {
      const double x = x_of(s, i), y = s.y[i];
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      xlo = std::min(xlo, x), xhi = std::max(xhi, x), ylo = std::min(ylo, y), yhi = std::max(yhi, y);
    }
  }
  if (!(xlo <= xhi)) xlo = 0, xhi = 1, ylo = 0, yhi = 1;  // nothing to plot: still draw empty axes
  auto pad = [](double& lo, double& hi) {
    if (hi - lo <= 0) {
      const double d = lo == 0 ? 1 : std::abs(lo) * 0.1;
      lo -= d, hi += d;
    } else {
      const double m = (hi - lo) * 0.05;
      lo -= m, hi += m;
    }
  };
  pad(xlo, xhi);
  pad(ylo, yhi);
  if (std::isfinite(opt.x_min)) xlo = opt.x_min;
  if (std::isfinite(opt.x_max)) xhi = opt.x_max;
  if (std::isfinite(opt.y_min)) ylo = opt.y_min;
  if (std::isfinite(opt.y_max)) yhi = opt.y_max;
  if (!(xhi > xlo)) xhi = xlo + 1;
  if (!(yhi > ylo)) yhi = ylo + 1;

  // Layout, outside in: title, x label, x tick labels at the bottom; y label and y tick labels on the left.
  const int th = text_height("A", ts), tick_len = 5, gap = 8;
  int top = area.y + 10;
  if (!opt.title.empty()) top += text_height(opt.title, opt.title_scale) + 14;
  int bottom = area.bottom() - 10;
  if (!opt.x_label.empty()) bottom -= text_height(opt.x_label, ts) + gap;
  bottom -= th + 2 * ts + gap + tick_len;  // tick labels (with room for descenders) and tick marks
  const int plot_h = std::max(10, bottom - top);
  const int max_y_ticks = std::clamp(plot_h / (th * 3 + 6), 3, 9);
  const auto yticks = nice_ticks(ylo, yhi, max_y_ticks);
  const double ystep = yticks.size() > 1 ? yticks[1] - yticks[0] : nice_step(ylo, yhi, max_y_ticks);
  int ylabel_w = 0;
  for (double v : yticks) ylabel_w = std::max(ylabel_w, text_width(format_tick(v, ystep), ts));
  int left = area.x + 10;
  if (!opt.y_label.empty()) left += text_height(opt.y_label, ts) + 2 * ts + gap;
  left += ylabel_w + gap + tick_len;
  const int right = area.right() - 16;  // room for the last x tick label to hang over the frame
  const Rect plot{left, top, std::max(10, right - left), plot_h};

  int max_x_ticks = std::clamp(plot.w / 70, 3, 11);
  double xstep = nice_step(xlo, xhi, max_x_ticks);
  std::vector<double> xticks = nice_ticks(xlo, xhi, max_x_ticks);
  if (opt.integer_x && xstep < 1) {
    xstep = 1;
    xticks.clear();
    for (double v = std::ceil(xlo); v <= std::floor(xhi); v += 1) xticks.push_back(v);
  }

  auto px = [&](double x) { return plot.x + (x - xlo) / (xhi - xlo) * plot.w; };
  auto py = [&](double y) { return plot.bottom() - (y - ylo) / (yhi - ylo) * plot.h; };

  if (opt.grid) {
    for (double v : yticks) c.fill_rect(plot.x, static_cast<int>(std::floor(py(v))), plot.w, 1, grid_color);
    for (double v : xticks) c.fill_rect(static_cast<int>(std::floor(px(v))), plot.y, 1, plot.h, grid_color);
  }

  c.set_clip(plot);
  for (auto& s : series) {
    std::vector<Point> pts;
    for (std::size_t i = 0; i < s.y.size(); ++i) pts.push_back({px(x_of(s, i)), py(s.y[i])});
    if (pts.size() == 1) c.fill_circle(pts[0].x, pts[0].y, s.thickness + 1, s.color);  // a lone epoch
    c.polyline(pts, s.color, s.thickness, s.style);
  }
  c.reset_clip();

  // Frame (all four spines) and ticks pointing outwards.
  c.rect(plot.x - 1, plot.y - 1, plot.w + 2, plot.h + 2, axis_color);
  for (double v : yticks) {
    const int y = static_cast<int>(std::floor(py(v)));
    c.fill_rect(plot.x - 1 - tick_len, y, tick_len, 1, axis_color);
    c.text(plot.x - 1 - tick_len - gap, y, format_tick(v, ystep), text_color, ts, Align::right, VAlign::middle);
  }
  for (double v : xticks) {
    const int x = static_cast<int>(std::floor(px(v)));
    c.fill_rect(x, plot.bottom() + 1, 1, tick_len, axis_color);
    c.text(x + 1, plot.bottom() + 1 + tick_len + gap, format_tick(v, xstep), text_color, ts, Align::center);
  }
  if (!opt.x_label.empty())
    c.text(plot.x + plot.w / 2, area.bottom() - 10, opt.x_label, text_color, ts, Align::center, VAlign::bottom);
  if (!opt.y_label.empty())
    c.text(area.x + 10, plot.y + plot.h / 2, opt.y_label, text_color, ts, Align::center, VAlign::top, true);
  if (!opt.title.empty())
    c.text(plot.x + plot.w / 2, area.y + 10, opt.title, text_color, opt.title_scale, Align::center);

  // Legend: the corner whose box covers the fewest points of the curves (matplotlib's loc="best").
  std::vector<LegendEntry> entries = opt.legend_entries;
  if (entries.empty())
    for (auto& s : series)
      if (!s.label.empty()) entries.push_back({s.label, s.color, s.style});
  if (entries.empty() || opt.legend == LegendPos::none) return;
  const Point size = detail::legend_size(entries, ts);
  const int lw = static_cast<int>(size.x), lh = static_cast<int>(size.y), m = 10;
  const Rect corners[4] = {{plot.right() - m - lw, plot.y + m, lw, lh},
                           {plot.x + m, plot.y + m, lw, lh},
                           {plot.x + m, plot.bottom() - m - lh, lw, lh},
                           {plot.right() - m - lw, plot.bottom() - m - lh, lw, lh}};
  int pick = 0;
  if (opt.legend == LegendPos::best) {
    long best = -1;
    for (int k = 0; k < 4; ++k) {
      long hits = 0;
      for (auto& s : series)
        for (std::size_t i = 1; i < s.y.size(); ++i) {
          const Point a{px(x_of(s, i - 1)), py(s.y[i - 1])}, b{px(x_of(s, i)), py(s.y[i])};
          for (int t = 0; t <= 8; ++t)  // sample each segment so long segments still count
            hits += corners[k].contains(a.x + (b.x - a.x) * t / 8, a.y + (b.y - a.y) * t / 8);
        }
      if (best < 0 || hits < best) best = hits, pick = k;
    }
  } else {
    pick = static_cast<int>(opt.legend) - static_cast<int>(LegendPos::upper_right);
  }
  draw_legend(c, corners[pick].x, corners[pick].y, entries, ts);
}

/// A stand-alone line chart figure.
inline Canvas render_line_chart(const std::vector<Series>& series, const ChartOptions& opt = ChartOptions{},
                                int width = 800, int height = 560) {
  Canvas c(width, height);
  draw_line_chart(c, {0, 0, width, height}, series, opt);
  return c;
}

/// Draws a line chart (render_line_chart) and saves it as a PNG at `path`.
inline void plot_line_chart(const std::string& path, const std::vector<Series>& series,
                            const ChartOptions& opt = ChartOptions{}, int width = 800, int height = 560) {
  render_line_chart(series, opt, width, height).save_png(path);
}

}  // namespace nnlite::plot
