#pragma once
// Device backend: stream-ordered RAII buffers (the executor's memory resource, or cudaMallocAsync), grid-stride
// launches of the shared element functors, deterministic block reductions (CUB), and GEMMs on cuBLAS (cublas.cuh)
// with a workspace of the call's own. Every call and launch is checked.

#if !defined(__CUDACC__)
#error "fftconv/backend/device/device.cuh holds CUDA kernels: include it from a .cu translation unit"
#endif

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <cub/block/block_reduce.cuh>  // cub::BlockReduce, a fixed-order tree for a fixed block size
#include <utility>

#include "../../error.hpp"
#include "../../executor.hpp"
#include "../../memory.hpp"
#include "../common/accumulator.hpp"
#include "../common/allocation.hpp"
#include "../common/gemm.hpp"
#include "../common/memory_space.hpp"
#include "../common/primary.hpp"
#include "queue.hpp"
#include "capture.hpp"
#include "cublas.cuh"  // device_gemm, cublas_context_for
#include "device_guard.hpp"
#include "status.hpp"

namespace fftconv::detail {

// Memory allocated and freed in the order of `stream`, so a temporary can be released while the work that uses
// it is still queued: from the caller's memory_resource when the executor carries one (deallocated through
// it, on the same stream, with the same size and alignment), else cudaMallocAsync / cudaFreeAsync. Both are
// legal while the stream is being captured into a CUDA graph. The buffer belongs to the device current at
// allocation (the executor's device): the free runs with that device current, because a null or per-thread
// stream handle means a different stream on every device, and a resource may keep a pool per device.
template <class T>
class device_buffer {
 public:
  static constexpr std::size_t alignment = device_alignment;

  device_buffer() = default;
  device_buffer(std::size_t count, cudaStream_t stream, memory_resource* resource = nullptr)
      : stream_(stream), resource_(resource) {
    if (count == 0) return;
    if (count > std::size_t(-1) / sizeof(T)) throw out_of_memory(std::size_t(-1), "device");
    FFTCONV_CUDA_CHECK(cudaGetDevice(&device_));
    const std::size_t bytes = count * sizeof(T);
    void* pointer = nullptr;
    if (resource != nullptr) {
      pointer = allocate_from(*resource, bytes, alignment, stream, "device");
    } else {
      const cudaError_t status = cudaMallocAsync(&pointer, bytes, stream);
      if (status == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        throw out_of_memory(bytes, "device");
      }
      check_cuda(status, "cudaMallocAsync", std::source_location::current());
    }
    data_ = static_cast<T*>(pointer);
    count_ = count;
  }
  device_buffer(device_buffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        count_(std::exchange(other.count_, 0)),
        stream_(other.stream_),
        resource_(std::exchange(other.resource_, nullptr)),
        device_(other.device_) {}
  device_buffer& operator=(device_buffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      count_ = std::exchange(other.count_, 0);
      stream_ = other.stream_;
      resource_ = std::exchange(other.resource_, nullptr);
      device_ = other.device_;
    }
    return *this;
  }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  ~device_buffer() { release(); }

  T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return count_; }
  std::size_t bytes() const noexcept { return count_ * sizeof(T); }
  int device() const noexcept { return device_; }  // the owning device; -1 while empty-constructed
  cudaStream_t stream() const noexcept { return stream_; }
  // The resource the memory came from; null for cudaMallocAsync.
  memory_resource* resource() const noexcept { return resource_; }

 private:
  void release() noexcept {
    // A destructor never throws: a failed free (or switch) is cleared, so no unrelated launch check reports it.
    if (data_ != nullptr) {
      if (resource_ != nullptr)
        (void)release_on_device<cuda_runtime>(device_, [&]() noexcept {
          resource_->deallocate(data_, bytes(), alignment, stream_);
          return 0;
        });
      else
        (void)release_on_device<cuda_runtime>(device_, [&]() noexcept { return int(cudaFreeAsync(data_, stream_)); });
    }
    data_ = nullptr;
    count_ = 0;
  }
  T* data_ = nullptr;
  std::size_t count_ = 0;
  cudaStream_t stream_ = nullptr;
  memory_resource* resource_ = nullptr;
  int device_ = host_device;
};

inline constexpr int block_threads = 256;

template <class F>
__global__ void __launch_bounds__(block_threads) for_each_index_kernel(std::int64_t count, F f) {
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) f(i);
}

// One block per segment: each thread sums a fixed strided subset in order, then a fixed tree combines them;
// in accumulator_t<T> (float in double), as the host does.
template <class T, class F>
__global__ void __launch_bounds__(block_threads)
    segmented_sum_kernel(std::int64_t segments, std::int64_t length, F term, T* out) {
  using accumulator = accumulator_t<T>;
  using block_reduce = cub::BlockReduce<accumulator, block_threads>;
  __shared__ typename block_reduce::TempStorage storage;
  for (std::int64_t s = blockIdx.x; s < segments; s += gridDim.x) {
    accumulator partial{};
    for (std::int64_t i = threadIdx.x; i < length; i += block_threads) partial += term(s, i);
    const accumulator total = block_reduce(storage).Sum(partial);
    if (threadIdx.x == 0) out[s] = static_cast<T>(total);
    __syncthreads();  // storage is reused by the next segment
  }
}

