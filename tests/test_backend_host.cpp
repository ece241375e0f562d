// The host backend's primitives, checked against plain loops: GEMM descriptors (row-major, transposes,
// conjugation, batches), deterministic segmented sums, and the error types' messages. And the device
// bookkeeping, which is host logic: which device a queue, buffer or plan belongs to, the guard that switches
// to it and back, the stream events a shared cuFFT plan waits for, the plan cache's build-outside-the-lock
// rule; checked here over a fake CUDA runtime, so CI covers it without a GPU.
#include <doctest/doctest.h>

#include <algorithm>
#include <complex>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <fftconv/backend/backend.hpp>
#include <fftconv/backend/device/device_guard.hpp>
#include <fftconv/backend/device/status.hpp>
#include <fftconv/backend/device/stream_events.hpp>
#include <fftconv/backend/device/queue.hpp>
#include <fftconv/backend/common/plan_cache.hpp>

#include "support/expect_error.hpp"

namespace {

using fftconv::detail::gemm_desc;
using fftconv::detail::gemm_op;

template <class S>
S random_scalar(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-1, 1);
  if constexpr (std::is_floating_point_v<S>)
    return static_cast<S>(u(rng));
  else
    return S(static_cast<typename S::value_type>(u(rng)), static_cast<typename S::value_type>(u(rng)));
}

template <class S>
S apply(gemm_op op, S value) {
  if constexpr (!std::is_floating_point_v<S>)
    if (op == gemm_op::conjugate_transpose) return cuda::std::conj(value);
  return value;
}

// C = alpha op(A) op(B) + beta C, row-major, written out with indices.
template <class S>
void plain_gemm(const gemm_desc& d, S alpha, const std::vector<S>& a, const std::vector<S>& b, S beta, std::vector<S>& c) {
  for (std::int64_t batch = 0; batch < d.batch; ++batch)
    for (std::int64_t i = 0; i < d.m; ++i)
      for (std::int64_t j = 0; j < d.n; ++j) {
        S sum{};
        for (std::int64_t l = 0; l < d.k; ++l) {
          const S av = d.op_a == gemm_op::none ? a[batch * d.stride_a + i * d.lda + l] : apply(d.op_a, a[batch * d.stride_a + l * d.lda + i]);
          const S bv = d.op_b == gemm_op::none ? b[batch * d.stride_b + l * d.ldb + j] : apply(d.op_b, b[batch * d.stride_b + j * d.ldb + l]);
          sum += av * bv;
        }
        S& out = c[batch * d.stride_c + i * d.ldc + j];
        out = alpha * sum + beta * out;
      }
}

template <class S>
void check_gemm(gemm_op op_a, gemm_op op_b) {
  std::mt19937_64 rng(7);
  gemm_desc d{.op_a = op_a, .op_b = op_b, .m = 5, .n = 3, .k = 4};
  d.lda = (op_a == gemm_op::none ? d.k : d.m) + 1;  // padded leading dimensions
  d.ldb = (op_b == gemm_op::none ? d.n : d.k) + 2;
  d.ldc = d.n + 1;
  d.stride_a = 6 * d.lda, d.stride_b = 6 * d.ldb, d.stride_c = d.m * d.ldc, d.batch = 3;
  std::vector<S> a(d.batch * d.stride_a), b(d.batch * d.stride_b), c(d.batch * d.stride_c);
  for (auto* v : {&a, &b, &c})
    for (auto& e : *v) e = random_scalar<S>(rng);
  auto expected = c;
  const S alpha = random_scalar<S>(rng), beta = random_scalar<S>(rng);
  plain_gemm(d, alpha, a, b, beta, expected);
  fftconv::detail::backend<fftconv::host>::gemm(fftconv::host{}, d, alpha, a.data(), b.data(), beta, c.data());
  double error = 0;
  for (std::size_t i = 0; i < c.size(); ++i) error = std::max<double>(error, cuda::std::abs(c[i] - expected[i]));
  CHECK(error < 1e-5);
}

}  // namespace

