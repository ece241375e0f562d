// The FFT policy on the host: transform sizes and FFT descriptors as values (the descriptors cuFFT runs on the
// GPU), FFTW execution of a descriptor against a direct DFT, the plan cache, transform reuse across a
// training step, the stale-weights contract, allocation failure, and threads sharing the plan cache.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "../backend/counting_resource.hpp"
#include "fft_checks.hpp"

using fftconv::detail::fft_desc;
using fftconv::detail::fft_direction;


TEST_CASE("fft: descriptors spell out embeds, strides and distances for both directions") {
  const std::int64_t extents[2] = {6, 10};
  const auto frame = fftconv::detail::make_spectral_frame<2>(extents);
  CHECK(frame.complex[1] == 6);
  CHECK(frame.real_volume == 60);
  CHECK(frame.complex_volume == 36);
  const fft_desc r2c = fftconv::detail::make_fft_desc<2, float>(frame, 3, fft_direction::real_to_complex);
  CHECK(r2c.rank == 2);
  CHECK(r2c.batch == 3);
  CHECK(r2c.precision_bytes == 4);
  CHECK((r2c.n[0] == 6 && r2c.n[1] == 10 && r2c.n[2] == 0));
  CHECK((r2c.inembed[0] == 6 && r2c.inembed[1] == 10 && r2c.onembed[0] == 6 && r2c.onembed[1] == 6));
  CHECK((r2c.istride == 1 && r2c.ostride == 1 && r2c.idist == 60 && r2c.odist == 36));
  const fft_desc c2r = fftconv::detail::make_fft_desc<2, double>(frame, 3, fft_direction::complex_to_real);
  CHECK((c2r.inembed[1] == 6 && c2r.onembed[1] == 10 && c2r.idist == 36 && c2r.odist == 60));
  CHECK(c2r.precision_bytes == 8);
}

TEST_CASE("fft: plan keys are zero-initialised and compare every field") {
  const std::int64_t extents[3] = {4, 6, 8};
  const auto frame = fftconv::detail::make_spectral_frame<3>(extents);
  const fft_desc desc = fftconv::detail::make_fft_desc<3, float>(frame, 5, fft_direction::real_to_complex);
  using fftconv::detail::fft_library;
  const auto key = fftconv::detail::make_fft_plan_key(fft_library::cufft, 0, desc);
  const auto same = fftconv::detail::make_fft_plan_key(fft_library::cufft, 0, desc);
  CHECK(key == same);
  CHECK(fftconv::detail::fft_plan_key_hash{}(key) == fftconv::detail::fft_plan_key_hash{}(same));
  CHECK(std::memcmp(&key, &same, sizeof key) == 0);  // no stray padding bytes
  CHECK_FALSE(key == fftconv::detail::make_fft_plan_key(fft_library::cufft, 1, desc));  // device id
  CHECK_FALSE(key == fftconv::detail::make_fft_plan_key(fft_library::fftw, 0, desc));
  // Change each int64 field of the descriptor in turn (n, batch, embeds, strides, dists): never equal.
  const std::int64_t* fields = desc.n;
  const std::size_t count = (sizeof(fft_desc) - offsetof(fft_desc, n)) / sizeof(std::int64_t);
  for (std::size_t i = 0; i < count; ++i) {
    fft_desc changed = desc;
    std::int64_t* changed_fields = changed.n;
    changed_fields[i] = fields[i] + 1;
    CAPTURE(i);
    CHECK_FALSE(key == fftconv::detail::make_fft_plan_key(fft_library::cufft, 0, changed));
  }
  fft_desc other_direction = desc;
  other_direction.direction = fft_direction::complex_to_real;
  CHECK_FALSE(desc == other_direction);
  fft_desc other_precision = desc;
  other_precision.precision_bytes = 8;
  CHECK_FALSE(desc == other_precision);
}

