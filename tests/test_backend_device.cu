// The device backend on a GPU: cuBLAS runs the same GEMM descriptors as CBLAS, reductions repeat bit for bit,
// and the executors refuse pointers from the other memory space without writing anything. A memory resource on
// the executor receives every allocation; after a warm-up a training step captures into a CUDA graph, and
// without one the call is refused before the capture is harmed.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <type_traits>
#include <vector>

#include <fftconv/fftconv.hpp>

#include "backend/counting_resource.hpp"
#include "support/device_buffer.cuh"
#include "support/expect_error.hpp"
#include "support/random_layer.hpp"

using fftconv::detail::gemm_desc;
using fftconv::detail::gemm_op;
using testing_support::check_throws_naming;
using testing_support::test_buffer;

namespace {

template <class S>
S random_scalar(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-1, 1);
  if constexpr (std::is_floating_point_v<S>) {
    return static_cast<S>(u(rng));
  } else {
    // Both parts random: with zero imaginary parts a conjugate transpose equals a transpose, and a GEMM that
    // confused the two (or dropped a conjugation) would pass.
    using R = typename S::value_type;
    const R re = static_cast<R>(u(rng));
    return S(re, static_cast<R>(u(rng)));
  }
}

template <class S>
constexpr double gemm_tolerance() {
  if constexpr (std::is_same_v<S, float> || std::is_same_v<S, cuda::std::complex<float>>)
    return 1e-5;
  else
    return 1e-12;
}

const char* op_name(gemm_op op) {
  return op == gemm_op::none ? "N" : op == gemm_op::transpose ? "T" : "C";
}

}  // namespace

TEST_CASE_TEMPLATE("device gemm agrees with host gemm on the same descriptor, for all nine op pairs", S, float,
                   double, cuda::std::complex<float>, cuda::std::complex<double>) {
  testing_support::test_stream stream;
  std::mt19937_64 rng(11);
  for (gemm_op op_a : {gemm_op::none, gemm_op::transpose, gemm_op::conjugate_transpose})
    for (gemm_op op_b : {gemm_op::none, gemm_op::transpose, gemm_op::conjugate_transpose}) {
      INFO("op_a ", op_name(op_a), ", op_b ", op_name(op_b));
      gemm_desc d{.op_a = op_a, .op_b = op_b, .m = 7, .n = 5, .k = 6};
      d.lda = (op_a == gemm_op::none ? d.k : d.m) + 1;
      d.ldb = (op_b == gemm_op::none ? d.n : d.k) + 1;
      d.ldc = d.n + 2;
      d.stride_a = 8 * d.lda, d.stride_b = 8 * d.ldb, d.stride_c = d.m * d.ldc, d.batch = 4;
      std::vector<S> a(d.batch * d.stride_a), b(d.batch * d.stride_b), c(d.batch * d.stride_c);
      for (auto* v : {&a, &b, &c})
        for (auto& e : *v) e = random_scalar<S>(rng);
      const S alpha = random_scalar<S>(rng), beta = random_scalar<S>(rng);
      std::vector<S> expected = c;
      fftconv::detail::backend<fftconv::host>::gemm(fftconv::host{}, d, alpha, a.data(), b.data(), beta,
                                                    expected.data());
      const testing_support::device_array<S> da(stream.get(), a), db(stream.get(), b), dc(stream.get(), c);
      fftconv::detail::backend<fftconv::device>::gemm(stream.executor(), d, alpha, da.data(), db.data(), beta,
                                                      dc.data());
      const std::vector<S> got = dc.read();
      double error = 0, scale = 1;
      for (std::size_t i = 0; i < got.size(); ++i) {
        error = std::max<double>(error, cuda::std::abs(got[i] - expected[i]));
        scale = std::max<double>(scale, cuda::std::abs(expected[i]));
      }
      CHECK(error / scale <= gemm_tolerance<S>());
    }
}

