#pragma once
// Which device owns a resource, and a scoped switch to that device.
//
// The CUDA runtime resolves the null stream and cudaStreamPerThread against the *current* device, and
// cudaFreeAsync, cudaStreamSynchronize, cufftDestroy and cublasDestroy must run with the owning device
// current. A resource therefore records the device it was made on, and every free, synchronize and destroy
// runs inside a basic_device_guard that switches to that device and restores the caller's afterwards.
//
// The decisions (switch or not, restore or not, what a failure means, which error to clear) are plain host
// code over a `Runtime` type, so the host tests check them with a fake runtime and no GPU:
//
//   int  Runtime::get_device(int& device) noexcept      0 on success, else a runtime status
//   int  Runtime::set_device(int device) noexcept
//   void Runtime::clear_error() noexcept                 drop the thread's last error (cudaGetLastError)
//   const char* Runtime::error_name(int status) noexcept
//   int  Runtime::synchronize_stream(const void* stream) noexcept
//   int  Runtime::synchronize_device() noexcept
//   int  Runtime::stream_id(const void* stream, unsigned long long& id) noexcept   cudaStreamGetId
//   int  Runtime::stream_capturing(const void* stream, bool& capturing) noexcept   cudaStreamIsCapturing
//
// Host-compilable. `cuda_runtime` (the real one) exists where the CUDA runtime is linked (FFTCONV_HAS_CUDART,
// or nvcc); elsewhere `device_runtime` is `no_cuda_runtime`, under which only host queues (device -1) exist.

#include <new>  // std::nothrow_t
#include <source_location>

#include "../../config.hpp"  // FFTCONV_HAS_CUDART
#include "../../error.hpp"

#if FFTCONV_HAS_CUDART || defined(__CUDACC__)
#include <cuda_runtime_api.h>
#endif

namespace fftconv::detail {

// The device id of host work and host memory.
inline constexpr int host_device = -1;

// Throws library_error("CUDA", call, status) unless status is 0 (success).
template <class Runtime>
void check_runtime(int status, const char* call, std::source_location where = std::source_location::current()) {
  if (status == 0) return;
  Runtime::clear_error();
  throw library_error("CUDA", call, status, Runtime::error_name(status), where);
}

// Makes `device` current for the guard's scope and restores the previous device at its end. A guard for the
// host (-1) or for the device that is already current changes nothing and calls no setter.
template <class Runtime>
class basic_device_guard {
 public:
  // Throws library_error when the current device cannot be read or `device` cannot be made current.
  explicit basic_device_guard(int device) {
    if (device == host_device) return;
    int current = host_device;
    check_runtime<Runtime>(Runtime::get_device(current), "cudaGetDevice");
    if (current == device) return;
    check_runtime<Runtime>(Runtime::set_device(device), "cudaSetDevice");
    previous_ = current;
    restore_ = true;
  }

  // For destructors and other no-throw paths: a failure leaves the device as it was, clears the runtime's
  // error (so an unrelated launch check does not report it later) and makes active() false.
  basic_device_guard(int device, std::nothrow_t) noexcept {
    if (device == host_device) return;
    int current = host_device;
    if (Runtime::get_device(current) != 0) {
      Runtime::clear_error();
      active_ = false;
      return;
    }
    if (current == device) return;
    if (Runtime::set_device(device) != 0) {
      Runtime::clear_error();
      active_ = false;
      return;
    }
    previous_ = current;
    restore_ = true;
  }

  basic_device_guard(const basic_device_guard&) = delete;
  basic_device_guard& operator=(const basic_device_guard&) = delete;

  // Restores the device that was current before; a failure is cleared, never thrown.
  ~basic_device_guard() {
    if (restore_ && Runtime::set_device(previous_) != 0) Runtime::clear_error();
  }

  // The requested device is current (true for the host, and when no switch was needed).
  bool active() const noexcept { return active_; }
  // The guard changed the current device and will restore `previous()` (for tests and diagnostics).
  bool switched() const noexcept { return restore_; }
  int previous() const noexcept { return previous_; }

