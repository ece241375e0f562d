// The host backend's primitives, checked against plain loops: GEMM descriptors (row-major, transposes,
// conjugation, batches), deterministic segmented sums, and the error types' messages.
#include <doctest/doctest.h>

#include <complex>
#include <random>
#include <vector>

#include <fftconv/backend/backend.hpp>
#include <fftconv/backend/device/status.hpp>

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
