#pragma once
// 16-bit layers (T = bf16 or fp16, weights W = T or float) against the float64 reference, on any executor.
// Every input is rounded to its storage type first and the reference runs on the rounded values, so the error
// measured is the library's own: computed in float and rounded once on store. Two checks per result: the
// relative L2 error the library promises (tolerance.hpp), and, element by element, that the result is the
// float64 one rounded to its type (within half a unit in the last place, plus the float computation's own
// error), which a double rounding or a truncation would break.
//
// Included by test_precision16_host.cpp and test_precision16_device.cu with FFTCONV_TEST_POLICY set to the
// policy under test, and by the host-only checks (nonfinite, saved state).

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include <fftconv/fftconv.hpp>

#include "../support/layer_views.hpp"
#include "../support/random_layer.hpp"
#include "../support/reference.hpp"
#include "../support/test_buffer.hpp"
#include "../support/tolerance.hpp"

namespace precision16 {

using testing_support::describe;
using testing_support::extents;
using testing_support::geometry_of;
using testing_support::random_layer;
using testing_support::random_values;
using testing_support::relative_l2;
using testing_support::test_buffer;
using testing_support::to_double;
using testing_support::to_element;
using testing_support::tolerance;

template <class T>
std::string type_name() {
  if constexpr (std::is_same_v<T, fftconv::bf16>)
    return "bf16";
  else if constexpr (std::is_same_v<T, fftconv::fp16>)
    return "fp16";
  else if constexpr (std::is_same_v<T, float>)
    return "float";
  else
    return "double";
}

template <class P>
std::string policy_name() {
  if constexpr (std::is_same_v<P, fftconv::automatic>)
    return "automatic";
  else
    return fftconv::to_string(fftconv::algorithm_of<P>);
}

// values rounded to T (to nearest even), as float64.
template <class T>
std::vector<double> rounded(std::vector<double> values) {
  for (double& v : values) v = to_double(to_element<T>(v));
  return values;
}

// Half a unit in the last place of T at |v|: how far rounding v to nearest may move it (bf16 has 8
// significant bits, fp16 11 with subnormals below 2^-14, float 24).
template <class T>
double half_ulp(double v) {
  constexpr int digits = std::is_same_v<T, fftconv::bf16> ? 8 : std::is_same_v<T, fftconv::fp16> ? 11 : 24;
  constexpr int min_exponent = std::is_same_v<T, fftconv::fp16> ? -14 : -126;
  int exponent = min_exponent;
  if (v != 0) {
    int e = 0;
    (void)std::frexp(std::abs(v), &e);  // |v| = m 2^e, m in [0.5, 1)
    exponent = std::max(e - 1, min_exponent);
  }
  return std::ldexp(0.5, exponent - (digits - 1));
}

// The float computation's own error, elementwise, as a fraction of the result's largest magnitude: well above
// what float achieves (1e-5 relative L2 promised, about 1e-6 seen) and below half an ulp of fp16 (2.4e-4).
inline constexpr double float_slack = 2e-5;

// Each element of `actual` (stored as U) within half an ulp of U of `expected`, plus float_slack of the
// largest |expected|.
template <class U>
void check_rounded_once(const std::vector<double>& actual, const std::vector<double>& expected,
                        const std::string& what) {
  REQUIRE(actual.size() == expected.size());
  double largest = 0;
  for (double e : expected) largest = std::max(largest, std::abs(e));
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < expected.size(); ++i)
    if (!(std::abs(actual[i] - expected[i]) <= half_ulp<U>(expected[i]) + float_slack * largest))
      if (bad++ == 0) first = i;
  std::ostringstream message;
  if (bad != 0)
    message << what << ": " << bad << " of " << expected.size() << " elements are further than half an ulp of "
            << type_name<U>() << " from the reference; the first, [" << first << "], is " << actual[first]
            << " for " << expected[first];
  CHECK_MESSAGE(bad == 0, message.str());
}

// Both checks for one result stored as U.
template <class U>
void check_result(const std::vector<double>& actual, const std::vector<double>& expected, double tolerance,
                  const std::string& what) {
  INFO(what);
  CHECK(relative_l2(actual, expected) <= tolerance);
  check_rounded_once<U>(actual, expected, what);
}

// How the tests' automatic layers choose: by the cost model (deterministic, no timing).
template <int N, class T, class P, class W = T>
fftconv::conv<N, T, P, W> make_layer(const reference::layer& L) {
  fftconv::conv<N, T, P, W> layer(geometry_of<N>(L));
  if constexpr (std::is_same_v<P, fftconv::automatic>) layer.set_mode(fftconv::automatic_mode::heuristic);
  return layer;
}

