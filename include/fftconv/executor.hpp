#pragma once
// Where a call runs. `host{}` runs on the CPU (OpenMP loops, FFTW, CBLAS); `device{stream}` enqueues on a
// CUDA stream (kernels, cuFFT, cuBLAS) and returns without synchronising, like cuDNN. Either may carry the
// caller's memory_resource (memory.hpp); null means fftconv's own allocations.

#include <concepts>

#include "memory.hpp"

namespace fftconv {

struct host {
  memory_resource* resource = nullptr;
};

struct device {
  CUstream_st* stream = nullptr;      // a cudaStream_t; null is the legacy default stream
  memory_resource* resource = nullptr;
};

template <class Exec>
concept executor = std::same_as<Exec, host> || std::same_as<Exec, device>;

}  // namespace fftconv