TEST_CASE("device gemm: transpose and conjugate transpose of a complex operand give different results") {
  // The check above can only fail on a conjugation bug because the operands have imaginary parts; this pins it.
  using S = cuda::std::complex<double>;
  testing_support::test_stream stream;
  std::mt19937_64 rng(5);
  gemm_desc d{.op_a = gemm_op::transpose, .op_b = gemm_op::none, .m = 3, .n = 2, .k = 4};
  d.lda = d.m, d.ldb = d.n, d.ldc = d.n, d.batch = 1;
  std::vector<S> a(d.k * d.lda), b(d.k * d.ldb), c(d.m * d.ldc, S(0));
  for (auto* v : {&a, &b})
    for (auto& e : *v) e = random_scalar<S>(rng);
  const testing_support::device_array<S> da(stream.get(), a), db(stream.get(), b), transposed(stream.get(), c),
      conjugated(stream.get(), c);
  using device_backend = fftconv::detail::backend<fftconv::device>;
  device_backend::gemm(stream.executor(), d, S(1), da.data(), db.data(), S(0), transposed.data());
  d.op_a = gemm_op::conjugate_transpose;
  device_backend::gemm(stream.executor(), d, S(1), da.data(), db.data(), S(0), conjugated.data());
  const std::vector<S> t = transposed.read(), h = conjugated.read();
  double difference = 0;
  for (std::size_t i = 0; i < t.size(); ++i) difference = std::max<double>(difference, cuda::std::abs(t[i] - h[i]));
  CHECK(difference > 0.1);
}

TEST_CASE("device naive backward_filter repeats bit for bit") {
  const reference::layer L = testing_support::random_layer(2, 5);
  const fftconv::device exec{};
  fftconv::geometry<2> g{.in_channels = L.in_channels, .out_channels = L.out_channels,
                         .kernel = {L.kernel[0], L.kernel[1]}, .padding = {L.padding[0], L.padding[1]},
                         .stride = {L.stride[0], L.stride[1]}, .dilation = {L.dilation[0], L.dilation[1]},
                         .groups = L.groups};
  fftconv::conv<2, float, fftconv::naive> layer(g);
  test_buffer<float, fftconv::device> x(exec, testing_support::random_values(L.x_size(), 1));
  test_buffer<float, fftconv::device> dy(exec, testing_support::random_values(L.y_size(), 2));
  test_buffer<float, fftconv::device> dw1(exec, L.w_size()), dw2(exec, L.w_size()), db1(exec, L.out_channels),
      db2(exec, L.out_channels);
  const auto out = L.output();
  fftconv::view<const float, 4> xv(x.data(), L.batch, L.in_channels, L.input[0], L.input[1]);
  fftconv::view<const float, 4> dyv(dy.data(), L.batch, L.out_channels, out[0], out[1]);
  layer.backward_filter(exec, xv, dyv, fftconv::view<float, 4>(dw1.data(), L.out_channels, L.in_channels / L.groups, L.kernel[0], L.kernel[1]), db1.data());
  layer.backward_filter(exec, xv, dyv, fftconv::view<float, 4>(dw2.data(), L.out_channels, L.in_channels / L.groups, L.kernel[0], L.kernel[1]), db2.data());
  CHECK(dw1.read() == dw2.read());
  CHECK(db1.read() == db2.read());
}

