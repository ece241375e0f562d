// The FFT policy on the GPU (runs only with one): cuFFT plans bound to the caller's stream, the same reuse,
// recompute and stale-weights checks as on the host, one layer on two streams in turn, and several host
// threads, each with its own stream, sharing the cuFFT plan cache.
#include "../support/device_buffer.cuh"
#include "fft_checks.hpp"

using testing_support::test_stream;

TEST_CASE_TEMPLATE("fft device: a training step is 3 forward + 3 inverse transforms", T, float, double) {
  test_stream s;
  fft_checks::check_step_counts<1, T>(s.executor());
  fft_checks::check_step_counts<2, T>(s.executor());
  fft_checks::check_step_counts<3, T>(s.executor());
}

TEST_CASE_TEMPLATE("fft device: weights changed in place are seen by the next forward", T, float, double) {
  test_stream s;
  fft_checks::check_weights_changed_in_place<2, T>(s.executor());
  fft_checks::check_weights_changed_in_place<3, T>(s.executor());
}

TEST_CASE_TEMPLATE("fft device: constant weights keep Ŵ until weights_changed()", T, float, double) {
  test_stream s;
  fft_checks::check_constant_weights<1, T>(s.executor());
  fft_checks::check_constant_weights<2, T>(s.executor());
}

TEST_CASE_TEMPLATE("fft device: backward calls with other x / dy recompute their spectra", T, float, double) {
  test_stream s;
  fft_checks::check_mismatched_inputs<2, T>(s.executor());
  fft_checks::check_mismatched_inputs<3, T>(s.executor());
}

TEST_CASE_TEMPLATE("fft device: one layer across batch sizes and extents, workspace", T, float, double) {
  test_stream s;
  fft_checks::check_shape_changes<2, T>(s.executor());
  fft_checks::check_workspace<2, T>(s.executor());
}

TEST_CASE("fft device: one layer used on two streams in turn stays right") {
  test_stream a, b;
  fft_checks::session<2, float, fftconv::device> s(a.executor(), fft_checks::strided_grouped_layer(2, 2), 5);
  s.forward();
  s.exec = b.executor();  // the spectra from stream a must not be read unordered on stream b
  s.backward_data();
  s.backward_filter();
  testing_support::expect_cuda(cudaStreamSynchronize(b.get()), "synchronize b");  // the buffers read on a
  CHECK(s.forward_error(s.x_values, s.w_values) <= 1e-5);
  CHECK(s.data_error(s.dy_values, s.w_values) <= 1e-5);
  CHECK(s.filter_error(s.x_values, s.dy_values) <= 1e-4);
}

TEST_CASE("fft device: an allocation failure names the bytes and leaves the layer usable") {
  // backward_filter of a 64 -> 1 channel layer over a 1024^3 input: X̂ over all rows, allocated before any
  // transform runs, is about 64 * 2^30 complex frequencies (512 GiB), beyond any GPU; the expected size comes
  // from the plan's own layout on the device. x and dy may alias (both are inputs) and are never read, so they
  // claim extents far beyond their small allocation; dw sits below them, so it overlaps neither.
  // The stream first: the layer's workspace is freed in its order, so the layer must be destroyed before it.
  test_stream s;
  fftconv::conv<3, float, fftconv::fft> layer({.in_channels = 64, .out_channels = 1, .kernel = {1, 1, 1}});
  float *first = nullptr, *second = nullptr;
  testing_support::expect_cuda(cudaMalloc(&first, 256 * sizeof(float)), "cudaMalloc");
  testing_support::expect_cuda(cudaMalloc(&second, 256 * sizeof(float)), "cudaMalloc");
  float* dw = first < second ? first : second;
  float* inputs = first < second ? second : first;
  const std::int64_t n = 1024;
  const auto p = fftconv::detail::make_problem<3>(layer.geometry(), 1, {n, n, n});
  const auto choice = layer.implementation().plan_choice(p, /*on_device=*/true);
  const std::size_t expected_bytes =
      fftconv::detail::saved_layout_of<3, float>(choice, fftconv::detail::sizes_of<3>(p, choice.layout, sizeof(float)))
          .input_bytes;
  try {
    layer.backward_filter(s.executor(), fftconv::make_view<const float, 5>(inputs, {1, 64, n, n, n}),
                          fftconv::make_view<const float, 5>(inputs, {1, 1, n, n, n}),
                          fftconv::make_view<float, 5>(dw, {1, 64, 1, 1, 1}), nullptr);
    FAIL_CHECK("expected fftconv::out_of_memory");
  } catch (const fftconv::out_of_memory& error) {
    CHECK(error.bytes() == expected_bytes);
    CHECK(std::string(error.what()).find(std::to_string(error.bytes())) != std::string::npos);
  }
  CHECK(layer.workspace_bytes() < expected_bytes);
  testing_support::expect_cuda(cudaFree(first), "cudaFree");
  testing_support::expect_cuda(cudaFree(second), "cudaFree");
  // The same object, a small input: right.
  reference::layer L;
  L.rank = 3;
  L.in_channels = 64;
  L.out_channels = 1;
  L.input = {2, 3, 4};
  L.kernel = {1, 1, 1};
  L.padding = {0, 0, 0};
  L.stride = {1, 1, 1};
  L.dilation = {1, 1, 1};
  const auto xv = testing_support::random_values(L.x_size(), 3), dyv = testing_support::random_values(L.y_size(), 4);
  testing_support::test_buffer<float, fftconv::device> x(s.executor(), xv), dy(s.executor(), dyv),
      dwb(s.executor(), L.w_size());
  layer.backward_filter(s.executor(), fftconv::make_view<const float, 5>(x.data(), {1, 64, 2, 3, 4}),
                        fftconv::make_view<const float, 5>(dy.data(), {1, 1, 2, 3, 4}),
                        fftconv::make_view<float, 5>(dwb.data(), {1, 64, 1, 1, 1}), nullptr);
  CHECK(testing_support::relative_l2(dwb.read(), reference::backward_filter(L, xv, dyv)) <= 1e-4);
}

TEST_CASE("fft device: layers on 4 threads, one stream each, share the cuFFT plan cache") {
  std::vector<std::unique_ptr<test_stream>> streams;
  for (int i = 0; i < 4; ++i) streams.push_back(std::make_unique<test_stream>());
  std::atomic<int> next{0};
  fft_checks::check_threads<2, float, fftconv::device>(
      [&] { return streams[next++ % 4]->executor(); }, 4, 8);
}
