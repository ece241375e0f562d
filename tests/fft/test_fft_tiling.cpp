// The tiled FFT algorithm: overlap-save tiles, polyphase stride, elementwise products and chunking, checked as
// values (tilings, predicted bytes), per functor (the GPU's element form against the host's row form) and end
// to end against the float64 reference with tiles forced small, so that halos, image edges and remainder tiles
// are hit in every pass.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "../support/kernel_layouts.hpp"
#include "fft_checks.hpp"

using namespace fftconv::detail;
using testing_support::geometry_of;

namespace {

template <int N>
problem<N> problem_of(const fftconv::geometry<N>& g, std::int64_t batch, std::int64_t n) {
  std::array<std::int64_t, N> spatial{};
  spatial.fill(n);
  return make_problem<N>(g, batch, spatial);
}

template <int N>
problem<N> problem_of(const reference::layer& L) {
  std::array<std::int64_t, N> spatial{};
  for (int d = 0; d < N; ++d) spatial[d] = L.input[d];
  return make_problem<N>(geometry_of<N>(L), L.batch, spatial);
}

// Every tiling must cover the output exactly once, hold each tile's window in its frame and use 7-smooth frames.
template <int N>
void check_tiling_invariants(const problem<N>& p, const tiling<N>& t) {
  for (int d = 0; d < N; ++d) {
    CAPTURE(d);
    const std::int64_t span = p.dilation[d] * (p.kernel[d] - 1) + 1;
    CHECK(t.phase_count[d] == p.stride[d]);
    CHECK(t.phase_taps[d] == (span + p.stride[d] - 1) / p.stride[d]);
    CHECK(t.tile[d] >= 1);
    CHECK(t.tile[d] <= p.output[d]);
    CHECK(t.tiles[d] * t.tile[d] >= p.output[d]);
    CHECK((t.tiles[d] - 1) * t.tile[d] < p.output[d]);
    CHECK(t.window[d] == t.tile[d] + t.phase_taps[d] - 1);
    CHECK(t.frame[d] >= t.window[d]);
    CHECK(is_7_smooth(t.frame[d]));
  }
}

}  // namespace

TEST_CASE("fft tiling: the headline layers tile as the cost model says, within the invariants") {
  // 2D 32x64->64, 64^2, k=7, 'same': the frame holds a tile plus its halo, 7-smooth, never 128.
  fftconv::geometry<2> g{.in_channels = 64, .out_channels = 64, .kernel = {7, 7},
                         .padding = fftconv::same_padding<2>({7, 7})};
  const problem<2> p = problem_of<2>(g, 32, 64);
  fftconv::conv<2, float, fftconv::fft> layer(g);
  const tiling_choice<2> c = layer.implementation().plan_choice(p);
  check_tiling_invariants<2>(p, c.layout);
  CHECK(c.layout.products == spectral_products::elementwise);  // the host's blocked kernel, no transposes
  CHECK(layer.implementation().plan_choice(p, true).layout.products == spectral_products::gemm);  // the GPU's
  CHECK(c.layout.phases == 1);
  CHECK(c.layout.frame[0] < 128);
  // Depthwise (one channel per group): elementwise products.
  fftconv::geometry<2> depthwise{.in_channels = 64, .out_channels = 64, .kernel = {31, 31},
                                 .padding = fftconv::same_padding<2>({31, 31}), .groups = 64};
  const problem<2> dp = problem_of<2>(depthwise, 32, 64);
  const tiling_choice<2> dc = fftconv::conv<2, float, fftconv::fft>(depthwise).implementation().plan_choice(dp);
  check_tiling_invariants<2>(dp, dc.layout);
  CHECK(dc.layout.products == spectral_products::elementwise);
  CHECK(fftconv::conv<2, float, fftconv::fft>(depthwise).implementation().plan_choice(dp, true).layout.products ==
        spectral_products::elementwise);
  // A stride-2 stem: 4 phases of 4 taps at the output's resolution.
  fftconv::geometry<2> stem{.in_channels = 3, .out_channels = 64, .kernel = {7, 7}, .padding = {3, 3}, .stride = {2, 2}};
  const problem<2> sp = problem_of<2>(stem, 32, 224);
  const tiling_choice<2> sc = fftconv::conv<2, float, fftconv::fft>(stem).implementation().plan_choice(sp);
  check_tiling_invariants<2>(sp, sc.layout);
  CHECK(sc.layout.phases == 4);
  CHECK(sc.layout.phase_taps[0] == 4);
  CHECK(sc.layout.frame[0] < 112 + 3 + 16);  // at the output's resolution, not the input's
}

