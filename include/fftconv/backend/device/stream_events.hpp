#pragma once
// Every stream that has queued work on a shared resource (a cuFFT plan), each with an event recorded after
// the last such work, so that destroying the resource can wait for all of them, not only the last stream.
//
// Host-compilable bookkeeping over a `Runtime` (see device_guard.hpp) that also provides
//   Runtime::event                                       an event handle type
//   int Runtime::create_event(event&), record_event(event, const void* stream), synchronize_event(event),
//       destroy_event(event)                             0 on success
//   int Runtime::query_event(event)                      0 when done, Runtime::not_ready while pending
//   int Runtime::stream_capturing(const void* stream, bool&)   (capture.hpp)
// so the host tests check it with a fake runtime.
//
// The set stays small: before a new stream is added, the entries whose recorded work has completed are
// dropped (their event is reused), so it holds only streams that may still be running the resource.
//
// Work queued while its stream is being captured into a CUDA graph is not recorded: it runs when the graph is
// launched, which an event recorded now does not follow, and an event recorded during capture may not be
// queried or waited for (cudaErrorCapturedEvent). The graph's work is the caller's to order: the object that
// holds the resource (a conv layer) must outlive the graphs captured from it. Nor does a record under capture
// query the other events (cudaEventQuery is not allowed while a capture is under way), and every event it
// queries was recorded outside capture.

#include <cstddef>
#include <utility>
#include <vector>

#include "capture.hpp"
#include "device_guard.hpp"

namespace fftconv::detail {

template <class Runtime>
class stream_events {
 public:
  using event = typename Runtime::event;

  stream_events() = default;
  stream_events(const stream_events&) = delete;
  stream_events& operator=(const stream_events&) = delete;
  ~stream_events() {
    for (const entry& e : pending_)
      if (Runtime::destroy_event(e.done) != 0) Runtime::clear_error();
    for (event e : spare_)
      if (Runtime::destroy_event(e) != 0) Runtime::clear_error();
  }

  // After work on `stream` was queued: remember that the resource is in use there until now (unless the
  // work was captured, see above). Throws library_error when an event cannot be created or recorded, or the
  // capture status cannot be read (the caller's call then fails).
  void record(const void* stream) {
    if (stream_is_capturing<Runtime>(stream)) return;
    const unsigned long long id = stream_id_of(stream);
    entry* found = find(id);
    if (found == nullptr) {
      drop_completed();
      pending_.reserve(pending_.size() + 1);  // so that the push below cannot throw and lose the event
      pending_.push_back({id, take_event()});
      found = &pending_.back();
    }
    check_runtime<Runtime>(Runtime::record_event(found->done, stream), "cudaEventRecord");
  }

  // Blocks until the work recorded on every stream is done. Never throws (for destructors); failures are
  // cleared. Returns whether every wait succeeded.
  bool wait_all() noexcept {
    bool all = true;
    for (const entry& e : pending_)
      if (Runtime::synchronize_event(e.done) != 0) {
        Runtime::clear_error();
        all = false;
      }
    return all;
  }

  // Streams that may still be running the resource (for tests and diagnostics); `stream` is the stream the
  // handle names on the calling thread now.
  std::size_t streams() const noexcept { return pending_.size(); }
  bool tracks(const void* stream) const {
    const unsigned long long id = stream_id_of(stream);
    for (const entry& e : pending_)
      if (e.stream == id) return true;
    return false;
  }

 private:
  // Entries are streams, not handles: cudaStreamPerThread names another stream on every thread, and each
  // of them needs its own event.
  struct entry {
    unsigned long long stream;  // cudaStreamGetId
    event done;
  };

  static unsigned long long stream_id_of(const void* stream) {
    unsigned long long id = 0;
    check_runtime<Runtime>(Runtime::stream_id(stream, id), "cudaStreamGetId");
    return id;
  }

  entry* find(unsigned long long stream) noexcept {
    for (entry& e : pending_)
      if (e.stream == stream) return &e;
    return nullptr;
  }

  // Entries whose last recorded work has completed no longer protect anything.
  void drop_completed() noexcept {
    for (std::size_t i = 0; i < pending_.size();) {
      const int status = Runtime::query_event(pending_[i].done);
      if (status == 0) {
        spare_.push_back(pending_[i].done);
        pending_[i] = pending_.back();
        pending_.pop_back();
      } else {
        if (status != Runtime::not_ready) Runtime::clear_error();  // kept: waited for (and cleared) at the end
        ++i;
      }
    }
  }

  event take_event() {
    if (!spare_.empty()) {
      event e = spare_.back();
      spare_.pop_back();
      return e;
    }
    event e{};
    check_runtime<Runtime>(Runtime::create_event(e), "cudaEventCreateWithFlags");
    return e;
  }

  std::vector<entry> pending_;
  std::vector<event> spare_;
};

}  // namespace fftconv::detail
