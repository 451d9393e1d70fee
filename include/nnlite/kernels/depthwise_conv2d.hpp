// nnlite/kernels/depthwise_conv2d.hpp: Keras' DepthwiseConv2D as a direct kernel, channels innermost.
// The geometry is a Conv2DGeometry with groups = in_c and out_c = in_c * depth_multiplier: the depthwise kernel
// (kh, kw, in_c, dm) lies in memory exactly as that grouped conv's HWIO kernel (kh, kw, 1, in_c * dm), output channel
// c * dm + m reading input channel c. So conv2d_*_reference is the reference; this file is the fast path.
#pragma once

#include <algorithm>

#include "../core/error.hpp"
#include "../core/parallel.hpp"
#include "conv2d_geometry.hpp"

namespace nnlite {

/// The geometry of a depthwise conv of an NHWC input.
inline Conv2DGeometry depthwise_geometry(Index batch, Index in_h, Index in_w, Index in_c, Size2 kernel,
                                         Index depth_multiplier, Size2 strides, Padding padding,
                                         Size2 dilation = {1, 1}) {
  return Conv2DGeometry::make(batch, in_h, in_w, in_c, kernel, in_c * depth_multiplier, strides, padding, dilation,
                              in_c);
}

namespace detail {
inline void require_depthwise(const Conv2DGeometry& g) {
  if (g.groups != g.in_c || g.in_c < 1 || g.out_c % g.in_c != 0)
    throw ShapeError("depthwise kernel: the geometry is not depthwise (groups must equal the input channels)");
}

/// y[c * dm + m] += x[c] * w[c * dm + m] over the out_c = in_c * dm channels of one tap; dm == 1 is one
/// vectorisable multiply-add over the channels.
template <class Scalar>
inline void depthwise_tap(const Scalar* x, const Scalar* w, Scalar* y, Index in_c, Index dm) {
  if (dm == 1) {
    for (Index c = 0; c < in_c; ++c) y[c] += x[c] * w[c];
    return;
  }
  for (Index c = 0; c < in_c; ++c) {
    const Scalar v = x[c];
    for (Index m = 0; m < dm; ++m) y[c * dm + m] += v * w[c * dm + m];
  }
}
}  // namespace detail

/// out[n, oh, ow, c*dm + m] = bias[c*dm + m] + sum_{kh, kw} in[n, ih, iw, c] * kernel[kh, kw, c, m]. bias may be null.
/// Samples split over threads; each writes only its own outputs.
template <class Scalar>
void depthwise_conv2d_forward(const Conv2DGeometry& g, const Scalar* in, const Scalar* kernel, const Scalar* bias,
                              Scalar* out) {
  detail::require_depthwise(g);
  const Index dm = g.out_c / g.in_c;
  const double macs = double(g.out_pixels()) * double(g.k_h * g.k_w) * double(g.out_c);
  parallel_for(
      g.batch,
      [&](Index n) {
        const Scalar* x = in + n * g.in_sample();
        for (Index oh = 0; oh < g.out_h; ++oh) {
          for (Index ow = 0; ow < g.out_w; ++ow) {
            Scalar* y = out + ((n * g.out_h + oh) * g.out_w + ow) * g.out_c;
            if (bias)
              std::copy(bias, bias + g.out_c, y);
            else
              std::fill(y, y + g.out_c, Scalar(0));
            g.for_each_valid_tap(oh, ow, [&](Index kh, Index kw, Index ih, Index iw) {
              detail::depthwise_tap(x + (ih * g.in_w + iw) * g.in_c, kernel + (kh * g.k_w + kw) * g.out_c, y, g.in_c,
                                    dm);
            });
          }
        }
      },
      macs);
}

/// From d_out: d_kernel (kh, kw, in_c, dm) and d_bias (may be null) overwritten; d_in overwritten when not null.
/// Each thread sums its slice of the batch into its own partial (thread 0 into d_kernel itself, the others into `ws`),
/// added in thread order afterwards: deterministic for a thread count.
template <class Scalar>
void depthwise_conv2d_backward(const Conv2DGeometry& g, const Scalar* in, const Scalar* kernel, const Scalar* d_out,
                               Scalar* d_in, Scalar* d_kernel, Scalar* d_bias, Tensor<Scalar>& ws) {
  detail::require_depthwise(g);
  const Index dm = g.out_c / g.in_c;
  const Index taps = g.k_h * g.k_w, ksize = taps * g.out_c;
  const double macs = double(g.rows()) * double(taps) * double(g.out_c);
  const int threads = threads_for(g.batch, macs * (d_in ? 2 : 1));
  const Index partial = ksize + g.out_c;
  const Index need = partial * std::max(threads - 1, 0);
  if (ws.size() < need) ws.resize(Shape{need});
  Scalar* partials = ws.data();
  std::fill(d_kernel, d_kernel + ksize, Scalar(0));
  if (d_bias) std::fill(d_bias, d_bias + g.out_c, Scalar(0));
  parallel_slices(g.batch, threads, [&](int t, Index b0, Index b1) {
    Scalar* dw = t == 0 ? d_kernel : partials + (t - 1) * partial;
    Scalar* db = t == 0 ? d_bias : partials + (t - 1) * partial + ksize;
    if (t != 0) std::fill(dw, dw + partial, Scalar(0));
    for (Index n = b0; n < b1; ++n) {
      const Scalar* x = in + n * g.in_sample();
      Scalar* dx = d_in ? d_in + n * g.in_sample() : nullptr;
      if (dx) std::fill(dx, dx + g.in_sample(), Scalar(0));
      for (Index oh = 0; oh < g.out_h; ++oh) {
        for (Index ow = 0; ow < g.out_w; ++ow) {
          const Scalar* dy = d_out + ((n * g.out_h + oh) * g.out_w + ow) * g.out_c;
          if (db)
            for (Index o = 0; o < g.out_c; ++o) db[o] += dy[o];
          g.for_each_valid_tap(oh, ow, [&](Index kh, Index kw, Index ih, Index iw) {
            const Index cell = (ih * g.in_w + iw) * g.in_c, tap = (kh * g.k_w + kw) * g.out_c;
            // d_kernel[tap, c*dm + m] += x[c] dy[c*dm + m]: the forward's tap with dy in place of w.
            detail::depthwise_tap(x + cell, dy, dw + tap, g.in_c, dm);
            if (!dx) return;
            const Scalar* w = kernel + tap;
            if (dm == 1) {
              for (Index c = 0; c < g.in_c; ++c) dx[cell + c] += dy[c] * w[c];
            } else {
              for (Index c = 0; c < g.in_c; ++c) {
                Scalar s = 0;
                for (Index m = 0; m < dm; ++m) s += dy[c * dm + m] * w[c * dm + m];
                dx[cell + c] += s;
              }
            }
          });
        }
      }
    }
  });
  const int used = static_cast<int>(std::max<Index>(1, std::min<Index>(threads, g.batch)));
  for (int t = 1; t < used; ++t) {
    const Scalar* p = partials + (t - 1) * partial;
    for (Index i = 0; i < ksize; ++i) d_kernel[i] += p[i];
    if (d_bias)
      for (Index o = 0; o < g.out_c; ++o) d_bias[o] += p[ksize + o];
  }
}

}  // namespace nnlite
