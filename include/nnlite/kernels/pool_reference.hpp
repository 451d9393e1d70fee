// nnlite/kernels/pool_reference.hpp: MaxPool2D forward and backward over NHWC as direct loops (pooling is
// memory-bound, so these are also the kernels the layer runs). Backward either replays stored argmax or recomputes it.
// AveragePooling2D: plain reference loops here, and the entry points the layer calls, which run pool_fast.hpp.
#pragma once

#include <algorithm>

#include "../core/parallel.hpp"
#include "conv2d_geometry.hpp"
#include "pool_fast.hpp"

namespace nnlite {

/// Sizes for 2-D pooling, batch included. Windows are clipped to the input: Keras pads 'same' pooling with cells
/// that never win (TF uses -inf), which is the same as leaving them out.
struct Pool2DGeometry {
  Index batch = 0;     ///< Samples in the batch.
  Index in_h = 0;      ///< Input height.
  Index in_w = 0;      ///< Input width.
  Index channels = 0;  ///< Channels (the same in and out).
  Index pool_h = 0;    ///< Window height (Keras' pool_size[0]).
  Index pool_w = 0;    ///< Window width (Keras' pool_size[1]).
  Index stride_h = 1;  ///< Vertical stride (Keras' strides[0]).
  Index stride_w = 1;  ///< Horizontal stride (Keras' strides[1]).
  Index pad_top = 0;   ///< Rows of 'same' padding above the input.
  Index pad_left = 0;  ///< Columns of 'same' padding left of the input.
  Index out_h = 0;     ///< Output height.
  Index out_w = 0;     ///< Output width.

  /// The geometry Keras' MaxPool2D / AveragePooling2D use for an NHWC input.
  static Pool2DGeometry make(Index batch, Index in_h, Index in_w, Index channels, Size2 pool, Size2 strides,
                             Padding padding) {
    Pool2DGeometry g;
    g.batch = batch;
    g.in_h = in_h;
    g.in_w = in_w;
    g.channels = channels;
    g.pool_h = pool.h;
    g.pool_w = pool.w;
    g.stride_h = strides.h;
    g.stride_w = strides.w;
    set_padded_output(g, pool, padding);
    return g;
  }

  /// Input elements per sample.
  Index in_sample() const { return in_h * in_w * channels; }
  /// Output elements per sample.
  Index out_sample() const { return out_h * out_w * channels; }
  /// Output elements in the batch.
  Index out_size() const { return batch * out_sample(); }

