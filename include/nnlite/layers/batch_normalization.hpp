// nnlite/layers/batch_normalization.hpp: Keras' BatchNormalization over the last axis (axis=-1), on inputs of any
// rank (Dense outputs (batch, units), conv outputs (batch, H, W, C)); every position of every sample is one
// observation of each channel.
//
//   training:   mean, var = the batch's mean and BIASED variance per channel (over batch and spatial positions)
//               out = gamma * (in - mean) / sqrt(var + epsilon) + beta
//               moving_mean     = moving_mean     * momentum + mean * (1 - momentum)
//               moving_variance = moving_variance * momentum + var  * (1 - momentum)
//   inference:  out = gamma * (in - moving_mean) / sqrt(moving_variance + epsilon) + beta
//
// The moving update is Keras 3's rule (and tf.keras 2's non-fused path). tf.keras 2 ran 4-D inputs through
// TensorFlow's fused kernel (fused=None picks it), which normalises with the biased variance too but feeds the
// moving variance the UNBIASED one, var * n / (n - 1) with n = batch * H * W: moving statistics trained by nnlite
// and by tf.keras 2 differ by that factor per step (normalisation and inference are the same). A frozen layer
// (set_trainable(false), Keras' trainable=False) runs in inference mode even in fit(), as in Keras >= 2.1.3.
//
// Weights, in Keras' order: gamma (scale=True), beta (center=True), moving_mean, moving_variance; the moving
// statistics are not trainable: the optimizer never sees them and fit() updates them in forward(training).
// fold_batch_normalization() (model/fold.hpp) merges a BatchNormalization into the Conv2D or Dense before it for
// inference.
#pragma once

#include <cmath>
#include <vector>

#include "layer.hpp"

namespace nnlite {

/// Keras-style keyword arguments for BatchNormalization, chained:
///   BatchNormalization<float>(BatchNormalizationOptions{}.momentum(0.9).epsilon(1e-5))
class BatchNormalizationOptions {
 public:
  /// Keras' `momentum` (0.99), in [0, 1]: the weight of the old moving statistics in each update.
  BatchNormalizationOptions& momentum(double m) {
    momentum_ = m;
    return *this;
  }
  /// Keras' `epsilon` (1e-3), > 0: added to the variance to avoid dividing by zero.
  BatchNormalizationOptions& epsilon(double e) {
    epsilon_ = e;
    return *this;
  }
  /// Keras' `center` (true): whether to add the learned offset beta.
  BatchNormalizationOptions& center(bool c) {
    center_ = c;
    return *this;
  }
  /// Keras' `scale` (true): whether to multiply by the learned gamma.
  BatchNormalizationOptions& scale(bool s) {
    scale_ = s;
    return *this;
  }
  /// Keras' `beta_initializer` (zeros): the initializer of beta.
  BatchNormalizationOptions& beta_initializer(Initializer i) {
    beta_init_ = i;
    return *this;
  }
  /// Keras' `gamma_initializer` (ones): the initializer of gamma.
  BatchNormalizationOptions& gamma_initializer(Initializer i) {
    gamma_init_ = i;
    return *this;
  }
  /// Keras' `moving_mean_initializer` (zeros): the initializer of the moving mean.
  BatchNormalizationOptions& moving_mean_initializer(Initializer i) {
    mean_init_ = i;
    return *this;
  }
  /// Keras' `moving_variance_initializer` (ones): the initializer of the moving variance.
  BatchNormalizationOptions& moving_variance_initializer(Initializer i) {
    var_init_ = i;
    return *this;
  }
  /// Keras' `name`: the layer's name (empty: a generated one).
  BatchNormalizationOptions& name(std::string n) {
    name_ = std::move(n);
    return *this;
  }

  /// Keras' `momentum`, as set (0.99 by default).
  double momentum() const { return momentum_; }
  /// Keras' `epsilon`, as set (1e-3 by default).
  double epsilon() const { return epsilon_; }
  /// Keras' `center`, as set (true by default).
  bool center() const { return center_; }
  /// Keras' `scale`, as set (true by default).
  bool scale() const { return scale_; }
  /// Keras' `beta_initializer`, as set (zeros by default).
  Initializer beta_initializer() const { return beta_init_; }
  /// Keras' `gamma_initializer`, as set (ones by default).
  Initializer gamma_initializer() const { return gamma_init_; }
  /// Keras' `moving_mean_initializer`, as set (zeros by default).
  Initializer moving_mean_initializer() const { return mean_init_; }
  /// Keras' `moving_variance_initializer`, as set (ones by default).
  Initializer moving_variance_initializer() const { return var_init_; }
  /// Keras' `name`, as set (empty by default: a generated name).
  const std::string& name() const { return name_; }

