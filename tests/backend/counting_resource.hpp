#pragma once
// A memory_resource that keeps the books: every live allocation with its size, alignment and stream, the
// live and peak bytes, and every deallocation that does not match its allocation. It can be told to fail
// (return null, or throw std::bad_alloc). `Upstream` provides the memory:
//   static void* allocate(std::size_t bytes, std::size_t alignment, CUstream_st* stream)
//   static void deallocate(void* pointer, std::size_t bytes, std::size_t alignment, CUstream_st* stream) noexcept

#include <cstddef>
#include <map>
#include <mutex>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include <fftconv/memory.hpp>

namespace testing_support {

enum class resource_failure { none, null, bad_alloc };

template <class Upstream>
class counting_resource : public fftconv::memory_resource {
 public:
  struct allocation {
    std::size_t bytes;
    std::size_t alignment;
    CUstream_st* stream;
  };

  void* allocate(std::size_t bytes, std::size_t alignment, CUstream_st* stream) override {
    const std::lock_guard<std::mutex> lock(mutex_);
    ++requests_;
    if (failure_ == resource_failure::null) return nullptr;
    if (failure_ == resource_failure::bad_alloc) throw std::bad_alloc();
    void* pointer = Upstream::allocate(bytes, alignment, stream);
    if (pointer == nullptr) return nullptr;
    live_[pointer] = {bytes, alignment, stream};
    history_.push_back({bytes, alignment, stream});
    live_bytes_ += bytes;
    if (live_bytes_ > peak_bytes_) peak_bytes_ = live_bytes_;
    ++allocations_;
    return pointer;
  }

  void deallocate(void* pointer, std::size_t bytes, std::size_t alignment, CUstream_st* stream) noexcept override {
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto found = live_.find(pointer);
    if (found == live_.end()) {
      problems_.push_back("deallocate of a pointer this resource did not hand out (or twice)");
      return;
    }
    const allocation& made = found->second;
    if (made.bytes != bytes || made.alignment != alignment || made.stream != stream) {
      std::ostringstream message;
      message << "deallocate(" << bytes << " bytes, alignment " << alignment << ", stream " << stream
              << ") of an allocation of " << made.bytes << " bytes, alignment " << made.alignment << ", stream "
              << made.stream;
      problems_.push_back(message.str());
    }
    Upstream::deallocate(pointer, made.bytes, made.alignment, made.stream);
    live_bytes_ -= made.bytes;
    live_.erase(found);
    ++deallocations_;
  }

  void fail_with(resource_failure failure) {
    const std::lock_guard<std::mutex> lock(mutex_);
    failure_ = failure;
  }

  std::size_t live_bytes() const { return locked(live_bytes_); }
  std::size_t peak_bytes() const { return locked(peak_bytes_); }
  std::size_t live_allocations() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return live_.size();
  }
  std::size_t requests() const { return locked(requests_); }
  std::size_t allocations() const { return locked(allocations_); }
  std::size_t deallocations() const { return locked(deallocations_); }
  std::vector<allocation> history() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return history_;
  }
  std::vector<std::string> problems() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return problems_;
  }

 private:
  template <class V>
  V locked(const V& value) const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return value;
  }

  mutable std::mutex mutex_;
  std::map<void*, allocation> live_;
  std::vector<allocation> history_;
  std::vector<std::string> problems_;
  std::size_t live_bytes_ = 0, peak_bytes_ = 0, requests_ = 0, allocations_ = 0, deallocations_ = 0;
  resource_failure failure_ = resource_failure::none;
};

}  // namespace testing_support
