// nnlite/kernels/conv2d_direct.hpp: Conv2D as register-blocked direct loops, for layers whose receptive field is
// tiny (a 3x3 kernel on one input channel: patch = 9). There im2col feeds a GEMM whose inner dimension is too short
// to run at speed, while here a tile of output pixels x output channels stays in SIMD registers for the whole
// window. Vectors are Eigen's packets (AVX-512, AVX2, SSE or NEON: whatever the build targets).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <array>

#include "../core/parallel.hpp"
#include "conv2d_geometry.hpp"

namespace nnlite {

/// Whether the im2col path should hand a layer to the direct kernel: when the patch is too short for a GEMM.
/// Measured with bench_kernels at the study's shapes (batch 32, 1 thread, patch 9): direct beats im2col forward and
/// backward; at patch 288 (conv2) im2col + GEMM wins, so the threshold sits between them.
inline bool conv2d_direct_pays(const Conv2DGeometry& g) { return g.patch() <= 32; }

namespace detail {

template <class Scalar>
using SimdPacket = typename Eigen::internal::packet_traits<Scalar>::type;
template <class Scalar>
constexpr Index simd_width = Eigen::internal::unpacket_traits<SimdPacket<Scalar>>::size;
/// Accumulators a tile may keep in registers: 32 vector registers with AVX-512, 16 below it (leave room for loads).
template <class Scalar>
constexpr Index simd_accumulators = simd_width<Scalar> * sizeof(Scalar) >= 64 ? 24 : 12;

constexpr Index direct_pixels = 4;  // output pixels per forward tile

/// The range [lo, hi) of output positions along one axis whose whole window lies inside the input.
struct InteriorRange {
  Index lo, hi;
};
inline InteriorRange interior_range(Index out, Index in, Index k, Index stride, Index pad_before) {
  const Index lo = std::min<Index>((pad_before + stride - 1) / stride, out);
  const Index last = in + pad_before - k;  // window start + k <= in  <=>  pos * stride <= in + pad_before - k
  const Index hi = last < 0 ? lo : std::clamp<Index>(last / stride + 1, lo, out);
  return {lo, hi};
}

/// One output pixel, channels [o0, o1): bias + sum over the window's valid taps, relu when asked. The scalar path
/// for pixels whose window hangs over the padding and for channels left over after the vector tiles.
template <class Scalar>
void direct_pixel_scalar(const Conv2DGeometry& g, const Scalar* x, const Scalar* kernel, const Scalar* bias,
                         Index oh, Index ow, Index o0, Index o1, bool relu, Scalar* y) {
  for (Index o = o0; o < o1; ++o) {
    Scalar acc = bias ? bias[o] : Scalar(0);
    g.for_each_valid_tap(oh, ow, [&](Index kh, Index kw, Index ih, Index iw) {
      const Scalar* xc = x + (ih * g.in_w + iw) * g.in_c;
      const Scalar* wc = kernel + (kh * g.k_w + kw) * g.in_c * g.out_c + o;
      for (Index c = 0; c < g.in_c; ++c) acc += xc[c] * wc[c * g.out_c];
    });
    y[o] = relu ? std::max(acc, Scalar(0)) : acc;
  }
}

/// P interior output pixels (ow, ow + 1, ...) x V vectors of channels from o0: every tap of the window is one
/// broadcast of an input value and V fused multiply-adds per pixel into accumulators that never leave registers.
template <Index P, Index V, class Scalar>
void direct_tile(const Conv2DGeometry& g, const Scalar* x, const Scalar* kernel, const Scalar* bias, Index oh,
                 Index ow, Index o0, bool relu, Scalar* y) {
  using namespace Eigen::internal;
  using Packet = SimdPacket<Scalar>;
  constexpr Index L = simd_width<Scalar>;
  Packet acc[P][V];
  for (Index v = 0; v < V; ++v) {
    const Packet b = bias ? ploadu<Packet>(bias + o0 + v * L) : pset1<Packet>(Scalar(0));
    for (Index p = 0; p < P; ++p) acc[p][v] = b;
  }
  const Index step = g.stride_w * g.in_c;  // input distance between neighbouring output pixels
  for (Index kh = 0; kh < g.k_h; ++kh) {
    const Scalar* xrow = x + ((oh * g.stride_h - g.pad_top + kh) * g.in_w + ow * g.stride_w - g.pad_left) * g.in_c;
    const Scalar* wrow = kernel + kh * g.k_w * g.in_c * g.out_c + o0;
    for (Index t = 0; t < g.k_w * g.in_c; ++t) {  // (kw, c) is contiguous in both the input row and the kernel
      Packet w[V];
      for (Index v = 0; v < V; ++v) w[v] = ploadu<Packet>(wrow + t * g.out_c + v * L);
      for (Index p = 0; p < P; ++p) {
        const Packet xb = pset1<Packet>(xrow[p * step + t]);
        for (Index v = 0; v < V; ++v) acc[p][v] = pmadd(xb, w[v], acc[p][v]);
      }
    }
  }
  const Packet zero = pset1<Packet>(Scalar(0));
  for (Index p = 0; p < P; ++p)
    for (Index v = 0; v < V; ++v)
      pstoreu(y + p * g.out_c + o0 + v * L, relu ? pmax<Eigen::PropagateNaN>(acc[p][v], zero) : acc[p][v]);
}

/// Pixels [ow, ow + P) of row oh, all channels: the widest vector tiles first, then one vector, then scalars.
template <Index P, class Scalar>
void direct_pixels_all_channels(const Conv2DGeometry& g, const Scalar* x, const Scalar* kernel, const Scalar* bias,
                                Index oh, Index ow, bool relu, Scalar* y) {
  constexpr Index L = simd_width<Scalar>;
  constexpr Index V = simd_accumulators<Scalar> / P >= 4 ? 4 : 2;
  Index o0 = 0;
  for (; o0 + V * L <= g.out_c; o0 += V * L) direct_tile<P, V>(g, x, kernel, bias, oh, ow, o0, relu, y);
  if constexpr (V > 2)
    for (; o0 + 2 * L <= g.out_c; o0 += 2 * L) direct_tile<P, 2>(g, x, kernel, bias, oh, ow, o0, relu, y);
  for (; o0 + L <= g.out_c; o0 += L) direct_tile<P, 1>(g, x, kernel, bias, oh, ow, o0, relu, y);
  if (o0 < g.out_c)
    for (Index p = 0; p < P; ++p)
      direct_pixel_scalar(g, x, kernel, bias, oh, ow + p, o0, g.out_c, relu, y + p * g.out_c);
}

}  // namespace detail

/// out = conv(in, kernel) + bias (relu when fuse_relu), NHWC / HWIO, any padding and strides. Samples are split over
/// threads in contiguous slices; every output element is computed by one thread in a fixed order.
template <class Scalar>
void conv2d_forward_direct(const Conv2DGeometry& g, const Scalar* in, const Scalar* kernel, const Scalar* bias,
                           Scalar* out, bool fuse_relu = false) {
  g.require_plain("direct");
  constexpr Index P = detail::direct_pixels;
  const detail::InteriorRange rows = detail::interior_range(g.out_h, g.in_h, g.k_h, g.stride_h, g.pad_top);
  const detail::InteriorRange cols = detail::interior_range(g.out_w, g.in_w, g.k_w, g.stride_w, g.pad_left);
  const double macs = double(g.rows()) * double(g.patch()) * double(g.out_c);
  parallel_slices(g.batch, threads_for(g.batch, macs), [&](int, Index b0, Index b1) {
    for (Index n = b0; n < b1; ++n) {
      const Scalar* x = in + n * g.in_sample();
      Scalar* y_sample = out + n * g.out_sample();
      for (Index oh = 0; oh < g.out_h; ++oh) {
        Scalar* y = y_sample + oh * g.out_w * g.out_c;
        const bool row_inside = oh >= rows.lo && oh < rows.hi;
        const Index lo = row_inside ? cols.lo : g.out_w, hi = row_inside ? cols.hi : g.out_w;
        Index ow = 0;
        for (; ow < lo; ++ow)  // window over the left (or, for an edge row, any) padding
          detail::direct_pixel_scalar(g, x, kernel, bias, oh, ow, 0, g.out_c, fuse_relu, y + ow * g.out_c);
        for (; ow + P <= hi; ow += P)
          detail::direct_pixels_all_channels<P>(g, x, kernel, bias, oh, ow, fuse_relu, y + ow * g.out_c);
        for (; ow < hi; ++ow)
          detail::direct_pixels_all_channels<1>(g, x, kernel, bias, oh, ow, fuse_relu, y + ow * g.out_c);
        for (; ow < g.out_w; ++ow)  // window over the right padding
          detail::direct_pixel_scalar(g, x, kernel, bias, oh, ow, 0, g.out_c, fuse_relu, y + ow * g.out_c);
      }
    }
  });
}

namespace detail {

/// d_kernel rows [t0, t0 + T) (taps of the patch, (kh, kw, c) order) x V vectors of channels from o0, summed over
/// the interior pixels of samples [b0, b1) and added into dw: the T x V accumulators stay in registers for the whole
/// slice; each pixel costs V loads of d_out and T broadcasts of its input. Taps past the patch (a short last block)
/// read tap 0 and are dropped, which keeps the loop free of branches.
template <Index T, Index V, class Scalar>
void direct_dkernel_tile(const Conv2DGeometry& g, const Scalar* in, const Scalar* d_out, Index b0, Index b1,
                         const InteriorRange& rows, const InteriorRange& cols, Index t0, Index o0, Scalar* dw) {
  using namespace Eigen::internal;
  using Packet = SimdPacket<Scalar>;
  constexpr Index L = simd_width<Scalar>;
  std::array<Index, T> offset{};  // each tap's input offset from its window's first cell
  const Index taps = std::min<Index>(T, g.patch() - t0);
  for (Index t = 0; t < taps; ++t) {
    const Index tap = t0 + t, c = tap % g.in_c, kw = (tap / g.in_c) % g.k_w, kh = tap / (g.in_c * g.k_w);
    offset[t] = (kh * g.in_w + kw) * g.in_c + c;
  }
  Packet acc[T][V];
  for (Index t = 0; t < T; ++t)
    for (Index v = 0; v < V; ++v) acc[t][v] = pset1<Packet>(Scalar(0));
  for (Index n = b0; n < b1; ++n) {
    const Scalar* x = in + n * g.in_sample();
    for (Index oh = rows.lo; oh < rows.hi; ++oh) {
      const Scalar* dy = d_out + ((n * g.out_h + oh) * g.out_w + cols.lo) * g.out_c + o0;
      const Scalar* window = x + ((oh * g.stride_h - g.pad_top) * g.in_w + cols.lo * g.stride_w - g.pad_left) * g.in_c;
      for (Index ow = cols.lo; ow < cols.hi; ++ow, dy += g.out_c, window += g.stride_w * g.in_c) {
        Packet d[V];
        for (Index v = 0; v < V; ++v) d[v] = ploadu<Packet>(dy + v * L);
        for (Index t = 0; t < T; ++t) {
          const Packet xb = pset1<Packet>(window[offset[t]]);
          for (Index v = 0; v < V; ++v) acc[t][v] = pmadd(xb, d[v], acc[t][v]);
        }
      }
    }
  }
  for (Index t = 0; t < taps; ++t)
    for (Index v = 0; v < V; ++v) {
      Scalar* p = dw + (t0 + t) * g.out_c + o0 + v * L;
      pstoreu(p, padd(ploadu<Packet>(p), acc[t][v]));
    }
}

/// All taps for the channel vectors [o0, o0 + V * L): as many taps per pass over the slice as registers allow.
template <Index V, class Scalar>
void direct_dkernel_channels(const Conv2DGeometry& g, const Scalar* in, const Scalar* d_out, Index b0, Index b1,
                             const InteriorRange& rows, const InteriorRange& cols, Index o0, Scalar* dw) {
  constexpr Index T = simd_accumulators<Scalar> / V;  // at least 12
  static_assert(T >= 9, "a 3x3 window on one channel should fit one pass");
  for (Index t0 = 0; t0 < g.patch();) {  // tile sizes that waste few lanes on 3x3 windows
    const Index left = g.patch() - t0;
    if (left <= 4) {
      direct_dkernel_tile<4, V>(g, in, d_out, b0, b1, rows, cols, t0, o0, dw);
      t0 += 4;
    } else if (left <= 9) {
      direct_dkernel_tile<9, V>(g, in, d_out, b0, b1, rows, cols, t0, o0, dw);
      t0 += 9;
    } else {
      direct_dkernel_tile<T, V>(g, in, d_out, b0, b1, rows, cols, t0, o0, dw);
      t0 += T;
    }
  }
}

/// The scalar path: every gradient term of output pixel (n, oh, ow) with channels [o0, o1), taps checked against
/// the padding. Adds into dw.
template <class Scalar>
void direct_dkernel_pixel(const Conv2DGeometry& g, const Scalar* x, const Scalar* dy, Index oh, Index ow, Index o0,
                          Index o1, Scalar* dw) {
  g.for_each_valid_tap(oh, ow, [&](Index kh, Index kw, Index ih, Index iw) {
    const Scalar* xc = x + (ih * g.in_w + iw) * g.in_c;
    Scalar* dwc = dw + (kh * g.k_w + kw) * g.in_c * g.out_c;
    for (Index c = 0; c < g.in_c; ++c)
      for (Index o = o0; o < o1; ++o) dwc[c * g.out_c + o] += xc[c] * dy[o];
  });
}

/// d_in of one sample (overwritten): every output pixel sends d_out . kernel^T back to the cells its window read.
template <class Scalar>
void direct_dinput_sample(const Conv2DGeometry& g, const Scalar* kernel, const Scalar* dy_sample, Scalar* dx) {
  using namespace Eigen::internal;
  using Packet = SimdPacket<Scalar>;
  constexpr Index L = simd_width<Scalar>;
  const Index O = g.out_c, vec_end = O - O % L;
  std::fill(dx, dx + g.in_sample(), Scalar(0));
  for (Index oh = 0; oh < g.out_h; ++oh)
    for (Index ow = 0; ow < g.out_w; ++ow) {
      const Scalar* dy = dy_sample + (oh * g.out_w + ow) * O;
      g.for_each_valid_tap(oh, ow, [&](Index kh, Index kw, Index ih, Index iw) {
        const Scalar* wc = kernel + (kh * g.k_w + kw) * g.in_c * O;
        Scalar* dxc = dx + (ih * g.in_w + iw) * g.in_c;
        for (Index c = 0; c < g.in_c; ++c, wc += O) {
          Packet s = pset1<Packet>(Scalar(0));
          for (Index o = 0; o < vec_end; o += L) s = pmadd(ploadu<Packet>(dy + o), ploadu<Packet>(wc + o), s);
          Scalar sum = predux(s);
          for (Index o = vec_end; o < O; ++o) sum += dy[o] * wc[o];
          dxc[c] += sum;
        }
      });
    }
}

}  // namespace detail

/// d_kernel (HWIO) and d_bias (may be null), overwritten, as sums over every output position; d_in, when not null,
/// overwritten with d_out . kernel^T sent back to the cells each position read. Each thread sums its slice of the
/// batch; the slices' sums are added in thread order (deterministic for a given thread count). `ws` holds the
/// partial sums of threads after the first (grown once, then reused).
template <class Scalar>
void conv2d_backward_direct(const Conv2DGeometry& g, const Scalar* in, const Scalar* kernel, const Scalar* d_out,
                            Scalar* d_in, Scalar* d_kernel, Scalar* d_bias, Tensor<Scalar>& ws) {
  g.require_plain("direct");
  constexpr Index L = detail::simd_width<Scalar>;
  // The work estimate leaves d_in out: the split, and so the rounding of d_kernel, must not depend on it.
  const double macs = double(g.rows()) * double(g.patch()) * double(g.out_c);
  const int threads = threads_for(g.batch, macs);
  const Index partial = g.kernel_size() + g.out_c;
  if (ws.size() < partial * (threads - 1)) ws.resize(Shape{partial * (threads - 1)});
  Scalar* partials = ws.data();
  const Index O = g.out_c;
  const detail::InteriorRange rows = detail::interior_range(g.out_h, g.in_h, g.k_h, g.stride_h, g.pad_top);
  const detail::InteriorRange cols = detail::interior_range(g.out_w, g.in_w, g.k_w, g.stride_w, g.pad_left);
  constexpr Index V = detail::simd_accumulators<Scalar> >= 24 ? 2 : 1;  // vectors of channels per d_kernel tile
  parallel_slices(g.batch, threads, [&](int t, Index b0, Index b1) {
    Scalar* dw = t == 0 ? d_kernel : partials + (t - 1) * partial;
    Scalar* db = t == 0 ? d_bias : partials + (t - 1) * partial + g.kernel_size();
    std::fill(dw, dw + g.kernel_size(), Scalar(0));
    // Interior pixels through register tiles, channel vectors first, then leftover channels and edge pixels.
    Index o0 = 0;
    for (; o0 + V * L <= O; o0 += V * L) detail::direct_dkernel_channels<V>(g, in, d_out, b0, b1, rows, cols, o0, dw);
    for (; o0 + L <= O; o0 += L) detail::direct_dkernel_channels<1>(g, in, d_out, b0, b1, rows, cols, o0, dw);
    const Index vec_end = o0;
    for (Index n = b0; n < b1; ++n) {
      const Scalar* x = in + n * g.in_sample();
      for (Index oh = 0; oh < g.out_h; ++oh)
        for (Index ow = 0; ow < g.out_w; ++ow) {
          const bool inside = oh >= rows.lo && oh < rows.hi && ow >= cols.lo && ow < cols.hi;
          if (inside && vec_end == O) continue;  // done by the tiles
          const Scalar* dy = d_out + ((n * g.out_h + oh) * g.out_w + ow) * O;
          detail::direct_dkernel_pixel(g, x, dy, oh, ow, inside ? vec_end : 0, O, dw);
        }
    }
    if (db) {
      std::fill(db, db + O, Scalar(0));
      const Scalar* dy = d_out + b0 * g.out_sample();
      for (Index r = 0; r < (b1 - b0) * g.out_pixels(); ++r, dy += O)
        for (Index o = 0; o < O; ++o) db[o] += dy[o];
    }
    if (d_in)
      for (Index n = b0; n < b1; ++n)
        detail::direct_dinput_sample(g, kernel, d_out + n * g.out_sample(), d_in + n * g.in_sample());
  });
  for (int t = 1; t < threads; ++t) {
    const Scalar* p = partials + (t - 1) * partial;
    for (Index i = 0; i < g.kernel_size(); ++i) d_kernel[i] += p[i];
    if (d_bias)
      for (Index o = 0; o < O; ++o) d_bias[o] += p[g.kernel_size() + o];
  }
}

}  // namespace nnlite
