#pragma once
// A reference::layer as the library sees it (its geometry, the extents of its tensors), and a fixed layer built
// from per-dim parameters. Shared by the property, fft and im2col checks.

#include <array>
#include <cstdint>
#include <vector>

#include <fftconv/fftconv.hpp>

#include "reference.hpp"

namespace testing_support {

template <int N>
fftconv::geometry<N> geometry_of(const reference::layer& L) {
  fftconv::geometry<N> g;
  g.in_channels = L.in_channels;
  g.out_channels = L.out_channels;
  g.groups = L.groups;
  for (int d = 0; d < N; ++d) {
    g.kernel[d] = L.kernel[d];
    g.padding[d] = L.padding[d];
    g.stride[d] = L.stride[d];
    g.dilation[d] = L.dilation[d];
  }
  if (!L.padding_high.empty()) {
    std::array<std::int64_t, N> high{};
    for (int d = 0; d < N; ++d) high[d] = L.padding_high[d];
    g.padding.high_side = high;
  }
  return g;
}

template <int N>
std::array<std::int64_t, N + 2> extents(std::int64_t batch, std::int64_t channels, const std::vector<std::int64_t>& spatial) {
  std::array<std::int64_t, N + 2> e{batch, channels};
  for (int d = 0; d < N; ++d) e[d + 2] = spatial[d];
  return e;
}

// A fixed test layer's parameters, per dim: a layer of rank r takes the first r of each.
struct layer_spec {
  std::int64_t in_channels = 1, out_channels = 1, groups = 1;
  std::array<std::int64_t, 3> input{}, kernel{}, padding{}, stride{}, dilation{};
};

inline reference::layer make_layer(int rank, std::int64_t batch, const layer_spec& spec) {
  reference::layer L;
  L.rank = rank;
  L.batch = batch;
  L.in_channels = spec.in_channels;
  L.out_channels = spec.out_channels;
  L.groups = spec.groups;
  for (int d = 0; d < rank; ++d) {
    L.input.push_back(spec.input[d]);
    L.kernel.push_back(spec.kernel[d]);
    L.padding.push_back(spec.padding[d]);
    L.stride.push_back(spec.stride[d]);
    L.dilation.push_back(spec.dilation[d]);
  }
  return L;
}

}  // namespace testing_support
