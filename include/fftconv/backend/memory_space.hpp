#pragma once
// Which memory a pointer lives in, asked of the CUDA runtime when it is linked (FFTCONV_HAS_CUDART).
// Without a driver or a GPU the runtime answers cudaErrorInsufficientDriver / cudaErrorNoDevice: that means
// "no GPU", so every pointer is host memory, and the sticky error is cleared.

#include "../error.hpp"

#if FFTCONV_HAS_CUDART || defined(__CUDACC__)
#include <cuda_runtime_api.h>
#endif

namespace fftconv::detail {

enum class memory_space { host, pinned_host, device, managed };

inline const char* name_of(memory_space space) {
  switch (space) {
    case memory_space::host: return "host (pageable)";
    case memory_space::pinned_host: return "host (pinned)";
    case memory_space::device: return "device";
    case memory_space::managed: return "managed";
  }
  return "unknown";
}

inline memory_space query_memory_space(const void* pointer) {
#if FFTCONV_HAS_CUDART || defined(__CUDACC__)
  cudaPointerAttributes attributes{};
  const cudaError_t status = cudaPointerGetAttributes(&attributes, pointer);
  if (status == cudaErrorInsufficientDriver || status == cudaErrorNoDevice) {
    (void)cudaGetLastError();
    return memory_space::host;
  }
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    throw library_error("CUDA", "cudaPointerGetAttributes", status, cudaGetErrorName(status),
                        std::source_location::current());
  }
  switch (attributes.type) {
    case cudaMemoryTypeDevice: return memory_space::device;
    case cudaMemoryTypeManaged: return memory_space::managed;
    case cudaMemoryTypeHost: return memory_space::pinned_host;
    default: return memory_space::host;
  }
#else
  (void)pointer;
  return memory_space::host;
#endif
}

}  // namespace fftconv::detail