 private:
  int previous_ = host_device;
  bool restore_ = false;
  bool active_ = true;
};

// Runs `release` (a no-throw callable returning a runtime status, 0 = success) with `device` current, for
// destructors: never throws, and a failure's error is cleared, not left for the next launch check to report.
// When the owner's device cannot be made current the release is skipped: freeing or destroying against
// another device's null stream could let memory be reused while the owner's work still reads it, and a
// leak is the lesser harm. Returns whether the switch and the release succeeded.
template <class Runtime, class Release>
bool release_on_device(int device, Release&& release) noexcept {
  basic_device_guard<Runtime> guard(device, std::nothrow);
  if (!guard.active()) return false;
  const int status = release();
  if (status != 0) {
    Runtime::clear_error();
    return false;
  }
  return true;
}

// Without a CUDA runtime every device request fails: only host queues and host memory exist there.
struct no_cuda_runtime {
  static constexpr int unavailable = 35;  // cudaErrorInsufficientDriver's value: "no GPU"
  static int get_device(int&) noexcept { return unavailable; }
  static int set_device(int) noexcept { return unavailable; }
  static void clear_error() noexcept {}
  static const char* error_name(int) noexcept { return "no CUDA runtime in this build"; }
  static int synchronize_stream(const void*) noexcept { return unavailable; }
  static int synchronize_device() noexcept { return unavailable; }
  static int stream_id(const void*, unsigned long long&) noexcept { return unavailable; }
  static int stream_capturing(const void*, bool& capturing) noexcept {
    capturing = false;
    return unavailable;
  }
};

#if FFTCONV_HAS_CUDART || defined(__CUDACC__)

// The CUDA runtime behind the guard, the queue synchronisation and the cuFFT plans' stream events.
struct cuda_runtime {
  using event = cudaEvent_t;
  static constexpr int not_ready = cudaErrorNotReady;

  static cudaStream_t to_stream(const void* stream) noexcept {
    return static_cast<cudaStream_t>(const_cast<void*>(stream));
  }

  static int get_device(int& device) noexcept { return cudaGetDevice(&device); }
  static int set_device(int device) noexcept { return cudaSetDevice(device); }
  static void clear_error() noexcept { (void)cudaGetLastError(); }
  static const char* error_name(int status) noexcept { return cudaGetErrorName(static_cast<cudaError_t>(status)); }
  static int synchronize_stream(const void* stream) noexcept { return cudaStreamSynchronize(to_stream(stream)); }
  static int synchronize_device() noexcept { return cudaDeviceSynchronize(); }
  // The stream a handle names now: unique per stream, where the handle cudaStreamPerThread (and the null
  // handle under --default-stream per-thread) names another stream on every thread.
  static int stream_id(const void* stream, unsigned long long& id) noexcept {
    return cudaStreamGetId(to_stream(stream), &id);
  }
  // The legacy null stream cannot be captured, but while a blocking stream of its device is being captured,
  // work on it is refused with cudaErrorStreamCaptureImplicit: for what a call may do, that is capturing too.
  static int stream_capturing(const void* stream, bool& capturing) noexcept {
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    const cudaError_t error = cudaStreamIsCapturing(to_stream(stream), &status);
    if (error == cudaErrorStreamCaptureImplicit) {
      (void)cudaGetLastError();
      capturing = true;
      return cudaSuccess;
    }
    // An invalidated capture still ends in cudaStreamEndCapture: the stream is in capture mode until then.
    capturing = error == cudaSuccess && status != cudaStreamCaptureStatusNone;
    return error;
  }

  static int create_event(event& e) noexcept { return cudaEventCreateWithFlags(&e, cudaEventDisableTiming); }
  static int record_event(event e, const void* stream) noexcept { return cudaEventRecord(e, to_stream(stream)); }
  // cudaSuccess when the recorded work is done, cudaErrorNotReady while it is pending (not an error: a
  // not-ready left as the thread's last error is dropped so that no launch check reports it).
  static int query_event(event e) noexcept {
    const cudaError_t status = cudaEventQuery(e);
    if (status == cudaErrorNotReady && cudaPeekAtLastError() == cudaErrorNotReady) (void)cudaGetLastError();
    return status;
  }
  static int synchronize_event(event e) noexcept { return cudaEventSynchronize(e); }
  static int destroy_event(event e) noexcept { return cudaEventDestroy(e); }
};

using device_runtime = cuda_runtime;

#else

using device_runtime = no_cuda_runtime;

#endif

// The guard every library path uses: the CUDA runtime where it is linked.
using device_guard = basic_device_guard<device_runtime>;

}  // namespace fftconv::detail
