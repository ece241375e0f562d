// The im2col policy on the GPU (runs only with one): chunked execution, the 1x1 path and repeatability,
// the same checks as on the host, on a non-blocking stream.
#include "../support/device_buffer.cuh"
#include "im2col_checks.hpp"

using testing_support::test_stream;

TEST_CASE_TEMPLATE("im2col device: a limit forcing several chunks matches one chunk and the reference", T, float,
                   double) {
  test_stream s;
  im2col_checks::check_chunking<1, T>(s.executor());
  im2col_checks::check_chunking<2, T>(s.executor());
  im2col_checks::check_chunking<3, T>(s.executor());
}

TEST_CASE_TEMPLATE("im2col device: the 1x1 path reads x and writes dx in place", T, float, double) {
  test_stream s;
  im2col_checks::check_pointwise<1, T>(s.executor());
  im2col_checks::check_pointwise<2, T>(s.executor());
  im2col_checks::check_pointwise<3, T>(s.executor());
}

TEST_CASE_TEMPLATE("im2col device: every pass repeats bit for bit", T, float, double) {
  test_stream s;
  im2col_checks::check_repeatable<1, T>(s.executor());
  im2col_checks::check_repeatable<2, T>(s.executor());
  im2col_checks::check_repeatable<3, T>(s.executor());
}

TEST_CASE("im2col device: one layer object used on two streams in turn") {
  // The held workspace belongs to the stream that allocated it; a call on another stream must not reuse it
  // while the first stream may still be reading it.
  test_stream a, b;
  const reference::layer L = im2col_checks::strided_grouped_layer(2, 3);
  const auto x_values = testing_support::random_values(L.x_size(), 41);
  const auto w_values = testing_support::random_values(L.w_size(), 42);
  const auto bias_values = testing_support::random_values(L.out_channels, 43);
  const auto dy_values = testing_support::random_values(L.y_size(), 44);
  fftconv::conv<2, float, fftconv::im2col> layer(im2col_checks::geometry_of<2>(L));
  const auto on_a = im2col_checks::run_passes<2, float>(layer, L, a.executor(), x_values, w_values,
                                                       bias_values, dy_values);
  const auto on_b = im2col_checks::run_passes<2, float>(layer, L, b.executor(), x_values, w_values,
                                                       bias_values, dy_values);
  CHECK(on_a.y == on_b.y);
  CHECK(on_a.dx == on_b.dx);
  CHECK(on_a.dw == on_b.dw);
  CHECK(testing_support::relative_l2(on_a.y, reference::forward(L, x_values, w_values, &bias_values)) <= 1e-5);
}