TEST_CASE_TEMPLATE("fft: an FFTW execution of a descriptor equals the direct DFT, and C2R inverts it", T, float,
                   double) {
  const std::int64_t extents[2] = {5, 6};
  const auto frame = fftconv::detail::make_spectral_frame<2>(extents);
  const std::int64_t batch = 2;
  using complex = fftconv::detail::complex<T>;
  fftconv::detail::host_buffer<T> real(batch * frame.real_volume), back(batch * frame.real_volume);
  fftconv::detail::host_buffer<complex> spectrum(batch * frame.complex_volume);
  using host_fft = fftconv::detail::fft_backend<fftconv::host>;
  const auto r2c = host_fft::make_plan<T>(
      fftconv::host{}, fftconv::detail::make_fft_desc<2, T>(frame, batch, fft_direction::real_to_complex), real.data(),
      spectrum.data());
  const auto c2r = host_fft::make_plan<T>(
      fftconv::host{}, fftconv::detail::make_fft_desc<2, T>(frame, batch, fft_direction::complex_to_real), back.data(),
      spectrum.data());
  const auto values = testing_support::random_values(batch * frame.real_volume, 5);
  for (std::size_t i = 0; i < values.size(); ++i) real.data()[i] = static_cast<T>(values[i]);
  host_fft::forward<T>(fftconv::host{}, *r2c, real.data(), spectrum.data(), nullptr);
  double error = 0, norm = 0;
  for (std::int64_t m = 0; m < batch; ++m)
    for (std::int64_t f0 = 0; f0 < 5; ++f0)
      for (std::int64_t f1 = 0; f1 < 4; ++f1) {
        std::complex<double> expected = 0;
        for (std::int64_t u0 = 0; u0 < 5; ++u0)
          for (std::int64_t u1 = 0; u1 < 6; ++u1)
            expected += values[m * 30 + u0 * 6 + u1] *
                        std::polar(1.0, -2 * std::numbers::pi * (double(f0 * u0) / 5 + double(f1 * u1) / 6));
        const complex actual = spectrum.data()[m * 20 + f0 * 4 + f1];
        error += std::norm(std::complex<double>(actual.real(), actual.imag()) - expected);
        norm += std::norm(expected);
      }
  CHECK(std::sqrt(error / norm) <= (std::is_same_v<T, float> ? 1e-6 : 1e-14));
  host_fft::inverse<T>(fftconv::host{}, *c2r, spectrum.data(), back.data(), nullptr);
  std::vector<double> round_trip(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) round_trip[i] = double(back.data()[i]) / frame.real_volume;
  CHECK(testing_support::relative_l2(round_trip, values) <= (std::is_same_v<T, float> ? 1e-6 : 1e-14));
}

