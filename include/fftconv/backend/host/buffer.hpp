#pragma once
// The host's aligned RAII buffer.

#include <cstddef>
#include <new>
#include <utility>

#include "../../error.hpp"
#include "../../memory.hpp"
#include "../common/allocation.hpp"

namespace fftconv::detail {

// 64-byte aligned so FFTW and OpenBLAS take their SIMD paths. Memory comes from the caller's memory_resource
// when one is given (and goes back to it, with the same size and alignment), else from aligned operator new.
template <class T>
class host_buffer {
 public:
  static constexpr std::size_t alignment = host_alignment;

  host_buffer() = default;
  explicit host_buffer(std::size_t count, memory_resource* resource = nullptr) : resource_(resource) {
    if (count == 0) return;
    if (count > std::size_t(-1) / sizeof(T)) throw out_of_memory(std::size_t(-1), "host");
    const std::size_t bytes = count * sizeof(T);
    if (resource != nullptr) {
      data_ = static_cast<T*>(allocate_from(*resource, bytes, alignment, nullptr, "host"));
    } else {
      data_ = static_cast<T*>(::operator new(bytes, std::align_val_t{alignment}, std::nothrow));
      if (data_ == nullptr) throw out_of_memory(bytes, "host");
    }
    count_ = count;
  }
  host_buffer(host_buffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        count_(std::exchange(other.count_, 0)),
        resource_(std::exchange(other.resource_, nullptr)) {}
  host_buffer& operator=(host_buffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      count_ = std::exchange(other.count_, 0);
      resource_ = std::exchange(other.resource_, nullptr);
    }
    return *this;
  }
  host_buffer(const host_buffer&) = delete;
  host_buffer& operator=(const host_buffer&) = delete;
  ~host_buffer() { release(); }

  T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return count_; }
  std::size_t bytes() const noexcept { return count_ * sizeof(T); }
  // The resource the memory came from; null for fftconv's own allocation.
  memory_resource* resource() const noexcept { return resource_; }

 private:
  void release() noexcept {
    if (data_ != nullptr) {
      if (resource_ != nullptr)
        resource_->deallocate(data_, bytes(), alignment, nullptr);
      else
        ::operator delete(data_, std::align_val_t{alignment});
    }
    data_ = nullptr;
    count_ = 0;
  }
  T* data_ = nullptr;
  std::size_t count_ = 0;
  memory_resource* resource_ = nullptr;
};

}  // namespace fftconv::detail