  /// The input rows [h0, h1) and columns [w0, w1) that output (oh, ow) pools over.
  void window(Index oh, Index ow, Index& h0, Index& h1, Index& w0, Index& w1) const {
    const Index top = oh * stride_h - pad_top, left = ow * stride_w - pad_left;
    h0 = std::max<Index>(top, 0);
    h1 = std::min<Index>(top + pool_h, in_h);
    w0 = std::max<Index>(left, 0);
    w1 = std::min<Index>(left + pool_w, in_w);
  }
};

// Ties: the window is scanned row by row (h, then w) and a later cell replaces the running max only when strictly
// greater, so the first maximal cell in that order wins and receives the whole gradient. TF's CPU MaxPoolGrad
// scans in the same order with the same strict comparison. A NaN never replaces a number (comparisons are false).

namespace detail {
template <bool StoreArgmax, class Scalar>
void maxpool2d_forward_impl(const Pool2DGeometry& g, const Scalar* in, Scalar* out, Index* argmax) {
  const Index C = g.channels;
  parallel_for(g.batch, [&](Index n) {
    const Index base = n * g.in_sample();
    const Scalar* x = in + base;
    for (Index oh = 0; oh < g.out_h; ++oh) {
      for (Index ow = 0; ow < g.out_w; ++ow) {
        Index h0, h1, w0, w1;
        g.window(oh, ow, h0, h1, w0, w1);
        const Index o = ((n * g.out_h + oh) * g.out_w + ow) * C;
        Scalar* y = out + o;
        const Index first = (h0 * g.in_w + w0) * C;
        std::copy(x + first, x + first + C, y);
        if constexpr (StoreArgmax)
          for (Index c = 0; c < C; ++c) argmax[o + c] = base + first + c;
        for (Index h = h0; h < h1; ++h) {
          for (Index w = (h == h0 ? w0 + 1 : w0); w < w1; ++w) {
            const Index cell = (h * g.in_w + w) * C;
            for (Index c = 0; c < C; ++c) {
              if (x[cell + c] > y[c]) {
                y[c] = x[cell + c];
                if constexpr (StoreArgmax) argmax[o + c] = base + cell + c;
              }
            }
          }
        }
      }
    }
  });
}
}  // namespace detail

/// out[n, oh, ow, c] = max over the window. argmax, when not null (out_size() entries), receives the flat index of
/// the winning cell in the whole input tensor, for maxpool2d_backward_argmax.
/// 2x2 windows at stride 2 without padding (the study's pools) take the vectorised path in pool_fast.hpp, which
/// picks the same winners (it carries window offsets in float lanes, hence the bound on (in_w + 1) * channels);
/// maxpool2d_forward_generic always runs the general loop.
template <class Scalar>
void maxpool2d_forward_generic(const Pool2DGeometry& g, const Scalar* in, Scalar* out, Index* argmax = nullptr) {
  if (argmax)
    detail::maxpool2d_forward_impl<true>(g, in, out, argmax);
  else
    detail::maxpool2d_forward_impl<false>(g, in, out, argmax);
}
/// What the layer runs: maxpool2d_forward_generic's result, by the vectorised 2x2 / stride 2 path where it applies.
template <class Scalar>
void maxpool2d_forward(const Pool2DGeometry& g, const Scalar* in, Scalar* out, Index* argmax = nullptr) {
  if (g.pool_h == 2 && g.pool_w == 2 && g.stride_h == 2 && g.stride_w == 2 && g.pad_top == 0 && g.pad_left == 0 &&
      2 * g.out_h <= g.in_h && 2 * g.out_w <= g.in_w && (g.in_w + 1) * g.channels < (Index(1) << 24)) {
    if (argmax)
      detail::maxpool2d_forward_2x2_impl<true>(g, in, out, argmax);
    else
      detail::maxpool2d_forward_2x2_impl<false>(g, in, out, argmax);
    return;
  }
  if (argmax)
    detail::maxpool2d_forward_impl<true>(g, in, out, argmax);
  else
    detail::maxpool2d_forward_impl<false>(g, in, out, argmax);
}

/// d_in (overwritten) gets each d_out entry at the cell its forward pass picked. Overlapping windows (stride < pool)
/// can pick one cell twice, hence +=; the picks of one sample stay inside that sample, so samples run in parallel.
template <class Scalar>
void maxpool2d_backward_argmax(const Pool2DGeometry& g, const Index* argmax, const Scalar* d_out, Scalar* d_in) {
  parallel_for(g.batch, [&](Index n) {
    std::fill(d_in + n * g.in_sample(), d_in + (n + 1) * g.in_sample(), Scalar(0));
    for (Index o = n * g.out_sample(); o < (n + 1) * g.out_sample(); ++o) d_in[argmax[o]] += d_out[o];
  }, static_cast<double>(g.in_sample()));
}

/// The same gradient without stored indices: finds each window's winner again with the forward pass' tie rule.
template <class Scalar>
void maxpool2d_backward_recompute(const Pool2DGeometry& g, const Scalar* in, const Scalar* d_out, Scalar* d_in) {
  const Index C = g.channels;
  parallel_for(g.batch, [&](Index n) {
    const Scalar* x = in + n * g.in_sample();
    Scalar* dx = d_in + n * g.in_sample();
    std::fill(dx, dx + g.in_sample(), Scalar(0));
    for (Index oh = 0; oh < g.out_h; ++oh) {
      for (Index ow = 0; ow < g.out_w; ++ow) {
        Index h0, h1, w0, w1;
        g.window(oh, ow, h0, h1, w0, w1);
        const Scalar* dy = d_out + ((n * g.out_h + oh) * g.out_w + ow) * C;
        for (Index c = 0; c < C; ++c) {
          Index best = (h0 * g.in_w + w0) * C + c;
          for (Index h = h0; h < h1; ++h)
            for (Index w = w0; w < w1; ++w) {
              const Index cell = (h * g.in_w + w) * C + c;
              if (x[cell] > x[best]) best = cell;
            }
          dx[best] += dy[c];
        }
      }
    }
  });
}

// AveragePooling2D. Keras' 'same' averages over the cells of the window that lie inside the input (TF's AvgPool,
// count_include_pad=False in PyTorch's terms): the padding neither adds to the sum nor to the count.

/// The obviously right loops, one output value at a time: the yardstick for the fast kernels.
template <class Scalar>
void avgpool2d_forward_reference(const Pool2DGeometry& g, const Scalar* in, Scalar* out) {
  const Index C = g.channels;
  for (Index n = 0; n < g.batch; ++n)
    for (Index oh = 0; oh < g.out_h; ++oh)
      for (Index ow = 0; ow < g.out_w; ++ow) {
        Index h0, h1, w0, w1;
        g.window(oh, ow, h0, h1, w0, w1);
        for (Index c = 0; c < C; ++c) {
          Scalar sum = 0;
          Index count = 0;
          for (Index h = h0; h < h1; ++h)
            for (Index w = w0; w < w1; ++w, ++count) sum += in[((n * g.in_h + h) * g.in_w + w) * C + c];
          out[((n * g.out_h + oh) * g.out_w + ow) * C + c] = sum / static_cast<Scalar>(count);
        }
      }
}

/// d_in (overwritten) = each window's d_out / its cell count, added to every cell of the window: the reference loops.
template <class Scalar>
void avgpool2d_backward_reference(const Pool2DGeometry& g, const Scalar* d_out, Scalar* d_in) {
  const Index C = g.channels;
  std::fill(d_in, d_in + g.batch * g.in_sample(), Scalar(0));
  for (Index n = 0; n < g.batch; ++n)
    for (Index oh = 0; oh < g.out_h; ++oh)
      for (Index ow = 0; ow < g.out_w; ++ow) {
        Index h0, h1, w0, w1;
        g.window(oh, ow, h0, h1, w0, w1);
        const Index count = (h1 - h0) * (w1 - w0);
        for (Index c = 0; c < C; ++c) {
          const Scalar share = d_out[((n * g.out_h + oh) * g.out_w + ow) * C + c] / static_cast<Scalar>(count);
          for (Index h = h0; h < h1; ++h)
            for (Index w = w0; w < w1; ++w) d_in[((n * g.in_h + h) * g.in_w + w) * C + c] += share;
        }
      }
}

/// What the layer runs for AveragePooling2D forward: channel-vectorised, parallel over the batch, bit-identical to
/// avgpool2d_forward_reference.
template <class Scalar>
void avgpool2d_forward(const Pool2DGeometry& g, const Scalar* in, Scalar* out) {
  detail::avgpool2d_forward_fast_impl(g, in, out);
}
/// What the layer runs for AveragePooling2D backward, bit-identical to avgpool2d_backward_reference.
template <class Scalar>
void avgpool2d_backward(const Pool2DGeometry& g, const Scalar* d_out, Scalar* d_in) {
  detail::avgpool2d_backward_fast_impl(g, d_out, d_in);
}

}  // namespace nnlite