TEST_CASE_TEMPLATE("host gemm executes the row-major descriptor for every op pair", S, float, double,
                   cuda::std::complex<float>, cuda::std::complex<double>) {
  for (gemm_op a : {gemm_op::none, gemm_op::transpose, gemm_op::conjugate_transpose})
    for (gemm_op b : {gemm_op::none, gemm_op::transpose, gemm_op::conjugate_transpose}) {
      CAPTURE(static_cast<int>(a));
      CAPTURE(static_cast<int>(b));
      check_gemm<S>(a, b);
    }
}

TEST_CASE("host segmented_sum sums every segment in a fixed order") {
  std::vector<double> values(7 * 1000);
  std::mt19937_64 rng(3);
  for (auto& v : values) v = std::uniform_real_distribution<double>(-1, 1)(rng);
  auto term = [&](std::int64_t s, std::int64_t i) { return static_cast<float>(values[s * 1000 + i]); };
  std::vector<float> first(7), second(7);
  fftconv::detail::backend<fftconv::host>::segmented_sum(fftconv::host{}, 7, 1000, term, first.data());
  fftconv::detail::backend<fftconv::host>::segmented_sum(fftconv::host{}, 7, 1000, term, second.data());
  for (int s = 0; s < 7; ++s) {
    double expected = 0;
    for (int i = 0; i < 1000; ++i) expected += static_cast<float>(values[s * 1000 + i]);
    CHECK(first[s] == doctest::Approx(expected).epsilon(1e-6));
    CHECK(first[s] == second[s]);  // bit for bit
  }
}

TEST_CASE("host for_each_index visits every index once") {
  std::vector<int> hits(100003, 0);
  int* data = hits.data();
  fftconv::detail::backend<fftconv::host>::for_each_index(fftconv::host{}, 100003, [=](std::int64_t i) { data[i] += 1; });
  for (int h : hits) REQUIRE(h == 1);
}

TEST_CASE("library errors carry the call, the status name, file and line") {
  using testing_support::check_throws_naming;
  check_throws_naming<fftconv::library_error>(
      [] { FFTCONV_CUDA_CHECK(cudaErrorInvalidValue); }, {"CUDA", "cudaErrorInvalidValue", "test_backend_host.cpp:"});
  check_throws_naming<fftconv::library_error>(
      [] { FFTCONV_CUFFT_CHECK(CUFFT_INVALID_SIZE); }, {"cuFFT", "CUFFT_INVALID_SIZE", "(8)"});
  check_throws_naming<fftconv::library_error>(
      [] { FFTCONV_CUBLAS_CHECK(CUBLAS_STATUS_NOT_INITIALIZED); }, {"cuBLAS", "CUBLAS_STATUS_NOT_INITIALIZED"});
  CHECK_NOTHROW(FFTCONV_CUDA_CHECK(cudaSuccess));
  const fftconv::out_of_memory oom(123456789, "device");
  CHECK(std::string(oom.what()).find("123456789 bytes") != std::string::npos);
}

TEST_CASE("host buffers are 64-byte aligned and movable") {
  auto buffer = fftconv::detail::backend<fftconv::host>::allocate<double>(fftconv::host{}, 1000);
  CHECK(reinterpret_cast<std::uintptr_t>(buffer.data()) % 64 == 0);
  auto moved = std::move(buffer);
  CHECK(moved.size() == 1000);
  CHECK(buffer.data() == nullptr);
}

// ---- device bookkeeping over a fake runtime --------------------------------------------------------------

namespace {

// A CUDA runtime with `devices` devices, one current device per (single-threaded) test, a "last error" that
// failing calls set and clear_error() drops, and a log of every call that changes or waits on something.
struct fake_runtime {
  static constexpr int invalid_device = 101;  // cudaErrorInvalidDevice's value
  static constexpr int launch_failure = 719;
  static constexpr int not_ready = 600;

  struct fake_event {
    const void* stream = nullptr;
    bool done = true;
    bool destroyed = false;
  };
  struct state {
    int devices = 2;
    int current = 0;
    int last_error = 0;
    int refuse_device = -2;   // set_device(refuse_device) fails
    bool get_fails = false;
    int synchronize_status = 0;
    int thread = 0;                        // which thread is calling: cudaStreamPerThread names its stream
    std::vector<const void*> capturing;    // streams being captured into a graph
    bool capture_query_fails = false;
    int queries = 0;                       // query_event calls
    std::vector<std::string> log;
    std::vector<fake_event> events;
  };
  static state& now() {
    static state s;
    return s;
  }
  static void reset(int current = 0) {
    now() = state{};
    now().current = current;
  }
  static int fail(int status) noexcept {
    now().last_error = status;
    return status;
  }