// A descriptor's live box (fft_desc::live): FFTW's pruned passes must equal the whole-frame transform, on the
// spectrum for R2C (input zero outside the box) and inside the box for C2R, over maps that each thread runs.
template <class T, int R>
void check_live_box(const std::int64_t (&extents)[R], const std::array<std::int64_t, R>& live, std::uint64_t seed) {
  using complex = fftconv::detail::complex<T>;
  using host_fft = fftconv::detail::fft_backend<fftconv::host>;
  const auto frame = fftconv::detail::make_spectral_frame<R>(extents);
  const std::int64_t batch = 5;
  const std::int64_t align = 64 / sizeof(T);  // map distances of whole 64-byte lines, as the policy spaces them
  const std::int64_t real_distance = (frame.real_volume + align - 1) / align * align;
  const std::int64_t spectrum_distance = (frame.complex_volume + align / 2 - 1) / (align / 2) * (align / 2);
  auto desc = [&](fft_direction direction, bool pruned) {
    const fft_desc whole = fftconv::detail::make_fft_desc<R, T>(frame, batch, direction, real_distance, spectrum_distance);
    return pruned ? fftconv::detail::with_live_box<R>(whole, live) : whole;
  };
  fftconv::detail::host_buffer<T> real(batch * real_distance), back(batch * real_distance),
      whole_back(batch * real_distance);
  fftconv::detail::host_buffer<complex> spectrum(batch * spectrum_distance), whole_spectrum(batch * spectrum_distance),
      scratch(batch * spectrum_distance);
  const auto pruned_r2c = host_fft::make_plan<T>(fftconv::host{}, desc(fft_direction::real_to_complex, true),
                                                 real.data(), scratch.data());
  const auto whole_r2c = host_fft::make_plan<T>(fftconv::host{}, desc(fft_direction::real_to_complex, false),
                                                real.data(), scratch.data());
  const auto pruned_c2r = host_fft::make_plan<T>(fftconv::host{}, desc(fft_direction::complex_to_real, true),
                                                 real.data(), scratch.data());
  const auto whole_c2r = host_fft::make_plan<T>(fftconv::host{}, desc(fft_direction::complex_to_real, false),
                                                real.data(), scratch.data());
  bool skips_rows = false;
  for (int d = 0; d + 1 < R; ++d) skips_rows = skips_rows || live[d] < extents[d];
  CHECK(pruned_r2c->pruned() == skips_rows);
  CHECK(pruned_c2r->pruned() == skips_rows);
  CHECK_FALSE(whole_r2c->pruned());

  // Input: random inside the box, zero outside; stale values fill the spectrum the pruned R2C must overwrite.
  const auto values = testing_support::random_values(batch * real_distance, seed);
  auto inside = [&](std::int64_t offset) {
    for (int d = R - 1; d >= 0; --d) {
      if (offset % extents[d] >= live[d]) return false;
      offset /= extents[d];
    }
    return true;
  };
  for (std::int64_t m = 0; m < batch; ++m)
    for (std::int64_t i = 0; i < frame.real_volume; ++i)
      real.data()[m * real_distance + i] = inside(i) ? static_cast<T>(values[m * real_distance + i]) : T(0);
  std::fill_n(spectrum.data(), batch * spectrum_distance, complex(T(7), T(-3)));
  host_fft::forward<T>(fftconv::host{}, *whole_r2c, real.data(), whole_spectrum.data(), nullptr);
  host_fft::forward<T>(fftconv::host{}, *pruned_r2c, real.data(), spectrum.data(), nullptr);
  std::vector<double> got, expected;
  for (std::int64_t m = 0; m < batch; ++m)
    for (std::int64_t f = 0; f < frame.complex_volume; ++f) {
      const complex a = spectrum.data()[m * spectrum_distance + f], b = whole_spectrum.data()[m * spectrum_distance + f];
      got.insert(got.end(), {double(a.real()), double(a.imag())});
      expected.insert(expected.end(), {double(b.real()), double(b.imag())});
    }
  const double bound = std::is_same_v<T, float> ? 1e-6 : 1e-14;
  CHECK(testing_support::relative_l2(got, expected) <= bound);

  // Inverse of the same spectrum (each C2R overwrites its input): equal inside the box.
  std::copy_n(whole_spectrum.data(), batch * spectrum_distance, spectrum.data());
  host_fft::inverse<T>(fftconv::host{}, *whole_c2r, whole_spectrum.data(), whole_back.data(), nullptr);
  host_fft::inverse<T>(fftconv::host{}, *pruned_c2r, spectrum.data(), back.data(), nullptr);
  got.clear();
  expected.clear();
  for (std::int64_t m = 0; m < batch; ++m)
    for (std::int64_t i = 0; i < frame.real_volume; ++i)
      if (inside(i)) {
        got.push_back(double(back.data()[m * real_distance + i]));
        expected.push_back(double(whole_back.data()[m * real_distance + i]));
      }
  CHECK(testing_support::relative_l2(got, expected) <= bound);
}

TEST_CASE_TEMPLATE("fft: FFTW's pruned passes over a live box equal the whole-frame transform", T, float, double) {
  check_live_box<T, 2>({12, 10}, {5, 10}, 1);
  check_live_box<T, 2>({9, 7}, {1, 3}, 2);  // odd extents, one live row
  check_live_box<T, 2>({8, 8}, {8, 3}, 3);  // only the last dim narrower: nothing to skip, plan-many
  check_live_box<T, 3>({6, 10, 12}, {4, 7, 5}, 4);
  check_live_box<T, 3>({20, 20, 20}, {5, 5, 5}, 5);  // a 5^3 kernel in a 20^3 frame
  check_live_box<T, 3>({5, 9, 6}, {5, 2, 6}, 6);  // only a middle dim skips
  check_live_box<T, 3>({7, 4, 9}, {1, 4, 9}, 7);  // only the first dim skips
}

