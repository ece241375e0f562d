#pragma once
// Where a call runs. `host{}` runs on the CPU (OpenMP loops, FFTW, CBLAS); `device{stream}` enqueues on a
// CUDA stream (kernels, cuFFT, cuBLAS) and returns without synchronising, like cuDNN.

#include <concepts>

struct CUstream_st;  // the CUDA runtime's stream type; cudaStream_t is `CUstream_st*`

namespace fftconv {

struct host {};

struct device {
  CUstream_st* stream = nullptr;  // a cudaStream_t; null is the legacy default stream
};

template <class Exec>
concept executor = std::same_as<Exec, host> || std::same_as<Exec, device>;

}  // namespace fftconv
