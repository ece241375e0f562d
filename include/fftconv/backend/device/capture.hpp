#pragma once
// What a call may do while its stream is being captured into a CUDA graph.
//
// Capture records the work queued on a stream instead of running it. Queuing kernels, cuFFT executions, cuBLAS
// GEMMs and stream-ordered allocations (cudaMallocAsync, or a caller's stream-ordered memory_resource) is
// recorded and legal; creating a cuFFT plan or a cuBLAS handle (they allocate with cudaMalloc and may
// synchronise), synchronising a stream, and querying an event recorded during capture are not, and would
// invalidate the caller's capture. So the backend refuses those with an exception that says what to do: run
// the layer once with the same shapes on the same stream before capturing (a warm-up call), after which the
// plans, handles and workspace exist and a call queues only capturable work.
//
// Host-compilable over a `Runtime` (device_guard.hpp) that provides
//   int Runtime::stream_capturing(const void* stream, bool& capturing) noexcept   0 on success
// so the host tests check these decisions with a fake runtime whose streams report "capturing".

#include <memory>

#include "../../error.hpp"
#include "../common/plan_cache.hpp"
#include "device_guard.hpp"

namespace fftconv::detail {

// Whether work queued on `stream` (a cudaStream_t; null is the legacy stream) is being captured now, on the
// current device. Throws library_error when the runtime cannot tell.
template <class Runtime>
bool stream_is_capturing(const void* stream) {
  bool capturing = false;
  check_runtime<Runtime>(Runtime::stream_capturing(stream, capturing), "cudaStreamIsCapturing");
  return capturing;
}

// Throws invalid_argument naming `action` (e.g. "creating a cuFFT plan") when `stream` is being captured.
template <class Runtime>
void refuse_under_capture_on(const void* stream, const char* action) {
  if (stream_is_capturing<Runtime>(stream))
    fail(action, " is not allowed while the executor's stream is being captured into a CUDA graph (it would "
                 "invalidate the capture): run the layer once with the same shapes on the same stream before "
                 "capturing (a warm-up call), so that its plans, handles and workspace already exist");
}

// The cached plan for `key`, or make()'s (a shared_ptr<Plan>) stored and returned. A plan not cached yet is
// refused while `stream` is being captured: making one is `action` (e.g. "creating a cuFFT plan"), which
// capture does not allow. A cached plan is returned under capture as at any time.
template <class Runtime, class Plan, class Make>
std::shared_ptr<Plan> cached_plan_outside_capture(const void* stream, const fft_plan_key& key, const char* action,
                                                  Make&& make) {
  return fft_plan_cache::instance().get_or_create<Plan>(key, [&] {
    refuse_under_capture_on<Runtime>(stream, action);
    return make();
  });
}

}  // namespace fftconv::detail
