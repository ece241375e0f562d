#pragma once
// Device FFTs: fft_desc executed by cuFFT's plan-many (R2C/C2R for float, D2Z/Z2D for double).
//
// A plan is made once per (device, descriptor) with auto-allocation off (cufftCreate,
// cufftSetAutoAllocation(0), cufftMakePlanMany64) and shared through the process-wide cache. The work area
// belongs to the caller (part of its workspace, allocated through the executor's memory resource): each
// execution binds the plan to the executor's stream and to the caller's work area and enqueues, under the
// plan's own mutex, so conv objects on several threads can share one plan; once enqueued, a launch keeps the
// stream and work area it was given. Executions are capturable; making a plan is not (capture.hpp).

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
#include "../common/fft_backend.hpp"
#include "../common/fft_desc.hpp"
#include "../common/plan_cache.hpp"
#include "../common/gemm.hpp"  // complex<T>
#include "capture.hpp"
#include "device_guard.hpp"
#include "status.hpp"
#include "stream_events.hpp"

namespace fftconv::detail {

template <class T>
class cufft_plan_handle {
 public:
  // Made on the current device (the executor's), which it then belongs to.
  explicit cufft_plan_handle(const fft_desc& desc) : desc_(desc) {
    FFTCONV_CUDA_CHECK(cudaGetDevice(&device_));
    FFTCONV_CUFFT_CHECK(cufftCreate(&handle_));
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
      (void)cudaGetLastError();
      throw;
    }
  }
  cufft_plan_handle(const cufft_plan_handle&) = delete;
  cufft_plan_handle& operator=(const cufft_plan_handle&) = delete;

  // A shared plan can be released (cache eviction, clear_plan_cache) by one thread while executions that
  // layers queued on other streams are still pending; cufftDestroy promises no ordering with them. Every
  // stream that executed the plan has an event recorded after its last execution, and all of them are waited
  // for first. Rather than an event per stream, the plan could synchronise its device; that would also
  // wait for every unrelated stream of every thread on the device (and is not allowed while another thread
  // captures a CUDA graph), at each eviction. The events wait for exactly the plan's own work.
  // Runs with the plan's device current (cufftDestroy frees on it). Never throws; errors are cleared.
  ~cufft_plan_handle() {
    (void)release_on_device<cuda_runtime>(device_, [this]() noexcept {
      const bool waited = uses_.wait_all();
      const bool destroyed = cufftDestroy(handle_) == CUFFT_SUCCESS;
      return waited && destroyed ? 0 : int(cudaErrorUnknown);
    });
    // uses_ destroys its events after this body, with the caller's device current again: cudaEventDestroy
    // needs no particular device.
  }

  int device() const noexcept { return device_; }
  // Streams whose executions of the plan may still be pending (for tests and diagnostics).
  std::size_t streams_in_use() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return uses_.streams();
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
    uses_.record(stream);
  }

  // Overwrites the spectrum (cuFFT's C2R uses its input as scratch).
  void inverse(cudaStream_t stream, complex<T>* spectrum, T* real, void* work_area) const {
    std::lock_guard<std::mutex> lock(mutex_);
    bind(stream, work_area);
    if constexpr (std::is_same_v<T, float>)
      FFTCONV_CUFFT_CHECK(cufftExecC2R(handle_, reinterpret_cast<cufftComplex*>(spectrum), real));
    else
      FFTCONV_CUFFT_CHECK(cufftExecZ2D(handle_, reinterpret_cast<cufftDoubleComplex*>(spectrum), real));
    uses_.record(stream);
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
  int device_ = host_device;
  mutable stream_events<cuda_runtime> uses_;  // an event after the last execution on each stream
  std::size_t work_area_bytes_ = 0;
  mutable std::mutex mutex_;
};

template <>
struct fft_backend<device> {
  static constexpr bool available = true;

  template <class T>
  using plan = cufft_plan_handle<T>;

  // The cached plan for desc on the current device (scratch arrays unused: cuFFT plans without data). cuFFT
  // transforms whole frames, so descriptors that differ only in their live box share one plan. Making a plan
  // allocates outside stream order: refused while the executor's stream is being captured (capture.hpp).
  template <class T>
  static std::shared_ptr<plan<T>> make_plan(const device& exec, const fft_desc& desc, T*, complex<T>*) {
    int device_id = 0;
    FFTCONV_CUDA_CHECK(cudaGetDevice(&device_id));
    const fft_desc whole = whole_frame(desc);
    const fft_plan_key key = make_fft_plan_key(fft_library::cufft, device_id, whole);
    return cached_plan_outside_capture<cuda_runtime, plan<T>>(exec.stream, key, "creating a cuFFT plan",
                                                              [&] { return std::make_shared<plan<T>>(whole); });
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
