// nnlite/layers/conv2d.hpp: Keras' Conv2D: out = activation(conv(in, kernel) + bias) over NHWC input,
// kernel of shape (kh, kw, in_channels, filters) as Keras stores it. The arithmetic lives in kernels/conv2d_*.hpp.
#pragma once

#include "../core/activation_functions.hpp"
#include "../kernels/conv2d_direct.hpp"
#include "../kernels/conv2d_eigen_tensor.hpp"
#include "../kernels/conv2d_geometry.hpp"
#include "../kernels/conv2d_im2col.hpp"
#include "../kernels/conv2d_reference.hpp"
#include "layer.hpp"

namespace nnlite {

// Which kernel a Conv2D runs: the reference loops (for checking), im2col + GEMM (the fast default; it hands a layer
// to the direct kernel where conv2d_direct_pays(): tiny patches such as a first layer's 3x3 on one channel), or the
// direct kernel always, or Eigen Tensor's extract_image_patches + contraction (single-threaded, for comparison).
enum class Conv2DKernel { reference, im2col, direct, eigen_tensor };

inline std::string conv2d_kernel_name(Conv2DKernel k) {
  return k == Conv2DKernel::reference      ? "reference"
         : k == Conv2DKernel::direct       ? "direct"
         : k == Conv2DKernel::eigen_tensor ? "eigen_tensor"
                                           : "im2col";
}

inline Conv2DKernel parse_conv2d_kernel(const std::string& name) {
  if (name == "reference") return Conv2DKernel::reference;
  if (name == "im2col") return Conv2DKernel::im2col;
  if (name == "direct") return Conv2DKernel::direct;
  if (name == "eigen_tensor") return Conv2DKernel::eigen_tensor;
  throw ArgumentError("unknown Conv2D kernel '" + name +
                      "' (expected 'reference', 'im2col', 'direct' or 'eigen_tensor')");
}

// Keras-style keyword arguments for Conv2D, chained:
//   Conv2D<float>(64, {3, 3}, Conv2DOptions{}.padding("same").strides(2).activation("relu"))
// Each setter has a same-named getter; unset options keep Keras' defaults.
class Conv2DOptions {
 public:
  Conv2DOptions& activation(Activation a) {
    activation_ = a;
    return *this;
  }
  Conv2DOptions& activation(const std::string& a) { return activation(parse_activation(a)); }
  Conv2DOptions& padding(Padding p) {
    padding_ = p;
    return *this;
  }
  Conv2DOptions& padding(const std::string& p) { return padding(parse_padding(p)); }
  Conv2DOptions& strides(Size2 s) {
    strides_ = s;
    return *this;
  }
  Conv2DOptions& use_bias(bool b) {
    use_bias_ = b;
    return *this;
  }
  Conv2DOptions& name(std::string n) {
    name_ = std::move(n);
    return *this;
  }

  Activation activation() const { return activation_; }
  Padding padding() const { return padding_; }
  Size2 strides() const { return strides_; }
  bool use_bias() const { return use_bias_; }
  const std::string& name() const { return name_; }

 private:
  Activation activation_ = Activation::linear;
  Padding padding_ = Padding::valid;
  Size2 strides_{1, 1};
  bool use_bias_ = true;
  std::string name_;
};

template <class Scalar>
class Conv2D : public Layer<Scalar> {
 public:
  Conv2D(Index filters, Size2 kernel_size, Activation activation = Activation::linear,
         Padding padding = Padding::valid, Size2 strides = {1, 1}, bool use_bias = true, std::string name = "")
      : filters_(filters),
        kernel_size_(kernel_size),
        strides_(strides),
        padding_(padding),
        activation_(activation),
        use_bias_(use_bias) {
    if (filters < 1) throw ArgumentError("Conv2D: filters must be >= 1, got " + std::to_string(filters));
    if (kernel_size.h < 1 || kernel_size.w < 1)
      throw ArgumentError("Conv2D: kernel_size must be >= 1, got " + kernel_size.str());
    if (strides.h < 1 || strides.w < 1) throw ArgumentError("Conv2D: strides must be >= 1, got " + strides.str());
    this->set_name(std::move(name));
  }
  // Conv2D<float>(32, {3, 3}, "relu"), as Dense takes its activation by name.
  Conv2D(Index filters, Size2 kernel_size, const std::string& activation, Padding padding = Padding::valid,
         Size2 strides = {1, 1}, bool use_bias = true, std::string name = "")
      : Conv2D(filters, kernel_size, parse_activation(activation), padding, strides, use_bias, std::move(name)) {}
  Conv2D(Index filters, Size2 kernel_size, const Conv2DOptions& options)
      : Conv2D(filters, kernel_size, options.activation(), options.padding(), options.strides(), options.use_bias(),
               options.name()) {}

