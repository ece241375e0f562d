#pragma once
// The API tests' memory on the device (api_checks.hpp has the host's): every copy is ordered on the executor's
// stream and waited for, so read() sees what the library's calls on that stream wrote.

#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "api_checks.hpp"

namespace api_checks {

inline void expect_cuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
}

template <class T>
class buffer<T, fftconv::device> {
 public:
  buffer(fftconv::device exec, std::int64_t count) : exec_(exec), count_(count) {
    expect_cuda(cudaMalloc(reinterpret_cast<void**>(&data_), sizeof(T) * std::size_t(std::max<std::int64_t>(count, 1))),
                "cudaMalloc");
  }
  buffer(fftconv::device exec, const std::vector<double>& values) : buffer(exec, std::int64_t(values.size())) {
    write(values);
  }
  buffer(const buffer&) = delete;
  buffer& operator=(const buffer&) = delete;
  ~buffer() {
    (void)cudaStreamSynchronize(exec_.stream);
    (void)cudaFree(data_);
    (void)cudaGetLastError();
  }
  T* data() const { return data_; }
  std::int64_t size() const { return count_; }
  void write(const std::vector<double>& values) {
    REQUIRE(std::int64_t(values.size()) == count_);
    const std::vector<T> staged(values.begin(), values.end());
    expect_cuda(cudaMemcpyAsync(data_, staged.data(), sizeof(T) * staged.size(), cudaMemcpyHostToDevice, exec_.stream),
                "upload");
    expect_cuda(cudaStreamSynchronize(exec_.stream), "upload");
  }
  std::vector<double> read() const {
    std::vector<T> host(static_cast<std::size_t>(count_));
    expect_cuda(cudaMemcpyAsync(host.data(), data_, sizeof(T) * host.size(), cudaMemcpyDeviceToHost, exec_.stream),
                "download");
    expect_cuda(cudaStreamSynchronize(exec_.stream), "download");
    return {host.begin(), host.end()};
  }

 private:
  fftconv::device exec_;
  std::int64_t count_;
  T* data_ = nullptr;
};

// cudaMalloc's allocations are aligned to 256 bytes, the device's saved-state alignment.
template <>
class byte_buffer<fftconv::device> {
 public:
  byte_buffer(fftconv::device exec, std::size_t bytes) : exec_(exec), bytes_(bytes) {
    expect_cuda(cudaMalloc(reinterpret_cast<void**>(&data_), std::max<std::size_t>(bytes, 1)), "cudaMalloc");
    expect_cuda(cudaMemsetAsync(data_, 0, bytes_, exec_.stream), "memset");
    expect_cuda(cudaStreamSynchronize(exec_.stream), "memset");
  }
  byte_buffer(const byte_buffer&) = delete;
  byte_buffer& operator=(const byte_buffer&) = delete;
  ~byte_buffer() {
    (void)cudaStreamSynchronize(exec_.stream);
    (void)cudaFree(data_);
    (void)cudaGetLastError();
  }
  std::byte* data() const { return data_; }
  std::size_t size() const { return bytes_; }
  fftconv::saved_state part(std::size_t offset, std::size_t count) const {
    REQUIRE(offset + count <= bytes_);
    return {data_ + offset, count};
  }
  fftconv::saved_state all() const { return {data_, bytes_}; }

 private:
  fftconv::device exec_;
  std::size_t bytes_;
  std::byte* data_ = nullptr;
};

}  // namespace api_checks
