#pragma once
// Transform sizes for the FFT policy: the 7-smooth sizes (2^a 3^b 5^c 7^d, the radices cuFFT and FFTW run
// fast) and their per-element cost. tiling/tiling.hpp chooses the frames among them by a cost model; never by
// rounding up to a power of two, which can nearly double every dim of a frame that a 7-smooth size fits.

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

// Every 7-smooth size in [low, high], ascending; enumerated by exponents, so wide ranges cost no scan.
inline std::vector<std::int64_t> seven_smooth_between(std::int64_t low, std::int64_t high) {
  if (high > (std::int64_t{1} << 40)) fail("fft: transform extent ", high, " is beyond 2^40");
  std::vector<std::int64_t> sizes;
  for (std::int64_t p7 = 1; p7 <= high; p7 *= 7)
    for (std::int64_t p5 = p7; p5 <= high; p5 *= 5)
      for (std::int64_t p3 = p5; p3 <= high; p3 *= 3)
        for (std::int64_t size = p3; size <= high; size *= 2)
          if (size >= low) sizes.push_back(size);
  std::sort(sizes.begin(), sizes.end());
  return sizes;
}

// The smallest 7-smooth size >= minimum (a power of two lies below 2 * minimum).
inline std::int64_t next_7_smooth(std::int64_t minimum) {
  return transform_size_candidates(minimum).front();
}

}  // namespace fftconv::detail
