#pragma once
// The caller's memory: a resource attached to an executor (`host{&resource}`, `device{stream, &resource}`)
// receives every allocation fftconv makes for that call's workspace, plans' work areas and cuBLAS workspaces.
// Without one, fftconv allocates with aligned operator new on the host and cudaMallocAsync on the stream.

#include <cstddef>

struct CUstream_st;  // the CUDA runtime's stream type; cudaStream_t is `CUstream_st*`

namespace fftconv {

// Device allocations are stream-ordered: memory allocated on `stream` may be used by work queued on it, and a
// deallocation on `stream` may be reused once the work queued before it is done (cudaMallocAsync's rule, and
// the rule of caching allocators such as PyTorch's and RMM's). Host allocations pass a null stream.
// allocate returns null or throws std::bad_alloc when it cannot serve the request; fftconv then throws
// fftconv::out_of_memory. deallocate must not throw; it receives the size, alignment and stream of the
// allocation. fftconv asks for 64-byte alignment on the host and 256 on the device, and deallocates device
// memory with the device it was allocated on current. Under CUDA graph capture, allocate and deallocate are
// called for the captured stream: a resource used there must be stream-ordered (as cudaMallocAsync is).
// Workspace a layer keeps between calls goes back to the resource it came from when the layer releases it, so
// a resource must outlive the layers that allocated from it. Functional calls on a resource run on a layer of
// their own, released before they return: the per-thread cache keeps none of its memory.
class memory_resource {
 public:
  virtual ~memory_resource() = default;
  virtual void* allocate(std::size_t bytes, std::size_t alignment, CUstream_st* stream) = 0;
  virtual void deallocate(void* pointer, std::size_t bytes, std::size_t alignment, CUstream_st* stream) noexcept = 0;
};

}  // namespace fftconv