TEST_CASE("fft tiling: random layers and forced tiles keep the invariants") {
  std::mt19937_64 rng(11);
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    CAPTURE(seed);
    const reference::layer L = testing_support::random_layer(3, seed);
    const problem<3> p = problem_of<3>(L);
    tiling_request<3> request;
    check_tiling_invariants<3>(p, choose_tiling<3>(p, request, 4).layout);
    for (int d = 0; d < 3; ++d) request.forced_tile[d] = std::uniform_int_distribution<std::int64_t>(1, 3)(rng);
    const tiling<3> forced = choose_tiling<3>(p, request, 4).layout;
    check_tiling_invariants<3>(p, forced);
    for (int d = 0; d < 3; ++d) {
      CHECK(forced.tile[d] == std::min(request.forced_tile[d], p.output[d]));
      CHECK(forced.frame[d] == next_7_smooth(forced.window[d]));
    }
  }
}

TEST_CASE("fft tiling: a 512^2 layer's predicted step workspace is at most 3x the bytes of x + y") {
  // 2D 4x64->64, 512^2, k=7, 'same': whole-frame transforms needed 17.9 GiB (36x x + y).
  fftconv::conv<2, float, fftconv::fft> layer(
      {.in_channels = 64, .out_channels = 64, .kernel = {7, 7}, .padding = fftconv::same_padding<2>({7, 7})});
  const std::size_t predicted =
      layer.workspace_bytes({4, 64, 512, 512}) + layer.saved_bytes({4, 64, 512, 512});  // held + saved
  const std::size_t x_and_y = 2 * std::size_t{4} * 64 * 512 * 512 * sizeof(float);
  MESSAGE("predicted step workspace: ", predicted, " bytes, x + y: ", x_and_y);
  CHECK(predicted > 0);
  CHECK(predicted <= 3 * x_and_y);
  CHECK(layer.workspace_bytes() == 0);  // nothing was allocated
}

TEST_CASE("fft tiling: the workspace limit chunks the scratch, and a limit nothing fits is refused") {
  fftconv::geometry<2> g{.in_channels = 4, .out_channels = 6, .kernel = {5, 5}, .padding = {2, 2}};
  const problem<2> p = problem_of<2>(g, 3, 40);
  tiling_request<2> request;
  request.forced_tile = {8, 8};
  const tiling_choice<2> free_choice = choose_tiling<2>(p, request, 4);
  CHECK(free_choice.chunks == 1);
  const tiling_bytes bytes = bytes_of<2>(p, free_choice.layout, 4);
  request.workspace_limit = static_cast<std::size_t>(bytes.spectra + bytes.scratch(3));
  const tiling_choice<2> chunked = choose_tiling<2>(p, request, 4);
  CHECK(chunked.chunk_rows < p.batch * chunked.layout.tile_count);
  CHECK(chunked.chunks > 1);
  CHECK(chunked.predicted_bytes <= double(request.workspace_limit));
  request.workspace_limit = 1024;
  CHECK_THROWS_AS(choose_tiling<2>(p, request, 4), fftconv::workspace_limit_exceeded);
  fftconv::conv<2, float, fftconv::fft> layer(g);
  layer.set_workspace_limit(1024);
  std::vector<float> x(3 * 4 * 40 * 40, 1.0f), w(6 * 4 * 25, 1.0f), y(3 * 6 * 40 * 40, 0.0f);
  CHECK_THROWS_AS(layer.forward(fftconv::host{}, fftconv::make_view<const float, 4>(x.data(), {3, 4, 40, 40}),
                                fftconv::make_view<const float, 4>(w.data(), {6, 4, 5, 5}), nullptr,
                                fftconv::make_view<float, 4>(y.data(), {3, 6, 40, 40})),
                  fftconv::workspace_limit_exceeded);
  CHECK(std::all_of(y.begin(), y.end(), [](float v) { return v == 0.0f; }));
}

