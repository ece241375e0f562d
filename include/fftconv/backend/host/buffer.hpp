#pragma once
// The host's aligned RAII buffer.

#include <cstddef>
#include <new>
#include <utility>

#include "../../error.hpp"

namespace fftconv::detail {

// 64-byte aligned so FFTW and OpenBLAS take their SIMD paths.
template <class T>
class host_buffer {
 public:
  static constexpr std::align_val_t alignment{64};

  host_buffer() = default;
  explicit host_buffer(std::size_t count) : count_(count) {
    if (count == 0) return;
    if (count > std::size_t(-1) / sizeof(T)) throw out_of_memory(std::size_t(-1), "host");
    data_ = static_cast<T*>(::operator new(count * sizeof(T), alignment, std::nothrow));
    if (data_ == nullptr) throw out_of_memory(count * sizeof(T), "host");
  }
  host_buffer(host_buffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)) {}
  host_buffer& operator=(host_buffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      count_ = std::exchange(other.count_, 0);
    }
    return *this;
  }
  host_buffer(const host_buffer&) = delete;
  host_buffer& operator=(const host_buffer&) = delete;
  ~host_buffer() { release(); }

  T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return count_; }
  std::size_t bytes() const noexcept { return count_ * sizeof(T); }

 private:
  void release() noexcept {
    if (data_ != nullptr) ::operator delete(data_, alignment);
    data_ = nullptr;
    count_ = 0;
  }
  T* data_ = nullptr;
  std::size_t count_ = 0;
};

}  // namespace fftconv::detail
