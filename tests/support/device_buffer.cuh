#pragma once
// test_buffer in device memory (see test_buffer.hpp), and the stream the device tests run on. Every copy is
// ordered on the executor's stream (the kernels under test run there, on a non-blocking stream that a plain
// cudaMemcpy would not order against) and waited for before the host memory goes away or is read.

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_buffer.hpp"

namespace testing_support {

inline void expect_cuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
}

// A non-blocking CUDA stream, owned: tests run on one so that nothing relies on the legacy default stream's
// implicit synchronisation.
class test_stream {
 public:
  test_stream() { expect_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "stream"); }
  test_stream(const test_stream&) = delete;
  test_stream& operator=(const test_stream&) = delete;
  // Never throws; a failure here cannot fail the test anyway, and is cleared so the next check does not see it.
  ~test_stream() {
    (void)cudaStreamDestroy(stream_);
    (void)cudaGetLastError();
  }

  cudaStream_t get() const { return stream_; }
  fftconv::device executor() const { return fftconv::device{stream_}; }

 private:
  cudaStream_t stream_ = nullptr;
};

template <class T>
class test_buffer<T, fftconv::device> {
 public:
  test_buffer(fftconv::device exec, const std::vector<double>& values) : exec_(exec), count_(values.size()) {
    allocate();
    upload(to_elements<T>(values), "upload");
  }
  test_buffer(fftconv::device exec, std::int64_t count) : exec_(exec), count_(count) {
    allocate();
    upload(std::vector<T>(count_, to_element<T>(sentinel)), "fill");
  }
  test_buffer(const test_buffer&) = delete;
  test_buffer& operator=(const test_buffer&) = delete;
  // Never throws; the stream's pending work on the buffer finishes before it is freed.
  ~test_buffer() {
    (void)cudaStreamSynchronize(exec_.stream);
    (void)cudaFree(data_);
    (void)cudaGetLastError();
  }

  T* data() { return data_; }
  std::vector<double> read() const {
    std::vector<T> host(count_);
    expect_cuda(cudaMemcpyAsync(host.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost, exec_.stream),
                "download");
    expect_cuda(cudaStreamSynchronize(exec_.stream), "synchronize");
    return to_doubles(host);
  }

 private:
  void allocate() { expect_cuda(cudaMalloc(&data_, count_ * sizeof(T) + 1), "cudaMalloc"); }
  void upload(const std::vector<T>& host, const char* what) {
    expect_cuda(cudaMemcpyAsync(data_, host.data(), count_ * sizeof(T), cudaMemcpyHostToDevice, exec_.stream), what);
    expect_cuda(cudaStreamSynchronize(exec_.stream), what);  // `host` is freed on return
  }
  fftconv::device exec_;
  std::size_t count_;
  T* data_ = nullptr;
};

// cudaMalloc's allocations are aligned to 256 bytes, the device's saved-state alignment.
template <>
class state_buffer<fftconv::device> {
 public:
  state_buffer(fftconv::device exec, std::size_t bytes) : exec_(exec), bytes_(bytes) {
    expect_cuda(cudaMalloc(reinterpret_cast<void**>(&data_), bytes_ + 1), "cudaMalloc");
    expect_cuda(cudaMemsetAsync(data_, 0, bytes_, exec_.stream), "memset");
    expect_cuda(cudaStreamSynchronize(exec_.stream), "memset");
  }
  state_buffer(const state_buffer&) = delete;
  state_buffer& operator=(const state_buffer&) = delete;
  ~state_buffer() {
    (void)cudaStreamSynchronize(exec_.stream);
    (void)cudaFree(data_);
    (void)cudaGetLastError();
  }
  std::span<std::byte> all() const { return {data_, bytes_}; }

 private:
  fftconv::device exec_;
  std::size_t bytes_;
  std::byte* data_ = nullptr;
};

// A device array of any trivially copyable type (complex GEMM operands), copied on `stream`.
template <class T>
class device_array {
 public:
  device_array(cudaStream_t stream, const std::vector<T>& values) : stream_(stream), count_(values.size()) {
    expect_cuda(cudaMalloc(&data_, count_ * sizeof(T) + 1), "cudaMalloc");
    expect_cuda(cudaMemcpyAsync(data_, values.data(), count_ * sizeof(T), cudaMemcpyHostToDevice, stream_),
                "upload");
    expect_cuda(cudaStreamSynchronize(stream_), "upload");
  }
  device_array(const device_array&) = delete;
  device_array& operator=(const device_array&) = delete;
  ~device_array() {
    (void)cudaStreamSynchronize(stream_);
    (void)cudaFree(data_);
    (void)cudaGetLastError();
  }
  T* data() const { return data_; }
  std::vector<T> read() const {
    std::vector<T> host(count_);
    expect_cuda(cudaMemcpyAsync(host.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost, stream_), "download");
    expect_cuda(cudaStreamSynchronize(stream_), "synchronize");
    return host;
  }

 private:
  cudaStream_t stream_;
  std::size_t count_;
  T* data_ = nullptr;
};

// The number of visible devices (0 when the runtime answers with an error).
inline int device_count() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return devices;
}

}  // namespace testing_support