TEST_CASE("fft: 3D host plans rule out FFTW's buffered solvers first, and plan without that where they must") {
  std::vector<unsigned> asked;
  int stand_in = 0;  // a non-null "plan"
  auto refuses_unbuffered = [&](unsigned flags) -> int* {
    asked.push_back(flags);
    return (flags & FFTW_NO_BUFFERING) != 0 ? nullptr : &stand_in;
  };
  auto always = [&](unsigned flags) -> int* {
    asked.push_back(flags);
    return &stand_in;
  };
  CHECK(fftconv::detail::plan_without_buffers_first(3, refuses_unbuffered) == &stand_in);
  REQUIRE(asked.size() == 2);  // the default planner estimates: first without buffers, then plain
  CHECK(asked[0] == (FFTCONV_FFTW_PLANNER_FLAGS | FFTW_NO_BUFFERING));
  CHECK(asked[1] == FFTCONV_FFTW_PLANNER_FLAGS);
  asked.clear();
  CHECK(fftconv::detail::plan_without_buffers_first(3, always) == &stand_in);
  CHECK(asked == std::vector<unsigned>{FFTCONV_FFTW_PLANNER_FLAGS | FFTW_NO_BUFFERING});
  for (std::int64_t rank : {1, 2}) {  // measured slower in 2D: the plain flags
    asked.clear();
    CHECK(fftconv::detail::plan_without_buffers_first(rank, always) == &stand_in);
    CHECK(asked == std::vector<unsigned>{FFTCONV_FFTW_PLANNER_FLAGS});
  }
}

TEST_CASE("fft: a live box is part of the plan key, and cuFFT's key ignores it") {
  const std::int64_t extents[3] = {8, 8, 8};
  const auto frame = fftconv::detail::make_spectral_frame<3>(extents);
  const fft_desc whole = fftconv::detail::make_fft_desc<3, float>(frame, 2, fft_direction::real_to_complex);
  CHECK((whole.live[0] == 8 && whole.live[1] == 8 && whole.live[2] == 8));
  CHECK_FALSE(fftconv::detail::prunes_rows(whole));
  const fft_desc boxed = fftconv::detail::with_live_box<3>(whole, {3, 9, 0});  // clamped into [1, n]
  CHECK((boxed.live[0] == 3 && boxed.live[1] == 8 && boxed.live[2] == 1));
  CHECK(fftconv::detail::prunes_rows(boxed));
  CHECK_FALSE(boxed == whole);
  CHECK(fftconv::detail::whole_frame(boxed) == whole);
}

TEST_CASE("fft: plans are created once per shape and shared, clear_plan_cache releases them") {
  fftconv::clear_plan_cache();
  CHECK(fftconv::plan_cache_size() == 0);
  fft_checks::session<2, float, fftconv::host> a(fftconv::host{}, fft_checks::strided_grouped_layer(2, 2), 1);
  a.forward();
  a.backward_data();
  a.backward_filter();
  const std::size_t after_first = fftconv::plan_cache_size();
  CHECK(after_first >= 2);  // R2C and C2R (map counts that coincide share a plan)
  CHECK(after_first <= 6);  // x, w, dy maps, each way
  fft_checks::session<2, float, fftconv::host> b(fftconv::host{}, fft_checks::strided_grouped_layer(2, 2), 2);
  b.forward();
  b.backward_data();
  b.backward_filter();
  CHECK(fftconv::plan_cache_size() == after_first);
  fftconv::clear_plan_cache();
  CHECK(fftconv::plan_cache_size() == 0);
  a.forward();  // a keeps its plans alive
  a.backward_data();
  CHECK(a.forward_error(a.x_values, a.w_values) <= 1e-5);
  CHECK(a.data_error(a.dy_values, a.w_values) <= 1e-5);
}

