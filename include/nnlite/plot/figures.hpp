// nnlite/plot/figures.hpp: the report figures of a training study — training history, confusion matrix,
// image grid with predictions, model diagram — as render_*() (a Canvas) and plot_*() (a PNG file).
#pragma once

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "canvas.hpp"
#include "chart.hpp"

namespace nnlite {

/// One training run's per-epoch history, as Keras' History.history holds it. Any vector may be empty.
struct HistorySeries {
  std::string label;  ///< The run's name in the legend, e.g. "iteration 1".
  ///@{
  /// Per-epoch values of Keras' history keys "loss", "accuracy", "val_loss", "val_accuracy".
  std::vector<double> loss, accuracy, val_loss, val_accuracy;
  ///@}
};

/// One box of a model diagram: a row of Keras' model.summary().
struct LayerBox {
  std::string name;          ///< The layer's name: "conv2d".
  std::string type;          ///< The layer's class: "Conv2D".
  std::string output_shape;  ///< As model.summary() prints it: "(None, 26, 26, 32)".
  long long params = -1;     ///< Parameter count; negative: no "params:" line (e.g. for an input box).
};

namespace plot::detail::fig {

inline std::string class_name(const std::vector<std::string>& names, long idx) {
  if (idx >= 0 && static_cast<std::size_t>(idx) < names.size()) return names[static_cast<std::size_t>(idx)];
  return std::to_string(idx);
}

/// matplotlib's "Blues" colormap (9-class ColorBrewer anchors), t in [0, 1].
inline plot::Color blues(double t) {
  static constexpr plot::Color anchors[9] = {{247, 251, 255}, {222, 235, 247}, {198, 219, 239},
                                             {158, 202, 225}, {107, 174, 214}, {66, 146, 198},
                                             {33, 113, 181},  {8, 81, 156},    {8, 48, 107}};
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * 8;
  const int i = std::min(7, static_cast<int>(t));
  return plot::mix(anchors[i], anchors[i + 1], t - i);
}

/// Pastel fill and a darker border per layer kind, so conv / pool / dense blocks stand apart at a glance.
inline void layer_colors(const std::string& type, plot::Color& fill, plot::Color& border) {
  const std::string t = to_lower(type);
  std::size_t k = 7;  // gray for anything unknown
  if (t.find("input") != std::string::npos) k = 8;
  else if (t.find("conv") != std::string::npos) k = 0;
  else if (t.find("pool") != std::string::npos) k = 1;
  else if (t.find("dense") != std::string::npos) k = 2;
  else if (t.find("dropout") != std::string::npos) k = 7;
  else if (t.find("flatten") != std::string::npos || t.find("reshape") != std::string::npos) k = 4;
  else if (t.find("norm") != std::string::npos) k = 6;
  else if (t.find("activation") != std::string::npos) k = 5;
  border = plot::mix(plot::tab10(k), plot::black, 0.15);
  fill = plot::mix(plot::tab10(k), plot::white, 0.82);
}

}  // namespace plot::detail::fig

/// Two panels side by side — "Accuracy" and "Loss" per epoch — one colour per run, training solid, validation
/// dashed, and one shared legend underneath.
inline plot::Canvas render_training_history(const std::vector<HistorySeries>& runs, const std::string& title = "",
                                            int width = 1400, int height = 620) {
  using namespace plot;
  Canvas c(width, height);
  std::vector<Series> acc, loss;
  std::vector<LegendEntry> legend;
  bool any_train = false, any_val = false;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const auto& r = runs[i];
    const Color col = tab10(i);
    auto add = [&](std::vector<Series>& to, const std::vector<double>& y, LineStyle style) {
      if (y.empty()) return;
      Series s;
      s.y = y;
      s.color = col;
      s.style = style;
      to.push_back(std::move(s));
    };
    add(acc, r.accuracy, LineStyle::solid);
    add(acc, r.val_accuracy, LineStyle::dashed);
    add(loss, r.loss, LineStyle::solid);
    add(loss, r.val_loss, LineStyle::dashed);
    any_train = any_train || !r.accuracy.empty() || !r.loss.empty();
    any_val = any_val || !r.val_accuracy.empty() || !r.val_loss.empty();
    legend.push_back({r.label.empty() ? "run " + std::to_string(i + 1) : r.label, col, LineStyle::solid});
  }
  // The line style key goes after the colour key, in neutral gray.
  const Color key{90, 90, 90};
  if (any_train && any_val) {
    legend.push_back({"training", key, LineStyle::solid});
    legend.push_back({"validation", key, LineStyle::dashed});
  }

