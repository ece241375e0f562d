#pragma once
// Device halves of executor_support.hpp: stream-ordered copies and CUDA-event stopwatches, every call checked.

#if !defined(__CUDACC__)
#error "lenet/executor_support.cuh holds CUDA code: include executor_support.hpp from a .cu translation unit"
#endif

#include <cuda_runtime.h>

#include <cstdint>
#include <utility>

#include <fftconv/backend/device/status.hpp>  // FFTCONV_CUDA_CHECK
#include <fftconv/executor.hpp>

namespace lenet {

template <>
struct transfer<fftconv::device> {
  // Stream-ordered: `source` must stay valid until the stream reaches the copy (pageable memory is staged by
  // the driver before the call returns, so a host vector may go out of scope right after).
  template <class T>
  static void to_executor(const fftconv::device& exec, T* destination, const T* source, std::int64_t count) {
    if (count > 0)
      FFTCONV_CUDA_CHECK(cudaMemcpyAsync(destination, source, static_cast<std::size_t>(count) * sizeof(T),
                                         cudaMemcpyHostToDevice, exec.stream));
  }
  template <class T>
  static void to_host(const fftconv::device& exec, T* destination, const T* source, std::int64_t count) {
    if (count <= 0) return;
    FFTCONV_CUDA_CHECK(cudaMemcpyAsync(destination, source, static_cast<std::size_t>(count) * sizeof(T),
                                       cudaMemcpyDeviceToHost, exec.stream));
    FFTCONV_CUDA_CHECK(cudaStreamSynchronize(exec.stream));
  }
};

// An owned cudaEvent_t; the destructor never throws.
class cuda_event {
 public:
  cuda_event() { FFTCONV_CUDA_CHECK(cudaEventCreate(&event_)); }
  cuda_event(const cuda_event&) = delete;
  cuda_event& operator=(const cuda_event&) = delete;
  ~cuda_event() {
    if (event_ != nullptr) (void)cudaEventDestroy(event_);
  }
  cudaEvent_t get() const noexcept { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

// Times the work queued on the executor's stream between start() and stop() with CUDA events: the GPU's own
// clock, not the host's time to enqueue. stop() waits for that work.
template <>
class stopwatch<fftconv::device> {
 public:
  explicit stopwatch(const fftconv::device& exec) : stream_(exec.stream) {}
  void start() { FFTCONV_CUDA_CHECK(cudaEventRecord(start_.get(), stream_)); }
  double stop() {
    FFTCONV_CUDA_CHECK(cudaEventRecord(stop_.get(), stream_));
    FFTCONV_CUDA_CHECK(cudaEventSynchronize(stop_.get()));
    float milliseconds = 0;
    FFTCONV_CUDA_CHECK(cudaEventElapsedTime(&milliseconds, start_.get(), stop_.get()));
    return milliseconds;
  }

 private:
  cudaStream_t stream_;
  cuda_event start_;
  cuda_event stop_;
};

// An owned non-blocking stream for the device run; the destructor never throws.
class cuda_stream {
 public:
  cuda_stream() { FFTCONV_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  cuda_stream(const cuda_stream&) = delete;
  cuda_stream& operator=(const cuda_stream&) = delete;
  ~cuda_stream() {
    if (stream_ != nullptr) (void)cudaStreamDestroy(stream_);
  }
  cudaStream_t get() const noexcept { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

}  // namespace lenet