TEST_CASE("fft: past its capacity the plan cache releases plans no layer holds, never ones in use") {
  fftconv::clear_plan_cache();
  fftconv::set_plan_cache_capacity(2);
  fft_checks::session<2, float, fftconv::host> held(fftconv::host{}, fft_checks::strided_grouped_layer(2, 2), 1);
  held.forward();
  const std::size_t in_use = fftconv::plan_cache_size();
  for (std::int64_t extent = 9; extent < 15; ++extent) {  // layers of other shapes, gone after each round
    fftconv::conv<1, float, fftconv::fft> layer({.in_channels = 1, .out_channels = 1, .kernel = {3}});
    std::vector<float> x(extent, 0.5f), w{1.0f, -2.0f, 0.25f}, y(extent - 2);
    layer.forward(fftconv::host{}, fftconv::view<const float, 3>(x.data(), 1, 1, extent),
                  fftconv::view<const float, 3>(w.data(), 1, 1, 3), nullptr, fftconv::view<float, 3>(y.data(), 1, 1, extent - 2));
    CHECK(fftconv::plan_cache_size() <= in_use + 2 + 2);  // the held plans, the capacity, this layer's two
  }
  held.forward();  // its plans were never released from under it
  CHECK(held.forward_error(held.x_values, held.w_values) <= 1e-5);
  fftconv::set_plan_cache_capacity(128);
  fftconv::clear_plan_cache();
}

TEST_CASE_TEMPLATE("fft host: a training step is 3 forward + 3 inverse transforms", T, float, double) {
  fft_checks::check_step_counts<1, T>(fftconv::host{});
  fft_checks::check_step_counts<2, T>(fftconv::host{});
  fft_checks::check_step_counts<3, T>(fftconv::host{});
}

TEST_CASE_TEMPLATE("fft host: weights changed in place are seen by the next forward", T, float, double) {
  fft_checks::check_weights_changed_in_place<1, T>(fftconv::host{});
  fft_checks::check_weights_changed_in_place<2, T>(fftconv::host{});
  fft_checks::check_weights_changed_in_place<3, T>(fftconv::host{});
}

TEST_CASE_TEMPLATE("fft host: constant weights keep Ŵ until weights_changed() (the stale-weights trap)", T, float,
                   double) {
  fft_checks::check_constant_weights<1, T>(fftconv::host{});
  fft_checks::check_constant_weights<2, T>(fftconv::host{});
  fft_checks::check_constant_weights<3, T>(fftconv::host{});
}

TEST_CASE_TEMPLATE("fft host: backward calls with other x / dy recompute their spectra", T, float, double) {
  fft_checks::check_mismatched_inputs<1, T>(fftconv::host{});
  fft_checks::check_mismatched_inputs<2, T>(fftconv::host{});
  fft_checks::check_mismatched_inputs<3, T>(fftconv::host{});
}

TEST_CASE_TEMPLATE("fft host: one layer across batch sizes and extents", T, float, double) {
  fft_checks::check_shape_changes<1, T>(fftconv::host{});
  fft_checks::check_shape_changes<2, T>(fftconv::host{});
  fft_checks::check_shape_changes<3, T>(fftconv::host{});
}

TEST_CASE_TEMPLATE("fft host: workspace_bytes covers the spectra", T, float, double) {
  fft_checks::check_workspace<1, T>(fftconv::host{});
  fft_checks::check_workspace<2, T>(fftconv::host{});
  fft_checks::check_workspace<3, T>(fftconv::host{});
}