TEST_CASE("executors refuse pointers from the other memory space and write nothing") {
  fftconv::conv<1, float, fftconv::naive> layer({.in_channels = 1, .out_channels = 1, .kernel = {3}});
  std::vector<float> host_x(16, 1.0f), host_w(3, 1.0f), host_y(14, 42.0f);
  test_buffer<float, fftconv::device> device_x(fftconv::device{}, testing_support::random_values(16, 1));
  test_buffer<float, fftconv::device> device_w(fftconv::device{}, testing_support::random_values(3, 2));
  test_buffer<float, fftconv::device> device_y(fftconv::device{}, 14);
  using cv = fftconv::view<const float, 3>;
  using mv = fftconv::view<float, 3>;
  check_throws_naming<fftconv::invalid_argument>(
      [&] { layer.forward(fftconv::device{}, cv(host_x.data(), 1, 1, 16), cv(device_w.data(), 1, 1, 3), nullptr, mv(device_y.data(), 1, 1, 14)); },
      {"x points to pageable host memory", "fftconv::device"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { layer.forward(fftconv::host{}, cv(device_x.data(), 1, 1, 16), cv(host_w.data(), 1, 1, 3), nullptr, mv(host_y.data(), 1, 1, 14)); },
      {"x points to device memory", "fftconv::host"});
  for (double v : device_y.read()) CHECK(v == testing_support::sentinel);
  for (float v : host_y) CHECK(v == 42.0f);
}

// ---- which device owns a buffer, a plan, a queue ---------------------------------------------------------

namespace {

int current_device() {
  int id = -1;
  testing_support::expect_cuda(cudaGetDevice(&id), "cudaGetDevice");
  return id;
}

// The runtime's last error after the library's no-throw paths: they must leave none behind.
void check_no_error_left() { CHECK(cudaGetLastError() == cudaSuccess); }

}  // namespace

TEST_CASE("device resources record the device current when they were made, and the guard restores it") {
  testing_support::test_stream stream;
  const fftconv::device exec = stream.executor();
  const int here = current_device();
  {
    auto buffer = fftconv::detail::backend<fftconv::device>::allocate<float>(exec, 1000);
    CHECK(buffer.device() == here);
    const fftconv::detail::execution_queue queue = fftconv::detail::queue_of(exec);
    CHECK(queue.on_device);
    CHECK(queue.device == here);
    CHECK(queue.stream == static_cast<const void*>(stream.get()));
    fftconv::detail::synchronize(queue);
    fftconv::detail::backend<fftconv::device>::synchronize(exec);
    const fftconv::detail::device_guard guard(here);
    CHECK_FALSE(guard.switched());
  }
  CHECK(current_device() == here);
  check_no_error_left();
}

TEST_CASE("a cuFFT plan run on two streams waits for both before it is destroyed") {
  testing_support::test_stream a, b;
  fftconv::detail::fft_desc desc{};
  desc.rank = 1;
  desc.direction = fftconv::detail::fft_direction::real_to_complex;
  desc.precision_bytes = 4;
  desc.n[0] = 4096;
  desc.batch = 256;
  desc.inembed[0] = 4096, desc.istride = 1, desc.idist = 4096;
  desc.onembed[0] = 2049, desc.ostride = 1, desc.odist = 2049;
  auto plan = std::make_shared<fftconv::detail::cufft_plan_handle<float>>(desc);
  CHECK(plan->device() == current_device());
  auto real = fftconv::detail::backend<fftconv::device>::allocate<float>(a.executor(), 4096 * 256);
  auto spectrum_a = fftconv::detail::backend<fftconv::device>::allocate<cuda::std::complex<float>>(a.executor(), 2049 * 256);
  auto spectrum_b = fftconv::detail::backend<fftconv::device>::allocate<cuda::std::complex<float>>(b.executor(), 2049 * 256);
  auto work_a = fftconv::detail::backend<fftconv::device>::allocate<unsigned char>(a.executor(), plan->work_area_bytes());
  auto work_b = fftconv::detail::backend<fftconv::device>::allocate<unsigned char>(b.executor(), plan->work_area_bytes());
  fftconv::detail::backend<fftconv::device>::fill(a.executor(), real.data(), 4096 * 256, 1.0f);
  testing_support::expect_cuda(cudaStreamSynchronize(a.get()), "synchronize a");
  for (int repeat = 0; repeat < 4; ++repeat) {
    plan->forward(a.get(), real.data(), spectrum_a.data(), work_a.data());
    plan->forward(b.get(), real.data(), spectrum_b.data(), work_b.data());
  }
  CHECK(plan->streams_in_use() >= 1);
  CHECK(plan->streams_in_use() <= 2);
  plan.reset();  // with work possibly still queued on a and b: the destructor waits for both
  check_no_error_left();
  testing_support::expect_cuda(cudaStreamSynchronize(a.get()), "synchronize a");
  testing_support::expect_cuda(cudaStreamSynchronize(b.get()), "synchronize b");
}

TEST_CASE("two devices: buffers, queues and cached layers are released on their own device") {
  if (testing_support::device_count() < 2) {
    MESSAGE("skipped: needs two GPUs (", testing_support::device_count(), " visible)");
    return;
  }
  testing_support::expect_cuda(cudaSetDevice(1), "cudaSetDevice(1)");
  {
    // The null stream of device 1: freed and synchronised there, though device 0 is current by then.
    auto buffer = fftconv::detail::backend<fftconv::device>::allocate<float>(fftconv::device{}, 1 << 20);
    const fftconv::detail::execution_queue on_1 = fftconv::detail::queue_of(fftconv::device{});
    CHECK(buffer.device() == 1);
    CHECK(on_1.device == 1);
    testing_support::expect_cuda(cudaSetDevice(0), "cudaSetDevice(0)");
    CHECK_FALSE(on_1 == fftconv::detail::queue_of(fftconv::device{}));
    fftconv::detail::synchronize(on_1);
    CHECK(current_device() == 0);
  }
  CHECK(current_device() == 0);
  check_no_error_left();

  // A functional call on device 1, its cached layer destroyed while device 0 is current.
  testing_support::expect_cuda(cudaSetDevice(1), "cudaSetDevice(1)");
  {
    testing_support::test_stream stream;
    const fftconv::geometry<1> g{.in_channels = 2, .out_channels = 3, .kernel = {5}};
    testing_support::test_buffer<float, fftconv::device> x(stream.executor(), testing_support::random_values(2 * 40, 1));
    testing_support::test_buffer<float, fftconv::device> w(stream.executor(), testing_support::random_values(3 * 2 * 5, 2));
    testing_support::test_buffer<float, fftconv::device> y(stream.executor(), 3 * 36);
    fftconv::forward<fftconv::fft>(stream.executor(), g, fftconv::view<const float, 3>(x.data(), 1, 2, 40),
                                   fftconv::view<const float, 3>(w.data(), 3, 2, 5), nullptr,
                                   fftconv::view<float, 3>(y.data(), 1, 3, 36));
    fftconv::forward<fftconv::im2col>(stream.executor(), g, fftconv::view<const float, 3>(x.data(), 1, 2, 40),
                                      fftconv::view<const float, 3>(w.data(), 3, 2, 5), nullptr,
                                      fftconv::view<float, 3>(y.data(), 1, 3, 36));
    testing_support::expect_cuda(cudaStreamSynchronize(stream.get()), "synchronize");
    testing_support::expect_cuda(cudaSetDevice(0), "cudaSetDevice(0)");
    fftconv::clear_functional_cache();
    fftconv::clear_plan_cache();
    CHECK(current_device() == 0);
    check_no_error_left();
    testing_support::expect_cuda(cudaSetDevice(1), "cudaSetDevice(1)");  // the stream and buffers are device 1's
  }
  testing_support::expect_cuda(cudaSetDevice(0), "cudaSetDevice(0)");
  check_no_error_left();
}

// ---- the caller's memory, graph capture, library failures ----------------------------------------------

namespace {

// Device memory for the counting resource: stream-ordered, as a caching allocator's is.
struct device_upstream {
  static void* allocate(std::size_t bytes, std::size_t, CUstream_st* stream) {
    void* pointer = nullptr;
    if (cudaMallocAsync(&pointer, bytes, stream) != cudaSuccess) {
      (void)cudaGetLastError();
      return nullptr;
    }
    return pointer;
  }
  static void deallocate(void* pointer, std::size_t, std::size_t, CUstream_st* stream) noexcept {
    if (cudaFreeAsync(pointer, stream) != cudaSuccess) (void)cudaGetLastError();
  }
};

using device_resource = testing_support::counting_resource<device_upstream>;

// A small 2D layer's tensors on the device: x [2, 3, 12, 12], w [4, 3, 3, 3], bias [4], padding 1 ('same').
struct device_step {
  static constexpr std::int64_t batch = 2, in = 3, out = 4, n = 12, k = 3;
  test_buffer<float, fftconv::device> x, w, bias, dy, y, dx, dw, db;
  explicit device_step(fftconv::device exec)
      : x(exec, testing_support::random_values(batch * in * n * n, 1)),
        w(exec, testing_support::random_values(out * in * k * k, 2)),
        bias(exec, testing_support::random_values(out, 3)),
        dy(exec, testing_support::random_values(batch * out * n * n, 4)),
        y(exec, batch * out * n * n),
        dx(exec, batch * in * n * n),
        dw(exec, out * in * k * k),
        db(exec, out) {}
  static fftconv::geometry<2> geometry() {
    return {.in_channels = in, .out_channels = out, .kernel = {k, k}, .padding = {1, 1}};
  }
  template <class Layer>
  void run(Layer& layer, fftconv::device exec) {
    using cv = fftconv::view<const float, 4>;
    using mv = fftconv::view<float, 4>;
    layer.forward(exec, cv(x.data(), batch, in, n, n), cv(w.data(), out, in, k, k), bias.data(),
                  mv(y.data(), batch, out, n, n));
    layer.backward_data(exec, cv(dy.data(), batch, out, n, n), cv(w.data(), out, in, k, k),
                        mv(dx.data(), batch, in, n, n));
    layer.backward_filter(exec, cv(x.data(), batch, in, n, n), cv(dy.data(), batch, out, n, n),
                          mv(dw.data(), out, in, k, k), db.data());
  }
  std::vector<std::vector<double>> results() const { return {y.read(), dx.read(), dw.read(), db.read()}; }
};

void check_books_balanced(const device_resource& r, cudaStream_t stream) {
  CHECK(r.live_bytes() == 0);
  CHECK(r.live_allocations() == 0);
  CHECK(r.allocations() == r.deallocations());
  for (const std::string& problem : r.problems()) FAIL_CHECK(problem);
  for (const auto& a : r.history()) {
    CHECK(a.alignment == 256);
    CHECK(a.stream == stream);
  }
}

}  // namespace

TEST_CASE_TEMPLATE("a training step with device{stream, &resource} allocates from it and returns every byte", P,
                   fftconv::naive, fftconv::im2col, fftconv::fft) {
  testing_support::test_stream stream;
  device_resource r;
  const fftconv::device exec{stream.get(), &r};
  device_step with_resource(exec), without_resource(stream.executor());
  {
    fftconv::conv<2, float, P> layer(device_step::geometry());
    with_resource.run(layer, exec);
    with_resource.run(layer, exec);
  }
  testing_support::expect_cuda(cudaStreamSynchronize(stream.get()), "synchronize");
  if constexpr (!std::is_same_v<P, fftconv::naive>) CHECK(r.allocations() > 0);
  check_books_balanced(r, stream.get());
  if constexpr (std::is_same_v<P, fftconv::im2col>) {
    // The GEMMs ran in a cuBLAS workspace of the call's own, from the resource.
    int major = 0;
    testing_support::expect_cuda(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, current_device()),
                                 "cudaDeviceGetAttribute");
    const std::size_t workspace = fftconv::detail::cublas_workspace_bytes_for(major);
    const auto history = r.history();
    CHECK(std::any_of(history.begin(), history.end(), [&](const auto& a) { return a.bytes == workspace; }));
  }
  fftconv::conv<2, float, P> layer(device_step::geometry());
  without_resource.run(layer, stream.executor());
  CHECK(with_resource.results() == without_resource.results());
  check_no_error_left();
}