// Kernel functors live at namespace scope: nvcc's generated host stubs must be able to name them.
template <class T>
struct fill_value {
  T* data;
  T value;
  __device__ void operator()(std::int64_t i) const { data[i] = value; }
};

inline unsigned grid_for(std::int64_t work_items) {
  constexpr std::int64_t max_blocks = std::int64_t{1} << 20;  // grid-stride loops cover the rest
  const std::int64_t blocks = (work_items + block_threads - 1) / block_threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > max_blocks ? max_blocks : blocks));
}

template <>
struct backend<device> {
  static constexpr bool on_device = true;

  template <class T>
  using buffer = device_buffer<T>;

  // Ordered on exec.stream: from exec.resource when the caller attached one, else cudaMallocAsync; 256-byte
  // aligned.
  template <class T>
  static buffer<T> allocate(const device& exec, std::size_t count) {
    return buffer<T>(count, exec.stream, exec.resource);
  }

  template <class F>
  static void for_each_index(const device& exec, std::int64_t count, const F& f, std::int64_t = 1) {
    if (count <= 0) return;
    for_each_index_kernel<<<grid_for(count), block_threads, 0, exec.stream>>>(count, f);
    FFTCONV_CUDA_CHECK_LAUNCH();
  }

  template <class T, class F>
  static void segmented_sum(const device& exec, std::int64_t segments, std::int64_t length, const F& term, T* out) {
    if (segments <= 0) return;
    constexpr std::int64_t max_blocks = std::int64_t{1} << 20;
    const auto blocks = static_cast<unsigned>(segments < max_blocks ? segments : max_blocks);
    segmented_sum_kernel<T><<<blocks, block_threads, 0, exec.stream>>>(segments, length, term, out);
    FFTCONV_CUDA_CHECK_LAUNCH();
  }

  template <class T>
  static void fill(const device& exec, T* data, std::int64_t count, T value) {
    for_each_index(exec, count, fill_value<T>{data, value});
  }

  template <class T>
  static void copy(const device& exec, T* destination, const T* source, std::int64_t count) {
    if (count > 0)
      FFTCONV_CUDA_CHECK(cudaMemcpyAsync(destination, source, static_cast<std::size_t>(count) * sizeof(T),
                                         cudaMemcpyDeviceToDevice, exec.stream));
  }

  // The GEMMs' workspace is allocated for this call through the executor's resource, ordered on its stream,
  // and released in that order once they are enqueued (so capturable, and never shared between streams).
  template <class Scalar>
  static void gemm(const device& exec, const gemm_desc& desc, Scalar alpha, const Scalar* a, const Scalar* b,
                   Scalar beta, Scalar* c) {
    const cublas_context context = cublas_context_for(exec.stream);
    const buffer<unsigned char> workspace = allocate<unsigned char>(exec, context.workspace_bytes);
    device_gemm(exec.stream, context.handle, desc, alpha, a, b, beta, c, workspace.data(), workspace.bytes());
  }

  // A pointer handed to the device executor must be readable by kernels: pageable host memory is refused;
  // device, managed and pinned (mapped) host memory are accepted.
  static void check_pointer(const device& exec, const void* pointer, const char* name) {
    int pointer_device = -1;
    const memory_space space = query_memory_space(pointer, query_failure::raise, &pointer_device);
    if (space == memory_space::host)
      fail(name, " points to pageable host memory, but the executor is fftconv::device (use fftconv::host, or "
                 "device / managed memory)");
    if (space == memory_space::device && pointer_device != current_device(exec))
      fail(name, " lives on device ", pointer_device, " but the current device is ", current_device(exec),
           " (cudaSetDevice before the call)");
  }

  static int current_device(const device&) {
    int id = 0;
    FFTCONV_CUDA_CHECK(cudaGetDevice(&id));
    return id;
  }

  // The executor's stream on the current device (the device its work is enqueued on). Refused (invalid_argument)
  // while that stream is being captured into a CUDA graph.
  static void synchronize(const device& exec) { detail::synchronize(queue_of(exec)); }

  // Whether exec's stream is being captured into a CUDA graph now (cudaStreamIsCapturing; the legacy stream
  // counts as capturing while a blocking stream of its device is).
  static bool is_capturing(const device& exec) { return stream_is_capturing<cuda_runtime>(exec.stream); }

  // Throws invalid_argument naming `action` ("creating a cuFFT plan", "synchronizing a stream", ...) while
  // exec's stream is being captured: the message asks for a warm-up call with the same shapes before capture.
  // For a policy about to do something capture does not allow: plan, synchronise, or allocate outside
  // stream order.
  static void refuse_under_capture(const device& exec, const char* action) {
    refuse_under_capture_on<cuda_runtime>(exec.stream, action);
  }
};

}  // namespace fftconv::detail
