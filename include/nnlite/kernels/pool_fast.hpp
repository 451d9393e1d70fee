// nnlite/kernels/pool_fast.hpp: MaxPool2D forward for the common 2x2 / stride 2 / unpadded case, with the same
// winners as the general loop (scan order top-left, top-right, bottom-left, bottom-right; strictly greater wins),
// written as selects so the compiler vectorises over the channels.
#pragma once

#include "../parallel.hpp"
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
              Index* am = argmax + o;
              for (Index k = 0; k < C; ++k) {
                Scalar m = a[k];
                Index i = ia + k;
                const bool gb = b[k] > m;
                m = gb ? b[k] : m;
                i = gb ? ib + k : i;
                const bool gc = c[k] > m;
                m = gc ? c[k] : m;
                i = gc ? ic + k : i;
                const bool gd = d[k] > m;
                m = gd ? d[k] : m;
                i = gd ? id + k : i;
                y[k] = m;
                am[k] = i;
              }
            } else {
              for (Index k = 0; k < C; ++k) {
                Scalar m = a[k];
                m = b[k] > m ? b[k] : m;
                m = c[k] > m ? c[k] : m;
                m = d[k] > m ? d[k] : m;
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
