#pragma once
// Device GEMMs: gemm_desc executed by cuBLAS's strided-batched GEMMs, on a per-(thread, device) handle and in a
// workspace the caller provides (the executor's memory, ordered on its stream).

#if !defined(__CUDACC__)
#error "fftconv/backend/device/cublas.cuh is for CUDA translation units (nvcc, a .cu file)"
#endif

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <type_traits>
#include <vector>

#include "../../error.hpp"
#include "../common/gemm.hpp"  // gemm_desc, complex<T>
#include "capture.hpp"  // refuse_under_capture_on
#include "device_guard.hpp"  // release_on_device, cuda_runtime
#include "status.hpp"  // FFTCONV_CUDA_CHECK, FFTCONV_CUBLAS_CHECK

namespace fftconv::detail {

// cuBLAS's recommended workspace (cublasSetWorkspace): 32 MiB for Hopper, 4 MiB for older GPUs; newer ones get
// Hopper's.
inline std::size_t cublas_workspace_bytes_for(int compute_capability_major) {
  return compute_capability_major >= 9 ? std::size_t{32} << 20 : std::size_t{4} << 20;
}

// One cuBLAS handle per (thread, device): creating one costs milliseconds, and handles are not for concurrent
// use from several threads. Destroyed at thread exit, each with its own device current (cublasDestroy
// synchronises and frees on the handle's device), never throwing. Creating one allocates outside stream order:
// refused while `stream` (the caller's) is being captured into a CUDA graph.
struct cublas_context {
  cublasHandle_t handle = nullptr;
  std::size_t workspace_bytes = 0;  // what each call's GEMMs get (cublas_workspace_bytes_for)
};

inline cublas_context cublas_context_for(cudaStream_t stream) {
  struct contexts {
    std::vector<cublas_context> by_device;
    ~contexts() {
      for (std::size_t device_id = 0; device_id < by_device.size(); ++device_id)
        if (cublasHandle_t h = by_device[device_id].handle; h != nullptr)
          (void)release_on_device<cuda_runtime>(static_cast<int>(device_id), [h]() noexcept {
            return cublasDestroy(h) == CUBLAS_STATUS_SUCCESS ? 0 : int(cudaErrorUnknown);
          });
    }
  };
  thread_local contexts cache;
  int device_id = 0;
  FFTCONV_CUDA_CHECK(cudaGetDevice(&device_id));
  if (cache.by_device.size() <= static_cast<std::size_t>(device_id)) cache.by_device.resize(device_id + 1);
  cublas_context& context = cache.by_device[device_id];
  if (context.handle == nullptr) {
    refuse_under_capture_on<cuda_runtime>(stream, "creating a cuBLAS handle");
    int major = 0;
    FFTCONV_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device_id));
    FFTCONV_CUBLAS_CHECK(cublasCreate(&context.handle));
    context.workspace_bytes = cublas_workspace_bytes_for(major);
  }
  return context;
}

inline cublasOperation_t to_cublas(gemm_op op) {
  switch (op) {
    case gemm_op::none: return CUBLAS_OP_N;
    case gemm_op::transpose: return CUBLAS_OP_T;
    case gemm_op::conjugate_transpose: return CUBLAS_OP_C;
  }
  return CUBLAS_OP_N;
}

// cuBLAS is column-major; a row-major C = op(A) op(B) is the column-major C^T = op(B)^T op(A)^T, so the
// operands swap places and keep their op codes. The GEMM runs in `workspace` (device memory ordered on
// `stream`, 256-byte aligned) rather than the handle's default pool, which cuBLAS allocated outside the
// caller's resource and which the handle's work on other streams would use too.
template <class Scalar>
void device_gemm(cudaStream_t stream, cublasHandle_t handle, const gemm_desc& d, Scalar alpha, const Scalar* a,
                 const Scalar* b, Scalar beta, Scalar* c, void* workspace, std::size_t workspace_bytes) {
  static_assert(is_gemm_scalar_v<Scalar>, "fftconv: gemm scalar must be float, double or their complex");
  // cublasSetStream resets the handle to its default workspace: the call's own is set after it.
  FFTCONV_CUBLAS_CHECK(cublasSetStream(handle, stream));
  FFTCONV_CUBLAS_CHECK(cublasSetWorkspace(handle, workspace, workspace_bytes));
  const cublasOperation_t op_a = to_cublas(d.op_a), op_b = to_cublas(d.op_b);
  if constexpr (std::is_same_v<Scalar, float>) {
    FFTCONV_CUBLAS_CHECK(cublasSgemmStridedBatched_64(handle, op_b, op_a, d.n, d.m, d.k, &alpha, b, d.ldb, d.stride_b,
                                                      a, d.lda, d.stride_a, &beta, c, d.ldc, d.stride_c, d.batch));
  } else if constexpr (std::is_same_v<Scalar, double>) {
    FFTCONV_CUBLAS_CHECK(cublasDgemmStridedBatched_64(handle, op_b, op_a, d.n, d.m, d.k, &alpha, b, d.ldb, d.stride_b,
                                                      a, d.lda, d.stride_a, &beta, c, d.ldc, d.stride_c, d.batch));
  } else if constexpr (std::is_same_v<Scalar, complex<float>>) {
    FFTCONV_CUBLAS_CHECK(cublasCgemmStridedBatched_64(
        handle, op_b, op_a, d.n, d.m, d.k, reinterpret_cast<const cuComplex*>(&alpha),
        reinterpret_cast<const cuComplex*>(b), d.ldb, d.stride_b, reinterpret_cast<const cuComplex*>(a), d.lda,
        d.stride_a, reinterpret_cast<const cuComplex*>(&beta), reinterpret_cast<cuComplex*>(c), d.ldc, d.stride_c,
        d.batch));
  } else {
    FFTCONV_CUBLAS_CHECK(cublasZgemmStridedBatched_64(
        handle, op_b, op_a, d.n, d.m, d.k, reinterpret_cast<const cuDoubleComplex*>(&alpha),
        reinterpret_cast<const cuDoubleComplex*>(b), d.ldb, d.stride_b, reinterpret_cast<const cuDoubleComplex*>(a),
        d.lda, d.stride_a, reinterpret_cast<const cuDoubleComplex*>(&beta), reinterpret_cast<cuDoubleComplex*>(c),
        d.ldc, d.stride_c, d.batch));
  }
}

}  // namespace fftconv::detail