// ---- element (GPU) vs row (host) forms of every tiled functor ----
namespace {

template <class V>
std::vector<V> filled(std::int64_t count, std::uint64_t seed) {
  const auto v = testing_support::random_values(count, seed);
  std::vector<V> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    if constexpr (std::is_same_v<V, double>)
      out[i] = v[i];
    else
      out[i] = V(v[i], v[(i * 7 + 3) % v.size()]);
  }
  return out;
}

// Runs f per element and per row (and per map, where it has that form) into sentinel-filled copies of `initial`
// and compares them exactly.
template <class V, class Make>
void compare_forms(Make make, const std::vector<V>& initial, std::int64_t elements, std::int64_t row_length,
                   std::int64_t map_volume = 1) {
  std::vector<V> by_element = initial, by_row = initial;
  const auto element_form = make(by_element.data());
  const auto row_form = make(by_row.data());
  for (std::int64_t i = 0; i < elements; ++i) element_form(i);
  for (std::int64_t r = 0; r < elements / row_length; ++r) row_form.row(r);
  CHECK(by_element == by_row);
  if constexpr (requires { row_form.map(0); }) {  // the host's per-map form, where the functor has one
    std::vector<V> by_map = initial;
    const auto map_form = make(by_map.data());
    for (std::int64_t m = 0; m < elements / map_volume; ++m) map_form.map(m);
    CHECK(by_map == by_row);
  }
}

