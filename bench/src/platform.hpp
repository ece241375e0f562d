#pragma once
// What the bench needs from an executor beyond the library's backend: moving test data in and out,
// a clock, and the copy bandwidth that achieved GB/s is compared against.
//   host   : std::chrono::steady_clock around each call, memcpy bandwidth. These are CPU numbers.
//   device : CUDA events recorded on the executor's stream around each call, device-to-device copy bandwidth.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fftconv/backend/backend.hpp>
#include <fftconv/executor.hpp>
#include <vector>

#if defined(__CUDACC__)
#include <cuda_runtime.h>

#include <fftconv/backend/device/status.hpp>
#endif

namespace bench {

template <class Exec>
struct platform;

template <>
struct platform<fftconv::host> {
  static constexpr const char* clock = "std::chrono::steady_clock (CPU wall time)";
  template <class T>
  using buffer = fftconv::detail::host_buffer<T>;

  template <class T>
  static buffer<T> upload(const fftconv::host&, const std::vector<T>& values) {
    buffer<T> b(values.size());
    if (!values.empty()) std::memcpy(b.data(), values.data(), values.size() * sizeof(T));
    return b;
  }
  template <class T>
  static std::vector<T> download(const fftconv::host&, const T* data, std::size_t count) {
    return std::vector<T>(data, data + count);
  }

  class timer {
   public:
    explicit timer(const fftconv::host&) {}
    void start() { start_ = std::chrono::steady_clock::now(); }
    double stop_ms() {
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
    }

   private:
    std::chrono::steady_clock::time_point start_{};
  };

  // Bytes moved (read + write) per second by memcpy of `bytes`, the best of a few runs.
  static double copy_bandwidth_gbs(const fftconv::host&, std::size_t bytes) {
    buffer<char> source(bytes), destination(bytes);
    std::memset(source.data(), 1, bytes);
    std::memset(destination.data(), 0, bytes);
    double best_ms = 1e30;
    for (int r = 0; r < 5; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      std::memcpy(destination.data(), source.data(), bytes);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (r > 0 && ms < best_ms) best_ms = ms;  // the first run pays page faults
    }
    return 2.0 * double(bytes) / (best_ms * 1e6);
  }
};

#if defined(__CUDACC__)
template <>
struct platform<fftconv::device> {
  static constexpr const char* clock = "cudaEvent pair on the stream around each call (GPU time)";
  template <class T>
  using buffer = fftconv::detail::device_buffer<T>;

  template <class T>
  static buffer<T> upload(const fftconv::device& exec, const std::vector<T>& values) {
    buffer<T> b(values.size(), exec.stream);
    if (!values.empty())
      FFTCONV_CUDA_CHECK(
          cudaMemcpyAsync(b.data(), values.data(), values.size() * sizeof(T), cudaMemcpyHostToDevice, exec.stream));
    FFTCONV_CUDA_CHECK(cudaStreamSynchronize(exec.stream));  // `values` may go out of scope after return
    return b;
  }
  template <class T>
  static std::vector<T> download(const fftconv::device& exec, const T* data, std::size_t count) {
    std::vector<T> values(count);
    if (count > 0)
      FFTCONV_CUDA_CHECK(cudaMemcpyAsync(values.data(), data, count * sizeof(T), cudaMemcpyDeviceToHost, exec.stream));
    FFTCONV_CUDA_CHECK(cudaStreamSynchronize(exec.stream));
    return values;
  }

  // RAII event; destruction never throws.
  class event {
   public:
    event() { FFTCONV_CUDA_CHECK(cudaEventCreate(&event_)); }
    event(const event&) = delete;
    event& operator=(const event&) = delete;
    ~event() {
      if (event_ != nullptr) (void)cudaEventDestroy(event_);
    }
    cudaEvent_t get() const { return event_; }

   private:
    cudaEvent_t event_ = nullptr;
  };

  class timer {
   public:
    explicit timer(const fftconv::device& exec) : stream_(exec.stream) {}
    void start() { FFTCONV_CUDA_CHECK(cudaEventRecord(start_.get(), stream_)); }
    // Waits for the stop event: one call's GPU time, launch gaps inside the call included.
    double stop_ms() {
      FFTCONV_CUDA_CHECK(cudaEventRecord(stop_.get(), stream_));
      FFTCONV_CUDA_CHECK(cudaEventSynchronize(stop_.get()));
      float ms = 0;
      FFTCONV_CUDA_CHECK(cudaEventElapsedTime(&ms, start_.get(), stop_.get()));
      return double(ms);
    }

   private:
    cudaStream_t stream_;
    event start_, stop_;
  };

  // Bytes moved (read + write) per second by cudaMemcpyAsync device-to-device, median of 20 copies.
  static double copy_bandwidth_gbs(const fftconv::device& exec, std::size_t bytes) {
    buffer<char> source(bytes, exec.stream), destination(bytes, exec.stream);
    FFTCONV_CUDA_CHECK(cudaMemsetAsync(source.data(), 1, bytes, exec.stream));
    FFTCONV_CUDA_CHECK(cudaMemsetAsync(destination.data(), 0, bytes, exec.stream));
    timer t(exec);
    std::vector<double> ms;
    for (int r = 0; r < 23; ++r) {
      t.start();
      FFTCONV_CUDA_CHECK(
          cudaMemcpyAsync(destination.data(), source.data(), bytes, cudaMemcpyDeviceToDevice, exec.stream));
      const double elapsed = t.stop_ms();
      if (r >= 3) ms.push_back(elapsed);  // warm-up
    }
    std::sort(ms.begin(), ms.end());
    return 2.0 * double(bytes) / (ms[ms.size() / 2] * 1e6);
  }
};
#endif

}  // namespace bench
