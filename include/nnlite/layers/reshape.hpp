// nnlite/layers/reshape.hpp: Keras' Reshape: the same values in the same (row-major) order under target_shape (the
// batch excluded). One dimension may be -1: it is inferred from the input's size, as in Keras.
#pragma once

#include <algorithm>
#include <vector>

#include "layer.hpp"

namespace nnlite {

/// Base of the layers that give the values a new per-sample shape without moving them (Flatten, Reshape): the
/// subclass computes the output shape.
template <class Scalar>
class ReshapingLayer : public Layer<Scalar> {
 public:
  /// Row-major storage keeps the order: both passes are copies with a new shape.
  void forward(const Tensor<Scalar>& in, Tensor<Scalar>& out, Mode /*mode*/) override {
    this->check_input(in);
    out.resize(this->output_shape().with_batch(in.batch()));
    out.flat() = in.flat();
  }

  void backward(const Tensor<Scalar>& in, const Tensor<Scalar>& out, const Tensor<Scalar>& d_out,
                Tensor<Scalar>* d_in) override {
    if (this->wants_d_in(in, out, d_out, d_in)) d_in->flat() = d_out.flat();
  }
};

/// Keras' Reshape: a new per-sample shape with the same size (one -1 inferred).
template <class Scalar>
class Reshape : public ReshapingLayer<Scalar> {
 public:
  /// Keras' `target_shape` (the per-sample output shape, batch excluded; one dimension may be -1) and `name`.
  explicit Reshape(std::vector<Index> target_shape, std::string name = "") : target_(std::move(target_shape)) {
    if (target_.empty()) throw ArgumentError("Reshape: target_shape needs at least one dimension");
    if (std::count(target_.begin(), target_.end(), Index(-1)) > 1)
      throw ArgumentError("Reshape: target_shape must not contain more than one -1, got " + target_str());
    for (Index d : target_)
      if (d < 1 && d != -1)
        throw ArgumentError("Reshape: target_shape dimensions must be positive or -1, got " + target_str());
    this->set_name(std::move(name));
  }
  /// `Reshape<float>({4, -1})` like Keras' `Reshape((4, -1))`.
  Reshape(std::initializer_list<Index> target_shape, std::string name = "")
      : Reshape(std::vector<Index>(target_shape), std::move(name)) {}

  std::string class_name() const override { return "Reshape"; }
  std::string name_stem() const override { return "reshape"; }
  /// As given (with its -1, as Keras keeps it); output_shape() has the inferred value.
  const std::vector<Index>& target_shape() const { return target_; }

  nlohmann::json config() const override {
    auto c = Layer<Scalar>::config();
    c["target_shape"] = target_;
    return c;
  }

  /// target_shape: a list of positive integers with at most one -1 (tf.keras 2 and Keras 3 write the same key).
  static std::unique_ptr<Layer<Scalar>> from_config(const ConfigReader& c, const Shape& /*input*/) {
    if (!c.has("target_shape")) c.bad("'target_shape' is missing");
    const json& v = c.at("target_shape");
    std::vector<Index> dims;
    const bool list = v.is_array() && !v.empty() && v.size() <= 8;
    for (std::size_t i = 0; list && i < v.size(); ++i) {
      Index d = 0;
      if (!ConfigReader::as_integer(v[i], d) || (d < 1 && d != -1) || d > c.limits.max_tensor_elements)
        c.bad("'target_shape' must be a list of positive integers (one may be -1), got " + dump_json(v));
      dims.push_back(d);
    }
    if (!list) c.bad("'target_shape' must be a list of 1 to 8 dimensions, got " + dump_json(v));
    if (std::count(dims.begin(), dims.end(), Index(-1)) > 1)
      c.bad("'target_shape' must not contain more than one -1, got " + dump_json(v));
    return configured(std::make_unique<Reshape>(dims, c.name), c);
  }

  std::unique_ptr<Layer<Scalar>> clone() const override { return clone_layer(*this); }

 protected:
  Shape compute_output_shape(const Shape& input_shape) override {
    const Index total = input_shape.size();
    if (input_shape.rank() < 1 || total < 1)
      this->shape_error("cannot reshape an empty input " + input_shape.str(true));
    Index known = 1;
    std::size_t unknown = target_.size();
    for (std::size_t i = 0; i < target_.size(); ++i) {
      if (target_[i] == -1) {
        unknown = i;
      } else if (known > total / target_[i]) {
        known = total + 1;  // larger than the input whatever follows, without overflowing
      } else {
        known *= target_[i];
      }
    }
    std::vector<Index> dims = target_;
    if (unknown < dims.size()) {
      if (known > total || total % known != 0)
        this->shape_error("cannot infer the -1 of target_shape " + target_str() + " from an input of shape " +
                          input_shape.str(true) + " (" + std::to_string(total) + " values)");
      dims[unknown] = total / known;
    } else if (known != total) {
      this->shape_error("the input of shape " + input_shape.str(true) + " has " + std::to_string(total) +
                        " values, target_shape " + target_str() + " has " +
                        (known > total ? "more" : std::to_string(known)));
    }
    return Shape(dims);
  }

 private:
  std::string target_str() const {
    std::string s = "(";
    for (std::size_t i = 0; i < target_.size(); ++i) s += (i ? ", " : "") + std::to_string(target_[i]);
    return s + (target_.size() == 1 ? ",)" : ")");
  }

  std::vector<Index> target_;
};

}  // namespace nnlite
