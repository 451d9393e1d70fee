// nnlite/kernels/pool_fast.hpp: MaxPool2D forward for the common 2x2 / stride 2 / unpadded case, with the same
// winners as the general loop (scan order top-left, top-right, bottom-left, bottom-right; strictly greater wins),
// written as selects so the compiler vectorises over the channels. AveragePooling2D forward and backward with the
// channels innermost (contiguous in NHWC), bit-identical to the reference loops in pool_reference.hpp: the same sums
// in the same order, divided by the same count.
#pragma once

#include <algorithm>

#include "../core/parallel.hpp"
#include "conv2d_geometry.hpp"

namespace nnlite {

namespace detail {
template <bool StoreArgmax, class G, class Scalar>
void maxpool2d_forward_2x2_impl(const G& g, const Scalar* in, Scalar* out, Index* argmax) {
  const Index C = g.channels, W = g.in_w;
  parallel_for(
      g.batch,
      [&](Index n) {
        const Index base = n * g.in_sample();
        for (Index oh = 0; oh < g.out_h; ++oh) {
          for (Index ow = 0; ow < g.out_w; ++ow) {
            const Index ia = base + (2 * oh * W + 2 * ow) * C, ib = ia + C, ic = ia + W * C, id = ic + C;
            const Scalar *a = in + ia, *b = in + ib, *c = in + ic, *d = in + id;
            const Index o = ((n * g.out_h + oh) * g.out_w + ow) * C;
            Scalar* y = out + o;
            if constexpr (StoreArgmax) {
              // Branch-free and all in Scalar lanes so it vectorises: the winner's offset within the window is
              // carried as a Scalar (exact: offsets are small integers) and converted once. std::max(m, v) is
              // (m < v ? v : m), the strict rule.
              const Scalar cC = static_cast<Scalar>(C), cW = static_cast<Scalar>(W * C);
              const Scalar cWC = static_cast<Scalar>(W * C + C);
              Index* am = argmax + o;
              for (Index k0 = 0; k0 < C; k0 += 64) {
                const Index kn = std::min<Index>(64, C - k0);
                Scalar off[64];
                for (Index k = k0; k < k0 + kn; ++k) {
                  Scalar m = a[k], of = 0;
                  of = b[k] > m ? cC : of;
                  m = std::max(m, b[k]);
                  of = c[k] > m ? cW : of;
                  m = std::max(m, c[k]);
                  of = d[k] > m ? cWC : of;
                  m = std::max(m, d[k]);
                  y[k] = m;
                  off[k - k0] = of;
                }
                for (Index k = 0; k < kn; ++k) am[k0 + k] = ia + k0 + k + static_cast<Index>(off[k]);
              }
            } else {
              for (Index k = 0; k < C; ++k) {
                Scalar m = a[k];
                m = std::max(m, b[k]);
                m = std::max(m, c[k]);
                m = std::max(m, d[k]);
                y[k] = m;
              }
            }
          }
        }
      },
      static_cast<double>(g.in_sample()));
}
}  // namespace detail

namespace detail {

/// out = window sum / cells in the window (the clipped window: 'same' padding cells are not counted, as in TF's
/// AvgPool). The sum starts from the first cell and adds the others row by row, like the reference loop's 0 + ...
template <class G, class Scalar>
void avgpool2d_forward_fast_impl(const G& g, const Scalar* in, Scalar* out) {
  const Index C = g.channels;
  const bool two_by_two = g.pool_h == 2 && g.pool_w == 2 && g.stride_h == 2 && g.stride_w == 2 && g.pad_top == 0 &&
                          g.pad_left == 0 && 2 * g.out_h <= g.in_h && 2 * g.out_w <= g.in_w;
  parallel_for(
      g.batch,
      [&](Index n) {
        const Scalar* x = in + n * g.in_sample();
        for (Index oh = 0; oh < g.out_h; ++oh) {
          for (Index ow = 0; ow < g.out_w; ++ow) {
            Scalar* y = out + ((n * g.out_h + oh) * g.out_w + ow) * C;
            if (two_by_two) {
              const Scalar* a = x + (2 * oh * g.in_w + 2 * ow) * C;
              const Scalar *b = a + C, *c = a + g.in_w * C, *d = c + C;
              for (Index k = 0; k < C; ++k) y[k] = (((a[k] + b[k]) + c[k]) + d[k]) / Scalar(4);
              continue;
            }
            Index h0, h1, w0, w1;
            g.window(oh, ow, h0, h1, w0, w1);
            const Scalar count = static_cast<Scalar>((h1 - h0) * (w1 - w0));
            const Scalar* first = x + (h0 * g.in_w + w0) * C;
            std::copy(first, first + C, y);
            for (Index h = h0; h < h1; ++h)
              for (Index w = (h == h0 ? w0 + 1 : w0); w < w1; ++w) {
                const Scalar* cell = x + (h * g.in_w + w) * C;
                for (Index k = 0; k < C; ++k) y[k] += cell[k];
              }
            for (Index k = 0; k < C; ++k) y[k] /= count;
          }
        }
      },
      static_cast<double>(g.in_sample()));
}

/// d_in (overwritten) = the sum over the windows holding each cell of d_out / that window's count. Windows that do
/// not overlap (stride >= pool, the usual case) write each cell once; 2x2 / stride 2 skips the zero fill when the
/// windows tile the whole input.
template <class G, class Scalar>
void avgpool2d_backward_fast_impl(const G& g, const Scalar* d_out, Scalar* d_in) {
  const Index C = g.channels;
  const bool two_by_two = g.pool_h == 2 && g.pool_w == 2 && g.stride_h == 2 && g.stride_w == 2 && g.pad_top == 0 &&
                          g.pad_left == 0 && 2 * g.out_h <= g.in_h && 2 * g.out_w <= g.in_w;
  const bool tiled = two_by_two && 2 * g.out_h == g.in_h && 2 * g.out_w == g.in_w;
  parallel_for(
      g.batch,
      [&](Index n) {
        Scalar* dx = d_in + n * g.in_sample();
        if (!tiled) std::fill(dx, dx + g.in_sample(), Scalar(0));
        for (Index oh = 0; oh < g.out_h; ++oh) {
          for (Index ow = 0; ow < g.out_w; ++ow) {
            const Scalar* dy = d_out + ((n * g.out_h + oh) * g.out_w + ow) * C;
            if (two_by_two) {
              Scalar* a = dx + (2 * oh * g.in_w + 2 * ow) * C;
              Scalar *b = a + C, *c = a + g.in_w * C, *d = c + C;
              for (Index k = 0; k < C; ++k) {
                const Scalar v = dy[k] / Scalar(4);
                a[k] = v;
                b[k] = v;
                c[k] = v;
                d[k] = v;
              }
              continue;
            }
            Index h0, h1, w0, w1;
            g.window(oh, ow, h0, h1, w0, w1);
            const Scalar count = static_cast<Scalar>((h1 - h0) * (w1 - w0));
            for (Index k0 = 0; k0 < C; k0 += 64) {  // the shares of 64 channels at a time, computed once per window
              const Index kn = std::min<Index>(64, C - k0);
              Scalar share[64];
              for (Index k = 0; k < kn; ++k) share[k] = dy[k0 + k] / count;
              for (Index h = h0; h < h1; ++h)
                for (Index w = w0; w < w1; ++w) {
                  Scalar* cell = dx + (h * g.in_w + w) * C + k0;
                  for (Index k = 0; k < kn; ++k) cell[k] += share[k];
                }
            }
          }
        }
      },
      static_cast<double>(g.in_sample()));
}

}  // namespace detail

}  // namespace nnlite
