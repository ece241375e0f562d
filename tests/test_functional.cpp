// The functional form: one-off calls through a per-thread cache of conv objects.
#include <doctest/doctest.h>

#include <fftconv/functional.hpp>
#include <fftconv/fftconv.hpp>

#include "support/expect_error.hpp"
#include "support/random_layer.hpp"

namespace {

std::vector<double> reference_forward_1d(const std::vector<double>& x, const std::vector<double>& w) {
  std::vector<double> y(x.size() - w.size() + 1, 0.0);
  for (std::size_t i = 0; i < y.size(); ++i)
    for (std::size_t k = 0; k < w.size(); ++k) y[i] += x[i + k] * w[k];
  return y;
}

template <class P>
void check_functional_matches_object() {
  const fftconv::geometry<2> g{.in_channels = 4, .out_channels = 2, .kernel = {3, 2}, .padding = {1, 0},
                               .stride = {2, 1}, .dilation = {1, 2}, .groups = 2};
  fftconv::conv<2, double, P> layer(g);
  const auto out = layer.output_extents({3, 4, 9, 8});
  const auto x = testing_support::random_values(3 * 4 * 9 * 8, 1), w = testing_support::random_values(2 * 2 * 3 * 2, 2),
             bias = testing_support::random_values(2, 3);
  auto dy = testing_support::random_values(out[0] * out[1] * out[2] * out[3], 4);
  std::vector<double> y1(dy.size()), y2(dy.size()), dx1(x.size()), dx2(x.size()), dw1(w.size()), dw2(w.size()),
      db1(2), db2(2);
  const fftconv::view<const double, 4> xv(x.data(), 3, 4, 9, 8), wv(w.data(), 2, 2, 3, 2);
  const auto dyv = fftconv::make_view<const double, 4>(dy.data(), out);
  layer.forward(fftconv::host{}, xv, wv, bias.data(), fftconv::make_view(y1.data(), out));
  layer.backward_data(fftconv::host{}, dyv, wv, fftconv::view<double, 4>(dx1.data(), 3, 4, 9, 8));
  layer.backward_filter(fftconv::host{}, xv, dyv, fftconv::view<double, 4>(dw1.data(), 2, 2, 3, 2), db1.data());

  for (int repeat = 0; repeat < 2; ++repeat) {  // the second round runs on the cached object
    fftconv::forward<P>(fftconv::host{}, g, xv, wv, bias.data(), fftconv::make_view(y2.data(), out));
    fftconv::backward_data<P>(fftconv::host{}, g, dyv, wv, fftconv::view<double, 4>(dx2.data(), 3, 4, 9, 8));
    fftconv::backward_filter<P>(fftconv::host{}, g, xv, dyv, fftconv::view<double, 4>(dw2.data(), 2, 2, 3, 2), db2.data());
    CHECK(testing_support::relative_l2(y2, y1) <= 1e-13);
    CHECK(testing_support::relative_l2(dx2, dx1) <= 1e-13);
    CHECK(testing_support::relative_l2(dw2, dw1) <= 1e-13);
    CHECK(testing_support::relative_l2(db2, db1) <= 1e-13);
  }
  // New data at the same addresses: the cached object must not answer from the previous call.
  for (auto& v : dy) v = -0.5 * v + 0.25;
  fftconv::backward_filter<P>(fftconv::host{}, g, xv, dyv, fftconv::view<double, 4>(dw2.data(), 2, 2, 3, 2), db2.data());
  fftconv::conv<2, double, P> fresh(g);
  fresh.backward_filter(fftconv::host{}, xv, dyv, fftconv::view<double, 4>(dw1.data(), 2, 2, 3, 2), db1.data());
  CHECK(testing_support::relative_l2(dw2, dw1) <= 1e-13);
}

}  // namespace

TEST_CASE_TEMPLATE("functional calls equal a conv object's, call after call", P, fftconv::naive, fftconv::im2col,
                   fftconv::fft) {
  check_functional_matches_object<P>();
}

TEST_CASE("functional calls validate like conv objects") {
  std::vector<float> x(16, 1.0f), w(3, 0.5f), y(14, 42.0f);
  testing_support::check_throws_naming<fftconv::invalid_argument>(
      [&] {
        fftconv::forward<fftconv::naive>(fftconv::host{}, fftconv::geometry<1>{.in_channels = 1, .out_channels = 0, .kernel = {3}},
                                         fftconv::view<float, 3>(x.data(), 1, 1, 16), fftconv::view<float, 3>(w.data(), 1, 1, 3),
                                         nullptr, fftconv::view<float, 3>(y.data(), 1, 1, 14));
      },
      {"out_channels = 0"});
  testing_support::check_throws_naming<fftconv::invalid_argument>(
      [&] {
        fftconv::forward<fftconv::naive>(fftconv::host{}, fftconv::geometry<1>{.in_channels = 1, .out_channels = 1, .kernel = {3}},
                                         fftconv::view<float, 3>(x.data(), 1, 1, 16), fftconv::view<float, 3>(w.data(), 1, 1, 3),
                                         nullptr, fftconv::view<float, 3>(y.data(), 1, 1, 13));
      },
      {"y has extents [1, 1, 13]"});
  for (float v : y) CHECK(v == 42.0f);
}

TEST_CASE("clear_functional_cache destroys the thread's cached objects, and calls work after it") {
  // With a plan-cache capacity of 0, the cache keeps only plans some object holds: its size tells whether the
  // functional form's cached objects are still alive.
  fftconv::clear_functional_cache();
  fftconv::clear_plan_cache();
  fftconv::set_plan_cache_capacity(0);
  // One cached object per geometry: kernels of 3, 5 and 7 taps make three objects (and three frames).
  auto run = [](std::int64_t n, std::int64_t k) {
    const auto x = testing_support::random_values(n, 5), w = testing_support::random_values(k, 6);
    std::vector<double> y(n - k + 1);
    fftconv::forward<fftconv::fft>(fftconv::host{}, fftconv::geometry<1>{.in_channels = 1, .out_channels = 1, .kernel = {k}},
                                   fftconv::view<const double, 3>(x.data(), 1, 1, n),
                                   fftconv::view<const double, 3>(w.data(), 1, 1, k), nullptr,
                                   fftconv::view<double, 3>(y.data(), 1, 1, n - k + 1));
    return testing_support::relative_l2(y, reference_forward_1d(x, w));
  };
  CHECK(run(16, 3) <= 1e-12);
  const std::size_t one_shape = fftconv::plan_cache_size();
  CHECK(one_shape > 0);
  CHECK(run(40, 5) <= 1e-12);  // the first object is still cached: its plans stay
  CHECK(fftconv::plan_cache_size() == 2 * one_shape);
  fftconv::clear_functional_cache();
  CHECK(run(64, 7) <= 1e-12);  // no object holds the old plans any more: they go
  CHECK(fftconv::plan_cache_size() == one_shape);
  fftconv::set_plan_cache_capacity(128);
  fftconv::clear_functional_cache();
}
