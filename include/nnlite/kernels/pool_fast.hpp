// nnlite/kernels/pool_fast.hpp: MaxPool2D forward for the common 2x2 / stride 2 / unpadded case, with the same
// winners as the general loop (scan order top-left, top-right, bottom-left, bottom-right; strictly greater wins),
// written as selects so the compiler vectorises over the channels.
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

}  // namespace nnlite
