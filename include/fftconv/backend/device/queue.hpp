#pragma once
// Where an executor's work is ordered: the host, or one stream on one device. Memory allocated for one queue
// is reused only on that queue, so on the GPU it is always freed in the order of the stream it was made on.
// A queue is the stream itself, not its handle: the null handle and cudaStreamPerThread name a different
// stream on every device (the runtime resolves them against the current device), and cudaStreamPerThread
// names a different stream on every thread. So a queue is keyed on the device and the stream's unique id
// (cudaStreamGetId), and `device{nullptr}` after cudaSetDevice(1), or `device{cudaStreamPerThread}` on
// another thread, is another queue than before.

#include <cstdint>
#include <type_traits>

#include "../../executor.hpp"
#include "capture.hpp"
#include "device_guard.hpp"

namespace fftconv::detail {

struct execution_queue {
  bool on_device = false;
  int device = host_device;             // the device the executor's stream belongs to; -1 on the host
  const void* stream = nullptr;         // the handle the executor passed (to synchronise with); not compared
  unsigned long long stream_id = 0;     // the stream that handle named when the queue was taken (cudaStreamGetId)
  friend bool operator==(const execution_queue& a, const execution_queue& b) noexcept {
    return a.on_device == b.on_device && a.device == b.device && a.stream_id == b.stream_id;
  }
};

// The queue `exec` enqueues on now, over the runtime `Runtime`: a device executor's stream on the device current
// at call time. Throws library_error when the runtime cannot tell.
template <class Runtime, class Exec>
execution_queue queue_on(const Exec& exec) {
  execution_queue queue;
  if constexpr (std::is_same_v<Exec, device>) {
    queue.on_device = true;
    queue.stream = exec.stream;
    check_runtime<Runtime>(Runtime::get_device(queue.device), "cudaGetDevice");
    check_runtime<Runtime>(Runtime::stream_id(exec.stream, queue.stream_id), "cudaStreamGetId");
  }
  return queue;
}

template <class Exec>
execution_queue queue_of(const Exec& exec) {
  return queue_on<device_runtime>(exec);
}

// The null, cudaStreamLegacy (1) and cudaStreamPerThread (2) handles: resolved by the runtime per device, and
// the per-thread one per thread.
inline bool is_implicit_stream(const void* stream) noexcept {
  return reinterpret_cast<std::uintptr_t>(stream) <= 2;
}

// Waits for everything queued on `queue` (see synchronize below), over the runtime `Runtime`.
template <class Runtime>
void synchronize_on(const execution_queue& queue) {
  if (!queue.on_device) return;
  const basic_device_guard<Runtime> guard(queue.device);
  refuse_under_capture_on<Runtime>(queue.stream, "synchronizing a stream");
  if (is_implicit_stream(queue.stream)) {
    // On another thread cudaStreamPerThread names another stream, and no handle reaches the queue's own:
    // waiting for the whole device covers it (a layer that moved between threads, once).
    unsigned long long named_here = 0;
    check_runtime<Runtime>(Runtime::stream_id(queue.stream, named_here), "cudaStreamGetId");
    if (named_here != queue.stream_id) {
      check_runtime<Runtime>(Runtime::synchronize_device(), "cudaDeviceSynchronize");
      return;
    }
  }
  check_runtime<Runtime>(Runtime::synchronize_stream(queue.stream), "cudaStreamSynchronize");
}

// Blocks until the work queued on `queue` is done. A host queue has nothing pending: no-op. A device queue is
// synchronised with its own device current (a null or per-thread stream handle means that device's stream),
// and the caller's current device is restored. Throws library_error on a failed switch or synchronisation,
// and invalid_argument while the queue's stream is being captured into a CUDA graph (capture.hpp).
inline void synchronize(const execution_queue& queue) { synchronize_on<device_runtime>(queue); }

}  // namespace fftconv::detail
