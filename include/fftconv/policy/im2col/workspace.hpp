#pragma once
// The im2col policy's column buffer, kept between calls in the memory of the executor that last used it.

#include <cstddef>
#include <memory>
#include <new>  // std::nothrow
#include <utility>

#include "../../backend/backend.hpp"

namespace fftconv::detail {

// A workspace kept between calls, type-erased so that conv_impl has the same layout in host-only and CUDA
// translation units. Reused only by the same kind of executor on the same stream of the same device
// (stream-ordered reuse on the GPU); otherwise released (cudaFreeAsync on its own stream, with its own device
// current) and reallocated.
class im2col_workspace {
 public:
  // A copied layer starts empty: sharing one buffer between two layers would race when they run on
  // different streams.
  im2col_workspace() = default;
  im2col_workspace(const im2col_workspace&) noexcept {}
  im2col_workspace& operator=(const im2col_workspace& other) noexcept {
    if (this != &other) release();
    return *this;
  }
  im2col_workspace(im2col_workspace&& other) noexcept { take(other); }
  im2col_workspace& operator=(im2col_workspace&& other) noexcept {
    if (this != &other) {
      release();
      take(other);
    }
    return *this;
  }
  ~im2col_workspace() = default;

  template <class T, class Exec>
  T* get(const Exec& exec, std::size_t count) {
    if (count == 0) return nullptr;  // e.g. the 1x1 forward: keep what the other passes need
    const execution_queue queue = queue_of(exec);
    if (owner_ != nullptr && count * sizeof(T) <= bytes_ && queue == queue_) return static_cast<T*>(data_);
    release();
    using buffer = typename backend<Exec>::template buffer<T>;
    auto held = std::make_shared<buffer>(backend<Exec>::template allocate<T>(exec, count));
    data_ = held->data();
    bytes_ = held->bytes();
    queue_ = queue;
    owner_ = std::move(held);
    return static_cast<T*>(data_);
  }

  void release() noexcept {
    if (owner_ != nullptr) {
      // The buffer is freed on its own queue: that stream on that device, whichever device is current now.
      const device_guard guard(queue_.device, std::nothrow);
      owner_.reset();
    }
    data_ = nullptr;
    bytes_ = 0;
  }

  std::size_t bytes() const noexcept { return bytes_; }

 private:
  void take(im2col_workspace& other) noexcept {
    owner_ = std::move(other.owner_);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
    queue_ = other.queue_;
  }

  std::shared_ptr<void> owner_;
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  execution_queue queue_;
};

}  // namespace fftconv::detail
