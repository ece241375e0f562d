#pragma once
// The one place fftconv asks a caller's memory_resource for memory: a null result or std::bad_alloc becomes
// fftconv::out_of_memory, and memory without the requested alignment is handed back and refused.

#include <cstddef>
#include <cstdint>
#include <new>

#include "../../error.hpp"
#include "../../memory.hpp"

namespace fftconv::detail {

// Alignments fftconv asks for: 64 bytes on the host (FFTW's and OpenBLAS's SIMD paths), 256 on the device (what
// cudaMalloc guarantees and cuBLAS asks of its workspace).
inline constexpr std::size_t host_alignment = 64;
inline constexpr std::size_t device_alignment = 256;

// `bytes` (> 0) from `resource`, for work ordered on `stream` (null on the host); `space` is "host" or "device".
inline void* allocate_from(memory_resource& resource, std::size_t bytes, std::size_t alignment, CUstream_st* stream,
                           const char* space) {
  void* pointer = nullptr;
  try {
    pointer = resource.allocate(bytes, alignment, stream);
  } catch (const std::bad_alloc&) {
    throw out_of_memory(bytes, space);
  }
  if (pointer == nullptr) throw out_of_memory(bytes, space);
  if (reinterpret_cast<std::uintptr_t>(pointer) % alignment != 0) {
    resource.deallocate(pointer, bytes, alignment, stream);
    fail("memory_resource::allocate returned ", pointer, " for ", bytes, " bytes of ", space,
         " memory, not aligned to the ", alignment, " bytes asked for");
  }
  return pointer;
}

}  // namespace fftconv::detail