TEST_CASE_TEMPLATE("a device resource that cannot serve the workspace makes the call throw out_of_memory", P,
                   fftconv::im2col, fftconv::fft) {
  testing_support::test_stream stream;
  device_resource r;
  const fftconv::device exec{stream.get(), &r};
  device_step step(exec);
  for (const auto failure : {testing_support::resource_failure::null, testing_support::resource_failure::bad_alloc}) {
    fftconv::conv<2, float, P> layer(device_step::geometry());
    r.fail_with(failure);
    CHECK_THROWS_AS(step.run(layer, exec), fftconv::out_of_memory);
    r.fail_with(testing_support::resource_failure::none);
  }
  testing_support::expect_cuda(cudaStreamSynchronize(stream.get()), "synchronize");
  check_books_balanced(r, stream.get());
  check_no_error_left();
}

TEST_CASE_TEMPLATE("after a warm-up call, a training step captured into a CUDA graph replays to the same results", P,
                   fftconv::naive, fftconv::im2col, fftconv::fft) {
  testing_support::test_stream stream;
  device_resource r;
  const fftconv::device exec{stream.get(), &r};
  device_step step(exec);
  {
    fftconv::conv<2, float, P> layer(device_step::geometry());
    step.run(layer, exec);  // the warm-up: plans, handles and workspace
    const auto expected = step.results();
    for (float* output : {step.y.data(), step.dx.data(), step.dw.data(), step.db.data()})
      testing_support::expect_cuda(cudaMemsetAsync(output, 0, sizeof(float), stream.get()), "cudaMemsetAsync");
    cudaGraph_t graph = nullptr;
    testing_support::expect_cuda(cudaStreamBeginCapture(stream.get(), cudaStreamCaptureModeGlobal), "begin capture");
    CHECK(fftconv::detail::backend<fftconv::device>::is_capturing(exec));
    try {
      step.run(layer, exec);
    } catch (...) {
      (void)cudaStreamEndCapture(stream.get(), &graph);
      (void)cudaGetLastError();
      if (graph != nullptr) (void)cudaGraphDestroy(graph);
      throw;
    }
    testing_support::expect_cuda(cudaStreamEndCapture(stream.get(), &graph), "end capture");
    CHECK_FALSE(fftconv::detail::backend<fftconv::device>::is_capturing(exec));
    cudaGraphExec_t replay = nullptr;
    testing_support::expect_cuda(cudaGraphInstantiate(&replay, graph, 0), "cudaGraphInstantiate");
    testing_support::expect_cuda(cudaGraphLaunch(replay, stream.get()), "cudaGraphLaunch");
    testing_support::expect_cuda(cudaStreamSynchronize(stream.get()), "synchronize");
    CHECK(step.results() == expected);
    testing_support::expect_cuda(cudaGraphExecDestroy(replay), "cudaGraphExecDestroy");
    testing_support::expect_cuda(cudaGraphDestroy(graph), "cudaGraphDestroy");
  }
  testing_support::expect_cuda(cudaStreamSynchronize(stream.get()), "synchronize");
  check_books_balanced(r, stream.get());
  check_no_error_left();
}

