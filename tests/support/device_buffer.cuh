#pragma once
// test_buffer in device memory (see test_buffer.hpp), and the stream the device tests run on. Reads synchronise
// the executor's stream.

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
  ~test_stream() { cudaStreamDestroy(stream_); }  // never throws; a failure here cannot fail the test anyway

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
    std::vector<T> converted(values.begin(), values.end());
    expect_cuda(cudaMemcpy(data_, converted.data(), count_ * sizeof(T), cudaMemcpyHostToDevice), "upload");
  }
  test_buffer(fftconv::device exec, std::int64_t count) : exec_(exec), count_(count) {
    allocate();
    std::vector<T> fill(count_, static_cast<T>(sentinel));
    expect_cuda(cudaMemcpy(data_, fill.data(), count_ * sizeof(T), cudaMemcpyHostToDevice), "fill");
  }
  test_buffer(const test_buffer&) = delete;
  test_buffer& operator=(const test_buffer&) = delete;
  ~test_buffer() { cudaFree(data_); }

  T* data() { return data_; }
  std::vector<double> read() const {
    expect_cuda(cudaStreamSynchronize(exec_.stream), "synchronize");
    std::vector<T> host(count_);
    expect_cuda(cudaMemcpy(host.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost), "download");
    return {host.begin(), host.end()};
  }

 private:
  void allocate() { expect_cuda(cudaMalloc(&data_, count_ * sizeof(T) + 1), "cudaMalloc"); }
  fftconv::device exec_;
  std::size_t count_;
  T* data_ = nullptr;
};

}  // namespace testing_support
