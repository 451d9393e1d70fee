// tests/conv_kernels.hpp: the one way the conv tests run a Conv2D kernel on a geometry and compare it with the
// reference loops. Inputs are filled from fixed seeds; every output starts at 7, so a kernel that accumulates into
// its outputs instead of overwriting them fails; d_in and d_bias can be left out (a model's first layer, use_bias off).
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <nnlite/kernels/conv2d_direct.hpp>
#include <nnlite/kernels/conv2d_eigen_tensor.hpp>
#include <nnlite/kernels/conv2d_im2col.hpp>
#include <nnlite/kernels/conv2d_reference.hpp>

namespace conv_test {

using nnlite::Conv2DGeometry;
using nnlite::Index;
using nnlite::Shape;
using nnlite::Tensor;

template <class T>
void fill_uniform(T* p, Index n, std::uint64_t seed, double lo = -1, double hi = 1) {
  nnlite::Rng rng(seed);
  for (Index i = 0; i < n; ++i) p[i] = static_cast<T>(rng.uniform(lo, hi));
}

// max |a - b| / max |b|: the error relative to the size of the result, robust where single entries cancel to ~0.
template <class T>
double rel_diff(const T* a, const T* b, Index n) {
  double diff = 0, scale = 0;
  for (Index i = 0; i < n; ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

struct ConvCase {
  Index batch, h, w, c;
  nnlite::Size2 kernel;
  Index filters;
  nnlite::Size2 strides;
  nnlite::Padding padding;
  nnlite::Size2 dilation{1, 1};
  Index groups = 1;
  Conv2DGeometry geometry() const {
    return Conv2DGeometry::make(batch, h, w, c, kernel, filters, strides, padding, dilation, groups);
  }
};

enum class Impl { reference, im2col, im2col_chunked, direct, eigen_tensor };
inline const char* impl_name(Impl i) {
  switch (i) {
    case Impl::reference:
      return "reference";
    case Impl::im2col:
      return "im2col";
    case Impl::im2col_chunked:
      return "im2col, one sample per GEMM";
    case Impl::direct:
      return "direct";
    case Impl::eigen_tensor:
      return "eigen_tensor";
  }
  return "?";
}

struct RunOptions {
  bool relu = false;   // fused into the forward pass (the reference applies it after)
  bool d_in = true;    // false: the kernel gets a null d_in
  bool d_bias = true;  // false: a null d_bias
};

template <class T>
struct Results {
  Tensor<T> y, dx, dk, db;
  RunOptions options;
};

// Forward, then backward from a fixed d_out, through one kernel called directly (not through the layer's choice).
template <class T>
Results<T> run(const ConvCase& cc, Impl impl, RunOptions o = {}) {
  const Conv2DGeometry g = cc.geometry();
  Tensor<T> x(Shape{cc.batch, cc.h, cc.w, cc.c}), k(Shape{cc.kernel.h, cc.kernel.w, cc.c / cc.groups, cc.filters}),
      b(Shape{cc.filters}), dy(Shape{cc.batch, g.out_h, g.out_w, cc.filters}), ws;
  fill_uniform(x.data(), x.size(), 1);
  fill_uniform(k.data(), k.size(), 2);
  fill_uniform(b.data(), b.size(), 3);
  fill_uniform(dy.data(), dy.size(), 4);
  Results<T> r{Tensor<T>(dy.shape(), T(7)), Tensor<T>(x.shape(), T(7)), Tensor<T>(k.shape(), T(7)),
               Tensor<T>(b.shape(), T(7)), o};
  T* dx = o.d_in ? r.dx.data() : nullptr;
  T* db = o.d_bias ? r.db.data() : nullptr;
  switch (impl) {
    case Impl::reference:
      nnlite::conv2d_forward_reference(g, x.data(), k.data(), b.data(), r.y.data());
      if (o.relu)
        for (T& v : r.y) v = std::max(v, T(0));
      nnlite::conv2d_backward_reference(g, x.data(), k.data(), dy.data(), dx, r.dk.data(), db);
      break;
    case Impl::im2col:
    case Impl::im2col_chunked: {
      const Index limit = impl == Impl::im2col_chunked ? 1 : nnlite::im2col_default_workspace_limit;
      nnlite::conv2d_forward_im2col(g, x.data(), k.data(), b.data(), r.y.data(), ws, limit, o.relu);
      nnlite::conv2d_backward_im2col(g, x.data(), k.data(), dy.data(), dx, r.dk.data(), db, ws, limit);
      break;
    }
    case Impl::direct:
      nnlite::conv2d_forward_direct(g, x.data(), k.data(), b.data(), r.y.data(), o.relu);
      nnlite::conv2d_backward_direct(g, x.data(), k.data(), dy.data(), dx, r.dk.data(), db, ws);
      break;
    case Impl::eigen_tensor:
      nnlite::conv2d_forward_eigen_tensor(g, x.data(), k.data(), b.data(), r.y.data(), ws, o.relu);
      nnlite::conv2d_backward_eigen_tensor(g, x.data(), k.data(), dy.data(), dx, r.dk.data(), db, ws);
      break;
  }
  return r;
}

// Every output `a` computed agrees with the reference's to `tol` relative; the ones it was not asked for are untouched.
template <class T>
void check_close(const Results<T>& a, const Results<T>& ref, double tol) {
  CHECK(rel_diff(a.y.data(), ref.y.data(), ref.y.size()) <= tol);
  CHECK(rel_diff(a.dk.data(), ref.dk.data(), ref.dk.size()) <= tol);
  if (a.options.d_in)
    CHECK(rel_diff(a.dx.data(), ref.dx.data(), ref.dx.size()) <= tol);
  else
    CHECK(std::all_of(a.dx.begin(), a.dx.end(), [](T v) { return v == T(7); }));
  if (a.options.d_bias)
    CHECK(rel_diff(a.db.data(), ref.db.data(), ref.db.size()) <= tol);
  else
    CHECK(std::all_of(a.db.begin(), a.db.end(), [](T v) { return v == T(7); }));
}

template <class T>
bool same(const Tensor<T>& a, const Tensor<T>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}
template <class T>
bool same(const Results<T>& a, const Results<T>& b) {
  return same(a.y, b.y) && same(a.dx, b.dx) && same(a.dk, b.dk) && same(a.db, b.db);
}

}  // namespace conv_test