  std::string class_name() const override { return "Conv2D"; }
  std::string name_stem() const override { return "conv2d"; }
  Index filters() const { return filters_; }
  Size2 kernel_size() const { return kernel_size_; }
  Size2 strides() const { return strides_; }
  Padding padding() const { return padding_; }
  Activation activation() const { return activation_; }
  bool use_bias() const { return use_bias_; }

  // Every kernel gives the same result (to rounding); the choice is only about speed.
  void set_kernel(Conv2DKernel k) { kernel_ = k; }
  Conv2DKernel kernel_impl() const { return kernel_; }

  // The kernels' view of this layer for a batch of `batch` samples (valid after build()).
  Conv2DGeometry geometry(Index batch) const {
    return Conv2DGeometry::make(batch, in_h_, in_w_, in_c_, kernel_size_, filters_, strides_, padding_);
  }

  std::vector<ParamSpec> param_specs() const override {
    std::vector<ParamSpec> specs{
        {"kernel", Shape{kernel_size_.h, kernel_size_.w, in_c_, filters_}, Initializer::glorot_uniform}};
    if (use_bias_) specs.push_back({"bias", Shape{filters_}, Initializer::zeros});
    return specs;
  }

  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode /*mode*/) override {
    this->check_input(in);
    check_bound(this->params_);
    out.resize(this->output_shape().with_batch(in.batch()));
    const Conv2DGeometry g = geometry(in.batch());
    const bool relu = activation_ == Activation::relu;  // fused into the fast kernels' output pass
    if (kernel_ == Conv2DKernel::reference) {
      conv2d_forward_reference(g, in.data(), this->params_, bias(), out.data());
      apply_activation(activation_, out.data(), g.rows(), filters_);
      return;
    }
    if (kernel_ == Conv2DKernel::eigen_tensor)
      conv2d_forward_eigen_tensor(g, in.data(), this->params_, bias(), out.data(), relu);
    else if (use_direct(g))
      conv2d_forward_direct(g, in.data(), this->params_, bias(), out.data(), relu);
    else
      conv2d_forward_im2col(g, in.data(), this->params_, bias(), out.data(), cols_, im2col_default_workspace_limit,
                            relu);
    if (!relu) apply_activation(activation_, out.data(), g.rows(), filters_);
  }

  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    if (d_out.shape() != out.shape())
      this->shape_error("d_out of shape " + d_out.shape().str() + " does not match the output " + out.shape().str());
    if (activation_ == Activation::linear) return backward_from_logits(in, d_out, d_in);  // nothing to undo
    d_pre_.resize(out.shape());
    activation_backward(activation_, out.data(), d_out.data(), d_pre_.data(), out.size() / filters_, filters_);
    backward_from_logits(in, d_pre_, d_in);
  }

  bool ends_in_softmax() const override { return activation_ == Activation::softmax; }

  // Gradients from d(loss)/d(conv(in, kernel) + bias). A null d_in skips the input gradient (and its col2im).
  void backward_from_logits(const Tensor<Scalar>& in, const Tensor<Scalar>& d_logits,
                            Tensor<Scalar>* d_in) override {
    this->check_input(in);
    check_bound(this->grads_);
    const Conv2DGeometry g = geometry(in.batch());
    if (d_logits.size() != g.batch * g.out_sample())
      this->shape_error("gradient of shape " + d_logits.shape().str() + " does not match the output " +
                        this->output_shape().with_batch(in.batch()).str());
    Scalar* d_kernel = this->grads_;
    Scalar* d_bias = use_bias_ ? this->grads_ + g.kernel_size() : nullptr;
    Scalar* dx = nullptr;
    if (d_in) {
      d_in->resize(in.shape());
      dx = d_in->data();
    }
    if (kernel_ == Conv2DKernel::reference) {
      conv2d_backward_reference(g, in.data(), this->params_, d_logits.data(), dx, d_kernel, d_bias);
    } else if (kernel_ == Conv2DKernel::eigen_tensor) {
      conv2d_backward_eigen_tensor(g, in.data(), this->params_, d_logits.data(), dx, d_kernel, d_bias);
    } else if (kernel_ == Conv2DKernel::direct) {
      conv2d_backward_direct(g, in.data(), this->params_, d_logits.data(), dx, d_kernel, d_bias, cols_);
    } else if (use_direct(g)) {
      // Parameter gradients from the direct kernel whether or not d_in is wanted (so a first layer gets the same
      // bits), d_in through GEMM + col2im, which beats direct's per-tap dot products.
      conv2d_backward_direct<Scalar>(g, in.data(), this->params_, d_logits.data(), nullptr, d_kernel, d_bias, cols_);
      if (dx) conv2d_backward_im2col<Scalar>(g, in.data(), this->params_, d_logits.data(), dx, nullptr, nullptr, cols_);
    } else {
      conv2d_backward_im2col(g, in.data(), this->params_, d_logits.data(), dx, d_kernel, d_bias, cols_);
    }
  }

  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    c["filters"] = filters_;
    c["kernel_size"] = {kernel_size_.h, kernel_size_.w};
    c["strides"] = {strides_.h, strides_.w};
    c["padding"] = padding_name(padding_);
    c["data_format"] = "channels_last";
    c["dilation_rate"] = {1, 1};
    c["groups"] = 1;
    c["activation"] = activation_name(activation_);
    c["use_bias"] = use_bias_;
    c["kernel_initializer"] = {{"class_name", "GlorotUniform"}, {"config", {{"seed", nullptr}}}};
    c["bias_initializer"] = {{"class_name", "Zeros"}, {"config", nlohmann::json::object()}};
    c["kernel_regularizer"] = nullptr;
    c["bias_regularizer"] = nullptr;
    c["activity_regularizer"] = nullptr;
    c["kernel_constraint"] = nullptr;
    c["bias_constraint"] = nullptr;
    return c;
  }

  std::unique_ptr<Layer<Scalar>> clone() const override {
    auto copy = clone_layer(*this);
    auto& conv = static_cast<Conv2D&>(*copy);
    conv.cols_ = Tensor<Scalar>();  // workspaces are scratch: the copy grows its own when it runs
    conv.d_pre_ = Tensor<Scalar>();
    return copy;
  }

 protected:
  Shape compute_output_shape(const Shape& input_shape) override {
    if (input_shape.rank() != 3 || input_shape.size() < 1)
      this->shape_error("expected input of shape (None, height, width, channels), got " + input_shape.str(true));
    const Conv2DGeometry g = Conv2DGeometry::make(1, input_shape[0], input_shape[1], input_shape[2], kernel_size_,
                                                  filters_, strides_, padding_);
    const Shape out{g.out_h, g.out_w, filters_};
    if (g.out_h < 1 || g.out_w < 1)
      this->shape_error("input " + input_shape.str(true) + " is too small for kernel_size " + kernel_size_.str() +
                        " with padding '" + padding_name(padding_) + "': the output would be " + out.str(true));
    in_h_ = g.in_h;
    in_w_ = g.in_w;
    in_c_ = g.in_c;
    return out;
  }

 private:
  bool use_direct(const Conv2DGeometry& g) const {
    return kernel_ == Conv2DKernel::direct || (kernel_ == Conv2DKernel::im2col && conv2d_direct_pays(g));
  }
  const Scalar* bias() const {
    return use_bias_ ? this->params_ + kernel_size_.h * kernel_size_.w * in_c_ * filters_ : nullptr;
  }
  void check_bound(const Scalar* p) const {
    if (!p) throw Error(class_name() + " layer '" + this->name() + "' has no parameters bound (call bind() first)");
  }

  Index filters_;
  Size2 kernel_size_, strides_;
  Padding padding_;
  Activation activation_;
  bool use_bias_;
  Conv2DKernel kernel_ = Conv2DKernel::im2col;
  Index in_h_ = 0, in_w_ = 0, in_c_ = 0;
  Tensor<Scalar> cols_;   // workspace: im2col patches (and d_cols in backward), grown once
  Tensor<Scalar> d_pre_;  // workspace: d(loss)/d(pre-activation), reused across batches
};

}  // namespace nnlite