// One layer's inputs (random, rounded to their storage types) in an executor's memory.
template <int N, class T, class W, class Exec>
struct layer_inputs {
  static constexpr std::size_t R = N + 2;
  reference::layer L;
  Exec exec;
  std::array<std::int64_t, R> xe, ye, we;
  std::vector<double> x, w, bias, dy;  // as stored
  test_buffer<T, Exec> x_buffer, dy_buffer;
  test_buffer<W, Exec> w_buffer, bias_buffer;

  layer_inputs(Exec e, const reference::layer& layer, std::uint64_t seed)
      : L(layer),
        exec(e),
        xe(extents<N>(L.batch, L.in_channels, L.input)),
        ye(extents<N>(L.batch, L.out_channels, L.output())),
        we(extents<N>(L.out_channels, L.in_channels / L.groups, L.kernel)),
        x(rounded<T>(random_values(L.x_size(), seed * 4 + 1))),
        w(rounded<W>(random_values(L.w_size(), seed * 4 + 2))),
        bias(rounded<W>(random_values(L.out_channels, seed * 4 + 3))),
        dy(rounded<T>(random_values(L.y_size(), seed * 4 + 4))),
        x_buffer(e, x),
        dy_buffer(e, dy),
        w_buffer(e, w),
        bias_buffer(e, bias) {}

  fftconv::tensor_ref<const T, R> xv() { return {x_buffer.data(), xe}; }
  fftconv::tensor_ref<const T, R> dyv() { return {dy_buffer.data(), ye}; }
  fftconv::tensor_ref<const W, R> wv() { return {w_buffer.data(), we}; }
};

// A call's outputs, each starting as the sentinel.
template <int N, class T, class W, class Exec>
struct layer_outputs {
  static constexpr std::size_t R = N + 2;
  std::array<std::int64_t, R> xe, ye, we;
  test_buffer<T, Exec> y, dx;
  test_buffer<W, Exec> dw, db;

  explicit layer_outputs(const layer_inputs<N, T, W, Exec>& in)
      : xe(in.xe),
        ye(in.ye),
        we(in.we),
        y(in.exec, in.L.y_size()),
        dx(in.exec, in.L.x_size()),
        dw(in.exec, in.L.w_size()),
        db(in.exec, in.L.out_channels) {}

  fftconv::tensor_ref<T, R> yv() { return {y.data(), ye}; }
  fftconv::tensor_ref<T, R> dxv() { return {dx.data(), xe}; }
  fftconv::tensor_ref<W, R> dwv() { return {dw.data(), we}; }
  fftconv::gradients<T, R, W> all_gradients() { return {dxv(), dwv(), db.data()}; }
};

// What the float64 reference gives on a layer's (rounded) inputs.
struct expected_results {
  std::vector<double> y, y_without_bias, dx, dw, db;
  template <int N, class T, class W, class Exec>
  explicit expected_results(const layer_inputs<N, T, W, Exec>& in)
      : y(reference::forward(in.L, in.x, in.w, &in.bias)),
        y_without_bias(reference::forward(in.L, in.x, in.w, nullptr)),
        dx(reference::backward_data(in.L, in.dy, in.w)),
        dw(reference::backward_filter(in.L, in.x, in.dy)),
        db(reference::backward_bias(in.L, in.dy)) {}
};

template <int N, class T, class W, class Exec>
void check_gradients(layer_outputs<N, T, W, Exec>& out, const expected_results& expected) {
  check_result<T>(out.dx.read(), expected.dx, tolerance<T>::data, "dx");
  check_result<W>(out.dw.read(), expected.dw, tolerance<W>::filter, "dw");
  check_result<W>(out.db.read(), expected.db, tolerance<W>::filter, "dbias");
}

