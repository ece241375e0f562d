#pragma once
// Where an executor's work is ordered: the host, or one stream on one device. Memory allocated for one queue
// is reused only on that queue, so on the GPU it is always freed in the order of the stream it was made on.
// The device is part of the queue: the null stream and cudaStreamPerThread name a different stream on every
// device (the runtime resolves them against the current device), so `device{nullptr}` after cudaSetDevice(1)
// is another queue than before it.

#include <type_traits>

#include "../executor.hpp"
#include "device/device_guard.hpp"
#include "primary.hpp"

namespace fftconv::detail {

struct execution_queue {
  bool on_device = false;
  int device = host_device;      // the device the executor's stream belongs to; -1 on the host
  const void* stream = nullptr;  // the device executor's stream handle
  friend bool operator==(const execution_queue&, const execution_queue&) = default;
};

// The queue `exec` enqueues on now: a device executor's stream on the device current at call time.
template <class Exec>
execution_queue queue_of(const Exec& exec) {
  execution_queue queue;
  queue.on_device = backend<Exec>::on_device;
  queue.device = backend<Exec>::current_device(exec);
  if constexpr (std::is_same_v<Exec, device>) queue.stream = exec.stream;
  return queue;
}

// Waits for everything queued on `queue` (see synchronize below), over the runtime `Runtime`.
template <class Runtime>
void synchronize_on(const execution_queue& queue) {
  if (!queue.on_device) return;
  const basic_device_guard<Runtime> guard(queue.device);
  check_runtime<Runtime>(Runtime::synchronize_stream(queue.stream), "cudaStreamSynchronize");
}

// Blocks until the work queued on `queue` is done. A host queue has nothing pending: no-op. A device queue is
// synchronised with its own device current (a null or per-thread stream handle means that device's stream),
// and the caller's current device is restored. Throws library_error on a failed switch or synchronisation.
inline void synchronize(const execution_queue& queue) { synchronize_on<device_runtime>(queue); }

}  // namespace fftconv::detail