// permuted: x, dy, y and dx channels last, w and dw taps first (support/kernel_layouts.hpp).
template <int N>
void check_tiled_functors(std::uint64_t seed, bool permuted) {
  using C = complex<double>;
  std::mt19937_64 rng(seed);
  auto pick = [&](std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng); };
  const reference::layer L = testing_support::random_layer(N, seed);
  const problem<N> p = problem_of<N>(L);
  tiling_request<N> request;
  for (int d = 0; d < N; ++d) request.forced_tile[d] = pick(0, 3);
  const tiling<N> t = choose_tiling<N>(p, request, 8).layout;
  const tiling_sizes<N> s = sizes_of<N>(p, t, 8);
  const std::int64_t D = s.real_distance;
  const std::int64_t rows = s.rows;
  const std::int64_t kernel_maps = s.kernel_maps;
  const std::int64_t x_maps = rows * s.row_inputs, y_maps = rows * s.row_outputs;
  const auto x_layout = testing_support::activation_layout<N>(permuted, p.in_channels, p.input);
  const auto y_layout = testing_support::activation_layout<N>(permuted, p.out_channels, p.output);
  const auto w_layout = testing_support::weight_layout<N>(permuted, p.out_channels, p.in_channels_per_group(), p.kernel);
  using in = strided<const double, N>;
  using out_tensor = strided<double, N>;
  const auto x = filled<double>(p.input_size(), seed + 1), w = filled<double>(p.weight_size(), seed + 2),
             dy = filled<double>(p.output_size(), seed + 3);
  const std::int64_t most = std::max({x_maps, y_maps, kernel_maps});
  const auto frames = filled<double>(most * D, seed + 4);
  const std::vector<double> sentinel(most * D, 7.0);
  const std::int64_t row_length = t.frame[N - 1];
  const std::int64_t first_row = rows > 1 ? pick(0, rows - 1) : 0;
  const std::int64_t chunk = pick(1, rows - first_row);
  // The element forms run with the 32-bit divisors the GPU uses where the launch's indices fit.
  const std::int64_t largest = most * s.real_volume;
  compare_forms<double>([&](double* out) {
    return stage_input_tiles<N, double>{p, t, D, first_row * s.row_inputs, in{x.data(), x_layout}, out,
                                        tile_divisors<N>(t, p.in_channels, largest)};
  }, sentinel, chunk * s.row_inputs * s.real_volume, row_length, s.real_volume);
  compare_forms<double>([&](double* out) { return stage_kernel_phases<N, double>{p, t, D, in{w.data(), w_layout}, out}; }, sentinel,
                        kernel_maps * s.real_volume, row_length);
  compare_forms<double>([&](double* out) {
    return stage_output_tiles<N, double>{p, t, D, first_row * s.row_outputs, in{dy.data(), y_layout}, out,
                                         tile_divisors<N>(t, p.out_channels, largest)};
  }, sentinel, chunk * s.row_outputs * s.real_volume, row_length, s.real_volume);
  std::int64_t tile_volume = 1;
  for (int d = 0; d < N; ++d) tile_volume *= t.tile[d];
  const auto bias = filled<double>(p.out_channels, seed + 5);
  const std::vector<double> y_initial(p.output_size(), 7.0);
  for (const double* shift : {bias.data(), static_cast<const double*>(nullptr)})
    compare_forms<double>([&](double* out) {
      return crop_output_tiles<N, double>{p, t, D, first_row, 0.25, shift, frames.data(), out_tensor{out, y_layout},
                                          tile_divisors<N>(t, p.out_channels, largest)};
    }, y_initial, chunk * s.row_outputs * tile_volume, t.tile[N - 1], tile_volume);
  const std::int64_t first_image = first_row / t.tile_count, last_image = (first_row + chunk - 1) / t.tile_count;
  const std::int64_t dx_elements = (last_image - first_image + 1) * p.in_channels * p.input_spatial();
  const auto dx_initial = filled<double>(p.input_size(), seed + 6);
  for (const bool accumulate : {false, true})
    compare_forms<double>([&](double* out) {
      return overlap_add_input<N, double>{p, t, D, first_image, first_row, first_row + chunk, 0.5, accumulate,
                                          frames.data(), out_tensor{out, x_layout}};
    }, dx_initial, dx_elements, p.input[N - 1]);
  const std::vector<double> dw_initial(p.weight_size(), 7.0);
  compare_forms<double>([&](double* out) { return gather_kernel_gradient<N, double>{p, t, D, 0.5, frames.data(), out_tensor{out, w_layout}}; },
                        dw_initial, p.weight_size(), p.kernel[N - 1]);
  // Products over natural spectra (one functor for the three passes).
  const std::int64_t columns = p.in_channels_per_group() * t.phases, outputs = p.out_channels_per_group();
  const auto x_hat = filled<C>(x_maps * s.spectrum_distance, seed + 7);
  const auto w_hat = filled<C>(kernel_maps * s.spectrum_distance, seed + 8);
  const auto dy_hat = filled<C>(y_maps * s.spectrum_distance, seed + 9);
  const std::vector<C> spectrum_sentinel(most * s.spectrum_distance, C(7, 7));
  // (the element forms with the 32-bit divisors the GPU runs where indices fit)
  compare_forms<C>([&](C* out) {
    return spectral_gemm<double>(forward_products_desc(s.frequencies, s.spectrum_distance, p.groups, columns, outputs, rows),
                                 x_hat.data(), w_hat.data(), out);
  }, spectrum_sentinel, y_maps * s.frequencies, s.frequencies);
  compare_forms<C>([&](C* out) {
    return spectral_gemm<double>(data_products_desc(s.frequencies, s.spectrum_distance, p.groups, columns, outputs, rows),
                                 dy_hat.data(), w_hat.data(), out);
  }, spectrum_sentinel, x_maps * s.frequencies, s.frequencies);
  compare_forms<C>([&](C* out) {
    return spectral_gemm<double>(filter_products_desc(s.frequencies, s.spectrum_distance, p.groups, columns, outputs, rows),
                                 dy_hat.data(), x_hat.data(), out);
  }, spectrum_sentinel, kernel_maps * s.frequencies, s.frequencies);
  // Transposes of a chunk into / out of a frequency-major spectrum, per element and per cache tile.
  const channel_layout chunk_layout{chunk, p.groups, 1, p.in_channels_per_group() * t.phases};
  const std::int64_t chunk_maps = chunk_layout.maps();
  const std::vector<C> fm_initial(x_maps * s.frequencies, C(7, 7));
  std::vector<C> by_element = fm_initial, by_tile = fm_initial;
  // The element form with 32-bit divisors (what the GPU runs where indices fit), the tile form on the host.
  const to_frequency_major<double> to_a{chunk_layout, rows, first_row, s.frequencies, s.spectrum_distance, x_hat.data(), by_element.data(),
                                        to_frequency_major<double>::make_divisors(chunk_layout, s.frequencies)};
  const to_frequency_major<double> to_b{chunk_layout, rows, first_row, s.frequencies, s.spectrum_distance, x_hat.data(), by_tile.data()};
  for (std::int64_t i = 0; i < chunk_maps * s.frequencies; ++i) to_a(i);
  for (std::int64_t i = 0; i < to_b.tiles(); ++i) to_b.tile(i);
  CHECK(by_element == by_tile);
  // The chunk's rows landed where the whole spectrum's rows are: map m of row r at column (g, r, k).
  for (std::int64_t m = 0; m < chunk_maps; m += 3) {
    const std::int64_t k = m % chunk_layout.columns, g = (m / chunk_layout.columns) % p.groups,
                       r = first_row + m / (chunk_layout.columns * p.groups);
    CHECK(by_element[(g * rows + r) * chunk_layout.columns + k] == x_hat[m * s.spectrum_distance]);
  }
  const channel_layout product_layout{chunk, p.groups, 1, p.out_channels_per_group()};
  std::vector<C> back_element(product_layout.maps() * s.spectrum_distance, C(7, 7)), back_tile = back_element;
  const from_frequency_major<double> from_a{product_layout, s.frequencies, s.spectrum_distance, dy_hat.data(), back_element.data(),
                                            from_frequency_major<double>::make_divisors(product_layout, s.frequencies)};
  const from_frequency_major<double> from_b{product_layout, s.frequencies, s.spectrum_distance, dy_hat.data(), back_tile.data()};
  for (std::int64_t i = 0; i < product_layout.maps() * s.frequencies; ++i) from_a(i);
  for (std::int64_t i = 0; i < from_b.tiles(); ++i) from_b.tile(i);
  CHECK(back_element == back_tile);
}

}  // namespace

