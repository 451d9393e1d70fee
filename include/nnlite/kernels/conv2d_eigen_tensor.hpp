// nnlite/kernels/conv2d_eigen_tensor.hpp: Conv2D written with Eigen's Tensor module (RowMajor TensorMaps over the
// NHWC input and HWIO kernel): extract_image_patches + tensor contraction, the way TensorFlow's CPU conv is built.
// A comparison kernel for the benchmarks and tests, not the default: Eigen's Tensor expressions run single-threaded
// here (no ThreadPoolDevice is given to them). The patches of a few samples at a time go to a small buffer that a
// contraction then reads (the patch expression evaluated lazily inside the contraction ran 2-7x slower).
//
// Layout notes (checked against the reference in tests/test_kernels_speedpaths.cpp and tests/test_conv2d.cpp):
// - Eigen's image-patch op names its axes for ColMajor (depth, rows, cols, batch). A RowMajor (N, H, W, C) tensor is
//   that order reversed, so Eigen's "rows" are our W and its "cols" our H: patch_rows = k_w, row stride = stride_w,
//   padding top/bottom = our left/right, and so on.
// - The RowMajor patch tensor is then (N, out_h*out_w, k_h, k_w, C) with ow fastest within the patches, which is
//   exactly the im2col matrix (rows x patch) in memory order, and the HWIO kernel is the (patch x out_c) matrix.
#pragma once

#include <algorithm>
#include <string>
#include <unsupported/Eigen/CXX11/Tensor>

#include "../core/error.hpp"
#include "conv2d_geometry.hpp"

