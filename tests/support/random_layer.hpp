#pragma once
// Random layers for property tests: every field drawn per dimension from a fixed seed, so a failure names a
// seed that reproduces it. Shapes stay small enough for the float64 reference.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "reference.hpp"

namespace testing_support {

inline std::string describe(const reference::layer& L) {
  auto list = [](const std::vector<std::int64_t>& v) {
    std::ostringstream s;
    s << '[';
    for (std::size_t i = 0; i < v.size(); ++i) s << (i ? "," : "") << v[i];
    s << ']';
    return s.str();
  };
  std::ostringstream s;
  s << "N=" << L.rank << " batch=" << L.batch << " C_in=" << L.in_channels << " C_out=" << L.out_channels
    << " groups=" << L.groups << " n=" << list(L.input) << " k=" << list(L.kernel) << " p=" << list(L.padding);
  if (!L.padding_high.empty()) s << " p_high=" << list(L.padding_high);
  s << " s=" << list(L.stride) << " d=" << list(L.dilation) << " out=" << list(L.output());
  return s.str();
}

// With allow_asymmetric, about 1 dim in 4 gets its own high padding in [0, 3]. Those draws come from a second
// generator, so the rest of each layer is the same either way and a symmetric run tests the same layers as before.
inline reference::layer random_layer(int rank, std::uint64_t seed, bool allow_asymmetric = true) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(rank));
  std::mt19937_64 sides_rng(seed * 0xD1B54A32D192ED03ull + static_cast<std::uint64_t>(rank));
  auto pick_side = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(sides_rng);
  };
  auto pick = [&](std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng); };
  reference::layer L;
  L.rank = rank;
  L.batch = pick(1, 3);
  L.groups = pick(1, 3) == 3 ? pick(2, 3) : 1;
  L.in_channels = L.groups * pick(1, 3);
  L.out_channels = L.groups * pick(1, 3);
  const std::int64_t max_extent = rank == 1 ? 40 : (rank == 2 ? 14 : 7);
  const std::int64_t max_kernel = rank == 3 ? 3 : 5;
  for (int d = 0; d < rank; ++d) {
    const std::int64_t n = pick(1, max_extent);
    std::int64_t k = pick(1, max_kernel);
    const std::int64_t dilation = pick(1, 4) == 4 ? pick(2, 3) : 1;
    const std::int64_t stride = pick(1, 3) == 3 ? pick(2, 3) : 1;
    std::int64_t padding = pick(0, 2) == 0 ? 0 : pick(0, 3);
    if (pick(1, 6) == 1) k = std::max<std::int64_t>(1, std::min<std::int64_t>(n, 9));  // kernel as large as the input
    // Keep the output extent >= 1: grow the padding until the dilated kernel fits.
    while (n + 2 * padding < dilation * (k - 1) + 1) ++padding;
    L.input.push_back(n);
    L.kernel.push_back(k);
    L.padding.push_back(padding);
    L.stride.push_back(stride);
    L.dilation.push_back(dilation);
    std::int64_t padding_high = padding;
    if (allow_asymmetric && pick_side(1, 4) == 1) {
      padding_high = pick_side(0, 3);
      while (n + padding + padding_high < dilation * (k - 1) + 1) ++padding_high;
    }
    L.padding_high.push_back(padding_high);
  }
  if (L.padding_high == L.padding) L.padding_high.clear();  // symmetric: say so
  return L;
}

// Values in [-1, 1), never constant.
inline std::vector<double> random_values(std::int64_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> value(-1.0, 1.0);
  std::vector<double> v(count);
  for (auto& e : v) e = value(rng);
  return v;
}

inline double relative_l2(const std::vector<double>& actual, const std::vector<double>& expected) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    diff += (actual[i] - expected[i]) * (actual[i] - expected[i]);
    norm += expected[i] * expected[i];
  }
  return norm == 0 ? std::sqrt(diff) : std::sqrt(diff / norm);
}

}  // namespace testing_support