TEST_CASE("fft tiling: every tiled functor writes the same values per element (GPU) and per row (host)") {
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    CAPTURE(seed);
    for (const bool permuted : {false, true}) {
      check_tiled_functors<1>(seed, permuted);
      check_tiled_functors<2>(seed, permuted);
      check_tiled_functors<3>(seed, permuted);
    }
  }
}

namespace {

// The host's blocked kernels (each instruction set this CPU runs) against the functor's row form, on shapes that
// cross every block edge: frequency tails, rows past MC = 32, columns past NC = 64, sums past KC = 64, groups,
// conjugates and map distances with padding.
// `large`: outputs past spectral_streaming_bytes (the non-temporal stores), on map distances that keep every
// other map's start aligned.
template <class T>
void check_host_spectral_gemm(std::uint64_t seed, bool large = false) {
  using C = complex<T>;
  std::mt19937_64 rng(seed);
  auto pick = [&](std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng); };
  const std::int64_t frequencies = large ? 1000 + pick(0, 40) : pick(1, 70);
  const std::int64_t distance = large ? frequencies + (seed % 2 == 0 ? 8 - frequencies % 8 : 4) : frequencies + pick(0, 9);
  const std::int64_t groups = large ? 1 : pick(1, 3);
  const bool wide = seed % 4 == 0;
  const std::int64_t columns = large ? 40 : pick(1, wide ? 150 : 12), outputs = large ? 40 : pick(1, wide ? 80 : 9),
                     rows = large ? 40 : pick(1, wide ? 90 : 40);
  const int pass = int(seed % 3);
  const spectral_gemm_desc d =
      pass == 0 ? forward_products_desc(frequencies, distance, groups, columns, outputs, rows)
      : pass == 1 ? data_products_desc(frequencies, distance, groups, columns, outputs, rows)
                  : filter_products_desc(frequencies, distance, groups, columns, outputs, rows);
  INFO("seed ", seed, " pass ", pass, " F ", frequencies, " distance ", distance, " groups ", groups, " columns ",
       columns, " outputs ", outputs, " rows ", rows);
  const std::int64_t x_maps = rows * groups * columns, y_maps = rows * groups * outputs, w_maps = groups * outputs * columns;
  const std::int64_t a_maps = pass == 0 ? x_maps : y_maps, b_maps = pass == 2 ? x_maps : w_maps;
  if (large) CHECK(double(d.output_maps() * distance) * double(sizeof(C)) >= double(spectral_streaming_bytes));
  const auto a = filled<C>(a_maps * distance, seed + 1), b = filled<C>(b_maps * distance, seed + 2);
  const std::vector<C> sentinel(d.output_maps() * distance, C(7, 7));
  std::vector<C> expected = sentinel;
  const spectral_gemm<T> reference_form(d, a.data(), b.data(), expected.data());
  for (std::int64_t map = 0; map < d.output_maps(); ++map) reference_form.row(map);
  const T tolerance = std::is_same_v<T, float> ? T(2e-5) : T(1e-13);
  for (const simd_level level : {simd_level::portable, simd_level::avx2, simd_level::avx512}) {
    if (int(level) > int(host_simd_level())) continue;
    CAPTURE(int(level));
    std::vector<C> out = sentinel;
    host_spectral_gemm(spectral_gemm<T>(d, a.data(), b.data(), out.data()), level);
    T worst = 0, scale = 1;
    for (std::size_t i = 0; i < out.size(); ++i) {
      worst = std::max(worst, T(abs(out[i] - expected[i])));
      scale = std::max(scale, T(abs(expected[i])));
    }
    CHECK(worst <= tolerance * scale * T(std::max(d.k, std::int64_t{1})));
    // the padding between maps is never written
    bool padding_kept = true;
    for (std::int64_t map = 0; map < d.output_maps(); ++map)
      for (std::int64_t f = frequencies; f < distance; ++f) padding_kept = padding_kept && out[map * distance + f] == C(7, 7);
    CHECK(padding_kept);
  }
}

}  // namespace

