#pragma once
// Host backend: aligned RAII buffers (buffer.hpp) and loops over the shared element functors (OpenMP when enabled).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "../../error.hpp"
#include "../../executor.hpp"
#include "../common/accumulator.hpp"
#include "../common/memory_space.hpp"
#include "../common/primary.hpp"
#include "buffer.hpp"
#include "cblas.hpp"
#include "parallel.hpp"

namespace fftconv::detail {

// Host loops accumulate as the device does (accumulator.hpp): float in double.
template <class T>
using host_accumulator_t = accumulator_t<T>;

template <>
struct backend<host> {
  static constexpr bool on_device = false;

  template <class T>
  using buffer = host_buffer<T>;

  // From exec.resource when the caller attached one, else aligned operator new; 64-byte aligned.
  template <class T>
  static buffer<T> allocate(const host& exec, std::size_t count) {
    return buffer<T>(count, exec.resource);
  }

  // f(i) for i < count; in parallel when count * work_per_index (an item may be a whole row) is worth it
  // (parallel.hpp).
  template <class F>
  static void for_each_index(const host&, std::int64_t count, const F& f, std::int64_t work_per_index = 1) {
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (count > 1 && worth_parallel(double(count) * double(work_per_index)))
#endif
    for (std::int64_t i = 0; i < count; ++i) f(i);
  }

  // out[s] = sum over i < length of term(s, i), summed in index order: the same bits on every run.
  template <class T, class F>
  static void segmented_sum(const host&, std::int64_t segments, std::int64_t length, const F& term, T* out) {
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 4) if (segments > 1 && worth_parallel(double(segments) * double(length)))
#endif
    for (std::int64_t s = 0; s < segments; ++s) {
      host_accumulator_t<T> sum{};
      for (std::int64_t i = 0; i < length; ++i) sum += term(s, i);
      out[s] = static_cast<T>(sum);
    }
  }

  template <class T>
  static void fill(const host& exec, T* data, std::int64_t count, T value) {
    for_each_index(exec, count, [=](std::int64_t i) { data[i] = value; });
  }

  template <class T>
  static void copy(const host&, T* destination, const T* source, std::int64_t count) {
    if (count > 0) std::memcpy(destination, source, static_cast<std::size_t>(count) * sizeof(T));
  }

  template <class Scalar>
  static void gemm(const host&, const gemm_desc& desc, Scalar alpha, const Scalar* a, const Scalar* b, Scalar beta,
                   Scalar* c) {
    host_gemm(desc, alpha, a, b, beta, c);
  }

  // A pointer handed to the host executor must be readable by the CPU: device memory is refused.
  static void check_pointer(const host&, const void* pointer, const char* name) {
    // A runtime that cannot answer (no driver, a process forked after CUDA was initialised) must not stop
    // host work: such a pointer is taken as host memory.
    const memory_space space = query_memory_space(pointer, query_failure::assume_host);
    if (space == memory_space::device)
      fail(name, " points to device memory, but the executor is fftconv::host (use fftconv::device{stream})");
  }

  static void synchronize(const host&) {}

  // Host work is never captured into a CUDA graph: nothing is refused.
  static constexpr bool is_capturing(const host&) { return false; }
  static void refuse_under_capture(const host&, const char* /*action*/) {}

  // Which device the executor's work lands on; the host is -1.
  static int current_device(const host&) { return -1; }
};

}  // namespace fftconv::detail