  static int get_device(int& device) noexcept {
    if (now().get_fails) return fail(3);
    device = now().current;
    return 0;
  }
  static int set_device(int device) noexcept {
    now().log.push_back("set " + std::to_string(device));
    if (device == now().refuse_device || device < 0 || device >= now().devices) return fail(invalid_device);
    now().current = device;
    return 0;
  }
  static void clear_error() noexcept { now().last_error = 0; }
  static const char* error_name(int status) noexcept {
    return status == invalid_device ? "cudaErrorInvalidDevice" : status == launch_failure ? "cudaErrorLaunchFailure"
                                                                                          : "fakeError";
  }
  static int synchronize_stream(const void* stream) noexcept {
    now().log.push_back("synchronize " + name(stream) + " on " + std::to_string(now().current));
    return now().synchronize_status == 0 ? 0 : fail(now().synchronize_status);
  }
  static int synchronize_device() noexcept {
    now().log.push_back("synchronize device " + std::to_string(now().current));
    return now().synchronize_status == 0 ? 0 : fail(now().synchronize_status);
  }
  // A created stream's id is its handle; the null (0), legacy (1) and per-thread (2) handles name one stream
  // per device, and the per-thread handle one per (device, thread).
  static unsigned long long id_of(const void* stream, int device, int thread) {
    const auto handle = reinterpret_cast<std::uintptr_t>(stream);
    if (handle > 2) return handle;
    const unsigned long long resolved = handle == 2 ? 2 : 0;  // the null handle is the legacy stream
    return 1000000 + 10000 * static_cast<unsigned long long>(device) +
           (resolved == 2 ? 100 * static_cast<unsigned long long>(thread + 1) : 0) + resolved;
  }
  static int stream_id(const void* stream, unsigned long long& id) noexcept {
    id = id_of(stream, now().current, now().thread);
    return 0;
  }
  static int stream_capturing(const void* stream, bool& capturing) noexcept {
    if (now().capture_query_fails) return fail(launch_failure);
    capturing = std::find(now().capturing.begin(), now().capturing.end(), stream) != now().capturing.end();
    return 0;
  }

  using event = int;
  static int create_event(event& e) noexcept {
    now().events.push_back({});
    e = static_cast<int>(now().events.size()) - 1;
    now().log.push_back("create " + std::to_string(e));
    return 0;
  }
  static int record_event(event e, const void* stream) noexcept {
    now().events[e].stream = stream;
    now().events[e].done = false;
    return 0;
  }
  static int query_event(event e) noexcept {
    ++now().queries;
    return now().events[e].done ? 0 : not_ready;
  }
  static int synchronize_event(event e) noexcept {
    now().log.push_back("wait " + name(now().events[e].stream));
    now().events[e].done = true;
    return 0;
  }
  static int destroy_event(event e) noexcept {
    now().events[e].destroyed = true;
    return 0;
  }

  static std::string name(const void* stream) {
    return stream == nullptr ? "null" : std::to_string(reinterpret_cast<std::uintptr_t>(stream));
  }
};

using fake_guard = fftconv::detail::basic_device_guard<fake_runtime>;
using log_t = std::vector<std::string>;

const void* stream_handle(std::uintptr_t id) { return reinterpret_cast<const void*>(id); }

}  // namespace

TEST_CASE("device guard: switches to the owner's device for its scope and restores the caller's") {
  fake_runtime::reset(0);
  {
    const fake_guard guard(1);
    CHECK(fake_runtime::now().current == 1);
    CHECK(guard.switched());
    CHECK(guard.previous() == 0);
  }
  CHECK(fake_runtime::now().current == 0);
  CHECK(fake_runtime::now().log == log_t{"set 1", "set 0"});
}