TEST_CASE("fft host: an allocation failure names the bytes and leaves the layer usable") {
  // backward_filter on a 65536^3 input: X̂ over all rows holds about 2^48 frequencies (2^51 bytes), beyond any
  // address space, so its allocation fails even where the kernel overcommits. The expected size comes from the
  // plan's own layout. The views are never read (the failure comes first), so they may claim extents far
  // beyond their storage; x and dy are placed far apart from dw.
  fftconv::conv<3, float, fftconv::fft> layer({.in_channels = 1, .out_channels = 1, .kernel = {1, 1, 1}});
  const std::int64_t n = 65536;
  const auto* x = reinterpret_cast<const float*>(std::uintptr_t{1} << 52);
  const auto* dy = reinterpret_cast<const float*>(std::uintptr_t{1} << 54);
  float dw[1] = {0.0f};
  const float w[1] = {2.0f};
  const auto p = fftconv::detail::make_problem<3>(layer.geometry(), 1, {n, n, n});
  const auto choice = layer.implementation().plan_choice(p);
  const auto layout =
      fftconv::detail::saved_layout_of<3, float>(choice, fftconv::detail::sizes_of<3>(p, choice.layout, sizeof(float)));
  const std::size_t expected_bytes = layout.input_bytes;
  CHECK(expected_bytes >= (std::size_t{1} << 50));
  try {
    layer.backward_filter(fftconv::host{}, fftconv::make_view<const float, 5>(x, {1, 1, n, n, n}),
                          fftconv::make_view<const float, 5>(dy, {1, 1, n, n, n}),
                          fftconv::make_view<float, 5>(dw, {1, 1, 1, 1, 1}), nullptr);
    FAIL_CHECK("expected fftconv::out_of_memory");
  } catch (const fftconv::out_of_memory& error) {
    CHECK(error.bytes() == expected_bytes);
    CHECK(std::string(error.what()).find(std::to_string(expected_bytes)) != std::string::npos);
  }
  CHECK(layer.workspace_bytes() < expected_bytes);
  // The same object, a small input: planned afresh and right (a 1x1x1 kernel scales x by w).
  const auto values = testing_support::random_values(2 * 3 * 4, 8);
  std::vector<float> small_x(values.begin(), values.end()), small_y(values.size(), 0.0f);
  layer.forward(fftconv::host{}, fftconv::make_view<const float, 5>(small_x.data(), {1, 1, 2, 3, 4}),
                fftconv::make_view<const float, 5>(w, {1, 1, 1, 1, 1}), nullptr,
                fftconv::make_view<float, 5>(small_y.data(), {1, 1, 2, 3, 4}));
  for (std::size_t i = 0; i < values.size(); ++i)
    CHECK(small_y[i] == doctest::Approx(2 * small_x[i]).epsilon(1e-5));
  CHECK(layer.workspace_bytes() > 0);
}

TEST_CASE("fft host: layers on 6 threads share the plan cache while another thread clears it") {
  fft_checks::check_threads<2, float, fftconv::host>([] { return fftconv::host{}; }, 6, 12);
  fft_checks::check_threads<1, double, fftconv::host>([] { return fftconv::host{}; }, 4, 12);
}


namespace {
struct aligned_upstream {
  static void* allocate(std::size_t bytes, std::size_t alignment, CUstream_st*) {
    return std::aligned_alloc(alignment, (bytes + alignment - 1) / alignment * alignment);
  }
  static void deallocate(void* pointer, std::size_t, std::size_t, CUstream_st*) noexcept { std::free(pointer); }
};
}  // namespace

TEST_CASE("fft host: a layer alternating batch sizes keeps both shapes' plans: no allocation after warm-up") {
  // A last, smaller minibatch, then full ones again: each shape is planned once, then reused.
  testing_support::counting_resource<aligned_upstream> resource;
  const fftconv::host exec{&resource};
  reference::layer L = fft_checks::strided_grouped_layer(2, 3);
  fftconv::conv<2, float, fftconv::fft> layer(testing_support::geometry_of<2>(L));
  const auto run = [&](std::int64_t batch) {
    reference::layer M = L;
    M.batch = batch;
    const auto xv = testing_support::random_values(M.x_size(), 5 + batch);
    const auto wv = testing_support::random_values(M.w_size(), 6);
    const std::vector<float> x(xv.begin(), xv.end()), w(wv.begin(), wv.end());
    std::vector<float> y(static_cast<std::size_t>(M.y_size()));
    layer.forward(exec, fftconv::make_view<const float, 4>(x.data(), testing_support::extents<2>(M.batch, M.in_channels, M.input)),
                  fftconv::make_view<const float, 4>(w.data(), testing_support::extents<2>(M.out_channels, 2, M.kernel)),
                  nullptr, fftconv::make_view<float, 4>(y.data(), testing_support::extents<2>(M.batch, M.out_channels, M.output())));
    CHECK(testing_support::relative_l2(std::vector<double>(y.begin(), y.end()), reference::forward(M, xv, wv, nullptr)) <=
          testing_support::tolerance<float>::forward);
  };
  run(3);
  run(1);
  const std::size_t warm = resource.allocations();
  for (int round = 0; round < 3; ++round) {
    run(3);
    run(1);
  }
  CHECK(resource.allocations() == warm);
}
