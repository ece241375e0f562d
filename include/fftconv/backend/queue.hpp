#pragma once
// Where an executor's work is ordered: the host, or one stream on one device. Memory allocated for one queue
// is reused only on that queue, so on the GPU it is always freed in the order of the stream it was made on
// (the same null stream handle on another device is another queue).

#include <type_traits>

#include "../executor.hpp"
#include "primary.hpp"

namespace fftconv::detail {

struct execution_queue {
  bool on_device = false;
  int device = -1;               // -1 on the host
  const void* stream = nullptr;  // the device executor's stream handle
  friend bool operator==(const execution_queue&, const execution_queue&) = default;
};

template <class Exec>
execution_queue queue_of(const Exec& exec) {
  execution_queue queue;
  queue.on_device = backend<Exec>::on_device;
  queue.device = backend<Exec>::current_device(exec);
  if constexpr (std::is_same_v<Exec, device>) queue.stream = exec.stream;
  return queue;
}

}  // namespace fftconv::detail