  int top = 0;
  if (!title.empty()) {
    c.text(width / 2, 16, title, text_color, 3, Align::center);
    top = 16 + text_height(title, 3) + 6;
  }
  const int margin = 10;
  const int legend_h = draw_legend_row(c, {margin, 0, width - 2 * margin, 0}, legend, 2, false);
  const int panels_bottom = height - (legend_h > 0 ? legend_h + 26 : 0);
  ChartOptions opt;
  opt.x_label = "Epoch";
  opt.integer_x = true;
  opt.legend = LegendPos::none;
  opt.title = opt.y_label = "Accuracy";
  const int half = width / 2;
  draw_line_chart(c, {0, top, half, panels_bottom - top}, acc, opt);
  opt.title = opt.y_label = "Loss";
  draw_line_chart(c, {half, top, width - half, panels_bottom - top}, loss, opt);
  draw_legend_row(c, {margin, panels_bottom + 10, width - 2 * margin, legend_h}, legend, 2);
  return c;
}

/// Draws render_training_history() and saves it as a PNG at `path`.
inline void plot_training_history(const std::string& path, const std::vector<HistorySeries>& runs,
                                  const std::string& title = "", int width = 1400, int height = 620) {
  render_training_history(runs, title, width, height).save_png(path);
}

/// Heat map of a confusion matrix (rows: true class, columns: predicted), white -> blue, with the count in each
/// cell, class names on both axes and a colour bar.
inline plot::Canvas render_confusion_matrix(const std::vector<std::vector<long>>& m,
                                            const std::vector<std::string>& class_names = {},
                                            const std::string& title = "Confusion matrix") {
  using namespace plot;
  const std::size_t n = m.size();
  if (n == 0) throw ArgumentError("confusion matrix is empty");
  for (std::size_t r = 0; r < n; ++r)
    if (m[r].size() != n)
      throw ArgumentError("confusion matrix must be square: row " + std::to_string(r) + " has " +
                          std::to_string(m[r].size()) + " entries, expected " + std::to_string(n));
  if (!class_names.empty() && class_names.size() != n)
    throw ArgumentError("confusion matrix is " + std::to_string(n) + "x" + std::to_string(n) + " but " +
                        std::to_string(class_names.size()) + " class names were given");
  std::vector<std::string> names(n);
  for (std::size_t i = 0; i < n; ++i) names[i] = class_names.empty() ? std::to_string(i) : class_names[i];

  long vmax = 0;
  for (auto& row : m)
    for (long v : row) vmax = std::max(vmax, v);
  int widest_count = 0, widest_name = 0;
  for (auto& row : m)
    for (long v : row) widest_count = std::max(widest_count, text_width(std::to_string(v), 2));
  for (auto& s : names) widest_name = std::max(widest_name, text_width(s, 2));
  const int cell = std::max(56, widest_count + 14);
  const int count_scale = widest_count + 8 <= cell ? 2 : 1;
  const bool rotate_x = widest_name > cell - 6;  // long names stand up; short ones ("0".."9") lie flat

  const int th = text_height("A", 2), gap = 10, pad = 20;
  const int title_h = title.empty() ? 0 : text_height(title, 3) + 24;
  const int left_block = pad + th + 2 * 2 + 16 + widest_name + gap;  // "True", names
  const int xnames_h = rotate_x ? widest_name : th + 4;
  const int mat = cell * static_cast<int>(n);
  const int cbar_w = 22, cbar_gap = 24;
  const auto cticks = nice_ticks(0, static_cast<double>(std::max(vmax, 1L)), 6);
  const double cstep = cticks.size() > 1 ? cticks[1] - cticks[0] : 1;
  int ctick_w = 0;
  for (double v : cticks) ctick_w = std::max(ctick_w, text_width(format_tick(v, cstep), 2));
  const int title_w = text_width(title, 3);
  const int content_w = left_block + mat + cbar_gap + cbar_w + 6 + gap + ctick_w + pad;
  const int width = std::max(content_w, title_w + 2 * pad);
  const int off = (width - content_w) / 2;  // centres the matrix block under a title wider than it
  const int height = pad + title_h + mat + gap + xnames_h + 18 + th + pad;
  Canvas c(width, height);

  const int mx = off + left_block, my = pad + title_h;
  // Centred over the matrix, unless that would push a long title off the canvas.
  const int title_x = std::clamp(mx + mat / 2, pad + title_w / 2, width - pad - title_w / 2);
  if (!title.empty()) c.text(title_x, pad, title, text_color, 3, Align::center);
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t k = 0; k < n; ++k) {
      const long v = m[r][k];
      const Color fill = plot::detail::fig::blues(vmax > 0 ? static_cast<double>(v) / vmax : 0);
      const int x = mx + static_cast<int>(k) * cell, y = my + static_cast<int>(r) * cell;
      c.fill_rect(x, y, cell, cell, fill);
      const Color ink = luminance(fill) < 0.5 ? white : text_color;
      c.text(x + cell / 2 + 1, y + cell / 2, std::to_string(v), ink, count_scale, Align::center, VAlign::middle);
    }
  c.rect(mx - 1, my - 1, mat + 2, mat + 2, axis_color);

  for (std::size_t i = 0; i < n; ++i) {
    const int centre = static_cast<int>(i) * cell + cell / 2;
    c.text(mx - gap, my + centre, names[i], text_color, 2, Align::right, VAlign::middle);
    if (rotate_x)  // reads bottom to top, ending just under its column
      c.text(mx + centre, my + mat + gap, names[i], text_color, 2, Align::right, VAlign::middle, true);
    else
      c.text(mx + centre + 1, my + mat + gap, names[i], text_color, 2, Align::center);
  }
  c.text(mx + mat / 2, my + mat + gap + xnames_h + 18, "Predicted", text_color, 2, Align::center);
  c.text(off + pad, my + mat / 2, "True", text_color, 2, Align::center, VAlign::top, true);

  // Colour bar with nice ticks over 0..max.
  const int cx = mx + mat + cbar_gap;
  for (int y = 0; y < mat; ++y)
    c.fill_rect(cx, my + y, cbar_w, 1, plot::detail::fig::blues(1.0 - (y + 0.5) / mat));
  c.rect(cx - 1, my - 1, cbar_w + 2, mat + 2, axis_color);
  const double cmax = static_cast<double>(std::max(vmax, 1L));
  for (double v : cticks) {
    const int y = my + mat - 1 - static_cast<int>(std::lround(v / cmax * (mat - 1)));
    c.fill_rect(cx + cbar_w + 1, y, 5, 1, axis_color);
    c.text(cx + cbar_w + 6 + gap - 4, y, format_tick(v, cstep), text_color, 2, Align::left, VAlign::middle);
  }
  return c;
}

