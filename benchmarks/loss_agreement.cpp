// Cross-entropy agreement figures (issue 10): for three output kinds, the loss nnlite reports, the loss Keras (TF
// backend) gives, computed independently below, and the largest relative disagreement between nnlite's gradient
// and central differences of nnlite's own loss. Builds against any nnlite version with params()/grads(), so the
// figures before a change come from the same file compiled with the old headers.
#include <nnlite/nnlite.hpp>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
using M = nnlite::Sequential<double>;
using T = nnlite::Tensor<double>;

static T random_tensor(nnlite::Shape s, double scale, unsigned seed) {
  T t(s);
  std::mt19937 g(seed);
  std::normal_distribution<double> n(0, scale);
  for (nnlite::Index i = 0; i < t.size(); ++i) t.data()[i] = n(g);
  return t;
}
static T one_hot(nnlite::Index positions, nnlite::Index classes, nnlite::Shape s, unsigned seed) {
  T y(s);
  std::mt19937 g(seed);
  for (nnlite::Index p = 0; p < positions; ++p) {
    for (nnlite::Index c = 0; c < classes; ++c) y.data()[p * classes + c] = 0;
    y.data()[p * classes + g() % classes] = 1;
  }
  return y;
}
// Keras (TF backend): softmax output -> CE from logits; other outputs -> p/sum(p), clip [1e-7, 1-1e-7].
static double keras_loss(const T& out_or_logits, const T& y, bool from_logits) {
  const nnlite::Index C = y.shape()[y.shape().rank() - 1], P = y.size() / C;
  double total = 0;
  for (nnlite::Index p = 0; p < P; ++p) {
    const double* z = out_or_logits.data() + p * C;
    const double* t = y.data() + p * C;
    double l = 0;
    if (from_logits) {
      double m = z[0];
      for (nnlite::Index c = 1; c < C; ++c) m = std::max(m, z[c]);
      double s = 0;
      for (nnlite::Index c = 0; c < C; ++c) s += std::exp(z[c] - m);
      for (nnlite::Index c = 0; c < C; ++c) l -= t[c] * (z[c] - m - std::log(s));
    } else {
      double s = 0;
      for (nnlite::Index c = 0; c < C; ++c) s += z[c];
      for (nnlite::Index c = 0; c < C; ++c) l -= t[c] * std::log(std::min(std::max(z[c] / s, 1e-7), 1 - 1e-7));
    }
    total += l;
  }
  return total / static_cast<double>(P);
}
static void report(const char* name, M& model, M& twin, const T& x, const T& y, bool softmax_out) {
  const double loss = model.compute_gradients(x, y);
  const nnlite::Index n = model.count_params();
  std::vector<double> g(model.grads(), model.grads() + n);
  std::copy(model.params(), model.params() + n, twin.params());
  const double ref = keras_loss(twin.predict(x), y, softmax_out);
  double worst = 0;
  for (nnlite::Index i = 0; i < n; ++i) {
    double& p = model.params()[i];
    const double p0 = p, h = 1e-6 * std::max(1.0, std::abs(p0));
    p = p0 + h;
    const double up = model.compute_gradients(x, y);
    p = p0 - h;
    const double down = model.compute_gradients(x, y);
    p = p0;
    const double cd = (up - down) / (2 * h);
    worst = std::max(worst, std::abs(cd - g[i]) / std::max(1e-3, std::abs(cd)));
  }
  std::printf("%-34s nnlite loss %-10.6g Keras loss %-10.6g max |grad - CD| / |CD| %.3g\n", name, loss, ref, worst);
}
int main() {
  {  // 1. a relu last layer under categorical cross-entropy
    M m, t;
    m.add(nnlite::Dense<double>(10, "relu"));
    t.add(nnlite::Dense<double>(10, "relu"));
    m.build({8}); t.build({8});
    m.compile("adam", "categorical_crossentropy");
    for (nnlite::Index i = 0; i < m.count_params(); ++i)
      m.params()[i] = 0.3 + 0.1 * std::sin(double(i));  // outputs > 0
    T x = random_tensor({4, 8}, 1.0, 1);  // made positive below, with positive weights: no all-zero relu row
    for (nnlite::Index i = 0; i < x.size(); ++i) x.data()[i] = std::abs(x.data()[i]);
    report("1. Dense(10, relu) + CCE", m, t, x, one_hot(4, 10, {4, 10}, 2), false);
  }
  {  // 2. a saturated softmax: logits spread by ~40, probabilities below 1e-7
    M m, t;
    m.add(nnlite::Dense<double>(10, "softmax"));
    t.add(nnlite::Dense<double>(10, "linear"));
    m.build({8}); t.build({8});
    m.compile("adam", "categorical_crossentropy");
    std::mt19937 g(3);
    std::normal_distribution<double> n(0, 6.0);
    for (nnlite::Index i = 0; i < m.count_params(); ++i) m.params()[i] = n(g);
    report("2. saturated Dense(10, softmax)", m, t, random_tensor({4, 8}, 1.0, 4), one_hot(4, 10, {4, 10}, 5), true);
  }
  {  // 3. a per-pixel softmax: (batch, 4, 4, 5) output and labels
    M m, t;
    m.add(nnlite::Conv2D<double>(5, {1, 1}, "softmax"));
    t.add(nnlite::Conv2D<double>(5, {1, 1}, "linear"));
    m.build({4, 4, 3}); t.build({4, 4, 3});
    m.compile("adam", "categorical_crossentropy");
    for (nnlite::Index i = 0; i < m.count_params(); ++i) m.params()[i] = 0.5 * std::sin(1.0 + double(i));
    report("3. per-pixel Conv2D(5, softmax)", m, t, random_tensor({2, 4, 4, 3}, 1.0, 6),
           one_hot(2 * 16, 5, {2, 4, 4, 5}, 7), true);
  }
}
