#pragma once
// Test data in an executor's memory space: filled from float64 values (converted to T), read back as float64.
// Outputs start as a sentinel, so an element the library never wrote shows up as a large error.

#include <cstdint>
#include <vector>

#include <fftconv/executor.hpp>

namespace testing_support {

inline constexpr double sentinel = 1.0e6;

template <class T, class Exec>
class test_buffer;  // specialised for fftconv::host here and for fftconv::device in device_buffer.cuh

template <class T>
class test_buffer<T, fftconv::host> {
 public:
  test_buffer(fftconv::host, const std::vector<double>& values) : data_(values.begin(), values.end()) {}
  test_buffer(fftconv::host, std::int64_t count) : data_(count, static_cast<T>(sentinel)) {}
  T* data() { return data_.data(); }
  std::vector<double> read() const { return {data_.begin(), data_.end()}; }

 private:
  std::vector<T> data_;
};

}  // namespace testing_support
