// nnlite/kernels/conv2d.hpp: the one place that picks a convolution kernel: conv2d_forward / conv2d_backward run the
// kernel a Conv2DKernel names, and the default (im2col) hands tiny patches to the direct kernel where it pays.
#pragma once

#include <string>

#include "../core/error.hpp"
#include "conv2d_direct.hpp"
#include "conv2d_eigen_tensor.hpp"
#include "conv2d_geometry.hpp"
#include "conv2d_im2col.hpp"
#include "conv2d_reference.hpp"

namespace nnlite {

/// The reference loops (for checking), im2col + GEMM (the fast default; it hands a layer to the direct kernel where
/// conv2d_direct_pays(): tiny patches such as a first layer's 3x3 on one channel), the direct kernel always, or Eigen
/// Tensor's extract_image_patches + contraction (single-threaded, for comparison). All give the same result to
/// rounding.
enum class Conv2DKernel {
  reference,    ///< The plain loops of conv2d_reference.hpp (slow, obviously right).
  im2col,       ///< im2col + GEMM, or the direct kernel where it pays (the default).
  direct,       ///< The direct kernel of conv2d_direct.hpp, always.
  eigen_tensor  ///< Eigen Tensor's extract_image_patches + contraction (single-threaded).
};

/// The kernel's name, as parse_conv2d_kernel() takes it: "reference", "im2col", "direct" or "eigen_tensor".
inline std::string conv2d_kernel_name(Conv2DKernel k) {
  return k == Conv2DKernel::reference      ? "reference"
         : k == Conv2DKernel::direct       ? "direct"
         : k == Conv2DKernel::eigen_tensor ? "eigen_tensor"
                                           : "im2col";
}

/// The kernel of that name; ArgumentError for any other name.
inline Conv2DKernel parse_conv2d_kernel(const std::string& name) {
  if (name == "reference") return Conv2DKernel::reference;
  if (name == "im2col") return Conv2DKernel::im2col;
  if (name == "direct") return Conv2DKernel::direct;
  if (name == "eigen_tensor") return Conv2DKernel::eigen_tensor;
  throw ArgumentError("unknown Conv2D kernel '" + name +
                      "' (expected 'reference', 'im2col', 'direct' or 'eigen_tensor')");
}

/// Whether `kind` runs as the direct kernel for this geometry. Direct and eigen_tensor handle only plain geometries
/// (no dilation, one group); anything else runs as im2col, which handles all.
inline bool conv2d_uses_direct(Conv2DKernel kind, const Conv2DGeometry& g) {
  return g.is_plain() && (kind == Conv2DKernel::direct || (kind == Conv2DKernel::im2col && conv2d_direct_pays(g)));
}
/// The kernel that really runs `kind` for this geometry: im2col stands in for direct and eigen_tensor on non-plain
/// ones.
inline Conv2DKernel conv2d_effective_kernel(Conv2DKernel kind, const Conv2DGeometry& g) {
  return kind == Conv2DKernel::reference || g.is_plain() ? kind : Conv2DKernel::im2col;
}

/// out = conv(in, kernel) + bias (bias may be null), then relu when fuse_relu. Returns whether relu was applied
/// (the reference kernel never fuses it). `ws` is the caller's workspace, grown once and reused.
template <class Scalar>
bool conv2d_forward(Conv2DKernel kind, const Conv2DGeometry& g, const Scalar* in, const Scalar* kernel,
                    const Scalar* bias, Scalar* out, Tensor<Scalar>& ws, bool fuse_relu) {
  switch (conv2d_effective_kernel(kind, g)) {
    case Conv2DKernel::reference: conv2d_forward_reference(g, in, kernel, bias, out); return false;
    case Conv2DKernel::eigen_tensor:
      conv2d_forward_eigen_tensor(g, in, kernel, bias, out, ws, fuse_relu);
      return fuse_relu;
    case Conv2DKernel::direct:
    case Conv2DKernel::im2col:
      if (conv2d_uses_direct(kind, g))
        conv2d_forward_direct(g, in, kernel, bias, out, fuse_relu);
      else
        conv2d_forward_im2col(g, in, kernel, bias, out, ws, im2col_default_workspace_limit, fuse_relu);
      return fuse_relu;
  }
  return false;
}

/// From d_out = d(loss)/d(conv + bias): d_kernel, d_bias (may be null) overwritten; d_in too when not null.
template <class Scalar>
void conv2d_backward(Conv2DKernel kind, const Conv2DGeometry& g, const Scalar* in, const Scalar* kernel,
                     const Scalar* d_out, Scalar* d_in, Scalar* d_kernel, Scalar* d_bias, Tensor<Scalar>& ws) {
  kind = conv2d_effective_kernel(kind, g);
  switch (kind) {
    case Conv2DKernel::reference: return conv2d_backward_reference(g, in, kernel, d_out, d_in, d_kernel, d_bias);
    case Conv2DKernel::eigen_tensor:
      return conv2d_backward_eigen_tensor(g, in, kernel, d_out, d_in, d_kernel, d_bias, ws);
    case Conv2DKernel::direct: return conv2d_backward_direct(g, in, kernel, d_out, d_in, d_kernel, d_bias, ws);
    case Conv2DKernel::im2col:
      if (conv2d_uses_direct(kind, g)) {
        // Parameter gradients from the direct kernel whether or not d_in is wanted (so a first layer gets the same
        // bits), d_in through GEMM + col2im, which beats direct's per-tap dot products.
        conv2d_backward_direct<Scalar>(g, in, kernel, d_out, nullptr, d_kernel, d_bias, ws);
        if (d_in) conv2d_backward_im2col<Scalar>(g, in, kernel, d_out, d_in, nullptr, nullptr, ws);
      } else {
        conv2d_backward_im2col(g, in, kernel, d_out, d_in, d_kernel, d_bias, ws);
      }
      return;
  }
}

}  // namespace nnlite
