#pragma once
// Which memory a pointer lives in, asked of the CUDA runtime when it is linked (FFTCONV_HAS_CUDART).
// Without a driver or a GPU the runtime answers cudaErrorInsufficientDriver / cudaErrorNoDevice: that means
// "no GPU", so every pointer is host memory, and the sticky error is cleared.

#include "../../config.hpp"  // FFTCONV_HAS_CUDART
#include "../../error.hpp"

#if FFTCONV_HAS_CUDART || defined(__CUDACC__)
#include <cuda_runtime_api.h>
#endif

namespace fftconv::detail {

enum class memory_space { host, pinned_host, device, managed };

// What a failed runtime query means: the host executor takes the pointer as host memory; the device executor
// raises the error.
enum class query_failure { assume_host, raise };

inline const char* name_of(memory_space space) {
  switch (space) {
    case memory_space::host: return "host (pageable)";
    case memory_space::pinned_host: return "host (pinned)";
    case memory_space::device: return "device";
    case memory_space::managed: return "managed";
  }
  return "unknown";
}

// The memory space of `pointer`; for device memory, `device_id` (when given) receives its device.
inline memory_space query_memory_space(const void* pointer, query_failure on_failure, int* device_id = nullptr) {
#if FFTCONV_HAS_CUDART || defined(__CUDACC__)
  cudaPointerAttributes attributes{};
  const cudaError_t status = cudaPointerGetAttributes(&attributes, pointer);
  if (status == cudaErrorInsufficientDriver || status == cudaErrorNoDevice) {
    (void)cudaGetLastError();
    return memory_space::host;
  }
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    if (on_failure == query_failure::assume_host) return memory_space::host;
    throw library_error("CUDA", "cudaPointerGetAttributes", status, cudaGetErrorName(status),
                        std::source_location::current());
  }
  if (device_id != nullptr) *device_id = attributes.device;
  switch (attributes.type) {
    case cudaMemoryTypeDevice: return memory_space::device;
    case cudaMemoryTypeManaged: return memory_space::managed;
    case cudaMemoryTypeHost: return memory_space::pinned_host;
    default: return memory_space::host;
  }
#else
  (void)pointer, (void)on_failure, (void)device_id;
  return memory_space::host;
#endif
}

}  // namespace fftconv::detail
