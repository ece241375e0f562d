#pragma once
// Pieces of fftconv::automatic's measure mode that touch data: seeded synthetic values for the timing's dy
// (and x or w when the call that triggers the timing does not carry them), the agreement check between
// candidates, and a wall clock around a synchronised executor.

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "../backend/backend.hpp"
#include "../config.hpp"
#if defined(__CUDACC__)
#include <cuda_runtime.h>

#include "../backend/device/status.hpp"
#endif

namespace fftconv::detail {

// data[i] = a value in [-1, 1) from a hash of (seed, i): the same on the host and the GPU, no generator state.
template <class T>
struct synthetic_values {
  T* data;
  std::uint64_t seed;
  FFTCONV_HD void operator()(std::int64_t i) const {
    std::uint64_t z = seed + 0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(i + 1);  // splitmix64
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    data[i] = static_cast<T>(static_cast<double>(z >> 11) * (2.0 / 9007199254740992.0) - 1.0);
  }
};

// Segment 0: Σ (candidate − reference)², segment 1: Σ reference², accumulated in double.
template <class T>
struct squared_difference {
  const T* candidate;
  const T* reference;
  FFTCONV_HD double operator()(std::int64_t segment, std::int64_t i) const {
    const double r = static_cast<double>(reference[i]);
    if (segment == 1) return r * r;
    const double d = static_cast<double>(candidate[i]) - r;
    return d * d;
  }
};

// ‖candidate − reference‖₂ / ‖reference‖₂ over n elements in the executor's memory (0 when both are 0).
template <class Exec, class T>
double relative_difference(const Exec& exec, const T* candidate, const T* reference, std::int64_t n) {
  if (n <= 0) return 0;
  auto sums = backend<Exec>::template allocate<double>(exec, 2);
  backend<Exec>::segmented_sum(exec, 2, n, squared_difference<T>{candidate, reference}, sums.data());
  double host_sums[2] = {0, 0};
  if constexpr (backend<Exec>::on_device) {
#if defined(__CUDACC__)
    FFTCONV_CUDA_CHECK(cudaMemcpyAsync(host_sums, sums.data(), sizeof host_sums, cudaMemcpyDeviceToHost, exec.stream));
#endif
  } else {
    std::memcpy(host_sums, sums.data(), sizeof host_sums);
  }
  backend<Exec>::synchronize(exec);
  if (host_sums[1] == 0) return host_sums[0] == 0 ? 0.0 : 1.0;
  return std::sqrt(host_sums[0] / host_sums[1]);
}

// Candidates agree when every output is within this relative L2 distance of the reference candidate's: far
// above rounding (float policies agree to ~1e-6), far below a wrong result (~1).
template <class T>
inline constexpr double agreement_tolerance = sizeof(T) == 4 ? 1e-3 : 1e-9;

// Seconds of fn() with the executor idle before and drained after (the GPU's queued work is included).
template <class Exec, class F>
double timed_seconds(const Exec& exec, F&& fn) {
  backend<Exec>::synchronize(exec);
  const auto start = std::chrono::steady_clock::now();
  fn();
  backend<Exec>::synchronize(exec);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace fftconv::detail
