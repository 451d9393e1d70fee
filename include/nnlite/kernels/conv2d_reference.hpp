// nnlite/kernels/conv2d_reference.hpp: Conv2D forward and backward as plain direct loops (NHWC input, HWIO kernel).
// Slow but obviously right: the yardstick the fast kernels are tested and benchmarked against.
#pragma once

#include <algorithm>

#include "conv2d_geometry.hpp"

namespace nnlite {

/// out[n, oh, ow, o] = bias[o] + sum_{kh, kw, c} in[n, oh*sh - pad_top + kh*dh, ow*sw - pad_left + kw*dw, G*gic + c]
///                                                * kernel[kh, kw, c, o]; cells outside the input read as zero,
/// with G = o / (out_c / groups) the group of o and c over its gic = in_c / groups channels. bias may be null.
template <class Scalar>
void conv2d_forward_reference(const Conv2DGeometry& g, const Scalar* in, const Scalar* kernel, const Scalar* bias,
                              Scalar* out) {
  const Index gic = g.group_in_c(), goc = g.group_out_c();
  for (Index n = 0; n < g.batch; ++n) {
    const Scalar* x = in + n * g.in_sample();
    for (Index oh = 0; oh < g.out_h; ++oh) {
      for (Index ow = 0; ow < g.out_w; ++ow) {
        Scalar* y = out + ((n * g.out_h + oh) * g.out_w + ow) * g.out_c;
        for (Index o = 0; o < g.out_c; ++o) y[o] = bias ? bias[o] : Scalar(0);
        g.for_each_valid_tap(oh, ow, [&](Index kh, Index kw, Index ih, Index iw) {
          for (Index G = 0; G < g.groups; ++G) {
            for (Index c = 0; c < gic; ++c) {
              const Scalar v = x[(ih * g.in_w + iw) * g.in_c + G * gic + c];
              const Scalar* w = kernel + ((kh * g.k_w + kw) * gic + c) * g.out_c + G * goc;
              for (Index o = 0; o < goc; ++o) y[G * goc + o] += v * w[o];
            }
          }
        });
      }
    }
  }
}

/// d_in = d(loss)/d(in), overwritten: every output position sends d_out . kernel^T back to the cells it read.
template <class Scalar>
void conv2d_backward_input_reference(const Conv2DGeometry& g, const Scalar* d_out, const Scalar* kernel,
                                     Scalar* d_in) {
  std::fill(d_in, d_in + g.batch * g.in_sample(), Scalar(0));
  const Index gic = g.group_in_c(), goc = g.group_out_c();
  for (Index n = 0; n < g.batch; ++n) {
    Scalar* dx = d_in + n * g.in_sample();
    for (Index oh = 0; oh < g.out_h; ++oh) {
      for (Index ow = 0; ow < g.out_w; ++ow) {
        const Scalar* dy = d_out + ((n * g.out_h + oh) * g.out_w + ow) * g.out_c;
        g.for_each_valid_tap(oh, ow, [&](Index kh, Index kw, Index ih, Index iw) {
          for (Index G = 0; G < g.groups; ++G) {
            for (Index c = 0; c < gic; ++c) {
              const Scalar* w = kernel + ((kh * g.k_w + kw) * gic + c) * g.out_c + G * goc;
              Scalar sum = 0;
              for (Index o = 0; o < goc; ++o) sum += dy[G * goc + o] * w[o];
              dx[(ih * g.in_w + iw) * g.in_c + G * gic + c] += sum;
            }
          }
        });
      }
    }
  }
}

/// d_kernel (HWIO) and d_bias (may be null), overwritten: sums over the batch and every output position.
template <class Scalar>
void conv2d_backward_params_reference(const Conv2DGeometry& g, const Scalar* in, const Scalar* d_out,
                                      Scalar* d_kernel, Scalar* d_bias) {
  std::fill(d_kernel, d_kernel + g.kernel_size(), Scalar(0));
  if (d_bias) std::fill(d_bias, d_bias + g.out_c, Scalar(0));
  const Index gic = g.group_in_c(), goc = g.group_out_c();
  for (Index n = 0; n < g.batch; ++n) {
    const Scalar* x = in + n * g.in_sample();
    for (Index oh = 0; oh < g.out_h; ++oh) {
      for (Index ow = 0; ow < g.out_w; ++ow) {
        const Scalar* dy = d_out + ((n * g.out_h + oh) * g.out_w + ow) * g.out_c;
        if (d_bias)
          for (Index o = 0; o < g.out_c; ++o) d_bias[o] += dy[o];
        g.for_each_valid_tap(oh, ow, [&](Index kh, Index kw, Index ih, Index iw) {
          for (Index G = 0; G < g.groups; ++G) {
            for (Index c = 0; c < gic; ++c) {
              const Scalar v = x[(ih * g.in_w + iw) * g.in_c + G * gic + c];
              Scalar* dw = d_kernel + ((kh * g.k_w + kw) * gic + c) * g.out_c + G * goc;
              for (Index o = 0; o < goc; ++o) dw[o] += v * dy[G * goc + o];
            }
          }
        });
      }
    }
  }
}

/// Both backward passes as the layer calls them; d_in may be null (the model's first layer needs no input gradient).
template <class Scalar>
void conv2d_backward_reference(const Conv2DGeometry& g, const Scalar* in, const Scalar* kernel, const Scalar* d_out,
                               Scalar* d_in, Scalar* d_kernel, Scalar* d_bias) {
  conv2d_backward_params_reference(g, in, d_out, d_kernel, d_bias);
  if (d_in) conv2d_backward_input_reference(g, d_out, kernel, d_in);
}

}  // namespace nnlite
