#pragma once
// What a cached choice of fftconv::automatic depends on besides the shape: the machine that ran the timing.
//   host    "host threads=<OpenMP threads> blas=<OpenBLAS core>" (the BLAS kernel set decides im2col's speed)
//   device  "<device name> sm_<cc> cudart=<v> cufft=<v> cublas=<v>", never a bare ordinal: ordinals are
//           renumbered by CUDA_VISIBLE_DEVICES, and a saved choice must not carry over to another GPU.
// Also: whether a stream is being captured into a CUDA graph (no timing then).

#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "../backend/backend.hpp"
#include "../config.hpp"
#include "../executor.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif
#if FFTCONV_HAS_CBLAS
#include FFTCONV_CBLAS_HEADER
#endif
#if defined(__CUDACC__)
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cufft.h>

#include "../backend/device/status.hpp"
#endif

namespace fftconv::detail {

// OpenBLAS's kernel set ("Haswell", "Prescott" for its generic fallback, ...), or what else is linked.
inline std::string blas_identity() {
#if FFTCONV_HAS_CBLAS && defined(OPENBLAS_VERSION)
  const char* core = openblas_get_corename();
  return std::string("openblas-") + (core != nullptr ? core : "unknown");
#elif FFTCONV_HAS_CBLAS
  return "cblas";
#else
  return "none";
#endif
}

inline int host_thread_count() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return static_cast<int>(std::thread::hardware_concurrency());
#endif
}

inline std::string host_identity() {
  static const std::string blas = blas_identity();
  return "host threads=" + std::to_string(host_thread_count()) + " blas=" + blas;
}

// The identity of the current device, computed once per ordinal in this process (an ordinal does not change
// meaning while the process runs; only across processes, which the identity string covers).
template <class Exec>
std::string hardware_identity(const Exec& exec) {
  if constexpr (!backend<Exec>::on_device) {
    (void)exec;
    return host_identity();
  } else {
#if defined(__CUDACC__)
    const int ordinal = backend<Exec>::current_device(exec);
    static std::mutex guard;
    static std::map<int, std::string> by_ordinal;
    std::lock_guard<std::mutex> lock(guard);
    auto found = by_ordinal.find(ordinal);
    if (found != by_ordinal.end()) return found->second;
    cudaDeviceProp properties{};
    FFTCONV_CUDA_CHECK(cudaGetDeviceProperties(&properties, ordinal));
    int runtime = 0, cufft = 0, cublas_major = 0, cublas_minor = 0, cublas_patch = 0;
    FFTCONV_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
    FFTCONV_CUFFT_CHECK(cufftGetVersion(&cufft));
    FFTCONV_CUBLAS_CHECK(cublasGetProperty(MAJOR_VERSION, &cublas_major));
    FFTCONV_CUBLAS_CHECK(cublasGetProperty(MINOR_VERSION, &cublas_minor));
    FFTCONV_CUBLAS_CHECK(cublasGetProperty(PATCH_LEVEL, &cublas_patch));
    std::string name = properties.name;
    for (char& c : name)
      if (c == '|' || c == '\t' || c == '\n') c = ' ';  // the separators of the saved file
    const std::string identity = name + " sm_" + std::to_string(properties.major) + std::to_string(properties.minor) +
                                 " cudart=" + std::to_string(runtime) + " cufft=" + std::to_string(cufft) +
                                 " cublas=" + std::to_string(cublas_major) + "." + std::to_string(cublas_minor) +
                                 "." + std::to_string(cublas_patch);
    by_ordinal.emplace(ordinal, identity);
    return identity;
#else
    return "device";  // unreachable: the device backend exists only under nvcc
#endif
  }
}

// True while exec's stream is being captured into a CUDA graph: timing there would record the candidates'
// work into the graph (and synchronising a capturing stream is an error).
template <class Exec>
bool capturing(const Exec& exec) {
  if constexpr (!backend<Exec>::on_device) {
    (void)exec;
    return false;
  } else {
#if defined(__CUDACC__)
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    FFTCONV_CUDA_CHECK(cudaStreamIsCapturing(exec.stream, &status));
    return status != cudaStreamCaptureStatusNone;
#else
    return false;
#endif
  }
}

}  // namespace fftconv::detail