namespace nnlite {

namespace detail {

template <class Scalar, int Rank>
using RowTensor = Eigen::Tensor<Scalar, Rank, Eigen::RowMajor, Index>;
template <class Scalar, int Rank>
using RowTensorMap = Eigen::TensorMap<Eigen::Tensor<Scalar, Rank, Eigen::RowMajor, Index>>;
template <class Scalar, int Rank>
using ConstRowTensorMap = Eigen::TensorMap<Eigen::Tensor<const Scalar, Rank, Eigen::RowMajor, Index>>;

/// Explicit padding of one spatial axis for extract_image_patches. Eigen makes ceil((len + before + after - k + 1) /
/// stride) windows (len after inflation); we need exactly `want`. `after` may come out negative when the windows
/// leave trailing cells unread ('valid' with stride > 1): Eigen takes no negative padding, so it gets 0, which still
/// gives `want` windows as long as fewer than `stride` cells are left over (always so for Keras' geometry).
struct PatchPadding {
  Index before = 0, after = 0;
};
inline PatchPadding patch_padding(Index len, Index k, Index stride, Index before, Index want) {
  PatchPadding p;
  p.before = before;
  p.after = std::max<Index>((want - 1) * stride + k - len - before, 0);
  const Index windows = (len + p.before + p.after - k + 1 + stride - 1) / stride;
  if (before < 0 || windows != want)
    throw Error("conv2d_eigen_tensor: geometry not expressible as image patches (len " + std::to_string(len) +
                ", k " + std::to_string(k) + ", stride " + std::to_string(stride) + ", pad " +
                std::to_string(before) + ")");
  return p;
}

/// The patches of an NHWC tensor `x` (dims n, h, w, c) for windows k_h x k_w moved by (stride_h, stride_w) over `x`
/// inflated by (inflate_h, inflate_w) (inflate - 1 zeros between cells) and padded by pad_top / pad_left (the
/// bottom/right padding follows from out_h / out_w), as the (n*out_h*out_w, k_h*k_w*c) matrix.
template <class Map>
auto image_patch_matrix(const Map& x, Index k_h, Index k_w, Index stride_h, Index stride_w, Index inflate_h,
                        Index inflate_w, Index pad_top, Index pad_left, Index out_h, Index out_w) {
  using Scalar = std::remove_const_t<typename Map::Scalar>;
  const Index n = x.dimension(0), c = x.dimension(3);
  const PatchPadding ph = patch_padding((x.dimension(1) - 1) * inflate_h + 1, k_h, stride_h, pad_top, out_h);
  const PatchPadding pw = patch_padding((x.dimension(2) - 1) * inflate_w + 1, k_w, stride_w, pad_left, out_w);
  // Eigen's (rows, cols) are our (w, h): every pair below is given w first.
  return x
      .extract_image_patches(k_w, k_h, stride_w, stride_h, /*in_row_stride=*/1, /*in_col_stride=*/1, inflate_w,
                             inflate_h, pw.before, pw.after, ph.before, ph.after, Scalar(0))
      .reshape(Eigen::array<Index, 2>{n * out_h * out_w, k_h * k_w * c});
}

/// The patches a kernel reads: windows k_h x k_w moved by (stride_h, stride_w) over a per-sample (h, w, c) tensor
/// inflated by (inflate_h, inflate_w) and padded by pad_top / pad_left, giving out_h x out_w windows.
struct PatchSpec {
  Index h, w, c, k_h, k_w, stride_h, stride_w, inflate_h, inflate_w, pad_top, pad_left, out_h, out_w;
  Index sample() const { return h * w * c; }
  Index rows_per_sample() const { return out_h * out_w; }
  Index patch() const { return k_h * k_w * c; }
};
/// Forward and d_kernel read the input's patches; d_in reads the transposed convolution's: d_out inflated by the
/// strides and padded by k - 1 - pad before, at stride 1, giving in_h x in_w windows.
inline PatchSpec input_patches(const Conv2DGeometry& g) {
  return {g.in_h, g.in_w, g.in_c, g.k_h, g.k_w, g.stride_h, g.stride_w, 1, 1, g.pad_top, g.pad_left, g.out_h, g.out_w};
}
inline PatchSpec d_out_patches(const Conv2DGeometry& g) {
  return {g.out_h,
          g.out_w,
          g.out_c,
          g.k_h,
          g.k_w,
          1,
          1,
          g.stride_h,
          g.stride_w,
          g.k_h - 1 - g.pad_top,
          g.k_w - 1 - g.pad_left,
          g.in_h,
          g.in_w};
}

/// Samples per block so that one block's patch matrix stays near 256 KiB: it is written and then read by the
/// contraction while still in cache (one big patch matrix for the whole batch made the first-layer backward spend
/// most of its time in page faults).
template <class Scalar>
Index patch_block(const PatchSpec& p, Index batch) {
  const Index target = Index(256 * 1024) / Index(sizeof(Scalar));
  return std::clamp<Index>(target / std::max<Index>(p.rows_per_sample() * p.patch(), 1), 1, std::max<Index>(batch, 1));
}
template <class Scalar>
Index patch_workspace(const PatchSpec& p, Index batch) {
  return patch_block<Scalar>(p, batch) * p.rows_per_sample() * p.patch();
}

/// Calls f(n0, nb, patches) for blocks of samples [n0, n0 + nb) of `src`: patches is their (nb * rows_per_sample,
/// patch) matrix, written into `buf` (patch_workspace elements, the caller's). The one blocked patch loop of the
/// forward and both backward passes.
template <class Scalar, class F>
void for_each_patch_block(const PatchSpec& p, const Scalar* src, Index batch, Scalar* buf, F&& f) {
  const Index block = patch_block<Scalar>(p, batch);
  for (Index n0 = 0; n0 < batch; n0 += block) {
    const Index nb = std::min(block, batch - n0);
    const ConstRowTensorMap<Scalar, 4> x(src + n0 * p.sample(), nb, p.h, p.w, p.c);
    RowTensorMap<Scalar, 2> patches(buf, nb * p.rows_per_sample(), p.patch());
    patches = image_patch_matrix(x, p.k_h, p.k_w, p.stride_h, p.stride_w, p.inflate_h, p.inflate_w, p.pad_top,
                                 p.pad_left, p.out_h, p.out_w);
    f(n0, nb, patches);
  }
}

}  // namespace detail

/// out (NHWC) = patches(in) . kernel + bias (then relu when fuse_relu); bias may be null. out is overwritten. `ws` is
/// the caller's workspace, grown once and reused.
template <class Scalar>
void conv2d_forward_eigen_tensor(const Conv2DGeometry& g, const Scalar* in, const Scalar* kernel, const Scalar* bias,
                                 Scalar* out, Tensor<Scalar>& ws, bool fuse_relu = false) {
  g.require_plain("eigen_tensor");
  if (g.rows() == 0) return;
  const detail::ConstRowTensorMap<Scalar, 2> w(kernel, g.patch(), g.out_c);
  const Eigen::array<Eigen::IndexPair<Index>, 1> patch_dim{Eigen::IndexPair<Index>(1, 0)};
  const detail::PatchSpec p = detail::input_patches(g);
  if (ws.size() < detail::patch_workspace<Scalar>(p, g.batch))
    ws.resize(Shape{detail::patch_workspace<Scalar>(p, g.batch)});
  detail::for_each_patch_block(p, in, g.batch, ws.data(), [&](Index n0, Index nb, const auto& cols) {
    detail::RowTensorMap<Scalar, 2>(out + n0 * g.out_sample(), nb * g.out_pixels(), g.out_c) =
        cols.contract(w, patch_dim);
  });
  detail::RowTensorMap<Scalar, 2> y(out, g.rows(), g.out_c);
  if (bias) {
    const detail::ConstRowTensorMap<Scalar, 2> b(bias, 1, g.out_c);
    y += b.broadcast(Eigen::array<Index, 2>{g.rows(), 1});
  }
  if (fuse_relu) y = y.cwiseMax(Scalar(0));
}

/// Backward from d_out (NHWC), all outputs overwritten: d_kernel = patches(in)^T . d_out, d_bias = d_out summed over
/// (n, oh, ow) (may be null), and, when d_in is not null, the transposed convolution: d_out's patches (d_out_patches)
/// times the kernel flipped in (kh, kw) with its in/out channels swapped. `ws` as in the forward pass.
template <class Scalar>
void conv2d_backward_eigen_tensor(const Conv2DGeometry& g, const Scalar* in, const Scalar* kernel, const Scalar* d_out,
                                  Scalar* d_in, Scalar* d_kernel, Scalar* d_bias, Tensor<Scalar>& ws) {
  g.require_plain("eigen_tensor");
  detail::RowTensorMap<Scalar, 2> dw(d_kernel, g.patch(), g.out_c);
  if (g.rows() == 0) {  // no output position: every gradient is zero
    dw.setZero();
    if (d_bias) detail::RowTensorMap<Scalar, 1>(d_bias, g.out_c).setZero();
    if (d_in) std::fill(d_in, d_in + g.batch * g.in_sample(), Scalar(0));
    return;
  }
  const detail::PatchSpec p = detail::input_patches(g), dp = detail::d_out_patches(g);
  const Index flip_size = g.kernel_size();
  const Index need = std::max(detail::patch_workspace<Scalar>(p, g.batch),
                              d_in ? detail::patch_workspace<Scalar>(dp, g.batch) + flip_size : Index(0));
  if (ws.size() < need) ws.resize(Shape{need});

  const detail::ConstRowTensorMap<Scalar, 2> dy(d_out, g.rows(), g.out_c);
  if (d_bias) detail::RowTensorMap<Scalar, 1>(d_bias, g.out_c) = dy.sum(Eigen::array<Index, 1>{0});
  const Eigen::array<Eigen::IndexPair<Index>, 1> row_dim{Eigen::IndexPair<Index>(0, 0)};
  detail::for_each_patch_block(p, in, g.batch, ws.data(), [&](Index n0, Index nb, const auto& cols) {
    const detail::ConstRowTensorMap<Scalar, 2> dy_block(d_out + n0 * g.out_sample(), nb * g.out_pixels(), g.out_c);
    if (n0 == 0)
      dw = cols.contract(dy_block, row_dim);
    else
      dw += cols.contract(dy_block, row_dim);
  });
  if (!d_in) return;

  // Flipped kernel (kh, kw reversed) with in/out swapped: (k_h, k_w, out_c, in_c) as a (k_h*k_w*out_c, in_c) matrix,
  // kept after the patch buffer.
  const detail::ConstRowTensorMap<Scalar, 4> k4(kernel, g.k_h, g.k_w, g.in_c, g.out_c);
  detail::RowTensorMap<Scalar, 2> w_flip(ws.data() + detail::patch_workspace<Scalar>(dp, g.batch), dp.patch(), g.in_c);
  w_flip = k4.reverse(Eigen::array<bool, 4>{true, true, false, false})
               .shuffle(Eigen::array<Index, 4>{0, 1, 3, 2})
               .reshape(Eigen::array<Index, 2>{dp.patch(), g.in_c});
  const Eigen::array<Eigen::IndexPair<Index>, 1> patch_dim{Eigen::IndexPair<Index>(1, 0)};
  detail::for_each_patch_block(dp, d_out, g.batch, ws.data(), [&](Index n0, Index nb, const auto& d_cols) {
    detail::RowTensorMap<Scalar, 2>(d_in + n0 * g.in_sample(), nb * g.in_h * g.in_w, g.in_c) =
        d_cols.contract(w_flip, patch_dim);
  });
}

}  // namespace nnlite
