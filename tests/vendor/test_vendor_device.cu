// fftconv::vendor on fftconv::device (cuDNN 9), against the float64 reference; runs only with a GPU (the
// executable exits 77 without one, which CTest reports as skipped). Random layers of every rank with stride,
// dilation, groups and asymmetric padding (which cuDNN's legacy API cannot express: x is zero-padded first),
// every pass with bias; bad arguments refused before cuDNN is called; the workspace limit; the options
// (deterministic, TF32); and, through the glue itself, what a call may do under CUDA graph capture.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <fftconv/fftconv.hpp>

#include "../support/device_buffer.cuh"  // test_stream, test_buffer on the device
#include "../support/expect_error.hpp"
#include "../support/layer_views.hpp"
#include "../support/random_layer.hpp"
#include "../support/reference.hpp"
#include "../support/test_buffer.hpp"

#if FFTCONV_HAS_CUDNN

namespace {

using testing_support::describe;
using testing_support::extents;
using testing_support::geometry_of;
using testing_support::random_values;
using testing_support::relative_l2;
using testing_support::test_buffer;
using testing_support::test_stream;

// cuDNN's fp32 algorithms include FFT and Winograd ones, whose rounding error exceeds a direct sum's; relative
// L2 1e-4 still catches any wrong index (an error of order 1). fp64 runs direct sums.
template <class T>
constexpr double vendor_tolerance = std::is_same_v<T, float> ? 1e-4 : 1e-12;

template <int N, class T>
using vendor_conv = fftconv::conv<N, T, fftconv::vendor>;

template <class T, std::size_t R>
auto view(T* data, const std::array<std::int64_t, R>& e) {
  return fftconv::make_view<T, R>(data, e);
}

// The tensors of one layer on the device, filled from seeded values, and the reference's answers.
template <int N, class T>
struct layer_run {
  static constexpr std::size_t R = N + 2;
  reference::layer L;
  std::array<std::int64_t, R> xe, ye, we;
  std::vector<double> xv, wv, bv, dyv;
  test_buffer<T, fftconv::device> x, w, bias, dy, y, dx, dw, db;

  layer_run(const reference::layer& layer, std::uint64_t seed, fftconv::device exec)
      : L(layer),
        xe(extents<N>(L.batch, L.in_channels, L.input)),
        ye(extents<N>(L.batch, L.out_channels, L.output())),
        we(extents<N>(L.out_channels, L.in_channels / L.groups, L.kernel)),
        xv(random_values(L.x_size(), seed * 4 + 1)),
        wv(random_values(L.w_size(), seed * 4 + 2)),
        bv(random_values(L.out_channels, seed * 4 + 3)),
        dyv(random_values(L.y_size(), seed * 4 + 4)),
        x(exec, xv),
        w(exec, wv),
        bias(exec, bv),
        dy(exec, dyv),
        y(exec, L.y_size()),
        dx(exec, L.x_size()),
        dw(exec, L.w_size()),
        db(exec, L.out_channels) {}

  void run(vendor_conv<N, T>& layer, fftconv::device exec) {
    layer.forward(exec, view<const T>(x.data(), xe), view<const T>(w.data(), we), bias.data(), view<T>(y.data(), ye));
    layer.backward_data(exec, view<const T>(dy.data(), ye), view<const T>(w.data(), we), view<T>(dx.data(), xe));
    layer.backward_filter(exec, view<const T>(x.data(), xe), view<const T>(dy.data(), ye), view<T>(dw.data(), we),
                          db.data());
  }

