#pragma once
// Device FFTs: fft_desc executed by cuFFT's plan-many (R2C/C2R for float, D2Z/Z2D for double).
//
// A plan is made once per (device, descriptor) with auto-allocation off (cufftCreate,
// cufftSetAutoAllocation(0), cufftMakePlanMany64) and shared through the process-wide cache. The work area
// belongs to the caller (part of its workspace): each execution binds the plan to the executor's stream and
// to the caller's work area and enqueues, under the plan's own mutex, so conv objects on several threads can
// share one plan; once enqueued, a launch keeps the stream and work area it was given.

#if !defined(__CUDACC__)
#error "fftconv/backend/device/cufft.cuh is for CUDA translation units (nvcc, a .cu file)"
#endif

#include <cuda_runtime.h>
#include <cufft.h>

#include <cstddef>
#include <memory>
#include <mutex>

#include "../../error.hpp"
#include "../../executor.hpp"
#include "../../plan/fft_backend.hpp"
#include "../../plan/fft_desc.hpp"
#include "../../plan/plan_cache.hpp"
#include "../gemm.hpp"  // complex<T>
#include "status.hpp"

namespace fftconv::detail {

template <class T>
class cufft_plan_handle {
 public:
  explicit cufft_plan_handle(const fft_desc& desc) : desc_(desc) {
    FFTCONV_CUDA_CHECK(cudaEventCreateWithFlags(&last_use_, cudaEventDisableTiming));
    if (const cufftResult created = cufftCreate(&handle_); created != CUFFT_SUCCESS) {
      (void)cudaEventDestroy(last_use_);
      FFTCONV_CUFFT_CHECK(created);
    }
    try {
      FFTCONV_CUFFT_CHECK(cufftSetAutoAllocation(handle_, 0));
      long long n[3] = {}, inembed[3] = {}, onembed[3] = {};
      for (int d = 0; d < desc.rank; ++d) {
        n[d] = desc.n[d];
        inembed[d] = desc.inembed[d];
        onembed[d] = desc.onembed[d];
      }
      const bool forward = desc.direction == fft_direction::real_to_complex;
      const cufftType type = std::is_same_v<T, float> ? (forward ? CUFFT_R2C : CUFFT_C2R)
                                                      : (forward ? CUFFT_D2Z : CUFFT_Z2D);
      FFTCONV_CUFFT_CHECK(cufftMakePlanMany64(handle_, desc.rank, n, inembed, desc.istride, desc.idist, onembed,
                                              desc.ostride, desc.odist, type, desc.batch, &work_area_bytes_));
    } catch (...) {
      (void)cufftDestroy(handle_);
      (void)cudaEventDestroy(last_use_);
      throw;
    }
  }
  cufft_plan_handle(const cufft_plan_handle&) = delete;
  cufft_plan_handle& operator=(const cufft_plan_handle&) = delete;
  // A shared plan can be released (cache eviction, clear_plan_cache) by one thread while executions another
  // thread queued on its stream are still pending; cufftDestroy promises no ordering with them, so the last
  // execution is waited for first. Never throws; a failure here has no one to tell.
  ~cufft_plan_handle() {
    (void)cudaEventSynchronize(last_use_);
    (void)cufftDestroy(handle_);
    (void)cudaEventDestroy(last_use_);
  }

  const fft_desc& desc() const noexcept { return desc_; }
  std::size_t work_area_bytes() const noexcept { return work_area_bytes_; }

  void forward(cudaStream_t stream, T* real, complex<T>* spectrum, void* work_area) const {
    std::lock_guard<std::mutex> lock(mutex_);
    bind(stream, work_area);
    if constexpr (std::is_same_v<T, float>)
      FFTCONV_CUFFT_CHECK(cufftExecR2C(handle_, real, reinterpret_cast<cufftComplex*>(spectrum)));
    else
      FFTCONV_CUFFT_CHECK(cufftExecD2Z(handle_, real, reinterpret_cast<cufftDoubleComplex*>(spectrum)));
    FFTCONV_CUDA_CHECK(cudaEventRecord(last_use_, stream));
  }

  // Overwrites the spectrum (cuFFT's C2R uses its input as scratch).
  void inverse(cudaStream_t stream, complex<T>* spectrum, T* real, void* work_area) const {
    std::lock_guard<std::mutex> lock(mutex_);
    bind(stream, work_area);
    if constexpr (std::is_same_v<T, float>)
      FFTCONV_CUFFT_CHECK(cufftExecC2R(handle_, reinterpret_cast<cufftComplex*>(spectrum), real));
    else
      FFTCONV_CUFFT_CHECK(cufftExecZ2D(handle_, reinterpret_cast<cufftDoubleComplex*>(spectrum), real));
    FFTCONV_CUDA_CHECK(cudaEventRecord(last_use_, stream));
  }

 private:
  void bind(cudaStream_t stream, void* work_area) const {
    FFTCONV_CUFFT_CHECK(cufftSetStream(handle_, stream));
    if (work_area_bytes_ > 0) {
      if (work_area == nullptr) fail("fft: cuFFT plan needs a work area of ", work_area_bytes_, " bytes");
      FFTCONV_CUFFT_CHECK(cufftSetWorkArea(handle_, work_area));
    }
  }

  fft_desc desc_;
  cufftHandle handle_ = 0;
  cudaEvent_t last_use_ = nullptr;  // recorded after every execution, on its stream
  std::size_t work_area_bytes_ = 0;
  mutable std::mutex mutex_;
};

template <>
struct fft_backend<device> {
  static constexpr bool available = true;

  template <class T>
  using plan = cufft_plan_handle<T>;

  // The cached plan for desc on the current device (scratch arrays unused: cuFFT plans without data).
  template <class T>
  static std::shared_ptr<plan<T>> make_plan(const device&, const fft_desc& desc, T*, complex<T>*) {
    int device_id = 0;
    FFTCONV_CUDA_CHECK(cudaGetDevice(&device_id));
    const fft_plan_key key = make_fft_plan_key(fft_library::cufft, device_id, desc);
    return fft_plan_cache::instance().get_or_create<plan<T>>(key, [&] { return std::make_shared<plan<T>>(desc); });
  }

  template <class T>
  static std::size_t work_area_bytes(const plan<T>& p) {
    return p.work_area_bytes();
  }

  template <class T>
  static void forward(const device& exec, const plan<T>& p, T* real, complex<T>* spectrum, void* work_area) {
    p.forward(exec.stream, real, spectrum, work_area);
  }

  template <class T>
  static void inverse(const device& exec, const plan<T>& p, complex<T>* spectrum, T* real, void* work_area) {
    p.inverse(exec.stream, spectrum, real, work_area);
  }
};

}  // namespace fftconv::detail
