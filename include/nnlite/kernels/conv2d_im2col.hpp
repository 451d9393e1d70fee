// nnlite/kernels/conv2d_im2col.hpp: Conv2D as im2col + one Eigen GEMM (forward) and GEMM + col2im (backward).
// The HWIO kernel is already the (k_h*k_w*in_c, out_c) matrix the patches multiply, and the product is NHWC.
#pragma once

#include <algorithm>

#include "../core/parallel.hpp"
#include "conv2d_geometry.hpp"

namespace nnlite {

/// Upper bound on the im2col workspace in elements (64 MiB of floats). Larger batches run in chunks of whole
/// samples, so predicting on 10000 images does not need a 1.4 GB patch matrix; training batches fit in one GEMM.
constexpr Index im2col_default_workspace_limit = Index(1) << 24;

namespace detail {

/// Samples per GEMM so that the patch matrix stays under `limit` elements (always at least one sample).
inline Index im2col_chunk(const Conv2DGeometry& g, Index limit) {
  const Index per_sample = std::max<Index>(g.out_pixels() * g.patch(), 1);
  return std::clamp<Index>(limit / per_sample, 1, std::max<Index>(g.batch, 1));
}

/// Grows the caller's workspace only when it is too small, so steady-state batches never allocate.
template <class Scalar>
Scalar* workspace(Tensor<Scalar>& ws, Index elements) {
  if (ws.size() < elements) ws.resize(Shape{elements});
  return ws.data();
}

}  // namespace detail

/// Patches of one sample: row (oh, ow) holds the receptive field in (kh, kw, c) order, zeros where it hangs over
/// the padding. In NHWC the (kw, c) part of a kernel row is contiguous in the input, hence one copy per kernel row.
/// With dilation or groups the patch of group `group` gathers its channel slice tap by tap instead.
template <class Scalar>
void im2col_sample(const Conv2DGeometry& g, const Scalar* in, Scalar* cols, Index group = 0) {
  if (!g.is_plain()) {
    const Index gic = g.group_in_c(), c0 = group * gic;
    for (Index oh = 0; oh < g.out_h; ++oh) {
      for (Index ow = 0; ow < g.out_w; ++ow) {
        Scalar* dst = cols + (oh * g.out_w + ow) * g.patch();
        for (Index kh = 0; kh < g.k_h; ++kh) {
          const Index ih = oh * g.stride_h - g.pad_top + kh * g.dil_h;
          for (Index kw = 0; kw < g.k_w; ++kw, dst += gic) {
            const Index iw = ow * g.stride_w - g.pad_left + kw * g.dil_w;
            if (ih < 0 || ih >= g.in_h || iw < 0 || iw >= g.in_w) {
              std::fill(dst, dst + gic, Scalar(0));
            } else {
              const Scalar* src = in + (ih * g.in_w + iw) * g.in_c + c0;
              for (Index c = 0; c < gic; ++c) dst[c] = src[c];
            }
          }
        }
      }
    }
    return;
  }
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

/// The adjoint of im2col_sample: overwrites one sample's d_in with the sum of every patch entry that read each cell.
/// With groups, group 0 overwrites the whole sample and each later group adds into its own channel slice, so the
/// groups must come in order 0, 1, ...
template <class Scalar>
void col2im_sample(const Conv2DGeometry& g, const Scalar* cols, Scalar* d_in, Index group = 0) {
  if (group == 0) std::fill(d_in, d_in + g.in_sample(), Scalar(0));
  if (!g.is_plain()) {
    const Index gic = g.group_in_c(), c0 = group * gic;
    for (Index oh = 0; oh < g.out_h; ++oh) {
      for (Index ow = 0; ow < g.out_w; ++ow) {
        const Scalar* src = cols + (oh * g.out_w + ow) * g.patch();
        for (Index kh = 0; kh < g.k_h; ++kh) {
          const Index ih = oh * g.stride_h - g.pad_top + kh * g.dil_h;
          for (Index kw = 0; kw < g.k_w; ++kw, src += gic) {
            const Index iw = ow * g.stride_w - g.pad_left + kw * g.dil_w;
            if (ih < 0 || ih >= g.in_h || iw < 0 || iw >= g.in_w) continue;
            Scalar* d = d_in + (ih * g.in_w + iw) * g.in_c + c0;
            for (Index c = 0; c < gic; ++c) d[c] += src[c];
          }
        }
      }
    }
    return;
  }
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

/// im2col / col2im over samples [first, first + count) of the batch; each sample owns its rows and its d_in slice,
/// so the split over threads cannot change the result.
template <class Scalar>
void im2col(const Conv2DGeometry& g, const Scalar* in, Scalar* cols, Index first, Index count) {
  parallel_for(count, [&](Index i) {
    im2col_sample(g, in + (first + i) * g.in_sample(), cols + i * g.out_pixels() * g.patch());
  });
}
/// The adjoint of im2col over samples [first, first + count): overwrites their d_in with col2im_sample.
template <class Scalar>
void col2im(const Conv2DGeometry& g, const Scalar* cols, Scalar* d_in, Index first, Index count) {
  parallel_for(count, [&](Index i) {
    col2im_sample(g, cols + i * g.out_pixels() * g.patch(), d_in + (first + i) * g.in_sample());
  });
}

/// Rows per GEMM that keep one block of patches (rows x patch) near 256 KiB, so im2col writes it and the GEMM
/// reads it while it is still in L2. Whole samples only, at least one, and never above the caller's limit.
namespace detail {
template <class Scalar>
Index im2col_block_samples(const Conv2DGeometry& g, Index limit_elements) {
  const Index per_sample = std::max<Index>(g.out_pixels() * g.patch(), 1);
  const Index l2_target = Index(256 * 1024) / Index(sizeof(Scalar));
  return std::clamp<Index>(std::min(l2_target, limit_elements) / per_sample, 1, std::max<Index>(g.batch, 1));
}

/// y (rows x out_c) += bias, then relu when asked: one pass while the GEMM's output is still in cache.
template <class Scalar>
void bias_relu_rows(Scalar* y, Index rows, Index out_c, const Scalar* bias, bool relu) {
  if (!bias && !relu) return;
  for (Index r = 0; r < rows; ++r) {
    Scalar* row = y + r * out_c;
    if (bias && relu)
      for (Index o = 0; o < out_c; ++o) row[o] = std::max(row[o] + bias[o], Scalar(0));
    else if (bias)
      for (Index o = 0; o < out_c; ++o) row[o] += bias[o];
    else
      for (Index o = 0; o < out_c; ++o) row[o] = std::max(row[o], Scalar(0));
  }
}

/// Threads worth using for a conv pass of `macs` multiply-adds over g.batch samples.
inline int conv_threads(const Conv2DGeometry& g, double macs) { return threads_for(g.batch, macs); }
}  // namespace detail

/// out (NHWC, batch x out_h x out_w x out_c) = im2col(in) . kernel + bias (then relu when fuse_relu). bias may be
/// null. `cols` is the caller's workspace (grown once, then reused). The batch is split into one contiguous slice per
/// thread; each thread builds the patches of a few samples at a time (at most `workspace_limit` elements in all) and
/// multiplies them with a single-threaded GEMM, so a thread count gives the same result every run.
template <class Scalar>
void conv2d_forward_im2col(const Conv2DGeometry& g, const Scalar* in, const Scalar* kernel, const Scalar* bias,
                           Scalar* out, Tensor<Scalar>& cols,
                           Index workspace_limit = im2col_default_workspace_limit, bool fuse_relu = false) {
  ConstMatrixMap<Scalar> w(kernel, g.patch(), g.out_c);
  const double macs = double(g.rows()) * double(g.patch()) * double(g.out_c);
  const int threads = detail::conv_threads(g, macs);
  const Index goc = g.group_out_c();
  if (g.is_pointwise()) {
    parallel_slices(g.batch, threads, [&](int, Index b0, Index b1) {
      const Index r0 = b0 * g.out_pixels(), rows = (b1 - b0) * g.out_pixels();
      MatrixMap<Scalar> y(out + r0 * g.out_c, rows, g.out_c);
      y.noalias() = ConstMatrixMap<Scalar>(in + r0 * g.in_c, rows, g.in_c) * w;
      detail::bias_relu_rows(y.data(), rows, g.out_c, bias, fuse_relu);
    });
    return;
  }
  const Index block = detail::im2col_block_samples<Scalar>(g, std::max<Index>(workspace_limit / threads, 1));
  const Index per_thread = block * g.out_pixels() * g.patch();
  Scalar* ws = detail::workspace(cols, per_thread * threads);
  parallel_slices(g.batch, threads, [&](int t, Index b0, Index b1) {
    Scalar* my = ws + t * per_thread;
    for (Index n0 = b0; n0 < b1; n0 += block) {
      const Index nb = std::min(block, b1 - n0);
      const Index rows = nb * g.out_pixels();
      MatrixMap<Scalar> y(out + n0 * g.out_sample(), rows, g.out_c);
      for (Index G = 0; G < g.groups; ++G) {  // one GEMM per group on its channel slice (one in all, usually)
        for (Index i = 0; i < nb; ++i)
          im2col_sample(g, in + (n0 + i) * g.in_sample(), my + i * g.out_pixels() * g.patch(), G);
        y.middleCols(G * goc, goc).noalias() = ConstMatrixMap<Scalar>(my, rows, g.patch()) * w.middleCols(G * goc, goc);
      }
      detail::bias_relu_rows(y.data(), rows, g.out_c, bias, fuse_relu);
    }
  });
}

/// Backward from d_out (NHWC): d_kernel = cols^T . d_out and d_bias = column sums of d_out (both overwritten;
/// d_bias may be null), and, when d_in is not null, d_in = col2im(d_out . kernel^T). A null d_kernel computes d_in
/// alone (for a layer whose parameter gradients another kernel computes). The patches are rebuilt from
/// `in` rather than kept from forward, so nothing stale can be read; the d_cols reuse the same workspace.
/// Each thread sums the parameter gradients of its slice of the batch; the slices' sums are then added in thread
/// order, so the result depends on the thread count but never on timing.
template <class Scalar>
void conv2d_backward_im2col(const Conv2DGeometry& g, const Scalar* in, const Scalar* kernel, const Scalar* d_out,
                            Scalar* d_in, Scalar* d_kernel, Scalar* d_bias, Tensor<Scalar>& cols,
                            Index workspace_limit = im2col_default_workspace_limit) {
  ConstMatrixMap<Scalar> w(kernel, g.patch(), g.out_c);
  if (!d_kernel) d_bias = nullptr;
  const bool want_dw = d_kernel != nullptr;
  if (g.batch == 0) {  // an empty batch has zero gradients (the chunk loop below would not write them)
    if (want_dw) MatrixMap<Scalar>(d_kernel, g.patch(), g.out_c).setZero();
    if (d_bias) VectorMap<Scalar>(d_bias, g.out_c).setZero();
    return;
  }
  // The work estimate leaves d_in out: the split, and so the rounding of d_kernel, must not depend on it.
  const double macs = double(g.rows()) * double(g.patch()) * double(g.out_c);
  const int threads = detail::conv_threads(g, macs);
  const Index goc = g.group_out_c();
  const bool pointwise = g.is_pointwise();
  const Index block = detail::im2col_block_samples<Scalar>(g, std::max<Index>(workspace_limit / threads, 1));
  const Index per_thread_cols = pointwise ? 0 : block * g.out_pixels() * g.patch();
  // Threads after the first sum into partial buffers behind their patch blocks; thread 0 writes d_kernel itself.
  const Index partial = want_dw ? g.kernel_size() + g.out_c : 0;
  Scalar* ws = detail::workspace(cols, per_thread_cols * threads + partial * (threads - 1));
  Scalar* partials = ws + per_thread_cols * threads;
  parallel_slices(g.batch, threads, [&](int t, Index b0, Index b1) {
    Scalar* my_dw = t == 0 ? d_kernel : partials + (t - 1) * partial;
    Scalar* my_db = t == 0 ? d_bias : partials + (t - 1) * partial + g.kernel_size();
    MatrixMap<Scalar> dwt(my_dw, want_dw ? g.patch() : 0, g.out_c);
    const bool want_db = d_bias != nullptr;
    if (pointwise) {
      const Index r0 = b0 * g.out_pixels(), rows = (b1 - b0) * g.out_pixels();
      ConstMatrixMap<Scalar> x(in + r0 * g.in_c, rows, g.in_c);
      ConstMatrixMap<Scalar> dy(d_out + r0 * g.out_c, rows, g.out_c);
      if (want_dw) dwt.noalias() = x.transpose() * dy;
      if (want_db) VectorMap<Scalar>(my_db, g.out_c) = dy.colwise().sum().transpose();
      if (d_in) MatrixMap<Scalar>(d_in + r0 * g.in_c, rows, g.in_c).noalias() = dy * w.transpose();
      return;
    }
    Scalar* my = ws + t * per_thread_cols;
    for (Index n0 = b0; n0 < b1; n0 += block) {
      const Index nb = std::min(block, b1 - n0);
      const Index rows = nb * g.out_pixels();
      ConstMatrixMap<Scalar> dy(d_out + n0 * g.out_sample(), rows, g.out_c);
      MatrixMap<Scalar> patches(my, rows, g.patch());
      if (want_db) {
        if (n0 == b0)
          VectorMap<Scalar>(my_db, g.out_c) = dy.colwise().sum().transpose();
        else
          VectorMap<Scalar>(my_db, g.out_c) += dy.colwise().sum().transpose();
      }
      for (Index G = 0; G < g.groups; ++G) {  // per group: its channel slice, its kernel columns
        const auto dyg = dy.middleCols(G * goc, goc);
        if (want_dw) {
          for (Index i = 0; i < nb; ++i)
            im2col_sample(g, in + (n0 + i) * g.in_sample(), my + i * g.out_pixels() * g.patch(), G);
          if (n0 == b0)
            dwt.middleCols(G * goc, goc).noalias() = patches.transpose() * dyg;
          else
            dwt.middleCols(G * goc, goc).noalias() += patches.transpose() * dyg;
        }
        if (d_in) {
          patches.noalias() = dyg * w.middleCols(G * goc, goc).transpose();
          for (Index i = 0; i < nb; ++i)
            col2im_sample(g, my + i * g.out_pixels() * g.patch(), d_in + (n0 + i) * g.in_sample(), G);
        }
      }
    }
  });
  for (int t = 1; t < threads && want_dw; ++t) {
    const Scalar* p = partials + (t - 1) * partial;
    MatrixMap<Scalar>(d_kernel, g.patch(), g.out_c) += ConstMatrixMap<Scalar>(p, g.patch(), g.out_c);
    if (d_bias) VectorMap<Scalar>(d_bias, g.out_c) += ConstVectorMap<Scalar>(p + g.kernel_size(), g.out_c);
  }
}

}  // namespace nnlite
