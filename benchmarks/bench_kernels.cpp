// Per-kernel and per-layer benchmarks at the Fashion-MNIST study's shapes (batch 1, 32 and 256), each reporting
// GFLOP/s beside an Eigen sgemm of the equivalent shape measured in the same binary.
//   bench_kernels --benchmark_filter=conv2_improved   (threads: OMP_NUM_THREADS or --threads=N, default 1)
#include <benchmark/benchmark.h>

#include <nnlite/nnlite.hpp>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

using nnlite::Conv2DGeometry;
using nnlite::Index;
using nnlite::Tensor;

namespace {

void fill(Tensor<float>& t, std::uint64_t seed) {
  nnlite::Rng rng(seed);
  for (float& v : t) v = static_cast<float>(rng.uniform() * 2 - 1);
}

struct ConvShape {
  const char* name;
  Index h, w, c, filters;
};
// conv1 / conv2 of *improved* (32 then 64 filters) and of *first* (64 and 64).
const ConvShape kConvShapes[] = {
    {"conv1_improved", 28, 28, 1, 32},
    {"conv2_improved", 13, 13, 32, 64},
    {"conv1_first", 28, 28, 1, 64},
    {"conv2_first", 13, 13, 64, 64},
};

void set_flops(benchmark::State& state, double flops_per_iter) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iter * static_cast<double>(state.iterations()) * 1e-9, benchmark::Counter::kIsRate);
}

enum class Impl { reference, im2col, direct, eigen_tensor, sgemm };
// backward_weights is the backward of a model's first layer: d_kernel and d_bias only, no d_in.
enum class Pass { forward, backward, backward_weights };

// One conv pass. Backward computes d_kernel, d_bias and d_in (2x the forward FLOPs), backward_weights d_kernel and
// d_bias (1x); sgemm is the (rows x patch) . (patch x out_c) product the im2col forward runs, once per 1x.
void BM_conv(benchmark::State& state, ConvShape s, Impl impl, Pass pass) {
  const Index batch = state.range(0);
  const Conv2DGeometry g =
      Conv2DGeometry::make(batch, s.h, s.w, s.c, {3, 3}, s.filters, {1, 1}, nnlite::Padding::valid);
  Tensor<float> x(nnlite::Shape{batch, s.h, s.w, s.c}), k(nnlite::Shape{3, 3, s.c, s.filters}),
      b(nnlite::Shape{s.filters}), y(nnlite::Shape{batch, g.out_h, g.out_w, s.filters}), dy(y.shape()),
      dx(x.shape()), dk(k.shape()), db(b.shape()), ws;
  fill(x, 1);
  fill(k, 2);
  fill(b, 3);
  fill(dy, 4);
  const double macs = double(g.rows()) * double(g.patch()) * double(g.out_c);
  const int gemms = pass == Pass::backward ? 2 : 1;
  const double flops = 2 * macs * gemms;
  float* d_in = pass == Pass::backward ? dx.data() : nullptr;
  // sgemm operands: patches (rows x patch) and the kernel matrix, out (rows x out_c).
  nnlite::RowMatrix<float> A, B, C;
  if (impl == Impl::sgemm) {
    A = nnlite::RowMatrix<float>::Random(g.rows(), g.patch());
    B = nnlite::RowMatrix<float>::Random(g.patch(), g.out_c);
    C.resize(g.rows(), g.out_c);
  }
  for (auto _ : state) {
    switch (impl) {
      case Impl::reference:
        if (pass == Pass::forward)
          nnlite::conv2d_forward_reference(g, x.data(), k.data(), b.data(), y.data());
        else
          nnlite::conv2d_backward_reference(g, x.data(), k.data(), dy.data(), d_in, dk.data(), db.data());
        break;
      case Impl::im2col:
        if (pass == Pass::forward)
          nnlite::conv2d_forward_im2col(g, x.data(), k.data(), b.data(), y.data(), ws);
        else
          nnlite::conv2d_backward_im2col(g, x.data(), k.data(), dy.data(), d_in, dk.data(), db.data(), ws);
        break;
      case Impl::direct:
        if (pass == Pass::forward)
          nnlite::conv2d_forward_direct(g, x.data(), k.data(), b.data(), y.data());
        else
          nnlite::conv2d_backward_direct(g, x.data(), k.data(), dy.data(), d_in, dk.data(), db.data(), ws);
        break;
      case Impl::eigen_tensor:  // single-threaded whatever --threads says (no Eigen ThreadPoolDevice)
        if (pass == Pass::forward)
          nnlite::conv2d_forward_eigen_tensor(g, x.data(), k.data(), b.data(), y.data(), ws);
        else
          nnlite::conv2d_backward_eigen_tensor(g, x.data(), k.data(), dy.data(), d_in, dk.data(), db.data(), ws);
        break;
      case Impl::sgemm:
        for (int rep = 0; rep < gemms; ++rep) C.noalias() = A * B;
        break;
    }
    benchmark::ClobberMemory();
  }
  set_flops(state, flops);
  state.counters["M"] = double(g.rows());
  state.counters["K"] = double(g.patch());
  state.counters["N"] = double(g.out_c);
}