TEST_CASE_TEMPLATE("fft tiling: the host's blocked spectral products agree with the functor on every kernel", T, float,
                   double) {
  MESSAGE("widest host kernel: ", int(host_simd_level()), " (0 portable, 1 AVX2, 2 AVX-512)");
  for (std::uint64_t seed = 1; seed <= 120; ++seed) check_host_spectral_gemm<T>(seed);
  for (std::uint64_t seed = 1; seed <= 3; ++seed) check_host_spectral_gemm<T>(seed, true);  // each pass
}

// ---- end to end, against the float64 reference ----
namespace {

struct tiled_run {
  std::array<std::int64_t, 3> tile{};  // 0: the cost model's choice
  spectral_products products = spectral_products::automatic;
  bool smallest_chunks = false;  // a workspace limit that leaves room for the fewest rows per chunk
};

// Returns the number of chunks the step ran in.
template <int N, class T>
std::int64_t check_tiled_layer(const reference::layer& L, std::uint64_t seed, const tiled_run& run) {
  INFO("seed ", seed, ": ", testing_support::describe(L), " tile ", run.tile[0], "x", run.tile[1], "x", run.tile[2],
       " products ", int(run.products), " smallest chunks ", run.smallest_chunks);
  fftconv::host exec;
  fft_checks::session<N, T, fftconv::host> s(exec, L, seed);
  auto& impl = s.layer.implementation();
  std::array<std::int64_t, N> tile{};
  for (int d = 0; d < N; ++d) tile[d] = run.tile[d];
  impl.set_tile_extents(tile);
  impl.set_products(run.products);
  std::int64_t chunks = 1;
  if (run.smallest_chunks) {
    const problem<N> p = problem_of<N>(L);
    const tiling_choice<N> c = impl.plan_choice(p);
    const tiling_bytes bytes = bytes_of<N>(p, c.layout, sizeof(T));
    impl.set_workspace_limit(static_cast<std::size_t>(bytes.spectra + bytes.scratch(1)) + 64);
    const tiling_choice<N> limited = impl.plan_choice(p);
    chunks = limited.chunks;
    CHECK(limited.layout == c.layout);
    CHECK(limited.chunk_rows <= bytes.rows_within(bytes.scratch(1) + 64, L.batch * c.layout.tile_count));
  }
  s.forward_saved();
  s.backward_saved();
  CHECK(s.forward_error(s.x_values, s.w_values) <= fft_checks::tolerance<T>::forward);
  CHECK(s.data_error(s.dy_values, s.w_values) <= fft_checks::tolerance<T>::data);
  CHECK(s.filter_error(s.x_values, s.dy_values) <= fft_checks::tolerance<T>::filter);
  // Each map transformed once per step: X̂ and dŶ once per chunk, Ŵ and dŴ once (unless no window reaches x).
  const problem<N> p = problem_of<N>(L);
  if (windows_reach_input<N>(p)) CHECK(s.counts() == fft_checks::counts(2 * chunks + 1, 2 * chunks + 1));
  return chunks;
}

template <int N, class T>
void check_tiled_random_layers(std::uint64_t seeds) {
  std::mt19937_64 rng(N * 1000 + sizeof(T));
  auto pick = [&](std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng); };
  std::uint64_t chunked = 0;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    const reference::layer L = testing_support::random_layer(N, seed);
    tiled_run run;
    for (int d = 0; d < N; ++d) run.tile[d] = pick(1, 3);
    run.products = seed % 2 == 0 ? spectral_products::gemm : spectral_products::elementwise;
    check_tiled_layer<N, T>(L, seed, run);
    if (seed % 3 == 1) {
      run.smallest_chunks = true;
      chunked += check_tiled_layer<N, T>(L, seed, run) > 1 ? 1 : 0;
    }
    if (seed % 5 == 0) check_tiled_layer<N, T>(L, seed, tiled_run{});
  }
  CHECK(chunked >= seeds / 6);  // the limited runs did split rows into chunks
}

}  // namespace