TEST_CASE("device guard: the current device and the host need no switch") {
  fake_runtime::reset(1);
  {
    const fake_guard same(1);
    const fake_guard host(fftconv::detail::host_device);
    CHECK_FALSE(same.switched());
    CHECK_FALSE(host.switched());
    CHECK(same.active());
    CHECK(host.active());
  }
  CHECK(fake_runtime::now().log.empty());
  // The host guard asks nothing of the runtime: it works where no CUDA runtime exists at all.
  fake_runtime::now().get_fails = true;
  CHECK_NOTHROW(fake_guard(fftconv::detail::host_device));
}

TEST_CASE("device guard: a refused switch throws naming the call and status, and leaves no error behind") {
  fake_runtime::reset(0);
  fake_runtime::now().refuse_device = 1;
  testing_support::check_throws_naming<fftconv::library_error>([] { const fake_guard guard(1); },
                                                               {"CUDA", "cudaSetDevice", "cudaErrorInvalidDevice"});
  CHECK(fake_runtime::now().current == 0);
  CHECK(fake_runtime::now().last_error == 0);
  fake_runtime::reset(0);
  fake_runtime::now().get_fails = true;
  testing_support::check_throws_naming<fftconv::library_error>([] { const fake_guard guard(1); }, {"cudaGetDevice"});
}

TEST_CASE("device guard, no-throw form: a refused switch is inactive, changes nothing and clears the error") {
  fake_runtime::reset(0);
  fake_runtime::now().refuse_device = 1;
  {
    const fake_guard guard(1, std::nothrow);
    CHECK_FALSE(guard.active());
    CHECK_FALSE(guard.switched());
    CHECK(fake_runtime::now().last_error == 0);
  }
  CHECK(fake_runtime::now().current == 0);
  CHECK(fake_runtime::now().log == log_t{"set 1"});  // no restore for a switch that did not happen
}

TEST_CASE("release_on_device: the release runs on the owner's device, then the caller's is current again") {
  fake_runtime::reset(0);
  int released_on = -1;
  CHECK(fftconv::detail::release_on_device<fake_runtime>(1, [&]() noexcept {
    released_on = fake_runtime::now().current;
    return 0;
  }));
  CHECK(released_on == 1);
  CHECK(fake_runtime::now().current == 0);
}

TEST_CASE("release_on_device: a failed release is cleared, so no later launch check reports it") {
  fake_runtime::reset(0);
  CHECK_FALSE(fftconv::detail::release_on_device<fake_runtime>(1, []() noexcept {
    return fake_runtime::fail(fake_runtime::launch_failure);
  }));
  CHECK(fake_runtime::now().last_error == 0);
  CHECK(fake_runtime::now().current == 0);
}

TEST_CASE("release_on_device: when the owner's device cannot be made current, nothing is released") {
  // Freeing against another device's null stream could hand the memory out while the owner still reads it.
  fake_runtime::reset(0);
  fake_runtime::now().refuse_device = 1;
  bool released = false;
  CHECK_FALSE(fftconv::detail::release_on_device<fake_runtime>(1, [&]() noexcept {
    released = true;
    return 0;
  }));
  CHECK_FALSE(released);
  CHECK(fake_runtime::now().last_error == 0);
  CHECK(fake_runtime::now().current == 0);
}

TEST_CASE("execution queues: the host queue, and the same stream handle on two devices is two queues") {
  using fftconv::detail::queue_on;
  const fftconv::detail::execution_queue host = fftconv::detail::queue_of(fftconv::host{});
  CHECK_FALSE(host.on_device);
  CHECK(host.device == fftconv::detail::host_device);
  CHECK(host.stream == nullptr);
  fake_runtime::reset(0);
  const auto null_on_0 = queue_on<fake_runtime>(fftconv::device{});
  fake_runtime::now().current = 1;
  const auto null_on_1 = queue_on<fake_runtime>(fftconv::device{});
  CHECK(null_on_1.device == 1);
  CHECK_FALSE(null_on_0 == null_on_1);
  fake_runtime::now().current = 0;
  CHECK(null_on_0 == queue_on<fake_runtime>(fftconv::device{}));
  CHECK_FALSE(null_on_0 == host);
}

