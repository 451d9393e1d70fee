// nnlite/kernels/conv2d_geometry.hpp: the sizes every Conv2D / MaxPool2D kernel works from, and Keras' rule
// for 'valid' and 'same' padding (TF's: the odd padded cell goes to the bottom/right).
#pragma once

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "../core/error.hpp"
#include "../core/spatial.hpp"
#include "../core/tensor.hpp"

namespace nnlite {

/// One spatial axis after padding: the output length and how many zero cells sit before and after the input.
struct PaddedAxis {
  Index out = 0;         ///< The output length.
  Index pad_before = 0;  ///< Zero cells before the input (top or left).
  Index pad_after = 0;   ///< Zero cells after the input (bottom or right).
};

/// Keras/TF: 'valid' keeps only windows that fit (out = floor((in - k) / stride) + 1, or 0 when in < k);
/// 'same' gives out = ceil(in / stride) and pads pad_total = max((out - 1) * stride + k - in, 0) cells, of which
/// pad_total / 2 go before and the rest (the odd one) after.
inline PaddedAxis padded_axis(Index in, Index k, Index stride, Padding padding) {
  PaddedAxis a;
  if (padding == Padding::valid) {
    a.out = in >= k ? (in - k) / stride + 1 : 0;
    return a;
  }
  a.out = (in + stride - 1) / stride;
  const Index total = std::max<Index>((a.out - 1) * stride + k - in, 0);
  a.pad_before = total / 2;
  a.pad_after = total - a.pad_before;
  return a;
}

/// Sets a geometry's out_h, out_w, pad_top and pad_left by padded_axis() from its in_h, in_w, stride_h and stride_w
/// and the window's extent (a dilated kernel's (k - 1) * d + 1; a pool's size).
template <class Geometry>
void set_padded_output(Geometry& g, Size2 window, Padding padding) {
  const PaddedAxis ph = padded_axis(g.in_h, window.h, g.stride_h, padding);
  const PaddedAxis pw = padded_axis(g.in_w, window.w, g.stride_w, padding);
  g.pad_top = ph.pad_before;
  g.pad_left = pw.pad_before;
  g.out_h = ph.out;
  g.out_w = pw.out;
}

/// Everything a conv kernel needs, batch included. Padding is implicit zeros: any window cell outside
/// [0, in_h) x [0, in_w) reads as zero, so the kernels work for any pad_top/pad_left and output size.
/// Dilation d spreads the k taps of an axis d cells apart (extent (k - 1) * d + 1); groups split the channels into
/// `groups` independent convolutions: output channel o reads input channels [gi * in_c/groups, (gi+1) * in_c/groups)
/// of group gi = o / (out_c/groups), and the HWIO kernel is (k_h, k_w, in_c/groups, out_c) as Keras stores it.
struct Conv2DGeometry {
  Index batch = 0;     ///< Samples in the batch.
  Index in_h = 0;      ///< Input height.
  Index in_w = 0;      ///< Input width.
  Index in_c = 0;      ///< Input channels.
  Index k_h = 0;       ///< Kernel height (Keras' kernel_size[0]).
  Index k_w = 0;       ///< Kernel width (Keras' kernel_size[1]).
  Index out_c = 0;     ///< Output channels (Keras' filters).
  Index stride_h = 1;  ///< Vertical stride (Keras' strides[0]).
  Index stride_w = 1;  ///< Horizontal stride (Keras' strides[1]).
  Index dil_h = 1;     ///< Vertical dilation (Keras' dilation_rate[0]).
  Index dil_w = 1;     ///< Horizontal dilation (Keras' dilation_rate[1]).
  Index groups = 1;    ///< Keras' groups: independent convolutions over slices of the channels.
  Index pad_top = 0;   ///< Zero rows above the input ('same' padding).
  Index pad_left = 0;  ///< Zero columns left of the input ('same' padding).
  Index out_h = 0;     ///< Output height.
  Index out_w = 0;     ///< Output width.

  /// The geometry Keras' Conv2D uses for an NHWC input and an HWIO kernel.
  static Conv2DGeometry make(Index batch, Index in_h, Index in_w, Index in_c, Size2 kernel, Index out_c, Size2 strides,
                             Padding padding, Size2 dilation = {1, 1}, Index groups = 1) {
    Conv2DGeometry g;
    g.dil_h = dilation.h;
    g.dil_w = dilation.w;
    g.groups = groups;
    g.batch = batch;
    g.in_h = in_h;
    g.in_w = in_w;
    g.in_c = in_c;
    g.k_h = kernel.h;
    g.k_w = kernel.w;
    g.out_c = out_c;
    g.stride_h = strides.h;
    g.stride_w = strides.w;
    set_padded_output(g, {(kernel.h - 1) * dilation.h + 1, (kernel.w - 1) * dilation.w + 1}, padding);
    return g;
  }

  /// Input elements per sample.
  Index in_sample() const { return in_h * in_w * in_c; }
  /// Output elements per sample.
  Index out_sample() const { return out_h * out_w * out_c; }
  /// Output positions per sample.
  Index out_pixels() const { return out_h * out_w; }
  /// Input channels one group reads.
  Index group_in_c() const { return in_c / groups; }
  /// Output channels one group writes.
  Index group_out_c() const { return out_c / groups; }
  /// One group's receptive field, in (kh, kw, c) order.
  Index patch() const { return k_h * k_w * group_in_c(); }
  /// Elements of the HWIO kernel.
  Index kernel_size() const { return patch() * out_c; }
  /// Output positions in the batch.
  Index rows() const { return batch * out_h * out_w; }

  /// Calls f(kh, kw, ih, iw) for each tap of output pixel (oh, ow)'s window that lies inside the input; taps over the
  /// padding read as zero and are skipped. The one copy of the window bounds for every kernel that loops over taps.
  template <class F>
  void for_each_valid_tap(Index oh, Index ow, F&& f) const {
    for (Index kh = 0; kh < k_h; ++kh) {
      const Index ih = oh * stride_h - pad_top + kh * dil_h;
      if (ih < 0 || ih >= in_h) continue;
      for (Index kw = 0; kw < k_w; ++kw) {
        const Index iw = ow * stride_w - pad_left + kw * dil_w;
        if (iw >= 0 && iw < in_w) f(kh, kw, ih, iw);
      }
    }
  }

  /// No dilation and one group: the case every kernel handles (direct and eigen_tensor handle only this).
  bool is_plain() const { return dil_h == 1 && dil_w == 1 && groups == 1; }
  /// Throws UnsupportedError, naming `kernel`, unless is_plain().
  void require_plain(const char* kernel) const {
    if (!is_plain())
      throw UnsupportedError(std::string("the ") + kernel + " Conv2D kernel handles neither dilation_rate nor groups " +
                             "(the im2col and reference kernels do)");
  }

  /// A 1x1, stride-1, unpadded, ungrouped conv is a plain matrix product over the input as it lies in memory.
  bool is_pointwise() const {
    return groups == 1 && k_h == 1 && k_w == 1 && stride_h == 1 && stride_w == 1 && pad_top == 0 && pad_left == 0 &&
           out_h == in_h && out_w == in_w;
  }
};

}  // namespace nnlite