// MaxPool 2x2 on the conv outputs: memory-bound, so the counter is GB/s of input read rather than FLOPs.
void BM_maxpool(benchmark::State& state, Index h, Index w, Index c, Pass pass) {
  const Index batch = state.range(0);
  nnlite::MaxPool2D<float> pool(2);
  pool.build(nnlite::Shape{h, w, c});
  Tensor<float> x(nnlite::Shape{batch, h, w, c}), y, dy, dx;
  fill(x, 5);
  pool.forward(x, y, nnlite::Mode::training);
  dy.resize(y.shape());
  fill(dy, 6);
  for (auto _ : state) {
    if (pass == Pass::forward)
      pool.forward(x, y, nnlite::Mode::training);
    else
      pool.backward(x, y, dy, &dx);
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(double(x.size()) * 4 * double(state.iterations()) * 1e-9,
                                              benchmark::Counter::kIsRate);
}

// Dense 1600 -> 128 relu (the study's hidden layer); backward = d_kernel + d_in GEMMs. sgemm at the forward shape.
void BM_dense(benchmark::State& state, Pass pass, bool sgemm) {
  const Index batch = state.range(0), in = 1600, units = 128;
  nnlite::Sequential<float> m(nnlite::Shape{in});
  m.add(nnlite::Dense<float>(units, "relu"));
  m.build();
  auto& dense = m.layer(0);
  Tensor<float> x(nnlite::Shape{batch, in}), y, dy, dx;
  fill(x, 7);
  dense.forward(x, y, nnlite::Mode::training);
  dy.resize(y.shape());
  fill(dy, 8);
  nnlite::RowMatrix<float> A = nnlite::RowMatrix<float>::Random(batch, in),
                           B = nnlite::RowMatrix<float>::Random(in, units), C(batch, units);
  for (auto _ : state) {
    if (sgemm)
      for (int rep = 0; rep < (pass == Pass::backward ? 2 : 1); ++rep) C.noalias() = A * B;
    else if (pass == Pass::forward)
      dense.forward(x, y, nnlite::Mode::training);
    else
      dense.backward(x, y, dy, &dx);
    benchmark::ClobberMemory();
  }
  set_flops(state, 2.0 * double(batch * in * units) * (pass == Pass::backward ? 2 : 1));
}

// Dropout forward (RNG + mask) over the conv1 pooled activations.
void BM_dropout(benchmark::State& state) {
  const Index batch = state.range(0);
  nnlite::Dropout<float> drop(0.25);
  drop.build(nnlite::Shape{13, 13, 32});
  drop.seed(1);
  Tensor<float> x(nnlite::Shape{batch, 13, 13, 32}), y;
  fill(x, 9);
  for (auto _ : state) {
    drop.forward(x, y, nnlite::Mode::training);
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(double(x.size()) * 4 * double(state.iterations()) * 1e-9,
                                              benchmark::Counter::kIsRate);
}

// BatchNormalization on conv1's output: memory-bound like the poolings, so GB/s of tensor traffic (input read and
// output written; backward also reads d_out and writes d_in), beside a plain copy of the same tensor (the machine's
// memory bandwidth at this size). Training forward makes two passes for the statistics plus the output pass.
enum class BnPass { train_fwd, train_bwd, infer_fwd, copy };
void BM_batchnorm(benchmark::State& state, Index h, Index w, Index c, BnPass pass) {
  const Index batch = state.range(0);
  nnlite::BatchNormalization<float> bn;
  bn.build(nnlite::Shape{h, w, c});
  std::vector<float> params(static_cast<std::size_t>(bn.param_count()), 1.0f), grads(params.size());
  bn.bind(params.data(), grads.data());
  Tensor<float> x(nnlite::Shape{batch, h, w, c}), y, dy(x.shape()), dx;
  fill(x, 1);
  fill(dy, 2);
  const nnlite::Mode mode = pass == BnPass::infer_fwd ? nnlite::Mode::inference : nnlite::Mode::training;
  bn.forward(x, y, mode);
  for (auto _ : state) {
    switch (pass) {
      case BnPass::copy: y.flat() = x.flat(); break;
      case BnPass::train_bwd: bn.backward(x, y, dy, &dx); break;
      default: bn.forward(x, y, mode);
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double tensors = pass == BnPass::train_bwd ? 4 : 2;
  state.counters["GB/s"] = benchmark::Counter(double(x.size()) * 4 * tensors * double(state.iterations()) * 1e-9,
                                              benchmark::Counter::kIsRate);
}

// AveragePooling2D 2x2 and the global poolings on conv1's output: memory-bound, so GB/s of tensor traffic (forward
// reads the input and writes the output; backward reads d_out and writes d_in, GlobalMaxPooling2D also reads the
// input again to find the maxima), beside a plain copy of the input (read + write: the machine's bandwidth there).
enum class PoolKind { average, global_average, global_max, copy };
void BM_pool_traffic(benchmark::State& state, Index h, Index w, Index c, PoolKind kind, Pass pass) {
  const Index batch = state.range(0);
  std::unique_ptr<nnlite::Layer<float>> layer;
  if (kind == PoolKind::average) layer = std::make_unique<nnlite::AveragePooling2D<float>>(2);
  if (kind == PoolKind::global_average) layer = std::make_unique<nnlite::GlobalAveragePooling2D<float>>();
  if (kind == PoolKind::global_max || kind == PoolKind::copy)
    layer = std::make_unique<nnlite::GlobalMaxPooling2D<float>>();
  layer->build(nnlite::Shape{h, w, c});
  Tensor<float> x(nnlite::Shape{batch, h, w, c}), y, dy, dx;
  fill(x, 5);
  layer->forward(x, y, nnlite::Mode::training);
  dy.resize(y.shape());
  fill(dy, 6);
  for (auto _ : state) {
    if (kind == PoolKind::copy) {
      dx.resize(x.shape());
      dx.flat() = x.flat();
    } else if (pass == Pass::forward) {
      layer->forward(x, y, nnlite::Mode::training);
    } else {
      layer->backward(x, y, dy, &dx);
    }
    benchmark::ClobberMemory();
  }
  const double values = kind == PoolKind::copy ? 2.0 * double(x.size())
                        : kind == PoolKind::global_max && pass == Pass::backward
                            ? 2.0 * double(x.size()) + double(y.size())
                            : double(x.size() + y.size());
  state.counters["GB/s"] =
      benchmark::Counter(values * 4 * double(state.iterations()) * 1e-9, benchmark::Counter::kIsRate);
}

// Inference of conv1 (28x28x1 -> 26x26x32) followed by BatchNormalization and relu: three layers, against the same
// block folded by fold_batch_normalization into one Conv2D with the relu fused into its output pass.
void BM_conv_bn_relu(benchmark::State& state, bool folded) {
  const Index batch = state.range(0);
  nnlite::Sequential<float> model(nnlite::Shape{28, 28, 1});
  model.set_seed(1);
  model.add(nnlite::Conv2D<float>(32, {3, 3}));
  model.add(nnlite::BatchNormalization<float>());
  model.add(nnlite::ActivationOf<float>("relu"));
  model.build();
  nnlite::Sequential<float> run = folded ? nnlite::fold_batch_normalization(model) : model;
  Tensor<float> x(nnlite::Shape{batch, 28, 28, 1});
  fill(x, 3);
  for (auto _ : state) benchmark::DoNotOptimize(run.forward(x, nnlite::Mode::inference).data());
  state.counters["img/s"] = benchmark::Counter(double(batch) * double(state.iterations()), benchmark::Counter::kIsRate);
}

// Activation layers on conv1's output (batch x 26x26x32): GB/s of tensor traffic (forward reads in, writes out;
// backward reads in, out, d_out and writes d_in), beside a copy of the same tensor (the memory-bandwidth bound).
// gelu / swish / mish are compute-bound (erfc, exp, tanh per element); relu, LeakyReLU and PReLU should sit near copy.
enum class ActPass { fwd, bwd };
void BM_activation_layer(benchmark::State& state, const char* which, ActPass pass) {
  const Index batch = state.range(0);
  const nnlite::Shape shape{26, 26, 32};
  std::unique_ptr<nnlite::Layer<float>> layer;
  const std::string w = which;
  if (w == "LeakyReLU")
    layer = std::make_unique<nnlite::LeakyReLU<float>>();
  else if (w == "PReLU")
    layer = std::make_unique<nnlite::PReLU<float>>(std::vector<Index>{1, 2});
  else if (w != "copy")
    layer = std::make_unique<nnlite::ActivationOf<float>>(w);
  std::vector<float> params, grads;
  if (layer) {
    layer->build(shape);
    params.assign(static_cast<std::size_t>(layer->param_count()), 0.1f);
    grads.resize(params.size());
    layer->bind(params.empty() ? nullptr : params.data(), grads.empty() ? nullptr : grads.data());
  }
  Tensor<float> x(shape.with_batch(batch)), y(x.shape()), dy(x.shape()), dx;
  fill(x, 4);
  fill(dy, 5);
  if (layer) layer->forward(x, y, nnlite::Mode::training);
  for (auto _ : state) {
    if (!layer)
      y.flat() = x.flat();
    else if (pass == ActPass::fwd)
      layer->forward(x, y, nnlite::Mode::training);
    else
      layer->backward(x, y, dy, &dx);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double tensors = layer && pass == ActPass::bwd ? 4 : 2;
  state.counters["GB/s"] = benchmark::Counter(double(x.size()) * 4 * tensors * double(state.iterations()) * 1e-9,
                                              benchmark::Counter::kIsRate);
}

// Conv2D conv1 (28x28x1 -> 26x26x32) forward + backward with a fused activation: relu (fused into the kernel's output
// pass, keeps nothing) against gelu (applied after, keeps the pre-activation for backward) and linear.
void BM_conv_activation(benchmark::State& state, const char* activation) {
  const Index batch = state.range(0);
  nnlite::Conv2D<float> conv(32, {3, 3}, activation);
  conv.build(nnlite::Shape{28, 28, 1});
  std::vector<float> params(static_cast<std::size_t>(conv.param_count())), grads(params.size());
  nnlite::Rng rng(7);
  for (float& p : params) p = static_cast<float>(rng.uniform(-0.3, 0.3));
  conv.bind(params.data(), grads.data());
  Tensor<float> x(nnlite::Shape{batch, 28, 28, 1}), y, dy, dx;
  fill(x, 6);
  conv.forward(x, y, nnlite::Mode::training);
  dy.resize(y.shape());
  fill(dy, 8);
  for (auto _ : state) {
    conv.forward(x, y, nnlite::Mode::training);
    conv.backward(x, y, dy, &dx);
    benchmark::ClobberMemory();
  }
  state.counters["img/s"] = benchmark::Counter(double(batch) * double(state.iterations()), benchmark::Counter::kIsRate);
}

// DepthwiseConv2D 3x3 'same' on 26x26x32 (depth_multiplier 1): 9 multiply-adds per output value, so memory-bound;
// GFLOP/s beside GB/s of tensor traffic (forward reads x and writes y; backward reads x and d_out, writes d_in),
// to compare with copy_26x26x32 (the machine's copy bandwidth at that size). Backward = d_kernel + d_bias + d_in.
void BM_depthwise(benchmark::State& state, Pass pass, bool reference) {
  const Index batch = state.range(0);
  const Conv2DGeometry g = nnlite::depthwise_geometry(batch, 26, 26, 32, {3, 3}, 1, {1, 1}, nnlite::Padding::same);
  Tensor<float> x(nnlite::Shape{batch, 26, 26, 32}), k(nnlite::Shape{3, 3, 32, 1}), b(nnlite::Shape{32}),
      y(nnlite::Shape{batch, g.out_h, g.out_w, 32}), dy(y.shape()), dx(x.shape()), dk(k.shape()), db(b.shape()), ws;
  fill(x, 1);
  fill(k, 2);
  fill(b, 3);
  fill(dy, 4);
  for (auto _ : state) {
    if (pass == Pass::forward) {
      if (reference)
        nnlite::conv2d_forward_reference(g, x.data(), k.data(), b.data(), y.data());
      else
        nnlite::depthwise_conv2d_forward(g, x.data(), k.data(), b.data(), y.data());
    } else if (reference) {
      nnlite::conv2d_backward_reference(g, x.data(), k.data(), dy.data(), dx.data(), dk.data(), db.data());
    } else {
      nnlite::depthwise_conv2d_backward(g, x.data(), k.data(), dy.data(), dx.data(), dk.data(), db.data(), ws);
    }
    benchmark::ClobberMemory();
  }
  const double macs = double(g.rows()) * 9.0 * double(g.out_c);
  set_flops(state, 2.0 * macs * (pass == Pass::forward ? 1 : 2));
  const double values = pass == Pass::forward ? double(x.size() + y.size()) : double(2 * x.size() + dy.size());
  state.counters["GB/s"] =
      benchmark::Counter(values * 4 * double(state.iterations()) * 1e-9, benchmark::Counter::kIsRate);
}

// SeparableConv2D(64, 3x3, 'same') on 26x26x32 through the layer (forward; backward = every gradient and d_in, 2x),
// beside the same-shape sgemm of its pointwise step ((rows x 32) . (32 x 64)), which dominates its FLOPs.
void BM_separable(benchmark::State& state, Pass pass, bool sgemm) {
  const Index batch = state.range(0), rows = batch * 26 * 26;
  const double flops = 2.0 * double(rows) * (9.0 * 32 + 32.0 * 64) * (pass == Pass::forward ? 1 : 2);
  if (sgemm) {
    Eigen::MatrixXf a = Eigen::MatrixXf::Random(rows, 32), w = Eigen::MatrixXf::Random(32, 64), c(rows, 64);
    for (auto _ : state) {
      c.noalias() = a * w;
      benchmark::ClobberMemory();
    }
    set_flops(state, 2.0 * double(rows) * 32 * 64);  // one forward-shaped GEMM, whatever the pass
    return;
  }
  nnlite::SeparableConv2D<float> layer(64, {3, 3}, nnlite::DepthwiseConv2DOptions{}.padding("same"));
  layer.build(nnlite::Shape{26, 26, 32});
  std::vector<float> params(std::size_t(layer.param_count())), grads(params.size());
  nnlite::Rng rng(7);
  for (float& v : params) v = static_cast<float>(rng.uniform() - 0.5);
  layer.bind(params.data(), grads.data());
  Tensor<float> x(nnlite::Shape{batch, 26, 26, 32}), y, dy, dx;
  fill(x, 1);
  layer.forward(x, y, nnlite::Mode::training);
  dy.resize(y.shape());
  fill(dy, 2);
  for (auto _ : state) {
    if (pass == Pass::forward)
      layer.forward(x, y, nnlite::Mode::training);
    else
      layer.backward(x, y, dy, &dx);
    benchmark::ClobberMemory();
  }
  set_flops(state, flops);
}

void batches(benchmark::internal::Benchmark* b) { b->Arg(1)->Arg(32)->Arg(256)->Unit(benchmark::kMicrosecond); }
void small_batches(benchmark::internal::Benchmark* b) { b->Arg(1)->Arg(32)->Unit(benchmark::kMicrosecond); }

// One optimizer step (Keras 3's update rule, fused over the flat buffer, as fit() runs it) over as many parameters
// as the study's "improved" model has, in GB/s of the arrays the update must touch: parameters read and written,
// gradients read, each state slot (Adam's m and v, ...) read and written; beside a memcpy moving the same bytes (half
// read, half written: the memory-bandwidth bound at this size). AdamW's decoupled weight decay is a second pass over
// the parameters that these bytes do not count.
Index study_param_count() {
  nnlite::Sequential<float> model(nnlite::Shape{28, 28, 1});
  model.add(nnlite::Conv2D<float>(32, {3, 3}, "relu"));
  model.add(nnlite::MaxPool2D<float>(2));
  model.add(nnlite::Conv2D<float>(64, {3, 3}, "relu"));
  model.add(nnlite::MaxPool2D<float>(2));
  model.add(nnlite::Flatten<float>());
  model.add(nnlite::Dense<float>(128, "relu"));
  model.add(nnlite::Dense<float>(10, "softmax"));
  model.compile(nnlite::SGD<float>(0.01), "categorical_crossentropy");
  return model.count_params();  // 225,034
}

// Arrays an update reads or writes, each counted once per direction (Keras' defaults: SGD without momentum, RMSprop
// neither centered nor with momentum).
int optimizer_arrays(const std::string& name) {
  if (name == "SGD") return 3;                           // p r/w, g r
  if (name == "RMSprop" || name == "Adagrad") return 5;  // + one slot r/w
  return 7;                                              // Adam, AdamW, Nadam, Adamax: + two slots r/w
}

void BM_optimizer_step(benchmark::State& state, std::string name) {
  const Index n = study_param_count();
  auto opt = nnlite::make_optimizer<float>(nlohmann::json{{"class_name", name}, {"config", nlohmann::json::object()}},
                                           "bench");
  Tensor<float> params(nnlite::Shape{n}), grads(nnlite::Shape{n});
  fill(params, 1);
  fill(grads, 2);
  for (float& g : grads) g *= 1e-3f;
  opt->step(params.data(), grads.data(), n);  // the state is allocated on the first step
  for (auto _ : state) {
    opt->step(params.data(), grads.data(), n);
    benchmark::DoNotOptimize(params.data());
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(
      double(n) * 4 * optimizer_arrays(name) * double(state.iterations()) * 1e-9, benchmark::Counter::kIsRate);
  state.counters["params"] = double(n);
}

// The bound: memcpy of arrays/2 parameter vectors (as many bytes read plus written as the update touches).
void BM_optimizer_copy(benchmark::State& state, int arrays) {
  const Index n = study_param_count() * arrays / 2;
  std::vector<float> src(static_cast<std::size_t>(n), 1.0f), dst(src.size());
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), src.size() * sizeof(float));
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] =
      benchmark::Counter(double(n) * 4 * 2 * double(state.iterations()) * 1e-9, benchmark::Counter::kIsRate);
}

void register_all() {
  for (const ConvShape& s : kConvShapes) {
    for (Pass pass : {Pass::forward, Pass::backward, Pass::backward_weights}) {
      const std::string p = pass == Pass::forward ? "fwd" : pass == Pass::backward ? "bwd" : "bwdw";
      const std::string base = std::string(s.name) + "/" + p + "/";
      benchmark::RegisterBenchmark((base + "reference").c_str(), BM_conv, s, Impl::reference, pass)
          ->Apply(small_batches);
      benchmark::RegisterBenchmark((base + "im2col").c_str(), BM_conv, s, Impl::im2col, pass)->Apply(batches);
      benchmark::RegisterBenchmark((base + "direct").c_str(), BM_conv, s, Impl::direct, pass)->Apply(batches);
      benchmark::RegisterBenchmark((base + "eigen_tensor").c_str(), BM_conv, s, Impl::eigen_tensor, pass)
          ->Apply(batches);
      benchmark::RegisterBenchmark((base + "sgemm").c_str(), BM_conv, s, Impl::sgemm, pass)->Apply(batches);
    }
  }
  for (Pass pass : {Pass::forward, Pass::backward}) {
    const std::string p = pass == Pass::forward ? "fwd" : "bwd";
    benchmark::RegisterBenchmark(("maxpool1_26x26x32/" + p).c_str(), BM_maxpool, 26, 26, 32, pass)->Apply(batches);
    benchmark::RegisterBenchmark(("maxpool2_11x11x64/" + p).c_str(), BM_maxpool, 11, 11, 64, pass)->Apply(batches);
    benchmark::RegisterBenchmark(("dense_1600x128/" + p + "/layer").c_str(), BM_dense, pass, false)->Apply(batches);
    benchmark::RegisterBenchmark(("dense_1600x128/" + p + "/sgemm").c_str(), BM_dense, pass, true)->Apply(batches);
  }
  benchmark::RegisterBenchmark("dropout_13x13x32/fwd", BM_dropout)->Apply(batches);
  for (auto [name, pass] : {std::pair{"train_fwd", BnPass::train_fwd}, std::pair{"train_bwd", BnPass::train_bwd},
                            std::pair{"infer_fwd", BnPass::infer_fwd}, std::pair{"copy", BnPass::copy}})
    benchmark::RegisterBenchmark((std::string("batchnorm_26x26x32/") + name).c_str(), BM_batchnorm, 26, 26, 32, pass)
        ->Apply(batches);
  for (auto [name, kind] :
       {std::pair{"avgpool", PoolKind::average}, std::pair{"global_avgpool", PoolKind::global_average},
        std::pair{"global_maxpool", PoolKind::global_max}})
    for (Pass pass : {Pass::forward, Pass::backward})
      benchmark::RegisterBenchmark((std::string(name) + "_26x26x32/" + (pass == Pass::forward ? "fwd" : "bwd")).c_str(),
                                   BM_pool_traffic, 26, 26, 32, kind, pass)
          ->Apply(batches);
  for (Pass pass : {Pass::forward, Pass::backward}) {
    const std::string p = pass == Pass::forward ? "fwd" : "bwd";
    benchmark::RegisterBenchmark(("depthwise3x3_26x26x32/" + p + "/direct").c_str(), BM_depthwise, pass, false)
        ->Apply(batches);
    benchmark::RegisterBenchmark(("depthwise3x3_26x26x32/" + p + "/reference").c_str(), BM_depthwise, pass, true)
        ->Apply(small_batches);
  }
  for (Pass pass : {Pass::forward, Pass::backward}) {
    const std::string p = pass == Pass::forward ? "fwd" : "bwd";
    benchmark::RegisterBenchmark(("separable3x3_26x26x32_64/" + p + "/layer").c_str(), BM_separable, pass, false)
        ->Apply(batches);
    benchmark::RegisterBenchmark(("separable3x3_26x26x32_64/" + p + "/sgemm").c_str(), BM_separable, pass, true)
        ->Apply(batches);
  }
  benchmark::RegisterBenchmark("copy_26x26x32", BM_pool_traffic, 26, 26, 32, PoolKind::copy, Pass::forward)
      ->Apply(batches);
  benchmark::RegisterBenchmark("conv1_bn_relu/infer/separate", BM_conv_bn_relu, false)->Apply(batches);
  benchmark::RegisterBenchmark("conv1_bn_relu/infer/folded", BM_conv_bn_relu, true)->Apply(batches);
  for (const char* a : {"copy", "relu", "LeakyReLU", "PReLU", "gelu", "swish", "mish", "tanh"})
    for (ActPass pass : {ActPass::fwd, ActPass::bwd}) {
      if (std::strcmp(a, "copy") == 0 && pass == ActPass::bwd) continue;
      benchmark::RegisterBenchmark(
          (std::string("activation_26x26x32/") + a + (pass == ActPass::fwd ? "/fwd" : "/bwd")).c_str(),
          BM_activation_layer, a, pass)
          ->Apply(small_batches);
    }
  for (const char* a : {"linear", "relu", "gelu"})
    benchmark::RegisterBenchmark((std::string("conv1_improved/fwd+bwd/") + a).c_str(), BM_conv_activation, a)
        ->Apply(small_batches);
  for (const char* o : {"SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Nadam", "Adamax"})
    benchmark::RegisterBenchmark((std::string("optimizer_step/") + o).c_str(), BM_optimizer_step, std::string(o));
  for (int arrays : {3, 5, 7})
    benchmark::RegisterBenchmark(("optimizer_step/copy_" + std::to_string(arrays) + "_arrays").c_str(),
                                 BM_optimizer_copy, arrays);
}

}  // namespace

// --threads=N (else OMP_NUM_THREADS, else 1: single-threaded numbers are the stable ones on a shared machine).
int main(int argc, char** argv) {
  int threads = std::getenv("OMP_NUM_THREADS") ? 0 : 1;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0)
      threads = std::atoi(argv[i] + 10);
    else
      rest.push_back(argv[i]);
  }
  nnlite::set_num_threads(threads);
  benchmark::AddCustomContext("nnlite_threads", std::to_string(nnlite::num_threads()));
  int n = static_cast<int>(rest.size());
  register_all();
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
