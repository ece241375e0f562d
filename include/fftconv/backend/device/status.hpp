#pragma once
// CUDA, cuFFT and cuBLAS statuses turned into library_error: the call's text, the status name, file and line;
// a failed allocation (cudaErrorMemoryAllocation, CUFFT_ALLOC_FAILED, CUBLAS_STATUS_ALLOC_FAILED) into
// out_of_memory. No failure leaves a CUDA error pending.
// Host-compilable (plain C headers), so host code that queries the runtime can use the same macros.

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cufft.h>

#include <source_location>
#include <string>

#include "../../error.hpp"

namespace fftconv::detail {

inline const char* cufft_status_name(cufftResult status) {
  switch (status) {
    case CUFFT_SUCCESS: return "CUFFT_SUCCESS";
    case CUFFT_INVALID_PLAN: return "CUFFT_INVALID_PLAN";
    case CUFFT_ALLOC_FAILED: return "CUFFT_ALLOC_FAILED";
    case CUFFT_INVALID_TYPE: return "CUFFT_INVALID_TYPE";
    case CUFFT_INVALID_VALUE: return "CUFFT_INVALID_VALUE";
    case CUFFT_INTERNAL_ERROR: return "CUFFT_INTERNAL_ERROR";
    case CUFFT_EXEC_FAILED: return "CUFFT_EXEC_FAILED";
    case CUFFT_SETUP_FAILED: return "CUFFT_SETUP_FAILED";
    case CUFFT_INVALID_SIZE: return "CUFFT_INVALID_SIZE";
    case CUFFT_UNALIGNED_DATA: return "CUFFT_UNALIGNED_DATA";
    case CUFFT_INVALID_DEVICE: return "CUFFT_INVALID_DEVICE";
    case CUFFT_NO_WORKSPACE: return "CUFFT_NO_WORKSPACE";
    case CUFFT_NOT_IMPLEMENTED: return "CUFFT_NOT_IMPLEMENTED";
    case CUFFT_NOT_SUPPORTED: return "CUFFT_NOT_SUPPORTED";
    case CUFFT_MISSING_DEPENDENCY: return "CUFFT_MISSING_DEPENDENCY";
    case CUFFT_NVRTC_FAILURE: return "CUFFT_NVRTC_FAILURE";
    case CUFFT_NVJITLINK_FAILURE: return "CUFFT_NVJITLINK_FAILURE";
    case CUFFT_NVSHMEM_FAILURE: return "CUFFT_NVSHMEM_FAILURE";
    default: return "unknown cufftResult";
  }
}

// A library call that failed for want of device memory: an out_of_memory (what callers catch to retry with a
// smaller batch or after freeing memory) that names the call, since the library does not say how much it asked.
class library_out_of_memory : public out_of_memory {
 public:
  library_out_of_memory(const char* library, const char* call, long long status, const char* status_name,
                        std::source_location where)
      : out_of_memory(0, "device"),
        message_("fftconv: out of device memory: " + std::string(library) + " call `" + call + "` failed with " +
                 status_name + " (" + std::to_string(status) + ") at " + where.file_name() + ':' +
                 std::to_string(where.line())) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

inline void check_cuda(cudaError_t status, const char* call, std::source_location where) {
  if (status == cudaSuccess) return;
  (void)cudaGetLastError();  // clear a non-sticky error so the context stays usable
  if (status == cudaErrorMemoryAllocation)
    throw library_out_of_memory("CUDA", call, status, cudaGetErrorName(status), where);
  throw library_error("CUDA", call, status, cudaGetErrorName(status), where);
}

// cuFFT and cuBLAS run CUDA calls of their own: a failure may leave a CUDA error as the thread's last error,
// which is cleared so that the next launch check does not report it as its own.
inline void check_cufft(cufftResult status, const char* call, std::source_location where) {
  if (status == CUFFT_SUCCESS) return;
  (void)cudaGetLastError();
  if (status == CUFFT_ALLOC_FAILED) throw library_out_of_memory("cuFFT", call, status, cufft_status_name(status), where);
  throw library_error("cuFFT", call, status, cufft_status_name(status), where);
}

inline void check_cublas(cublasStatus_t status, const char* call, std::source_location where) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  (void)cudaGetLastError();
  if (status == CUBLAS_STATUS_ALLOC_FAILED)
    throw library_out_of_memory("cuBLAS", call, status, cublasGetStatusName(status), where);
  throw library_error("cuBLAS", call, status, cublasGetStatusName(status), where);
}

}  // namespace fftconv::detail

#define FFTCONV_CUDA_CHECK(call) ::fftconv::detail::check_cuda((call), #call, std::source_location::current())
#define FFTCONV_CUFFT_CHECK(call) ::fftconv::detail::check_cufft((call), #call, std::source_location::current())
#define FFTCONV_CUBLAS_CHECK(call) ::fftconv::detail::check_cublas((call), #call, std::source_location::current())
// After a kernel launch: configuration errors surface here, asynchronous faults at the next synchronising call.
#define FFTCONV_CUDA_CHECK_LAUNCH() FFTCONV_CUDA_CHECK(cudaGetLastError())