// forward, backward_data and backward_filter (with dbias) called alone; without bias and dbias when asked;
// and, when `combined`, forward with a saved state then the combined backward, for keep::spectra and
// keep::none, and backward without a state.
// workspace_limit (0: none): the layer's, to make the FFT policy work in chunks.
template <int N, class T, class W, class P, class Exec>
void check_layer(const reference::layer& L, std::uint64_t seed, Exec exec, bool without_bias, bool combined,
                 std::size_t workspace_limit = 0) {
  INFO(policy_name<P>(), ' ', type_name<T>(), " with ", type_name<W>(), " weights, seed ", seed, ": ", describe(L));
  layer_inputs<N, T, W, Exec> in(exec, L, seed);
  const expected_results expected(in);
  auto layer = make_layer<N, T, P, W>(L);
  if (workspace_limit != 0) layer.set_workspace_limit(workspace_limit);
  {
    INFO("passes alone");
    layer_outputs<N, T, W, Exec> out(in);
    layer.forward(exec, in.xv(), in.wv(), in.bias_buffer.data(), out.yv());
    layer.backward_data(exec, in.dyv(), in.wv(), out.dxv());
    layer.backward_filter(exec, in.xv(), in.dyv(), out.dwv(), out.db.data());
    check_result<T>(out.y.read(), expected.y, tolerance<T>::forward, "y");
    check_gradients(out, expected);
  }
  if (without_bias) {
    INFO("no bias, no dbias");
    layer_outputs<N, T, W, Exec> out(in);
    layer.forward(exec, in.xv(), in.wv(), nullptr, out.yv());
    layer.backward_filter(exec, in.xv(), in.dyv(), out.dwv(), nullptr);
    check_result<T>(out.y.read(), expected.y_without_bias, tolerance<T>::forward, "y");
    check_result<W>(out.dw.read(), expected.dw, tolerance<W>::filter, "dw");
  }
  if (combined) {
    constexpr bool on_device = fftconv::detail::backend<Exec>::on_device;
    for (const fftconv::keep kept : {fftconv::keep::spectra, fftconv::keep::none}) {
      INFO("forward with a saved state, then the combined backward; keep ",
           std::string(kept == fftconv::keep::spectra ? "spectra" : "none"));
      testing_support::state_buffer<Exec> saved(exec, layer.saved_bytes(in.xe, kept, on_device));
      layer_outputs<N, T, W, Exec> out(in);
      layer.forward(exec, in.xv(), in.wv(), in.bias_buffer.data(), out.yv(), saved.all());
      layer.backward(exec, in.xv(), in.wv(), in.dyv(), saved.all(), out.all_gradients());
      check_result<T>(out.y.read(), expected.y, tolerance<T>::forward, "y");
      check_gradients(out, expected);
    }
    INFO("the combined backward without a saved state");
    layer_outputs<N, T, W, Exec> out(in);
    layer.backward(exec, in.xv(), in.wv(), in.dyv(), {}, out.all_gradients());
    check_gradients(out, expected);
  }
}

// ---- strided tensors -------------------------------------------------------------------------------------------

// A tensor of logical extents E stored channels-last (dims nest as 0, 2, ..., R-1, 1) with one spare channel
// slot per position: its strides are not row-major, and the spare slots (holes) must never be written.
template <std::size_t R>
struct channels_last {
  std::array<std::int64_t, R> extents{}, strides{};
  std::int64_t storage = 1;

  explicit channels_last(const std::array<std::int64_t, R>& e) : extents(e) {
    std::int64_t step = 1;
    strides[1] = step;
    step *= e[1] + 1;
    for (std::size_t r = R - 1; r >= 2; --r) strides[r] = step, step *= e[r];
    strides[0] = step;
    storage = step * e[0];
  }

  // The storage offset of each element, in row-major order of the logical indices.
  std::vector<std::int64_t> offsets() const {
    std::int64_t count = 1;
    for (auto e : extents) count *= e;
    std::vector<std::int64_t> out(count);
    for (std::int64_t i = 0; i < count; ++i) {
      std::int64_t rest = i, offset = 0;
      for (std::size_t r = R; r-- > 0;) offset += (rest % extents[r]) * strides[r], rest /= extents[r];
      out[i] = offset;
    }
    return out;
  }
  // values (row-major) placed in storage; holes hold `hole`.
  std::vector<double> place(const std::vector<double>& values, double hole) const {
    std::vector<double> s(storage, hole);
    const auto at = offsets();
    for (std::size_t i = 0; i < at.size(); ++i) s[at[i]] = values[i];
    return s;
  }
  std::vector<double> extract(const std::vector<double>& stored) const {
    const auto at = offsets();
    std::vector<double> v(at.size());
    for (std::size_t i = 0; i < at.size(); ++i) v[i] = stored[at[i]];
    return v;
  }
  // The number of holes that no longer hold `hole`.
  std::size_t holes_written(const std::vector<double>& stored, double hole) const {
    std::vector<bool> used(storage, false);
    for (auto o : offsets()) used[o] = true;
    std::size_t written = 0;
    for (std::int64_t i = 0; i < storage; ++i)
      if (!used[i] && stored[i] != hole) ++written;
    return written;
  }
};