  void check(double tolerance) const {
    CHECK(relative_l2(y.read(), reference::forward(L, xv, wv, &bv)) <= tolerance);
    CHECK(relative_l2(dx.read(), reference::backward_data(L, dyv, wv)) <= tolerance);
    CHECK(relative_l2(dw.read(), reference::backward_filter(L, xv, dyv)) <= tolerance);
    CHECK(relative_l2(db.read(), reference::backward_bias(L, dyv)) <= tolerance);
  }
};

template <int N, class T>
void check_layer(const reference::layer& L, std::uint64_t seed, fftconv::device exec) {
  INFO("seed ", seed, ": ", describe(L));
  layer_run<N, T> run(L, seed, exec);
  vendor_conv<N, T> layer(geometry_of<N>(L));
  CHECK(layer.output_extents(run.xe) == run.ye);
  run.run(layer, exec);
  run.check(vendor_tolerance<T>);
  // A second step reuses the algorithms found by the first and reads its arguments afresh.
  layer_run<N, T> again(L, seed + 1000, exec);
  again.run(layer, exec);
  again.check(vendor_tolerance<T>);
}

// Layers whose padding cuDNN's one-padding-per-dim descriptor cannot express, every case of it: low > high,
// high > low, and a high side past what the last (strided) window reaches.
reference::layer asymmetric_layer(int rank, int variant) {
  reference::layer L;
  L.rank = rank;
  L.batch = 2;
  L.groups = variant == 2 ? 2 : 1;
  L.in_channels = 2 * L.groups;
  L.out_channels = 3 * L.groups;
  for (int d = 0; d < rank; ++d) {
    L.input.push_back(rank == 1 ? 19 : (rank == 2 ? 9 : 6) + d);
    L.kernel.push_back(3);
    L.stride.push_back(variant == 2 && d == 0 ? 2 : 1);
    L.dilation.push_back(variant == 1 && d == rank - 1 ? 2 : 1);
    L.padding.push_back(variant == 0 ? 2 : (variant == 1 ? 0 : 1));
    L.padding_high.push_back(variant == 0 ? 0 : (variant == 1 ? 3 : 4));
  }
  return L;
}

constexpr std::uint64_t layers_per_rank = 24;

template <int N, class T>
void check_random_layers(fftconv::device exec) {
  for (std::uint64_t seed = 1; seed <= layers_per_rank; ++seed)
    check_layer<N, T>(testing_support::random_layer(N, seed), seed, exec);
  for (int variant = 0; variant < 3; ++variant) check_layer<N, T>(asymmetric_layer(N, variant), 700 + variant, exec);
}

}  // namespace

TEST_CASE_TEMPLATE("vendor device: 1D layers match the float64 reference in every pass", T, float, double) {
  test_stream s;
  check_random_layers<1, T>(s.executor());
}
TEST_CASE_TEMPLATE("vendor device: 2D layers match the float64 reference in every pass", T, float, double) {
  test_stream s;
  check_random_layers<2, T>(s.executor());
}
TEST_CASE_TEMPLATE("vendor device: 3D layers match the float64 reference in every pass", T, float, double) {
  test_stream s;
  check_random_layers<3, T>(s.executor());
}

TEST_CASE("vendor device: a bad argument is refused before cuDNN is called, and nothing is written") {
  test_stream s;
  const fftconv::device exec = s.executor();
  const reference::layer L = asymmetric_layer(2, 0);
  layer_run<2, float> run(L, 5, exec);
  vendor_conv<2, float> layer(geometry_of<2>(L));
  auto wrong_w = run.we;
  wrong_w[1] += 1;  // the weights' input channels disagree with the geometry
  testing_support::check_throws_naming<fftconv::invalid_argument>(
      [&] {
        layer.forward(exec, view<const float>(run.x.data(), run.xe), view<const float>(run.w.data(), wrong_w),
                      run.bias.data(), view<float>(run.y.data(), run.ye));
      },
      {"w"});
  for (double v : run.y.read()) REQUIRE(v == testing_support::sentinel);
  CHECK(layer.workspace_bytes() == 0);  // no algorithm was searched for, no padded copy made

  // Pageable host memory on the device executor: refused by name.
  std::vector<float> host_x(run.L.x_size());
  testing_support::check_throws_naming<fftconv::invalid_argument>(
      [&] {
        layer.forward(exec, view<const float>(host_x.data(), run.xe), view<const float>(run.w.data(), run.we),
                      run.bias.data(), view<float>(run.y.data(), run.ye));
      },
      {"x", "pageable"});
  CHECK(layer.workspace_bytes() == 0);
}

TEST_CASE("vendor device: sizes over cuDNN's 32-bit limit are refused before cuDNN is called") {
  // A 1D layer over 2^31 + 8 elements with a kernel as long: one output, but x and w past int. x and w may
  // alias (both inputs) and are never read, so they claim extents far beyond their small allocation; y sits
  // below them, so it overlaps neither.
  test_stream s;
  const fftconv::device exec = s.executor();
  const std::int64_t n = (std::int64_t{1} << 31) + 8;
  vendor_conv<1, float> layer({.in_channels = 1, .out_channels = 1, .kernel = {n}});
  float *first = nullptr, *second = nullptr;
  testing_support::expect_cuda(cudaMalloc(&first, 256 * sizeof(float)), "cudaMalloc");
  testing_support::expect_cuda(cudaMalloc(&second, 256 * sizeof(float)), "cudaMalloc");
  float* y = first < second ? first : second;
  float* inputs = first < second ? second : first;
  testing_support::check_throws_naming<fftconv::invalid_argument>(
      [&] {
        layer.forward(exec, view<const float>(inputs, std::array<std::int64_t, 3>{1, 1, n}),
                      view<const float>(inputs, std::array<std::int64_t, 3>{1, 1, n}), nullptr,
                      view<float>(y, std::array<std::int64_t, 3>{1, 1, 1}));
      },
      {"32-bit", std::to_string(n).c_str()});
  CHECK(layer.workspace_bytes() == 0);
  testing_support::expect_cuda(cudaFree(first), "cudaFree");
  testing_support::expect_cuda(cudaFree(second), "cudaFree");
}

