#pragma once
// What the training loop needs from an executor beyond fftconv::ops (buffers, loops, sums, GEMM): copies
// between the caller's host memory and the executor's memory, and a per-minibatch stopwatch. Host versions
// here; the device versions (cudaMemcpyAsync, CUDA events) in executor_support.cuh, compiled only by nvcc.

#include <chrono>
#include <cstdint>
#include <cstring>

#include <fftconv/executor.hpp>
#include <fftconv/ops.hpp>  // ops::buffer, ops::allocate, ops::for_each_index, ops::gemm, ...

namespace lenet {

namespace ops = fftconv::ops;

template <class Exec>
struct transfer;

template <class Exec>
class stopwatch;

template <>
struct transfer<fftconv::host> {
  template <class T>
  static void to_executor(const fftconv::host&, T* destination, const T* source, std::int64_t count) {
    if (count > 0) std::memcpy(destination, source, static_cast<std::size_t>(count) * sizeof(T));
  }
  // Returns once the values are in `destination`.
  template <class T>
  static void to_host(const fftconv::host&, T* destination, const T* source, std::int64_t count) {
    if (count > 0) std::memcpy(destination, source, static_cast<std::size_t>(count) * sizeof(T));
  }
};

// Host work is synchronous, so wall-clock time around it is the time of the work.
template <>
class stopwatch<fftconv::host> {
 public:
  explicit stopwatch(const fftconv::host&) {}
  void start() { start_ = std::chrono::steady_clock::now(); }
  // Milliseconds since start().
  double stop() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_{};
};

}  // namespace lenet

#if defined(__CUDACC__)
#include "executor_support.cuh"
#endif