 private:
  double momentum_ = 0.99, epsilon_ = 1e-3;
  bool center_ = true, scale_ = true;
  Initializer beta_init_ = Initializer::zeros, gamma_init_ = Initializer::ones, mean_init_ = Initializer::zeros,
              var_init_ = Initializer::ones;
  std::string name_;
};

/// Keras' BatchNormalization over the last axis: batch statistics in training, moving statistics at inference.
template <class Scalar>
class BatchNormalization : public Layer<Scalar> {
 public:
  /// Keras' keyword arguments, as BatchNormalizationOptions (momentum in [0, 1], epsilon > 0).
  explicit BatchNormalization(const BatchNormalizationOptions& o = {}) : o_(o) {
    if (!(o.momentum() >= 0.0 && o.momentum() <= 1.0))
      throw ArgumentError("BatchNormalization: momentum must be in [0, 1], got " + std::to_string(o.momentum()));
    if (!(o.epsilon() > 0.0))
      throw ArgumentError("BatchNormalization: epsilon must be > 0, got " + std::to_string(o.epsilon()));
    this->set_name(o.name());
  }

  std::string class_name() const override { return "BatchNormalization"; }
  std::string name_stem() const override { return "batch_normalization"; }
  /// The options it was built with.
  const BatchNormalizationOptions& options() const { return o_; }
  /// Keras' `momentum`: the weight of the old moving statistics in each update.
  double momentum() const { return o_.momentum(); }
  /// Keras' `epsilon`: added to the variance before its square root.
  double epsilon() const { return o_.epsilon(); }
  /// Keras' `center`: whether it has the offset beta.
  bool center() const { return o_.center(); }
  /// Keras' `scale`: whether it has the factor gamma.
  bool scale() const { return o_.scale(); }
  /// The number of channels it normalises (the input's last axis; 0 until it is built).
  Index channels() const { return channels_; }

  std::vector<ParamSpec> param_specs() const override {
    std::vector<ParamSpec> s;
    const Shape c{channels_};
    if (o_.scale()) s.push_back({"gamma", c, o_.gamma_initializer()});
    if (o_.center()) s.push_back({"beta", c, o_.beta_initializer()});
    s.push_back({"moving_mean", c, o_.moving_mean_initializer(), false});
    s.push_back({"moving_variance", c, o_.moving_variance_initializer(), false});
    return s;
  }

  /// Per channel: out = in * a + b, the affine map inference applies (a = gamma / sqrt(moving_variance + eps),
  /// b = beta - moving_mean * a). What folding into a preceding layer multiplies into its kernel and adds to its bias.
  void inference_affine(Scalar* a, Scalar* b) const {
    this->check_bound();
    const Scalar* mm = moving_mean();
    const Scalar* mv = moving_variance();
    for (Index c = 0; c < channels_; ++c) {
      const Scalar inv = Scalar(1) / std::sqrt(mv[c] + eps());
      a[c] = gamma(c) * inv;
      b[c] = beta(c) - mm[c] * a[c];
    }
  }

  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode mode) override {
    this->check_input(in);
    this->check_bound();
    out.resize(in.shape());
    const Index rows = in.size() / channels_;
    ConstMatrixMap<Scalar> x(in.data(), rows, channels_);
    MatrixMap<Scalar> y(out.data(), rows, channels_);
    mean_.resize(channels_);
    inv_std_.resize(channels_);
    scale_.resize(channels_);
    shift_.resize(channels_);
    last_training_ = mode == Mode::training && this->trainable();
    if (last_training_) {
      // Row by row (each row is one position's channels, contiguous): vectorised over channels, one read each pass.
      mean_.setZero();
      for (Index r = 0; r < rows; ++r) mean_ += x.row(r).transpose();
      mean_ /= static_cast<Scalar>(rows);
      // The biased variance, from the centred values (not E[x^2] - E[x]^2, which cancels badly).
      var_.setZero(channels_);
      for (Index r = 0; r < rows; ++r) var_.array() += (x.row(r).transpose() - mean_).array().square();
      var_ /= static_cast<Scalar>(rows);
      const Scalar m = static_cast<Scalar>(o_.momentum()), one_minus = Scalar(1) - m;
      Scalar* mm = moving_mean();
      Scalar* mv = moving_variance();
      for (Index c = 0; c < channels_; ++c) {
        inv_std_[c] = Scalar(1) / std::sqrt(var_[c] + eps());
        mm[c] = mm[c] * m + mean_[c] * one_minus;
        mv[c] = mv[c] * m + var_[c] * one_minus;
      }
    } else {
      const Scalar* mm = moving_mean();
      const Scalar* mv = moving_variance();
      for (Index c = 0; c < channels_; ++c) {
        mean_[c] = mm[c];
        inv_std_[c] = Scalar(1) / std::sqrt(mv[c] + eps());
      }
    }
    for (Index c = 0; c < channels_; ++c) {
      scale_[c] = gamma(c) * inv_std_[c];
      shift_[c] = beta(c) - mean_[c] * scale_[c];
    }
    for (Index r = 0; r < rows; ++r) y.row(r) = (x.row(r).array() * scale_.transpose().array() + shift_.transpose().array()).matrix();
  }