// Every pass of a 16-bit layer on channels-last tensors (x, y, dy, dx, w, dw), scaled (alpha, beta != 0:
// out = alpha * result + beta * out; forward adds the bias unscaled), against the reference.
template <int N, class T, class W, class P, class Exec>
void check_strided_scaled(const reference::layer& L, std::uint64_t seed, Exec exec) {
  INFO(policy_name<P>(), ' ', type_name<T>(), " with ", type_name<W>(), " weights, channels-last and scaled, seed ",
       seed, ": ", describe(L));
  constexpr std::size_t R = N + 2;
  constexpr double hole = 0.375;  // exact in every type
  const float alpha = 0.75f, beta = -1.25f;
  const fftconv::scaling<float> scale{alpha, beta};

  const std::vector<double> x = rounded<T>(random_values(L.x_size(), seed * 8 + 1));
  const std::vector<double> w = rounded<W>(random_values(L.w_size(), seed * 8 + 2));
  const std::vector<double> bias = rounded<W>(random_values(L.out_channels, seed * 8 + 3));
  const std::vector<double> dy = rounded<T>(random_values(L.y_size(), seed * 8 + 4));
  // What the outputs hold before the call, read through beta.
  const std::vector<double> y0 = rounded<T>(random_values(L.y_size(), seed * 8 + 5));
  const std::vector<double> dx0 = rounded<T>(random_values(L.x_size(), seed * 8 + 6));
  const std::vector<double> dw0 = rounded<W>(random_values(L.w_size(), seed * 8 + 7));
  const std::vector<double> db0 = rounded<W>(random_values(L.out_channels, seed * 8 + 8));

  auto blend = [&](const std::vector<double>& result, const std::vector<double>& before,
                   const std::vector<double>* add) {
    std::vector<double> out(result.size());
    const std::size_t per_channel = add ? result.size() / (L.batch * L.out_channels) : 1;
    for (std::size_t i = 0; i < out.size(); ++i)
      out[i] = double(alpha) * result[i] + double(beta) * before[i] +
               (add ? (*add)[(i / per_channel) % L.out_channels] : 0.0);
    return out;
  };
  const auto y_expected = blend(reference::forward(L, x, w, nullptr), y0, &bias);
  const auto dx_expected = blend(reference::backward_data(L, dy, w), dx0, nullptr);
  const auto dw_expected = blend(reference::backward_filter(L, x, dy), dw0, nullptr);
  const auto db_expected = blend(reference::backward_bias(L, dy), db0, nullptr);

  const channels_last<R> xl(extents<N>(L.batch, L.in_channels, L.input));
  const channels_last<R> yl(extents<N>(L.batch, L.out_channels, L.output()));
  const channels_last<R> wl(extents<N>(L.out_channels, L.in_channels / L.groups, L.kernel));
  test_buffer<T, Exec> xb(exec, xl.place(x, hole)), dyb(exec, yl.place(dy, hole));
  test_buffer<W, Exec> wb(exec, wl.place(w, hole)), biasb(exec, bias);
  auto layer = make_layer<N, T, P, W>(L);
  auto xv = [&] { return fftconv::tensor_ref<const T, R>(xb.data(), xl.extents, xl.strides); };
  auto dyv = [&] { return fftconv::tensor_ref<const T, R>(dyb.data(), yl.extents, yl.strides); };
  auto wv = [&] { return fftconv::tensor_ref<const W, R>(wb.data(), wl.extents, wl.strides); };

  auto check_output = [&]<class U>(test_buffer<U, Exec>& b, const channels_last<R>& l, const std::vector<double>& e,
                                   double tol, const std::string& what) {
    const std::vector<double> stored = b.read();
    check_result<U>(l.extract(stored), e, tol, what);
    CHECK_MESSAGE(l.holes_written(stored, hole) == 0, what, ": the call wrote between its elements");
  };
  {
    INFO("passes alone");
    test_buffer<T, Exec> y(exec, yl.place(y0, hole)), dx(exec, xl.place(dx0, hole));
    test_buffer<W, Exec> dw(exec, wl.place(dw0, hole)), db(exec, db0);
    layer.forward(exec, xv(), wv(), biasb.data(), fftconv::tensor_ref<T, R>(y.data(), yl.extents, yl.strides), {},
                  scale);
    layer.backward_data(exec, dyv(), wv(), fftconv::tensor_ref<T, R>(dx.data(), xl.extents, xl.strides), scale);
    layer.backward_filter(exec, xv(), dyv(), fftconv::tensor_ref<W, R>(dw.data(), wl.extents, wl.strides), db.data(),
                          scale);
    check_output(y, yl, y_expected, tolerance<T>::forward, "y");
    check_output(dx, xl, dx_expected, tolerance<T>::data, "dx");
    check_output(dw, wl, dw_expected, tolerance<W>::filter, "dw");
    check_result<W>(db.read(), db_expected, tolerance<W>::filter, "dbias");
  }
  {
    INFO("forward with a saved state (keep::spectra), then the combined backward");
    constexpr bool on_device = fftconv::detail::backend<Exec>::on_device;
    testing_support::state_buffer<Exec> saved(exec, layer.saved_bytes(xl.extents, fftconv::keep::spectra, on_device));
    test_buffer<T, Exec> y(exec, yl.place(y0, hole)), dx(exec, xl.place(dx0, hole));
    test_buffer<W, Exec> dw(exec, wl.place(dw0, hole)), db(exec, db0);
    layer.forward(exec, xv(), wv(), biasb.data(), fftconv::tensor_ref<T, R>(y.data(), yl.extents, yl.strides),
                  saved.all(), scale);
    layer.backward(exec, xv(), wv(), dyv(), saved.all(),
                   fftconv::gradients<T, R, W>{fftconv::tensor_ref<T, R>(dx.data(), xl.extents, xl.strides),
                                               fftconv::tensor_ref<W, R>(dw.data(), wl.extents, wl.strides), db.data()},
                   scale);
    check_output(y, yl, y_expected, tolerance<T>::forward, "y");
    check_output(dx, xl, dx_expected, tolerance<T>::data, "dx");
    check_output(dw, wl, dw_expected, tolerance<W>::filter, "dw");
    check_result<W>(db.read(), db_expected, tolerance<W>::filter, "dbias");
  }
}

