// Finite differences: the policy's backward passes are the gradients of its own forward pass.
// Loss = sum(y * g) for a fixed random g, so dL/dy = g; central differences in double on tiny layers.
#include "property.hpp"

using policy_under_test = FFTCONV_TEST_POLICY;

namespace {

template <int N>
void check_gradients(const reference::layer& L, std::uint64_t seed) {
  using namespace testing_support;
  INFO("seed ", seed, ": ", describe(L));
  auto x = random_values(L.x_size(), seed + 11), w = random_values(L.w_size(), seed + 12);
  auto bias = random_values(L.out_channels, seed + 13);
  const auto g = random_values(L.y_size(), seed + 14);
  const auto x_extents = extents<N>(L.batch, L.in_channels, L.input);
  const auto y_extents = extents<N>(L.batch, L.out_channels, L.output());
  const auto w_extents = extents<N>(L.out_channels, L.in_channels / L.groups, L.kernel);
  fftconv::conv<N, double, policy_under_test> layer(geometry_of<N>(L));

  auto loss = [&] {
    std::vector<double> y(L.y_size());
    layer.forward(fftconv::host{}, fftconv::make_view<const double, N + 2>(x.data(), x_extents), fftconv::make_view<const double, N + 2>(w.data(), w_extents), bias.data(),
                  fftconv::make_view<double, N + 2>(y.data(), y_extents));
    double sum = 0;
    for (std::size_t i = 0; i < y.size(); ++i) sum += y[i] * g[i];
    return sum;
  };
  auto numeric_gradient = [&](std::vector<double>& parameter) {
    constexpr double h = 1e-5;
    std::vector<double> gradient(parameter.size());
    for (std::size_t i = 0; i < parameter.size(); ++i) {
      const double saved = parameter[i];
      parameter[i] = saved + h;
      const double up = loss();
      parameter[i] = saved - h;
      const double down = loss();
      parameter[i] = saved;
      gradient[i] = (up - down) / (2 * h);
    }
    return gradient;
  };

  std::vector<double> dx(L.x_size()), dw(L.w_size()), db(L.out_channels);
  layer.backward_data(fftconv::host{}, fftconv::make_view<const double, N + 2>(g.data(), y_extents), fftconv::make_view<const double, N + 2>(w.data(), w_extents),
                      fftconv::make_view<double, N + 2>(dx.data(), x_extents));
  layer.backward_filter(fftconv::host{}, fftconv::make_view<const double, N + 2>(x.data(), x_extents), fftconv::make_view<const double, N + 2>(g.data(), y_extents),
                        fftconv::make_view<double, N + 2>(dw.data(), w_extents), db.data());
  CHECK(relative_l2(dx, numeric_gradient(x)) <= 1e-7);
  CHECK(relative_l2(dw, numeric_gradient(w)) <= 1e-7);
  CHECK(relative_l2(db, numeric_gradient(bias)) <= 1e-7);
}

}  // namespace

TEST_CASE("host: backward passes equal finite-difference gradients of forward (1D, 2D, 3D)") {
  for (std::uint64_t seed = 101; seed <= 106; ++seed) {
    using testing_support::random_layer;
    check_gradients<1>(random_layer(1, seed), seed);
    check_gradients<2>(random_layer(2, seed), seed);
    check_gradients<3>(random_layer(3, seed), seed);
  }
  check_gradients<1>(testing_support::causal_layer(4, 2), 107);  // causal: low d(k-1) = 6, high 0
  check_gradients<1>(testing_support::causal_layer(3, 1), 108);
}