TEST_CASE("execution queues: cudaStreamPerThread is another queue on every thread; a stream is one queue") {
  using fftconv::detail::queue_on;
  auto* const per_thread = reinterpret_cast<CUstream_st*>(std::uintptr_t{2});  // cudaStreamPerThread
  fake_runtime::reset(0);
  const auto on_thread_0 = queue_on<fake_runtime>(fftconv::device{per_thread});
  CHECK(on_thread_0 == queue_on<fake_runtime>(fftconv::device{per_thread}));
  fake_runtime::now().thread = 1;
  const auto on_thread_1 = queue_on<fake_runtime>(fftconv::device{per_thread});
  CHECK(on_thread_0.stream == on_thread_1.stream);  // the same handle...
  CHECK_FALSE(on_thread_0 == on_thread_1);          // ...naming two streams
  // A created stream is the same queue on every thread.
  auto* const created = reinterpret_cast<CUstream_st*>(std::uintptr_t{64});
  const auto created_on_1 = queue_on<fake_runtime>(fftconv::device{created});
  fake_runtime::now().thread = 0;
  CHECK(created_on_1 == queue_on<fake_runtime>(fftconv::device{created}));
  CHECK_FALSE(created_on_1 == on_thread_0);
  // The queue says which device and stream; the memory resource is not part of it.
  CHECK(queue_on<fake_runtime>(fftconv::device{created, nullptr}) ==
        queue_on<fake_runtime>(fftconv::device{created, reinterpret_cast<fftconv::memory_resource*>(64)}));
}

TEST_CASE("synchronize: a host queue is a no-op, a device queue waits on its own device and restores") {
  using fftconv::detail::queue_on;
  fake_runtime::reset(0);
  fftconv::detail::synchronize_on<fake_runtime>(queue_on<fake_runtime>(fftconv::host{}));
  CHECK(fake_runtime::now().log.empty());
  // The null stream of device 1, waited for while device 0 is current: it must be device 1's null stream.
  fake_runtime::now().current = 1;
  const auto null_on_1 = queue_on<fake_runtime>(fftconv::device{});
  fake_runtime::now().current = 0;
  fftconv::detail::synchronize_on<fake_runtime>(null_on_1);
  CHECK(fake_runtime::now().log == log_t{"set 1", "synchronize null on 1", "set 0"});
  CHECK(fake_runtime::now().current == 0);
  fake_runtime::now().log.clear();
  auto* const created = reinterpret_cast<CUstream_st*>(std::uintptr_t{16});
  fftconv::detail::synchronize_on<fake_runtime>(queue_on<fake_runtime>(fftconv::device{created}));
  CHECK(fake_runtime::now().log == log_t{"synchronize 16 on 0"});
  // The real entry point: a host queue needs no runtime at all.
  CHECK_NOTHROW(fftconv::detail::synchronize(fftconv::detail::queue_of(fftconv::host{})));
}

TEST_CASE("synchronize: a per-thread stream's queue waited for from another thread waits for its device") {
  // There cudaStreamPerThread names that thread's stream, not the queue's: synchronising it would return while
  // the queue's work still runs.
  using fftconv::detail::queue_on;
  auto* const per_thread = reinterpret_cast<CUstream_st*>(std::uintptr_t{2});
  fake_runtime::reset(0);
  const auto queue = queue_on<fake_runtime>(fftconv::device{per_thread});
  fftconv::detail::synchronize_on<fake_runtime>(queue);
  CHECK(fake_runtime::now().log == log_t{"synchronize 2 on 0"});
  fake_runtime::now().log.clear();
  fake_runtime::now().thread = 1;
  fftconv::detail::synchronize_on<fake_runtime>(queue);
  CHECK(fake_runtime::now().log == log_t{"synchronize device 0"});
}

TEST_CASE("synchronize: a failure throws naming cudaStreamSynchronize and still restores the device") {
  fake_runtime::reset(0);
  fake_runtime::now().synchronize_status = fake_runtime::launch_failure;
  testing_support::check_throws_naming<fftconv::library_error>(
      [] { fftconv::detail::synchronize_on<fake_runtime>({true, 1, stream_handle(32), 32}); },
      {"cudaStreamSynchronize", "cudaErrorLaunchFailure"});
  CHECK(fake_runtime::now().current == 0);
  CHECK(fake_runtime::now().last_error == 0);
}