// ---- the FFT policy in chunks -----------------------------------------------------------------------------------

// Under a tight workspace limit the FFT policy splits one image's tiles over chunks, and dx is summed chunk by
// chunk: the partial sums must stay in float for the result to be rounded once.
template <class T, class W, class Exec>
void check_fft_chunks(Exec exec) {
  const reference::layer L = testing_support::make_layer(
      2, 3, {.in_channels = 3, .out_channels = 5, .groups = 1, .input = {37, 29}, .kernel = {5, 3}, .padding = {2, 1},
             .stride = {2, 1}, .dilation = {1, 1}});
  constexpr std::size_t limit = 200000;
  constexpr bool on_device = fftconv::detail::backend<Exec>::on_device;
  auto layer = make_layer<2, T, fftconv::fft, W>(L);
  layer.set_workspace_limit(limit);
  const auto choice = layer.implementation().plan_choice(
      fftconv::detail::make_problem<2>(geometry_of<2>(L), L.batch, {L.input[0], L.input[1]}), on_device);
  INFO("chunks ", choice.chunks, ", rows per chunk ", choice.chunk_rows, ", tiles per image ", choice.layout.tile_count);
  REQUIRE(choice.chunks > 1);
  REQUIRE(choice.chunk_rows % choice.layout.tile_count != 0);  // an image's tiles in two chunks
  check_layer<2, T, W, fftconv::fft>(L, 31, exec, false, true, limit);
}

// ---- random layers -----------------------------------------------------------------------------------------------

// Fewer than the float suite's 80 per rank: each layer here runs in four type combinations.
inline constexpr std::uint64_t layers_per_rank = 24;

template <int N, class T, class W, class P, class Exec>
void check_random_layers(Exec exec) {
  constexpr bool fft_state = std::is_same_v<P, fftconv::fft> || std::is_same_v<P, fftconv::automatic>;
  for (std::uint64_t seed = 1; seed <= layers_per_rank; ++seed) {
    const reference::layer L = random_layer(N, seed);
    check_layer<N, T, W, P>(L, seed, exec, seed % 4 == 0, fft_state || seed % 4 == 1);
  }
  // Strided and scaled, on two of the same layers.
  for (std::uint64_t seed : {2, 7}) check_strided_scaled<N, T, W, P>(random_layer(N, seed), seed, exec);
  if constexpr (std::is_same_v<P, fftconv::fft> && N == 2) check_fft_chunks<T, W>(exec);
}

// Each rank with T = bf16 and fp16, W = T and float.
template <int N, class P, class Exec>
void check_all_types(Exec exec) {
  SUBCASE("bf16") { check_random_layers<N, fftconv::bf16, fftconv::bf16, P>(exec); }
  SUBCASE("bf16, float weights") { check_random_layers<N, fftconv::bf16, float, P>(exec); }
  SUBCASE("fp16") { check_random_layers<N, fftconv::fp16, fftconv::fp16, P>(exec); }
  SUBCASE("fp16, float weights") { check_random_layers<N, fftconv::fp16, float, P>(exec); }
}

}  // namespace precision16
