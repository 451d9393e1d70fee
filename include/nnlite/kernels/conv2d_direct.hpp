// nnlite/kernels/conv2d_direct.hpp: Conv2D as direct loops vectorised over the output channels, meant for layers
// whose receptive field is tiny (a 3x3 kernel on one input channel: patch = 9), where im2col feeds a GEMM whose
// inner dimension is too short to run at speed. Not yet faster than im2col there (see conv2d_direct_pays).
#pragma once

#include <algorithm>

#include "../parallel.hpp"
#include "conv2d_geometry.hpp"

namespace nnlite {

// Whether the im2col path should hand a layer to the direct kernel. Measured (bench_kernels, conv1 at batch 32):
// this first version reaches ~5 GFLOP/s against im2col's ~19, so for now it never does; the kernel stays
// selectable (Conv2DKernel::direct) and benchmarked until it is register-blocked.
inline bool conv2d_direct_pays(const Conv2DGeometry& /*g*/) { return false; }

namespace detail {

constexpr Index direct_block = 16;  // output channels per accumulator block: one AVX-512 register of floats

// One output pixel, channels [o0, o0 + B): bias + sum over the window's valid taps, relu when asked.
template <Index B, class Scalar>
inline void direct_pixel(const Conv2DGeometry& g, const Scalar* x, const Scalar* kernel, const Scalar* bias,
                         Index oh, Index ow, Index o0, Index ob, bool relu, Scalar* y) {
  Scalar acc[B];
  for (Index j = 0; j < B; ++j) acc[j] = (bias && j < ob) ? bias[o0 + j] : Scalar(0);
  for (Index kh = 0; kh < g.k_h; ++kh) {
    const Index ih = oh * g.stride_h - g.pad_top + kh;
    if (ih < 0 || ih >= g.in_h) continue;
    for (Index kw = 0; kw < g.k_w; ++kw) {
      const Index iw = ow * g.stride_w - g.pad_left + kw;
      if (iw < 0 || iw >= g.in_w) continue;
      const Scalar* xc = x + (ih * g.in_w + iw) * g.in_c;
      const Scalar* wc = kernel + (kh * g.k_w + kw) * g.in_c * g.out_c + o0;
      for (Index c = 0; c < g.in_c; ++c, wc += g.out_c) {
        const Scalar v = xc[c];
        if (ob == B) {
          for (Index j = 0; j < B; ++j) acc[j] += v * wc[j];
        } else {
          for (Index j = 0; j < ob; ++j) acc[j] += v * wc[j];
        }
      }
    }
  }
  if (relu)
    for (Index j = 0; j < ob; ++j) y[j] = std::max(acc[j], Scalar(0));
  else
    for (Index j = 0; j < ob; ++j) y[j] = acc[j];
}

}  // namespace detail

// out = conv(in, kernel) + bias (relu when fuse_relu), NHWC / HWIO, any padding and strides. Samples are split over
// threads in contiguous slices; every output element is computed by one thread in a fixed order.
template <class Scalar>
void conv2d_forward_direct(const Conv2DGeometry& g, const Scalar* in, const Scalar* kernel, const Scalar* bias,
                           Scalar* out, bool fuse_relu = false) {
  constexpr Index B = detail::direct_block;
  const double macs = double(g.rows()) * double(g.patch()) * double(g.out_c);
  parallel_slices(g.batch, threads_for(g.batch, macs), [&](int, Index b0, Index b1) {
    for (Index n = b0; n < b1; ++n) {
      const Scalar* x = in + n * g.in_sample();
      Scalar* y = out + n * g.out_sample();
      for (Index oh = 0; oh < g.out_h; ++oh)
        for (Index ow = 0; ow < g.out_w; ++ow, y += g.out_c)
          for (Index o0 = 0; o0 < g.out_c; o0 += B)
            detail::direct_pixel<B>(g, x, kernel, bias, oh, ow, o0, std::min(B, g.out_c - o0), fuse_relu, y + o0);
    }
  });
}

// d_kernel (HWIO) and d_bias (may be null), overwritten, as sums over every output position; d_in, when not null,
// overwritten with d_out . kernel^T sent back to the cells each position read. Each thread sums its slice of the
// batch; the slices' sums are added in thread order (deterministic for a given thread count). `ws` holds the
// partial sums of threads after the first (grown once, then reused).
template <class Scalar>
void conv2d_backward_direct(const Conv2DGeometry& g, const Scalar* in, const Scalar* kernel, const Scalar* d_out,
                            Scalar* d_in, Scalar* d_kernel, Scalar* d_bias, Tensor<Scalar>& ws) {
  // The work estimate leaves d_in out: the split, and so the rounding of d_kernel, must not depend on it.
  const double macs = double(g.rows()) * double(g.patch()) * double(g.out_c);
  const int threads = threads_for(g.batch, macs);
  const Index partial = g.kernel_size() + g.out_c;
  if (ws.size() < partial * (threads - 1)) ws.resize(Shape{partial * (threads - 1)});
  Scalar* partials = ws.data();
  const Index O = g.out_c;
  parallel_slices(g.batch, threads, [&](int t, Index b0, Index b1) {
    Scalar* dw = t == 0 ? d_kernel : partials + (t - 1) * partial;
    Scalar* db = t == 0 ? d_bias : partials + (t - 1) * partial + g.kernel_size();
    std::fill(dw, dw + g.kernel_size(), Scalar(0));
    if (db) std::fill(db, db + O, Scalar(0));
    for (Index n = b0; n < b1; ++n) {
      const Scalar* x = in + n * g.in_sample();
      Scalar* dx = d_in ? d_in + n * g.in_sample() : nullptr;
      if (dx) std::fill(dx, dx + g.in_sample(), Scalar(0));
      for (Index oh = 0; oh < g.out_h; ++oh) {
        for (Index ow = 0; ow < g.out_w; ++ow) {
          const Scalar* dy = d_out + ((n * g.out_h + oh) * g.out_w + ow) * O;
          if (db)
            for (Index o = 0; o < O; ++o) db[o] += dy[o];
          for (Index kh = 0; kh < g.k_h; ++kh) {
            const Index ih = oh * g.stride_h - g.pad_top + kh;
            if (ih < 0 || ih >= g.in_h) continue;
            for (Index kw = 0; kw < g.k_w; ++kw) {
              const Index iw = ow * g.stride_w - g.pad_left + kw;
              if (iw < 0 || iw >= g.in_w) continue;
              const Index cell = (ih * g.in_w + iw) * g.in_c;
              const Index tap = (kh * g.k_w + kw) * g.in_c;
              for (Index c = 0; c < g.in_c; ++c) {
                const Scalar v = x[cell + c];
                Scalar* dwc = dw + (tap + c) * O;
                for (Index o = 0; o < O; ++o) dwc[o] += v * dy[o];
                if (dx) {
                  const Scalar* wc = kernel + (tap + c) * O;
                  Scalar s = 0;
                  for (Index o = 0; o < O; ++o) s += dy[o] * wc[o];
                  dx[cell + c] += s;
                }
              }
            }
          }
        }
      }
    }
  });
  for (int t = 1; t < threads; ++t) {
    const Scalar* p = partials + (t - 1) * partial;
    for (Index i = 0; i < g.kernel_size(); ++i) d_kernel[i] += p[i];
    if (d_bias)
      for (Index o = 0; o < O; ++o) d_bias[o] += p[g.kernel_size() + o];
  }
}

}  // namespace nnlite