// ---- CUDA graph capture ------------------------------------------------------------------------------------

TEST_CASE("capture: synchronising a stream that is being captured is refused, and nothing waits") {
  using fftconv::detail::queue_on;
  auto* const stream = reinterpret_cast<CUstream_st*>(std::uintptr_t{16});
  fake_runtime::reset(0);
  fake_runtime::now().current = 1;
  const auto queue = queue_on<fake_runtime>(fftconv::device{stream});
  fake_runtime::now().current = 0;
  fake_runtime::now().capturing = {stream};
  testing_support::check_throws_naming<fftconv::invalid_argument>(
      [&] { fftconv::detail::synchronize_on<fake_runtime>(queue); },
      {"synchronizing a stream", "captured into a CUDA graph", "warm-up", "same shapes"});
  for (const std::string& entry : fake_runtime::now().log) CHECK(entry.find("synchronize") == std::string::npos);
  CHECK(fake_runtime::now().current == 0);  // the guard still restored the caller's device
  // Another stream of the same device is not refused.
  CHECK_NOTHROW(fftconv::detail::synchronize_on<fake_runtime>(queue_on<fake_runtime>(fftconv::device{})));
  // Once capture ends, the same queue synchronises.
  fake_runtime::now().capturing.clear();
  fake_runtime::now().log.clear();
  fftconv::detail::synchronize_on<fake_runtime>(queue);
  CHECK(fake_runtime::now().log == log_t{"set 1", "synchronize 16 on 1", "set 0"});
}

TEST_CASE("capture: refuse_under_capture names the action; a failed capture query is a library error") {
  const void* stream = stream_handle(16);
  fake_runtime::reset(0);
  CHECK_FALSE(fftconv::detail::stream_is_capturing<fake_runtime>(stream));
  CHECK_NOTHROW(fftconv::detail::refuse_under_capture_on<fake_runtime>(stream, "creating a cuFFT plan"));
  fake_runtime::now().capturing = {stream};
  CHECK(fftconv::detail::stream_is_capturing<fake_runtime>(stream));
  testing_support::check_throws_naming<fftconv::invalid_argument>(
      [&] { fftconv::detail::refuse_under_capture_on<fake_runtime>(stream, "creating a cuFFT plan"); },
      {"creating a cuFFT plan", "captured", "warm-up"});
  fake_runtime::now().capture_query_fails = true;
  testing_support::check_throws_naming<fftconv::library_error>(
      [&] { fftconv::detail::refuse_under_capture_on<fake_runtime>(stream, "creating a cuFFT plan"); },
      {"cudaStreamIsCapturing", "cudaErrorLaunchFailure"});
  CHECK(fake_runtime::now().last_error == 0);
  // The host executor is never captured.
  static_assert(!fftconv::detail::backend<fftconv::host>::is_capturing(fftconv::host{}));
  CHECK_NOTHROW(fftconv::detail::backend<fftconv::host>::refuse_under_capture(fftconv::host{}, "anything"));
}

TEST_CASE("stream events: a shared plan waits for every stream that ran it, not only the last one") {
  fake_runtime::reset(0);
  const void* a = stream_handle(16);
  const void* b = stream_handle(32);
  {
    fftconv::detail::stream_events<fake_runtime> uses;
    uses.record(a);
    uses.record(b);
    uses.record(a);  // a again: its one event is re-recorded
    CHECK(uses.streams() == 2);
    CHECK(fake_runtime::now().events.size() == 2);
    fake_runtime::now().log.clear();
    CHECK(uses.wait_all());
    log_t waits = fake_runtime::now().log;
    std::sort(waits.begin(), waits.end());
    CHECK(waits == log_t{"wait 16", "wait 32"});
  }
  for (const auto& e : fake_runtime::now().events) CHECK(e.destroyed);
}