TEST_CASE_TEMPLATE("vendor device: the workspace limit is respected", T, float, double) {
  test_stream s;
  const fftconv::device exec = s.executor();
  // Symmetric padding: cuDNN has algorithms without workspace (implicit GEMM, ALGO_0) for every pass, so even a
  // limit of 0 runs, and the layer then holds nothing.
  reference::layer L = testing_support::make_layer(
      2, 4, {.in_channels = 8, .out_channels = 8, .groups = 1, .input = {24, 24}, .kernel = {5, 5},
             .padding = {2, 2}, .stride = {1, 1}, .dilation = {1, 1}});
  for (const std::size_t limit : {std::size_t{0}, std::size_t{64} << 10, std::size_t{1} << 20}) {
    INFO("limit ", limit);
    layer_run<2, T> run(L, 11, exec);
    vendor_conv<2, T> layer(geometry_of<2>(L));
    layer.set_workspace_limit(limit);
    run.run(layer, exec);
    run.check(vendor_tolerance<T>);
    CHECK(layer.workspace_bytes() <= limit);
  }
  // Asymmetric padding needs the padded copy of x (or dx) at least: under that, every pass is refused with
  // what it needs; with room for it, the layer runs.
  const reference::layer A = asymmetric_layer(2, 0);
  const std::size_t padded_bytes = std::size_t(A.batch * A.in_channels * (A.input[0] + 2) * (A.input[1] + 2)) * sizeof(T);
  layer_run<2, T> run(A, 13, exec);
  vendor_conv<2, T> small(geometry_of<2>(A));
  small.set_workspace_limit(64);
  try {
    small.forward(exec, view<const T>(run.x.data(), run.xe), view<const T>(run.w.data(), run.we), run.bias.data(),
                  view<T>(run.y.data(), run.ye));
    FAIL_CHECK("expected fftconv::workspace_limit_exceeded");
  } catch (const fftconv::workspace_limit_exceeded& error) {
    CHECK(error.limit_bytes() == 64);
    CHECK(error.needed_bytes() >= padded_bytes);
  }
  vendor_conv<2, T> enough(geometry_of<2>(A));
  enough.set_workspace_limit(padded_bytes + 4096);
  run.run(enough, exec);
  run.check(vendor_tolerance<T>);
  CHECK(enough.workspace_bytes() <= padded_bytes + 4096);
}

TEST_CASE("vendor device: deterministic algorithms repeat bit for bit") {
  test_stream s;
  const fftconv::device exec = s.executor();
  // Many rows summed into few weights: where cuDNN's fastest backward_filter would sum atomically.
  const reference::layer L = testing_support::make_layer(
      2, 16, {.in_channels = 16, .out_channels = 16, .groups = 1, .input = {32, 32}, .kernel = {3, 3},
              .padding = {1, 1}, .stride = {1, 1}, .dilation = {1, 1}});
  layer_run<2, float> run(L, 21, exec);
  vendor_conv<2, float> layer(geometry_of<2>(L));
  layer.set_vendor_options({.deterministic = true});
  run.run(layer, exec);
  run.check(vendor_tolerance<float>);
  const std::vector<double> dx = run.dx.read(), dw = run.dw.read(), db = run.db.read();
  for (int repeat = 0; repeat < 3; ++repeat) {
    run.run(layer, exec);
    CHECK(run.dx.read() == dx);
    CHECK(run.dw.read() == dw);
    CHECK(run.db.read() == db);
  }
}

TEST_CASE("vendor device: TF32 only when allowed") {
  test_stream s;
  const fftconv::device exec = s.executor();
  const reference::layer L = testing_support::make_layer(
      2, 4, {.in_channels = 32, .out_channels = 32, .groups = 1, .input = {16, 16}, .kernel = {3, 3},
             .padding = {1, 1}, .stride = {1, 1}, .dilation = {1, 1}});
  layer_run<2, float> run(L, 31, exec);
  vendor_conv<2, float> layer(geometry_of<2>(L));
  run.run(layer, exec);
  run.check(vendor_tolerance<float>);  // FMA math by default: fp32 accuracy
  layer.set_vendor_options({.allow_tf32 = true});
  run.run(layer, exec);
  run.check(1e-2);  // TF32 products keep 10 mantissa bits
}

