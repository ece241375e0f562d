// The functional form: one-off calls through a per-thread cache of conv objects.
#include <doctest/doctest.h>

#include <fftconv/functional.hpp>
#include <fftconv/fftconv.hpp>

#include "support/expect_error.hpp"
#include "support/random_layer.hpp"

namespace {

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
  fftconv::conv<2, double, P> fresh(g);  // `layer` may keep dŶ of the old dy: that is its same-step contract
  fresh.backward_filter(fftconv::host{}, xv, dyv, fftconv::view<double, 4>(dw1.data(), 2, 2, 3, 2), db1.data());
  CHECK(testing_support::relative_l2(dw2, dw1) <= 1e-13);
}

}  // namespace

TEST_CASE("functional calls equal a conv object's, call after call (naive)") {
  check_functional_matches_object<fftconv::naive>();
}
TEST_CASE("functional calls equal a conv object's, call after call (im2col)") {
  check_functional_matches_object<fftconv::im2col>();
}

TEST_CASE("functional calls equal a conv object's, call after call (fft)") {
  check_functional_matches_object<fftconv::fft>();
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