TEST_CASE("stream events: streams whose work completed are dropped and their events reused") {
  fake_runtime::reset(0);
  const void* a = stream_handle(16);
  const void* b = stream_handle(32);
  const void* c = stream_handle(48);
  fftconv::detail::stream_events<fake_runtime> uses;
  uses.record(a);
  uses.record(b);
  fake_runtime::now().events[0].done = true;  // a's executions finished
  uses.record(c);
  CHECK_FALSE(uses.tracks(a));
  CHECK(uses.tracks(b));
  CHECK(uses.tracks(c));
  CHECK(fake_runtime::now().events.size() == 2);  // c took a's event
  // Pending work is never dropped, however many streams come and go.
  for (std::uintptr_t s = 64; s < 64 + 16 * 10; s += 16) uses.record(stream_handle(s));
  CHECK(uses.tracks(b));
  CHECK(uses.streams() == 12);
}

TEST_CASE("stream events: work captured into a graph is not recorded, and no event is queried meanwhile") {
  // An event recorded during capture may not be queried or waited for, and cudaEventQuery is not allowed while
  // a capture is under way.
  fake_runtime::reset(0);
  const void* a = stream_handle(16);
  const void* b = stream_handle(32);
  fftconv::detail::stream_events<fake_runtime> uses;
  uses.record(a);
  fake_runtime::now().events[0].done = false;  // a's execution still pending
  fake_runtime::now().capturing = {b};
  fake_runtime::now().queries = 0;
  uses.record(b);
  CHECK_FALSE(uses.tracks(b));
  CHECK(uses.streams() == 1);
  CHECK(fake_runtime::now().queries == 0);
  CHECK(fake_runtime::now().events.size() == 1);
  // After capture, b's executions are tracked again.
  fake_runtime::now().capturing.clear();
  uses.record(b);
  CHECK(uses.tracks(b));
  CHECK(uses.streams() == 2);
}

TEST_CASE("stream events: cudaStreamPerThread on two threads is two streams, each waited for") {
  fake_runtime::reset(0);
  const void* per_thread = stream_handle(2);
  fftconv::detail::stream_events<fake_runtime> uses;
  uses.record(per_thread);
  fake_runtime::now().events[0].done = false;
  fake_runtime::now().thread = 1;
  uses.record(per_thread);
  CHECK(uses.streams() == 2);
  CHECK(fake_runtime::now().events.size() == 2);
  fake_runtime::now().log.clear();
  CHECK(uses.wait_all());
  CHECK(fake_runtime::now().log.size() == 2);
}

namespace {

struct counted_plan {
  static inline int alive = 0;
  int id;
  explicit counted_plan(int i) : id(i) { ++alive; }
  ~counted_plan() { --alive; }
};

fftconv::detail::fft_plan_key test_key(std::int64_t n) {
  fftconv::detail::fft_desc desc{};
  desc.rank = 1;
  desc.n[0] = n;
  desc.batch = 987654;  // a shape no other test of this process uses
  return fftconv::detail::make_fft_plan_key(fftconv::detail::fft_library::cufft, 3, desc);
}

}  // namespace

TEST_CASE("plan cache: plans are built outside the lock, and a key two threads built at once is stored once") {
  auto& cache = fftconv::detail::fft_plan_cache::instance();
  const std::size_t before = cache.size();
  const auto key = test_key(24);
  std::shared_ptr<counted_plan> from_racer;
  // While this call builds its plan, a "second thread" asks for the same key and stores its plan first. Under
  // a lock held across make() this nested call would deadlock.
  const std::shared_ptr<counted_plan> got = cache.get_or_create<counted_plan>(key, [&] {
    from_racer = cache.get_or_create<counted_plan>(key, [] { return std::make_shared<counted_plan>(2); });
    return std::make_shared<counted_plan>(1);
  });
  CHECK(got == from_racer);
  CHECK(got->id == 2);
  CHECK(counted_plan::alive == 1);  // the loser's plan is gone
  CHECK(cache.size() == before + 1);
  CHECK(cache.get_or_create<counted_plan>(key, [] { return std::make_shared<counted_plan>(3); }) == got);
}

