// The device backend on a GPU: cuBLAS runs the same GEMM descriptors as CBLAS, reductions repeat bit for bit,
// and the executors refuse pointers from the other memory space without writing anything.
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include <fftconv/fftconv.hpp>

#include "support/device_buffer.cuh"
#include "support/expect_error.hpp"
#include "support/random_layer.hpp"

using fftconv::detail::gemm_desc;
using fftconv::detail::gemm_op;
using testing_support::check_throws_naming;
using testing_support::test_buffer;

TEST_CASE_TEMPLATE("device gemm agrees with host gemm on the same descriptor", S, float, double,
                   cuda::std::complex<float>, cuda::std::complex<double>) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(-1, 1);
  for (gemm_op op_a : {gemm_op::none, gemm_op::transpose, gemm_op::conjugate_transpose})
    for (gemm_op op_b : {gemm_op::none, gemm_op::transpose, gemm_op::conjugate_transpose}) {
      gemm_desc d{.op_a = op_a, .op_b = op_b, .m = 7, .n = 5, .k = 6};
      d.lda = (op_a == gemm_op::none ? d.k : d.m) + 1;
      d.ldb = (op_b == gemm_op::none ? d.n : d.k) + 1;
      d.ldc = d.n + 2;
      d.stride_a = 8 * d.lda, d.stride_b = 8 * d.ldb, d.stride_c = d.m * d.ldc, d.batch = 4;
      std::vector<S> a(d.batch * d.stride_a), b(d.batch * d.stride_b), c(d.batch * d.stride_c);
      for (auto* v : {&a, &b, &c})
        for (auto& e : *v) e = S(static_cast<double>(u(rng)));
      std::vector<S> expected = c;
      fftconv::detail::backend<fftconv::host>::gemm(fftconv::host{}, d, S(1.5), a.data(), b.data(), S(0.5), expected.data());
      S *da, *db, *dc;
      testing_support::expect_cuda(cudaMalloc(&da, a.size() * sizeof(S)), "malloc");
      testing_support::expect_cuda(cudaMalloc(&db, b.size() * sizeof(S)), "malloc");
      testing_support::expect_cuda(cudaMalloc(&dc, c.size() * sizeof(S)), "malloc");
      cudaMemcpy(da, a.data(), a.size() * sizeof(S), cudaMemcpyHostToDevice);
      cudaMemcpy(db, b.data(), b.size() * sizeof(S), cudaMemcpyHostToDevice);
      cudaMemcpy(dc, c.data(), c.size() * sizeof(S), cudaMemcpyHostToDevice);
      fftconv::detail::backend<fftconv::device>::gemm(fftconv::device{}, d, S(1.5), da, db, S(0.5), dc);
      testing_support::expect_cuda(cudaMemcpy(c.data(), dc, c.size() * sizeof(S), cudaMemcpyDeviceToHost), "copy");
      cudaFree(da), cudaFree(db), cudaFree(dc);
      double error = 0;
      for (std::size_t i = 0; i < c.size(); ++i) error = std::max<double>(error, cuda::std::abs(c[i] - expected[i]));
      CHECK(error < 1e-5);
    }
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
