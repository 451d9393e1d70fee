#include <doctest/doctest.h>

#include <nnlite/layers/dense.hpp>

namespace test_dense {

TEST_CASE("Dense: known values by hand") {
  nnlite::Dense<double> dense(2, nnlite::Activation::linear);
  dense.build(nnlite::Shape{3});
  std::vector<double> params = {1, 2, 3, 4, 5, 6, 0.5, -0.5}, grads(8);
  dense.bind(params.data(), grads.data());
  nnlite::Tensor<double> x(nnlite::Shape{1, 3}), y;
  x[0] = 1; x[1] = -1; x[2] = 2;
  dense.forward(x, y, nnlite::Mode::inference);
  CHECK(y.at(0, 0) == doctest::Approx(1 - 3 + 10 + 0.5));
  CHECK(y.at(0, 1) == doctest::Approx(2 - 4 + 12 - 0.5));
}

}  // namespace test_dense