TEST_CASE("plan cache: a plan that fails to build stores nothing, and a later call builds it") {
  auto& cache = fftconv::detail::fft_plan_cache::instance();
  const std::size_t before = cache.size();
  const auto key = test_key(36);
  CHECK_THROWS_AS(cache.get_or_create<counted_plan>(key, []() -> std::shared_ptr<counted_plan> {
    throw std::runtime_error("no plan");
  }),
                  std::runtime_error);
  CHECK(cache.size() == before);
  CHECK(cache.get_or_create<counted_plan>(key, [] { return std::make_shared<counted_plan>(4); })->id == 4);
}

TEST_CASE("plan cache under capture: a cached plan is returned, a missing one is refused and nothing stored") {
  using fftconv::detail::cached_plan_outside_capture;
  auto& cache = fftconv::detail::fft_plan_cache::instance();
  const void* stream = stream_handle(16);
  const auto cached_key = test_key(48), missing_key = test_key(60);
  fake_runtime::reset(0);
  const auto warm = cached_plan_outside_capture<fake_runtime, counted_plan>(
      stream, cached_key, "creating a cuFFT plan", [] { return std::make_shared<counted_plan>(5); });
  const std::size_t before = cache.size();
  fake_runtime::now().capturing = {stream};
  bool made = false;
  CHECK(cached_plan_outside_capture<fake_runtime, counted_plan>(stream, cached_key, "creating a cuFFT plan", [&] {
          made = true;
          return std::make_shared<counted_plan>(6);
        }) == warm);
  testing_support::check_throws_naming<fftconv::invalid_argument>(
      [&] {
        (void)cached_plan_outside_capture<fake_runtime, counted_plan>(stream, missing_key, "creating a cuFFT plan", [&] {
          made = true;
          return std::make_shared<counted_plan>(7);
        });
      },
      {"creating a cuFFT plan", "captured into a CUDA graph", "warm-up"});
  CHECK_FALSE(made);
  CHECK(cache.size() == before);
  // Another stream, not captured, plans as usual.
  CHECK(cached_plan_outside_capture<fake_runtime, counted_plan>(stream_handle(32), missing_key, "creating a cuFFT plan",
                                                                [] { return std::make_shared<counted_plan>(8); })
            ->id == 8);
}

TEST_CASE("allocation failures inside cuFFT and cuBLAS are out_of_memory, naming the call") {
  using testing_support::check_throws_naming;
  check_throws_naming<fftconv::out_of_memory>([] { FFTCONV_CUFFT_CHECK(CUFFT_ALLOC_FAILED); },
                                              {"out of device memory", "cuFFT", "CUFFT_ALLOC_FAILED"});
  check_throws_naming<fftconv::out_of_memory>([] { FFTCONV_CUBLAS_CHECK(CUBLAS_STATUS_ALLOC_FAILED); },
                                              {"out of device memory", "cuBLAS", "CUBLAS_STATUS_ALLOC_FAILED"});
  check_throws_naming<fftconv::out_of_memory>([] { FFTCONV_CUDA_CHECK(cudaErrorMemoryAllocation); },
                                              {"out of device memory", "cudaErrorMemoryAllocation"});
  // Other failures stay library errors.
  CHECK_THROWS_AS(FFTCONV_CUFFT_CHECK(CUFFT_EXEC_FAILED), fftconv::library_error);
  CHECK_THROWS_AS(FFTCONV_CUBLAS_CHECK(CUBLAS_STATUS_EXECUTION_FAILED), fftconv::library_error);
}

TEST_CASE("both backends sum float in double") {
  static_assert(std::is_same_v<fftconv::detail::accumulator_t<float>, double>);
  static_assert(std::is_same_v<fftconv::detail::accumulator_t<double>, double>);
  static_assert(std::is_same_v<fftconv::detail::host_accumulator_t<float>, fftconv::detail::accumulator_t<float>>);
  // 2^24 + 1 + 1 + ...: a float running sum never leaves 2^24, a double one does.
  const std::int64_t length = 4097;
  auto term = [](std::int64_t, std::int64_t i) { return i == 0 ? 16777216.0f : 1.0f; };
  float sum = 0;
  fftconv::detail::backend<fftconv::host>::segmented_sum(fftconv::host{}, 1, length, term, &sum);
  CHECK(sum == 16777216.0f + 4096.0f);
}
