// Finite differences: the policy's backward passes are the gradients of its own forward pass.
// Loss = sum(y * g) for a fixed random g, so dL/dy = g; central differences in double on tiny layers.
// A policy with no double layers on the host (fftconv::vendor: oneDNN) runs in float: the loss is linear in each
// parameter, so a step of 0.5 is exact but for float's rounding, which the looser bound allows.
#include "property.hpp"

using policy_under_test = FFTCONV_TEST_POLICY;

namespace {

using E = std::conditional_t<testing_support::policy_runs<policy_under_test, double, fftconv::host>, double, float>;
constexpr double step = std::is_same_v<E, double> ? 1e-5 : 0.5;
constexpr double bound = std::is_same_v<E, double> ? 1e-7 : 1e-4;

template <int N>
void check_gradients(const reference::layer& L, std::uint64_t seed) {
  using namespace testing_support;
  INFO("seed ", seed, ": ", describe(L));
  const auto as_e = [](const std::vector<double>& v) { return std::vector<E>(v.begin(), v.end()); };
  auto x = as_e(random_values(L.x_size(), seed + 11)), w = as_e(random_values(L.w_size(), seed + 12));
  auto bias = as_e(random_values(L.out_channels, seed + 13));
  const auto g = as_e(random_values(L.y_size(), seed + 14));
  const auto x_extents = extents<N>(L.batch, L.in_channels, L.input);
  const auto y_extents = extents<N>(L.batch, L.out_channels, L.output());
  const auto w_extents = extents<N>(L.out_channels, L.in_channels / L.groups, L.kernel);
  fftconv::conv<N, E, policy_under_test> layer(geometry_of<N>(L));

  auto loss = [&] {
    std::vector<E> y(L.y_size());
    layer.forward(fftconv::host{}, fftconv::make_view<const E, N + 2>(x.data(), x_extents), fftconv::make_view<const E, N + 2>(w.data(), w_extents), bias.data(),
                  fftconv::make_view<E, N + 2>(y.data(), y_extents));
    double sum = 0;
    for (std::size_t i = 0; i < y.size(); ++i) sum += double(y[i]) * double(g[i]);
    return sum;
  };
  auto numeric_gradient = [&](std::vector<E>& parameter) {
    constexpr double h = step;
    std::vector<double> gradient(parameter.size());
    for (std::size_t i = 0; i < parameter.size(); ++i) {
      const E saved = parameter[i];
      parameter[i] = E(saved + h);
      const double up = loss();
      parameter[i] = E(saved - h);
      const double down = loss();
      parameter[i] = saved;
      gradient[i] = (up - down) / (2 * h);
    }
    return gradient;
  };

  std::vector<E> dx(L.x_size()), dw(L.w_size()), db(L.out_channels);
  layer.backward_data(fftconv::host{}, fftconv::make_view<const E, N + 2>(g.data(), y_extents), fftconv::make_view<const E, N + 2>(w.data(), w_extents),
                      fftconv::make_view<E, N + 2>(dx.data(), x_extents));
  layer.backward_filter(fftconv::host{}, fftconv::make_view<const E, N + 2>(x.data(), x_extents), fftconv::make_view<const E, N + 2>(g.data(), y_extents),
                        fftconv::make_view<E, N + 2>(dw.data(), w_extents), db.data());
  const auto as_double = [](const std::vector<E>& v) { return std::vector<double>(v.begin(), v.end()); };
  CHECK(relative_l2(as_double(dx), numeric_gradient(x)) <= bound);
  CHECK(relative_l2(as_double(dw), numeric_gradient(w)) <= bound);
  CHECK(relative_l2(as_double(db), numeric_gradient(bias)) <= bound);
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
