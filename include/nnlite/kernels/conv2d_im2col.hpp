// nnlite/kernels/conv2d_im2col.hpp: Conv2D as im2col + one Eigen GEMM (forward) and GEMM + col2im (backward).
// The HWIO kernel is already the (k_h*k_w*in_c, out_c) matrix the patches multiply, and the product is NHWC.
#pragma once

#include <algorithm>

#include "../parallel.hpp"
#include "conv2d_geometry.hpp"

namespace nnlite {

// Upper bound on the im2col workspace in elements (64 MiB of floats). Larger batches run in chunks of whole
// samples, so predicting on 10000 images does not need a 1.4 GB patch matrix; training batches fit in one GEMM.
constexpr Index im2col_default_workspace_limit = Index(1) << 24;

namespace detail {

// Samples per GEMM so that the patch matrix stays under `limit` elements (always at least one sample).
inline Index im2col_chunk(const Conv2DGeometry& g, Index limit) {
  const Index per_sample = std::max<Index>(g.out_pixels() * g.patch(), 1);
  return std::clamp<Index>(limit / per_sample, 1, std::max<Index>(g.batch, 1));
}

// Grows the caller's workspace only when it is too small, so steady-state batches never allocate.
template <class Scalar>
Scalar* workspace(Tensor<Scalar>& ws, Index elements) {
  if (ws.size() < elements) ws.resize(Shape{elements});
  return ws.data();
}

}  // namespace detail

// Patches of one sample: row (oh, ow) holds the receptive field in (kh, kw, c) order, zeros where it hangs over
// the padding. In NHWC the (kw, c) part of a kernel row is contiguous in the input, hence one copy per kernel row.
template <class Scalar>
void im2col_sample(const Conv2DGeometry& g, const Scalar* in, Scalar* cols) {
  const Index row_len = g.k_w * g.in_c;
  for (Index oh = 0; oh < g.out_h; ++oh) {
    for (Index ow = 0; ow < g.out_w; ++ow) {
      Scalar* dst = cols + (oh * g.out_w + ow) * g.patch();
      const Index iw0 = ow * g.stride_w - g.pad_left;
      const bool inside_w = iw0 >= 0 && iw0 + g.k_w <= g.in_w;
      for (Index kh = 0; kh < g.k_h; ++kh, dst += row_len) {
        const Index ih = oh * g.stride_h - g.pad_top + kh;
        if (ih < 0 || ih >= g.in_h) {
          std::fill(dst, dst + row_len, Scalar(0));
        } else if (inside_w) {
          // A plain loop, not memcpy: rows are short (3 values for 3x3 on one channel), the call would cost more.
          const Scalar* src = in + (ih * g.in_w + iw0) * g.in_c;
          for (Index i = 0; i < row_len; ++i) dst[i] = src[i];
        } else {
          for (Index kw = 0; kw < g.k_w; ++kw) {
            const Index iw = iw0 + kw;
            Scalar* d = dst + kw * g.in_c;
            if (iw < 0 || iw >= g.in_w)
              std::fill(d, d + g.in_c, Scalar(0));
            else
              std::copy(in + (ih * g.in_w + iw) * g.in_c, in + (ih * g.in_w + iw + 1) * g.in_c, d);
          }
        }
      }
    }
  }
}

// The adjoint of im2col_sample: overwrites one sample's d_in with the sum of every patch entry that read each cell.
template <class Scalar>
void col2im_sample(const Conv2DGeometry& g, const Scalar* cols, Scalar* d_in) {
  std::fill(d_in, d_in + g.in_sample(), Scalar(0));
  const Index row_len = g.k_w * g.in_c;
  for (Index oh = 0; oh < g.out_h; ++oh) {
    for (Index ow = 0; ow < g.out_w; ++ow) {
      const Scalar* src = cols + (oh * g.out_w + ow) * g.patch();
      const Index iw0 = ow * g.stride_w - g.pad_left;
      const bool inside_w = iw0 >= 0 && iw0 + g.k_w <= g.in_w;
      for (Index kh = 0; kh < g.k_h; ++kh, src += row_len) {
        const Index ih = oh * g.stride_h - g.pad_top + kh;
        if (ih < 0 || ih >= g.in_h) continue;
        if (inside_w) {
          Scalar* d = d_in + (ih * g.in_w + iw0) * g.in_c;
          for (Index i = 0; i < row_len; ++i) d[i] += src[i];
        } else {
          for (Index kw = 0; kw < g.k_w; ++kw) {
            const Index iw = iw0 + kw;
            if (iw < 0 || iw >= g.in_w) continue;
            Scalar* d = d_in + (ih * g.in_w + iw) * g.in_c;
            const Scalar* s = src + kw * g.in_c;
            for (Index c = 0; c < g.in_c; ++c) d[c] += s[c];
          }
        }
      }
    }
  }
}

// im2col / col2im over samples [first, first + count) of the batch; each sample owns its rows and its d_in slice,
// so the split over threads cannot change the result.
template <class Scalar>
void im2col(const Conv2DGeometry& g, const Scalar* in, Scalar* cols, Index first, Index count) {
  parallel_for(count, [&](Index i) {
    im2col_sample(g, in + (first + i) * g.in_sample(), cols + i * g.out_pixels() * g.patch());
  });
}
template <class Scalar>
void col2im(const Conv2DGeometry& g, const Scalar* cols, Scalar* d_in, Index first, Index count) {
  parallel_for(count, [&](Index i) {
    col2im_sample(g, cols + i * g.out_pixels() * g.patch(), d_in + (first + i) * g.in_sample());
  });
}

// out (NHWC, batch x out_h x out_w x out_c) = im2col(in) . kernel + bias. bias may be null. `cols` is the caller's
// workspace (grown once, then reused); at most `workspace_limit` elements of it are used per GEMM.
template <class Scalar>
void conv2d_forward_im2col(const Conv2DGeometry& g, const Scalar* in, const Scalar* kernel, const Scalar* bias,
                           Scalar* out, Tensor<Scalar>& cols,
                           Index workspace_limit = im2col_default_workspace_limit) {
  ConstMatrixMap<Scalar> w(kernel, g.patch(), g.out_c);
  if (g.is_pointwise()) {
    MatrixMap<Scalar> y(out, g.rows(), g.out_c);
    y.noalias() = ConstMatrixMap<Scalar>(in, g.rows(), g.in_c) * w;
    if (bias) y.rowwise() += ConstVectorMap<Scalar>(bias, g.out_c).transpose();
    return;
  }
  const Index chunk = detail::im2col_chunk(g, workspace_limit);
  Scalar* ws = detail::workspace(cols, std::min(chunk, g.batch) * g.out_pixels() * g.patch());
  for (Index n0 = 0; n0 < g.batch; n0 += chunk) {
    const Index nb = std::min(chunk, g.batch - n0);
    const Index rows = nb * g.out_pixels();
    im2col(g, in, ws, n0, nb);
    MatrixMap<Scalar> y(out + n0 * g.out_sample(), rows, g.out_c);
    y.noalias() = ConstMatrixMap<Scalar>(ws, rows, g.patch()) * w;
    if (bias) y.rowwise() += ConstVectorMap<Scalar>(bias, g.out_c).transpose();
  }
}

// Backward from d_out (NHWC): d_kernel = cols^T . d_out and d_bias = column sums of d_out (both overwritten;
// d_bias may be null), and, when d_in is not null, d_in = col2im(d_out . kernel^T). The patches are rebuilt from
// `in` rather than kept from forward, so nothing stale can be read; the d_cols reuse the same workspace.
template <class Scalar>
void conv2d_backward_im2col(const Conv2DGeometry& g, const Scalar* in, const Scalar* kernel, const Scalar* d_out,
                            Scalar* d_in, Scalar* d_kernel, Scalar* d_bias, Tensor<Scalar>& cols,
                            Index workspace_limit = im2col_default_workspace_limit) {
  ConstMatrixMap<Scalar> w(kernel, g.patch(), g.out_c);
  MatrixMap<Scalar> dw(d_kernel, g.patch(), g.out_c);
  if (g.batch == 0) {  // an empty batch has zero gradients (the chunk loop below would not write them)
    dw.setZero();
    if (d_bias) VectorMap<Scalar>(d_bias, g.out_c).setZero();
    return;
  }
  if (g.is_pointwise()) {
    ConstMatrixMap<Scalar> x(in, g.rows(), g.in_c);
    ConstMatrixMap<Scalar> dy(d_out, g.rows(), g.out_c);
    dw.noalias() = x.transpose() * dy;
    if (d_bias) VectorMap<Scalar>(d_bias, g.out_c) = dy.colwise().sum().transpose();
    if (d_in) MatrixMap<Scalar>(d_in, g.rows(), g.in_c).noalias() = dy * w.transpose();
    return;
  }
  const Index chunk = detail::im2col_chunk(g, workspace_limit);
  Scalar* ws = detail::workspace(cols, std::min(chunk, g.batch) * g.out_pixels() * g.patch());
  for (Index n0 = 0; n0 < g.batch; n0 += chunk) {
    const Index nb = std::min(chunk, g.batch - n0);
    const Index rows = nb * g.out_pixels();
    ConstMatrixMap<Scalar> dy(d_out + n0 * g.out_sample(), rows, g.out_c);
    MatrixMap<Scalar> patches(ws, rows, g.patch());
    im2col(g, in, ws, n0, nb);
    if (n0 == 0) {
      dw.noalias() = patches.transpose() * dy;
      if (d_bias) VectorMap<Scalar>(d_bias, g.out_c) = dy.colwise().sum().transpose();
    } else {
      dw.noalias() += patches.transpose() * dy;
      if (d_bias) VectorMap<Scalar>(d_bias, g.out_c) += dy.colwise().sum().transpose();
    }
    if (d_in) {
      patches.noalias() = dy * w.transpose();
      col2im(g, ws, d_in, n0, nb);
    }
  }
}

}  // namespace nnlite