TEST_CASE_TEMPLATE("fft tiling: tiles of 1-3 outputs, both product kernels, chunked rows: right in every pass", T,
                   float, double) {
  check_tiled_random_layers<1, T>(60);
  check_tiled_random_layers<2, T>(50);
  check_tiled_random_layers<3, T>(30);
}

TEST_CASE_TEMPLATE("fft tiling: a causal depthwise 1D long convolution and a strided grouped 2D layer", T, float,
                   double) {
  // Causal: low padding d(k-1), high 0, one channel per group, the kernel as long as the sequence.
  reference::layer causal = testing_support::make_layer(
      1, 2, {.in_channels = 6, .out_channels = 6, .groups = 6, .input = {96}, .kernel = {96}, .padding = {95},
             .stride = {1}, .dilation = {1}});
  causal.padding_high = {0};
  check_tiled_layer<1, T>(causal, 5, tiled_run{});
  check_tiled_layer<1, T>(causal, 6, tiled_run{.tile = {7, 0, 0}});
  check_tiled_layer<2, T>(fft_checks::strided_grouped_layer(2, 2), 7, tiled_run{.tile = {2, 3, 0}});
  check_tiled_layer<2, T>(fft_checks::strided_grouped_layer(2, 2), 8,
                          tiled_run{.tile = {1, 2, 0}, .products = spectral_products::elementwise, .smallest_chunks = true});
}