/// Any other integer matrix (int, std::size_t, ...) is converted to long.
template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, long>, int> = 0>
plot::Canvas render_confusion_matrix(const std::vector<std::vector<T>>& m,
                                     const std::vector<std::string>& class_names = {},
                                     const std::string& title = "Confusion matrix") {
  std::vector<std::vector<long>> copy;
  for (auto& row : m) copy.emplace_back(row.begin(), row.end());
  return render_confusion_matrix(copy, class_names, title);
}

/// Draws render_confusion_matrix() and saves it as a PNG at `path`.
inline void plot_confusion_matrix(const std::string& path, const std::vector<std::vector<long>>& m,
                                  const std::vector<std::string>& class_names = {},
                                  const std::string& title = "Confusion matrix") {
  render_confusion_matrix(m, class_names, title).save_png(path);
}

/// plot_confusion_matrix() for any other integer matrix (converted to long).
template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, long>, int> = 0>
void plot_confusion_matrix(const std::string& path, const std::vector<std::vector<T>>& m,
                           const std::vector<std::string>& class_names = {},
                           const std::string& title = "Confusion matrix") {
  render_confusion_matrix(m, class_names, title).save_png(path);
}

/// A grid of grayscale images (`images` holds count * height * width bytes, image after image, 0 = black),
/// each scaled up and captioned with its predicted and true class; mistakes get a red frame and red caption,
/// correct predictions a green caption. `predicted` / `truth` may be empty (no captions).
inline plot::Canvas render_image_grid(const std::vector<std::uint8_t>& images, int height, int width,
                                      const std::vector<int>& predicted, const std::vector<int>& truth,
                                      const std::vector<std::string>& class_names = {}, int cols = 5,
                                      int scale = 3, const std::string& title = "") {
  using namespace plot;
  if (height <= 0 || width <= 0) throw ArgumentError("image grid: image size must be positive");
  const std::size_t per = static_cast<std::size_t>(height) * static_cast<std::size_t>(width);
  if (images.empty() || images.size() % per != 0)
    throw ArgumentError("image grid: " + std::to_string(images.size()) + " bytes is not a whole number of " +
                        std::to_string(height) + "x" + std::to_string(width) + " images");
  const std::size_t count = images.size() / per;
  if (!predicted.empty() && predicted.size() != count)
    throw ArgumentError("image grid: " + std::to_string(count) + " images but " +
                        std::to_string(predicted.size()) + " predictions");
  if (!truth.empty() && truth.size() != count)
    throw ArgumentError("image grid: " + std::to_string(count) + " images but " + std::to_string(truth.size()) +
                        " true labels");
  cols = std::clamp(cols, 1, static_cast<int>(count));
  scale = std::max(1, scale);
  const int rows = static_cast<int>((count + static_cast<std::size_t>(cols) - 1) / static_cast<std::size_t>(cols));

  auto caption = [&](std::size_t i) {
    std::vector<std::string> lines;
    if (!predicted.empty()) lines.push_back("pred: " + plot::detail::fig::class_name(class_names, predicted[i]));
    if (!truth.empty()) lines.push_back("true: " + plot::detail::fig::class_name(class_names, truth[i]));
    return lines;
  };
  const int img_w = width * scale, img_h = height * scale, frame = 3;
  int cap_w = 0, cap_lines = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const auto lines = caption(i);
    cap_lines = std::max(cap_lines, static_cast<int>(lines.size()));
    for (auto& l : lines) cap_w = std::max(cap_w, text_width(l, 2));
  }
  const int cap_h = cap_lines == 0 ? 0 : 8 + line_pitch(2) * (cap_lines - 1) + text_height("A", 2) + 4;
  const int cell_w = std::max(img_w + 2 * frame, cap_w) + 24, cell_h = img_h + 2 * frame + cap_h + 18;
  const int pad = 16;
  const int title_h = title.empty() ? 0 : text_height(title, 3) + 22;
  Canvas c(std::max(pad * 2 + cols * cell_w, text_width(title, 3) + 2 * pad), pad * 2 + title_h + rows * cell_h);
  const int grid_x = (c.width() - cols * cell_w) / 2;  // centred when a long title made the canvas wider
  if (!title.empty()) c.text(c.width() / 2, pad, title, text_color, 3, Align::center);

  for (std::size_t i = 0; i < count; ++i) {
    const int col = static_cast<int>(i % static_cast<std::size_t>(cols)), row = static_cast<int>(i / static_cast<std::size_t>(cols));
    const int cx = grid_x + col * cell_w + cell_w / 2, top = pad + title_h + row * cell_h;
    const bool judged = !predicted.empty() && !truth.empty();
    const bool wrong = judged && predicted[i] != truth[i];
    const int ix = cx - img_w / 2, iy = top + frame;
    c.rect(ix - frame, iy - frame, img_w + 2 * frame, img_h + 2 * frame, wrong ? mistake_red : Color{200, 200, 200},
           wrong ? frame : 1);
    c.gray_image(ix, iy, images.data() + i * per, width, height, scale);
    const Color ink = !judged ? text_color : wrong ? mistake_red : correct_green;
    const auto lines = caption(i);
    for (std::size_t l = 0; l < lines.size(); ++l)
      c.text(cx, iy + img_h + frame + 8 + static_cast<int>(l) * line_pitch(2), lines[l], ink, 2, Align::center);
  }
  return c;
}

