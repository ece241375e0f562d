#pragma once
// Property tests: a policy, on an executor, against the float64 reference over random layers. Included by
// property_host.cpp and property_device.cu with FFTCONV_TEST_POLICY set to the policy under test.

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include <fftconv/fftconv.hpp>

#include "../support/layer_views.hpp"
#include "../support/random_layer.hpp"
#include "../support/reference.hpp"
#include "../support/test_buffer.hpp"
#include "../support/tolerance.hpp"

namespace testing_support {

// Whether Policy computes layers of element type T on executor Exec in this translation unit: every policy does,
// except fftconv::vendor where its library has no such convolution (oneDNN has no double on the CPU) or is off.
template <class Policy, class T, class Exec>
inline constexpr bool policy_runs =
    !std::is_same_v<Policy, fftconv::vendor> || fftconv::detail::vendor_available<Exec, T>;

// Runs forward, backward_data and backward_filter (with db) on one layer and checks each against the reference.
template <int N, class T, class Policy, class Exec>
void check_layer_against_reference(const reference::layer& L, std::uint64_t seed, Exec exec) {
  INFO("seed ", seed, ": ", describe(L));
  const auto x_values = random_values(L.x_size(), seed * 4 + 1);
  const auto w_values = random_values(L.w_size(), seed * 4 + 2);
  const auto bias_values = random_values(L.out_channels, seed * 4 + 3);
  const auto dy_values = random_values(L.y_size(), seed * 4 + 4);

  const auto x_extents = extents<N>(L.batch, L.in_channels, L.input);
  const auto y_extents = extents<N>(L.batch, L.out_channels, L.output());
  const auto w_extents = extents<N>(L.out_channels, L.in_channels / L.groups, L.kernel);

  test_buffer<T, Exec> x(exec, x_values), w(exec, w_values), bias(exec, bias_values), dy(exec, dy_values);
  test_buffer<T, Exec> y(exec, L.y_size()), dx(exec, L.x_size()), dw(exec, L.w_size()), db(exec, L.out_channels);

  fftconv::conv<N, T, Policy> layer(geometry_of<N>(L));
  CHECK(layer.output_extents(x_extents) == y_extents);

  layer.forward(exec, fftconv::make_view<const T, N + 2>(x.data(), x_extents), fftconv::make_view<const T, N + 2>(w.data(), w_extents), bias.data(),
                fftconv::make_view<T, N + 2>(y.data(), y_extents));
  layer.backward_data(exec, fftconv::make_view<const T, N + 2>(dy.data(), y_extents), fftconv::make_view<const T, N + 2>(w.data(), w_extents),
                      fftconv::make_view<T, N + 2>(dx.data(), x_extents));
  layer.backward_filter(exec, fftconv::make_view<const T, N + 2>(x.data(), x_extents), fftconv::make_view<const T, N + 2>(dy.data(), y_extents),
                        fftconv::make_view<T, N + 2>(dw.data(), w_extents), db.data());

  CHECK(relative_l2(y.read(), reference::forward(L, x_values, w_values, &bias_values)) <= tolerance<T>::forward);
  CHECK(relative_l2(dx.read(), reference::backward_data(L, dy_values, w_values)) <= tolerance<T>::data);
  CHECK(relative_l2(dw.read(), reference::backward_filter(L, x_values, dy_values)) <= tolerance<T>::filter);
  CHECK(relative_l2(db.read(), reference::backward_bias(L, dy_values)) <= tolerance<T>::filter);
}

// Also forward without bias and backward_filter without db, which take other branches.
template <int N, class T, class Policy, class Exec>
void check_layer_without_bias(const reference::layer& L, std::uint64_t seed, Exec exec) {
  INFO("seed ", seed, ": ", describe(L));
  const auto x_values = random_values(L.x_size(), seed * 4 + 1);
  const auto w_values = random_values(L.w_size(), seed * 4 + 2);
  const auto dy_values = random_values(L.y_size(), seed * 4 + 4);
  const auto x_extents = extents<N>(L.batch, L.in_channels, L.input);
  const auto y_extents = extents<N>(L.batch, L.out_channels, L.output());
  const auto w_extents = extents<N>(L.out_channels, L.in_channels / L.groups, L.kernel);
  test_buffer<T, Exec> x(exec, x_values), w(exec, w_values), dy(exec, dy_values);
  test_buffer<T, Exec> y(exec, L.y_size()), dw(exec, L.w_size());
  fftconv::conv<N, T, Policy> layer(geometry_of<N>(L));
  layer.forward(exec, fftconv::make_view<const T, N + 2>(x.data(), x_extents), fftconv::make_view<const T, N + 2>(w.data(), w_extents), nullptr,
                fftconv::make_view<T, N + 2>(y.data(), y_extents));
  layer.backward_filter(exec, fftconv::make_view<const T, N + 2>(x.data(), x_extents), fftconv::make_view<const T, N + 2>(dy.data(), y_extents),
                        fftconv::make_view<T, N + 2>(dw.data(), w_extents), nullptr);
  CHECK(relative_l2(y.read(), reference::forward(L, x_values, w_values, nullptr)) <= tolerance<T>::forward);
  CHECK(relative_l2(dw.read(), reference::backward_filter(L, x_values, dy_values)) <= tolerance<T>::filter);
}

// A causal 1D layer (all d(k-1) zeros before the input, none after: y[t] reads x[<= t]), grouped, with bias.
inline reference::layer causal_layer(std::int64_t kernel, std::int64_t dilation) {
  reference::layer L;
  L.rank = 1;
  L.batch = 2;
  L.in_channels = 4;
  L.out_channels = 6;
  L.groups = 2;
  L.input = {23};
  L.kernel = {kernel};
  L.stride = {1};
  L.dilation = {dilation};
  L.padding = {dilation * (kernel - 1)};
  L.padding_high = {0};
  return L;
}

inline constexpr std::uint64_t layers_per_rank = 80;  // x 3 ranks = 240 random layers per policy and type

template <int N, class T, class Policy, class Exec>
void check_random_layers(Exec exec) {
  if constexpr (!policy_runs<Policy, T, Exec>) {
    (void)exec;
    MESSAGE("skipped: the policy has no layers of this element type on this executor in this build");
  } else {
    for (std::uint64_t seed = 1; seed <= layers_per_rank; ++seed) {
      const reference::layer L = random_layer(N, seed);
      check_layer_against_reference<N, T, Policy>(L, seed, exec);
      if (seed % 8 == 0) check_layer_without_bias<N, T, Policy>(L, seed, exec);
    }
    if constexpr (N == 1) {
      for (const auto& [kernel, dilation] : {std::pair<std::int64_t, std::int64_t>{5, 1}, {4, 3}, {1, 1}}) {
        const reference::layer L = causal_layer(kernel, dilation);
        CHECK(L.output() == L.input);
        check_layer_against_reference<N, T, Policy>(L, 900 + kernel, exec);
        check_layer_without_bias<N, T, Policy>(L, 900 + kernel, exec);
      }
    }
  }
}

}  // namespace testing_support
