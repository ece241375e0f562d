#pragma once
// Transform sizes for the FFT policy. Per spatial dim the circular correlation must not wrap onto a valid
// output: L >= n + 2p (the zero-padded frame) and L >= d(k-1)+1 (the dilated kernel). Among the 7-smooth sizes
// (2^a 3^b 5^c 7^d, the radices cuFFT and FFTW run fast) at or above that bound, a cost model picks one per dim,
// jointly, since the N-d transform's cost is the product of the extents times the sum of per-dim costs.
// Never "round up to a power of two": on an H100, 128 cost 2.7x of 70 (design.md §5).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "../error.hpp"
#include "../geometry.hpp"

namespace fftconv::detail {

inline bool is_7_smooth(std::int64_t value) {
  if (value < 1) return false;
  for (std::int64_t radix : {2, 3, 5, 7})
    while (value % radix == 0) value /= radix;
  return value == 1;
}

// Per-element cost of one pass over a transform of size `size`, in units of a radix-2 stage: log2(p) per
// factor p, with a surcharge for odd radices (more twiddles, fewer SIMD-friendly butterflies).
inline double radix_cost(std::int64_t size) {
  double cost = 0;
  for (const auto& [radix, weight] : {std::pair<std::int64_t, double>{2, 1.0}, {3, 1.66}, {5, 2.55}, {7, 3.23}})
    while (size % radix == 0) {
      size /= radix;
      cost += weight;
    }
  return cost;
}

// The 12 smallest 7-smooth sizes >= minimum (a power of two lies below 2 * minimum), smallest first;
// enumerated by exponents, so a huge extent costs no scan.
inline std::vector<std::int64_t> transform_size_candidates(std::int64_t minimum) {
  if (minimum < 1) minimum = 1;
  if (minimum > (std::int64_t{1} << 40)) fail("fft: transform extent ", minimum, " is beyond 2^40");
  const std::int64_t limit = 2 * minimum;
  std::vector<std::int64_t> candidates;
  for (std::int64_t p7 = 1; p7 <= limit; p7 *= 7)
    for (std::int64_t p5 = p7; p5 <= limit; p5 *= 5)
      for (std::int64_t p3 = p5; p3 <= limit; p3 *= 3)
        for (std::int64_t size = p3; size <= limit; size *= 2)
          if (size >= minimum) candidates.push_back(size);
  std::sort(candidates.begin(), candidates.end());
  if (candidates.size() > 12) candidates.resize(12);
  return candidates;
}

// Smallest extent per dim that keeps every output free of circular wrap-around.
template <int N>
std::array<std::int64_t, N> minimum_transform_extents(const problem<N>& p) {
  std::array<std::int64_t, N> minimum{};
  for (int d = 0; d < N; ++d) {
    const std::int64_t frame = p.input[d] + 2 * p.padding[d];
    const std::int64_t span = p.dilation[d] * (p.kernel[d] - 1) + 1;
    minimum[d] = frame > span ? frame : span;
  }
  return minimum;
}

// Modelled cost of a training step at extents L: every map is transformed forward and back
// (B*C + O*C/g + B*O maps each way; per element 2.5 flops per radix-2 stage plus ~4 for staging, transposes
// and the crop), and the three spectral products do 8 real flops per complex MAC over L/2+1 of the last dim.
// The GEMM flops are weighted 1/4: they run at a far higher rate than the memory-bound transforms.
template <int N>
double modelled_step_cost(const problem<N>& p, const std::array<std::int64_t, N>& extents) {
  double volume = 1, radix = 0;
  for (int d = 0; d < N; ++d) {
    volume *= static_cast<double>(extents[d]);
    radix += radix_cost(extents[d]);
  }
  const double complex_volume = volume / static_cast<double>(extents[N - 1]) *
                                static_cast<double>(extents[N - 1] / 2 + 1);
  const double b = static_cast<double>(p.batch), c = static_cast<double>(p.in_channels),
               o = static_cast<double>(p.out_channels), cg = static_cast<double>(p.in_channels_per_group());
  const double maps = 2 * (b * c + o * cg + b * o);
  // A real transform of even length runs as a half-length complex one; an odd last extent loses that trick
  // (in FFTW and cuFFT alike), so it pays a quarter more.
  const double parity = extents[N - 1] % 2 == 0 ? 1.0 : 1.25;
  const double transforms = parity * maps * volume * (2.5 * radix + 4);
  const double products = 0.25 * 3 * 8 * b * o * cg * complex_volume;
  return transforms + products;
}

// The transform extents for problem p: the cheapest combination of per-dim candidates under the model.
template <int N>
std::array<std::int64_t, N> choose_transform_extents(const problem<N>& p) {
  const std::array<std::int64_t, N> minimum = minimum_transform_extents<N>(p);
  std::array<std::vector<std::int64_t>, N> candidates;
  for (int d = 0; d < N; ++d) candidates[d] = transform_size_candidates(minimum[d]);
  std::array<std::int64_t, N> best{}, trial{};
  double best_cost = std::numeric_limits<double>::infinity();
  std::array<std::size_t, N> choice{};
  for (;;) {
    for (int d = 0; d < N; ++d) trial[d] = candidates[d][choice[d]];
    const double cost = modelled_step_cost<N>(p, trial);
    if (cost < best_cost) {
      best_cost = cost;
      best = trial;
    }
    int d = N - 1;
    while (d >= 0 && ++choice[d] == candidates[d].size()) choice[d--] = 0;
    if (d < 0) break;
  }
  return best;
}

}  // namespace fftconv::detail