/// Draws render_image_grid() and saves it as a PNG at `path`.
inline void plot_image_grid(const std::string& path, const std::vector<std::uint8_t>& images, int height, int width,
                            const std::vector<int>& predicted, const std::vector<int>& truth,
                            const std::vector<std::string>& class_names = {}, int cols = 5, int scale = 3,
                            const std::string& title = "") {
  render_image_grid(images, height, width, predicted, truth, class_names, cols, scale, title).save_png(path);
}

/// The model as a vertical stack of boxes joined by arrows, one per layer: "name (Type)", its output shape and
/// parameter count, with the total underneath. Put an input box first if you want one (type "InputLayer").
inline plot::Canvas render_model_diagram(const std::vector<LayerBox>& layers, const std::string& title = "") {
  using namespace plot;
  if (layers.empty()) throw ArgumentError("model diagram: no layers");
  auto heading = [](const LayerBox& l) {
    if (l.name.empty()) return l.type;
    return l.type.empty() ? l.name : l.name + " (" + l.type + ")";
  };
  auto lines_of = [&](const LayerBox& l) {
    std::vector<std::string> v;
    if (!l.output_shape.empty()) v.push_back("output: " + l.output_shape);
    if (l.params >= 0) v.push_back("params: " + group_thousands(l.params));
    return v;
  };
  const int th = text_height("A", 2), pitch = line_pitch(2) - 2, inner = 16, side = 22, arrow = 34, pad = 24;
  int box_w = 0, box_h = 0;
  long long total = 0;
  for (auto& l : layers) {
    box_w = std::max(box_w, text_width(heading(l), 2));
    for (auto& s : lines_of(l)) box_w = std::max(box_w, text_width(s, 2));
    box_h = std::max(box_h, static_cast<int>(lines_of(l).size()));
    total += std::max(0LL, l.params);
  }
  box_w = std::max(box_w + 2 * side, 300);
  box_h = 2 * inner + th + 4 + box_h * pitch;  // heading has a few extra pixels of air below it
  const std::string total_s = "Total params: " + group_thousands(total);
  const int title_h = title.empty() ? 0 : text_height(title, 3) + 24;
  const int n = static_cast<int>(layers.size());
  const int width = std::max(box_w, text_width(title, 3)) + 2 * pad;
  const int height = pad + title_h + n * box_h + (n - 1) * arrow + 24 + th + pad;
  Canvas c(width, height);
  const int x = (width - box_w) / 2;
  if (!title.empty()) c.text(width / 2, pad, title, text_color, 3, Align::center);

  for (int i = 0; i < n; ++i) {
    const auto& l = layers[static_cast<std::size_t>(i)];
    const int y = pad + title_h + i * (box_h + arrow);
    Color fill, border;
    plot::detail::fig::layer_colors(l.type, fill, border);
    c.fill_rect(x, y, box_w, box_h, fill);
    c.rect(x, y, box_w, box_h, border, 2);
    const auto lines = lines_of(l);
    // Centre the text block vertically when this box has fewer lines than the tallest one.
    const int block = th + (lines.empty() ? 0 : 4 + static_cast<int>(lines.size()) * pitch);
    const int ty = y + (box_h - block) / 2;
    c.text(x + side, ty, heading(l), text_color, 2);
    c.text(x + side + 1, ty, heading(l), text_color, 2);  // drawn twice, 1 px apart: a bold heading
    for (std::size_t k = 0; k < lines.size(); ++k)  // each line sits at the bottom of a `pitch`-tall slot
      c.text(x + side, ty + th + 4 + static_cast<int>(k + 1) * pitch - th, lines[k], Color{70, 70, 70}, 2);
    if (i + 1 < n) {
      const double ax = x + box_w / 2.0, y0 = y + box_h + 3, y1 = y + box_h + arrow - 3;
      c.line(ax, y0, ax, y1 - 9, axis_color, 2.5);
      c.fill_triangle({ax - 7, y1 - 11}, {ax + 7, y1 - 11}, {ax, y1}, axis_color);
    }
  }
  c.text(width / 2, height - pad - th, total_s, text_color, 2, Align::center);
  return c;
}

/// Draws render_model_diagram() and saves it as a PNG at `path`.
inline void plot_model_diagram(const std::string& path, const std::vector<LayerBox>& layers,
                               const std::string& title = "") {
  render_model_diagram(layers, title).save_png(path);
}

}  // namespace nnlite