  /// Training mode (the batch statistics depend on the input):
  ///   d_beta = sum(d_out), d_gamma = sum(d_out * x_hat),
  ///   d_in   = gamma / sqrt(var + eps) * (d_out - d_beta / n - x_hat * d_gamma / n)
  /// Inference mode (and a frozen layer): d_in = d_out * gamma / sqrt(moving_variance + eps).
  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    this->check_d_out(in, out, d_out);
    this->check_bound();
    if (mean_.size() != channels_) throw Error("BatchNormalization layer '" + this->name() + "': backward before forward");
    const Index rows = in.size() / channels_;
    ConstMatrixMap<Scalar> x(in.data(), rows, channels_);
    ConstMatrixMap<Scalar> dy(d_out.data(), rows, channels_);
    // d_beta and d_gamma per channel (x_hat = (x - mean) * inv_std, never stored).
    dbeta_.setZero(channels_);
    dgamma_.setZero(channels_);
    for (Index r = 0; r < rows; ++r) {
      dbeta_ += dy.row(r).transpose();
      dgamma_.array() += (x.row(r).transpose() - mean_).array() * dy.row(r).transpose().array();
    }
    dgamma_ = dgamma_.cwiseProduct(inv_std_);
    std::size_t k = 0;
    if (o_.scale()) VectorMap<Scalar>(this->weight_grad(k++), channels_) = dgamma_;
    if (o_.center()) VectorMap<Scalar>(this->weight_grad(k++), channels_) = dbeta_;
    if (!d_in) return;
    d_in->resize(in.shape());
    MatrixMap<Scalar> dx(d_in->data(), rows, channels_);
    if (!last_training_) {
      for (Index r = 0; r < rows; ++r) dx.row(r) = (dy.row(r).array() * scale_.transpose().array()).matrix();
      return;
    }
    // dx = scale * dy - scale/n * d_beta - scale * inv_std / n * d_gamma * (x - mean)
    //    = dy * scale + x * p + q  per channel, with p = -scale * inv_std * d_gamma / n, q = -scale * d_beta / n - mean * p
    const Scalar inv_n = Scalar(1) / static_cast<Scalar>(rows);
    p_.resize(channels_);
    q_.resize(channels_);
    for (Index c = 0; c < channels_; ++c) {
      p_[c] = -scale_[c] * inv_std_[c] * dgamma_[c] * inv_n;
      q_[c] = -scale_[c] * dbeta_[c] * inv_n - mean_[c] * p_[c];
    }
    for (Index r = 0; r < rows; ++r)
      dx.row(r) = (dy.row(r).array() * scale_.transpose().array() + x.row(r).array() * p_.transpose().array() +
                   q_.transpose().array())
                      .matrix();
  }

  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    c["axis"] = -1;
    c["momentum"] = o_.momentum();
    c["epsilon"] = o_.epsilon();
    c["center"] = o_.center();
    c["scale"] = o_.scale();
    write_weight_config(c, "beta", o_.beta_initializer());
    write_weight_config(c, "gamma", o_.gamma_initializer());
    c["moving_mean_initializer"] = initializer_config(o_.moving_mean_initializer());
    c["moving_variance_initializer"] = initializer_config(o_.moving_variance_initializer());
    return c;
  }

  /// Builds the layer from its Keras config (Keras' from_config).
  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& input) {
    // axis: -1, [-1], or the last axis counted from the batch (3 for (None, H, W, C)).
    if (c.has("axis")) {
      const json& a = c.at("axis");
      const json& v = a.is_array() && a.size() == 1 ? a[0] : a;
      Index axis = 0;
      if (!ConfigReader::as_integer(v, axis)) c.bad("'axis' must be an integer, got " + dump_json(a));
      if (axis != -1 && axis != static_cast<Index>(input.rank()))
        c.unsupported("axis = " + dump_json(a) + " (nnlite normalises the last axis, channels_last)");
    }
    BatchNormalizationOptions o;
    o.momentum(c.number_in("momentum", 0.99, 0.0, 1.0));
    const double eps = c.number("epsilon", 1e-3);
    if (!(eps > 0)) c.bad("'epsilon' must be > 0, got " + dump_json(c.at("epsilon")));
    o.epsilon(eps).center(c.boolean("center", true)).scale(c.boolean("scale", true)).name(c.name);
    o.beta_initializer(read_initializer(c, "beta_initializer", Initializer::zeros));
    o.gamma_initializer(read_initializer(c, "gamma_initializer", Initializer::ones));
    o.moving_mean_initializer(read_initializer(c, "moving_mean_initializer", Initializer::zeros));
    o.moving_variance_initializer(read_initializer(c, "moving_variance_initializer", Initializer::ones));
    for (const char* key : {"beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint",
                            "virtual_batch_size", "adjustment"})
      c.require_null(key);
    for (const char* key : {"renorm", "synchronized"})
      if (c.boolean(key, false)) c.unsupported(std::string("'") + key + "' = true");
    if (input.rank() >= 1) c.check_size({input[input.rank() - 1]}, "the statistics");
    return configured(std::make_unique<BatchNormalization>(o), c);
  }

  std::unique_ptr<Layer<Scalar>> clone() const override {
    auto copy = clone_layer(*this);
    auto& bn = static_cast<BatchNormalization&>(*copy);
    bn.mean_ = Vector();  // the copy has run no forward pass of its own
    return copy;
  }

 protected:
  Shape compute_output_shape(const Shape& input_shape) override {
    if (input_shape.rank() < 1 || input_shape.size() < 1)
      this->shape_error("needs a non-empty input, got " + input_shape.str(true));
    channels_ = input_shape[input_shape.rank() - 1];
    mean_ = Vector();
    return input_shape;
  }

 private:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  Scalar eps() const { return static_cast<Scalar>(o_.epsilon()); }
  Scalar gamma(Index c) const { return o_.scale() ? this->weight(0)[c] : Scalar(1); }
  Scalar beta(Index c) const { return o_.center() ? this->weight(o_.scale() ? 1 : 0)[c] : Scalar(0); }
  std::size_t moving_index() const { return (o_.scale() ? 1u : 0u) + (o_.center() ? 1u : 0u); }

 public:
  /// Keras' `moving_mean` weight: the running mean per channel that inference normalises with.
  Scalar* moving_mean() { return this->weight(moving_index()); }
  /// Keras' `moving_mean` weight, read-only.
  const Scalar* moving_mean() const { return this->weight(moving_index()); }
  /// Keras' `moving_variance` weight: the running variance per channel that inference normalises with.
  Scalar* moving_variance() { return this->weight(moving_index() + 1); }
  /// Keras' `moving_variance` weight, read-only.
  const Scalar* moving_variance() const { return this->weight(moving_index() + 1); }

 private:
  BatchNormalizationOptions o_;
  Index channels_ = 0;
  /// From the last forward pass (channels-long, grown once): the mean and 1/std it normalised with, the affine map.
  Vector mean_, var_, inv_std_, scale_, shift_, dgamma_, dbeta_, p_, q_;
  bool last_training_ = false;
};

}  // namespace nnlite
