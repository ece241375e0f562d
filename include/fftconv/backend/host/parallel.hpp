#pragma once
// When a host loop is worth OpenMP's threads. Waking them and joining costs a fixed time per parallel region
// that depends on the runtime's wait policy far more than on the loop (sleeping threads, as under
// OMP_WAIT_POLICY=passive, cost about ten times spinning ones). A training step of a small network runs many
// small loops, so regions for loops of a few microseconds would cost more than the loops. The cost is measured
// once per process (an empty region, the median of 7), and a loop runs in parallel only when its serial time,
// estimated as `work` units of about half a nanosecond (one element copied or scaled), is at least twice that
// cost.

#include <algorithm>
#include <cstdint>
#include <limits>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace fftconv::detail {

// Serial work units (about 0.5 ns each) from which a parallel region pays for itself.
inline std::int64_t host_parallel_grain() {
#if defined(_OPENMP)
  // Inside a parallel region a loop runs on its thread anyway (no nested regions); measure only outside one.
  if (omp_in_parallel()) return std::numeric_limits<std::int64_t>::max();
  static const std::int64_t grain = [] {
    if (omp_get_max_threads() < 2) return std::numeric_limits<std::int64_t>::max();
    double costs[8];
    for (double& cost : costs) {  // the first also starts the thread pool
      const double start = omp_get_wtime();
#pragma omp parallel
      {
        [[maybe_unused]] volatile int touched = omp_get_thread_num();
      }
      cost = omp_get_wtime() - start;
    }
    std::sort(costs + 1, costs + 8);
    const double units = 2.0 * costs[4] / 0.5e-9;
    return std::clamp<std::int64_t>(static_cast<std::int64_t>(units), std::int64_t{1} << 13, std::int64_t{1} << 23);
  }();
  return grain;
#else
  return std::numeric_limits<std::int64_t>::max();
#endif
}

// Whether a loop of `work` units should run on OpenMP's threads.
inline bool worth_parallel(double work) { return work >= double(host_parallel_grain()); }

}  // namespace fftconv::detail