TEST_CASE("under capture, planning and synchronising are refused without invalidating the capture") {
  testing_support::test_stream stream;
  const fftconv::device exec = stream.executor();
  // A shape no other test plans, with no cached plans: the first call must make cuFFT plans.
  const fftconv::geometry<1> g{.in_channels = 2, .out_channels = 3, .kernel = {7}};
  test_buffer<float, fftconv::device> x(exec, testing_support::random_values(2 * 53, 1));
  test_buffer<float, fftconv::device> w(exec, testing_support::random_values(3 * 2 * 7, 2));
  test_buffer<float, fftconv::device> y(exec, 3 * 47);
  fftconv::clear_plan_cache();
  fftconv::conv<1, float, fftconv::fft> layer(g);
  cudaGraph_t graph = nullptr;
  testing_support::expect_cuda(cudaStreamBeginCapture(stream.get(), cudaStreamCaptureModeGlobal), "begin capture");
  check_throws_naming<fftconv::invalid_argument>(
      [&] {
        layer.forward(exec, fftconv::view<const float, 3>(x.data(), 1, 2, 53),
                      fftconv::view<const float, 3>(w.data(), 3, 2, 7), nullptr,
                      fftconv::view<float, 3>(y.data(), 1, 3, 47));
      },
      {"captured into a CUDA graph", "warm-up"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { fftconv::detail::backend<fftconv::device>::synchronize(exec); }, {"synchronizing a stream", "warm-up"});
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  testing_support::expect_cuda(cudaStreamIsCapturing(stream.get(), &status), "cudaStreamIsCapturing");
  CHECK(status == cudaStreamCaptureStatusActive);  // not invalidated
  testing_support::expect_cuda(cudaStreamEndCapture(stream.get(), &graph), "end capture");
  if (graph != nullptr) testing_support::expect_cuda(cudaGraphDestroy(graph), "cudaGraphDestroy");
  testing_support::expect_cuda(cudaStreamSynchronize(stream.get()), "synchronize");
  check_no_error_left();
}

TEST_CASE("a failed cuFFT or cuBLAS call leaves no CUDA error pending") {
  // A failed allocation leaves its error as the thread's last error, as a failure inside cuFFT may.
  void* huge = nullptr;
  CHECK(cudaMalloc(&huge, std::size_t(-1) / 2) != cudaSuccess);
  CHECK_THROWS_AS(FFTCONV_CUFFT_CHECK(CUFFT_INTERNAL_ERROR), fftconv::library_error);
  check_no_error_left();
  CHECK(cudaMalloc(&huge, std::size_t(-1) / 2) != cudaSuccess);
  CHECK_THROWS_AS(FFTCONV_CUBLAS_CHECK(CUBLAS_STATUS_ALLOC_FAILED), fftconv::out_of_memory);
  check_no_error_left();
}

namespace {
// 2^24, then ones.
struct large_then_ones {
  __device__ float operator()(std::int64_t, std::int64_t i) const { return i == 0 ? 16777216.0f : 1.0f; }
};
}  // namespace

TEST_CASE("device segmented_sum sums float in double, as the host does") {
  // 2^24 followed by 4096 ones: a float running sum never leaves 2^24.
  testing_support::test_stream stream;
  test_buffer<float, fftconv::device> out(stream.executor(), 1);
  const std::int64_t length = 4097;
  fftconv::detail::backend<fftconv::device>::segmented_sum(stream.executor(), 1, length, large_then_ones{},
                                                           out.data());
  CHECK(out.read()[0] == 16777216.0 + 4096.0);
}