// The glue itself (fftconv/policy/vendor/cudnn.cuh): what it reports, and what it does under capture.
TEST_CASE("vendor device glue: algorithms found once outside capture, replayed inside a CUDA graph") {
  using fftconv::detail::cudnn_convolution;
  using fftconv::detail::vendor_element;
  test_stream s;
  const fftconv::device exec = s.executor();
  const reference::layer L = asymmetric_layer(2, 2);
  layer_run<2, float> run(L, 41, exec);
  cudnn_convolution glue(fftconv::detail::vendor_shape::of(fftconv::detail::make_problem<2>(
                             geometry_of<2>(L), L.batch, {L.input[0], L.input[1]})),
                         vendor_element::f32, fftconv::vendor_options{});
  CHECK(glue.prepadded());
  CHECK(glue.implementation(fftconv::pass::forward).empty());

  // Not prepared: finding an algorithm under capture is refused before anything is queued.
  cudaGraph_t graph = nullptr;
  testing_support::expect_cuda(cudaStreamBeginCapture(s.get(), cudaStreamCaptureModeThreadLocal), "begin capture");
  testing_support::check_throws_naming<fftconv::invalid_argument>(
      [&] { glue.forward(exec, run.x.data(), run.w.data(), run.bias.data(), run.y.data(), std::nullopt); },
      {"captured", "warm-up"});
  testing_support::expect_cuda(cudaStreamEndCapture(s.get(), &graph), "end capture");
  testing_support::expect_cuda(cudaGraphDestroy(graph), "destroy graph");

  // Warmed up: the captured calls allocate and search nothing, and the replay computes the layer.
  for (const fftconv::pass which : {fftconv::pass::forward, fftconv::pass::backward_data, fftconv::pass::backward_filter})
    glue.prepare(exec, which, std::nullopt);
  const std::string forward = glue.implementation(fftconv::pass::forward);
  CHECK(forward.rfind("cuDNN " + fftconv::detail::cudnn_version_string() + " ", 0) == 0);
  CHECK(forward.find(" FMA") != std::string::npos);  // fp32 without TF32
  const std::size_t held = glue.workspace_bytes();
  CHECK(held > 0);  // the padded copy at least
  testing_support::expect_cuda(cudaStreamBeginCapture(s.get(), cudaStreamCaptureModeThreadLocal), "begin capture");
  glue.forward(exec, run.x.data(), run.w.data(), run.bias.data(), run.y.data(), std::nullopt);
  glue.backward_data(exec, run.dy.data(), run.w.data(), run.dx.data(), std::nullopt);
  glue.backward_filter(exec, run.x.data(), run.dy.data(), run.dw.data(), run.db.data(), std::nullopt);
  testing_support::expect_cuda(cudaStreamEndCapture(s.get(), &graph), "end capture");
  CHECK(glue.workspace_bytes() == held);
  cudaGraphExec_t instance = nullptr;
  testing_support::expect_cuda(cudaGraphInstantiate(&instance, graph, 0), "instantiate");
  testing_support::expect_cuda(cudaGraphLaunch(instance, s.get()), "launch");
  testing_support::expect_cuda(cudaStreamSynchronize(s.get()), "synchronize");
  run.check(vendor_tolerance<float>);
  testing_support::expect_cuda(cudaGraphExecDestroy(instance), "destroy instance");
  testing_support::expect_cuda(cudaGraphDestroy(graph), "destroy graph");
}

TEST_CASE("vendor device glue: a cuDNN failure is a library_error naming cuDNN, the call and its status") {
  // The status check itself, on a status no valid call returns here.
  try {
    FFTCONV_CUDNN_CHECK(CUDNN_STATUS_BAD_PARAM);
    FAIL_CHECK("expected fftconv::library_error");
  } catch (const fftconv::library_error& error) {
    CHECK(error.library() == "cuDNN");
    CHECK(error.status() == CUDNN_STATUS_BAD_PARAM);
    CHECK(std::string(error.what()).find("CUDNN_STATUS_BAD_PARAM") != std::string::npos);
    CHECK_FALSE(fftconv::detail::cudnn_not_supported(error.status()));
  }
  CHECK(fftconv::detail::cudnn_not_supported(CUDNN_STATUS_NOT_SUPPORTED_SHAPE));
}

#else

TEST_CASE("vendor device: built without cuDNN" * doctest::skip()) {}

#endif
