#pragma once
// Test data in an executor's memory space: filled from float64 values (converted to T), read back as float64.
// Outputs start as a sentinel, so an element the library never wrote shows up as a large error (in fp16 the
// sentinel is +Inf, larger still).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <type_traits>
#include <vector>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <fftconv/executor.hpp>

namespace testing_support {

inline constexpr double sentinel = 1.0e6;

// A float64 value as T and back, by the CUDA Toolkit's own conversions (one rounding, to nearest even, straight
// from double), not the library's.
template <class T>
T to_element(double value) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return __double2bfloat16(value);
  else if constexpr (std::is_same_v<T, __half>)
    return __double2half(value);
  else
    return static_cast<T>(value);
}

template <class T>
double to_double(T value) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return __bfloat162float(value);
  else if constexpr (std::is_same_v<T, __half>)
    return __half2float(value);
  else
    return static_cast<double>(value);
}

template <class T>
std::vector<T> to_elements(const std::vector<double>& values) {
  std::vector<T> out;
  out.reserve(values.size());
  for (double v : values) out.push_back(to_element<T>(v));
  return out;
}

template <class T>
std::vector<double> to_doubles(const std::vector<T>& values) {
  std::vector<double> out;
  out.reserve(values.size());
  for (const T& v : values) out.push_back(to_double(v));
  return out;
}

template <class T, class Exec>
class test_buffer;  // specialised for fftconv::host here and for fftconv::device in device_buffer.cuh

template <class T>
class test_buffer<T, fftconv::host> {
 public:
  test_buffer(fftconv::host, const std::vector<double>& values) : data_(to_elements<T>(values)) {}
  test_buffer(fftconv::host, std::int64_t count) : data_(count, to_element<T>(sentinel)) {}
  T* data() { return data_.data(); }
  std::vector<double> read() const { return to_doubles(data_); }

 private:
  std::vector<T> data_;
};

// Bytes for a saved state (conv::saved_bytes), zeroed, aligned as the executor asks (cudaMalloc's 256 bytes on
// the device, in device_buffer.cuh).
template <class Exec>
class state_buffer;

template <>
class state_buffer<fftconv::host> {
 public:
  static constexpr std::size_t alignment = 64;
  state_buffer(fftconv::host, std::size_t bytes)
      : bytes_(bytes),
        data_(static_cast<std::byte*>(std::aligned_alloc(alignment, (bytes + alignment) / alignment * alignment))) {
    if (!data_) throw std::bad_alloc();
    std::memset(data_.get(), 0, bytes_);
  }
  std::span<std::byte> all() const { return {data_.get(), bytes_}; }

 private:
  struct release {
    void operator()(std::byte* p) const noexcept { std::free(p); }
  };
  std::size_t bytes_;
  std::unique_ptr<std::byte, release> data_;
};

}  // namespace testing_support
