#pragma once
// A (strided-)batched GEMM as a value, executed by CBLAS on the host and cuBLAS on the GPU, so the same
// descriptor that CI checks on the CPU is the one the GPU runs.
//
// Row-major throughout: for each batch entry b,
//   C_b[m x n] = alpha * op(A_b)[m x k] * op(B_b)[k x n] + beta * C_b
// with A_b = A + b * stride_a (likewise B, C) and leading dimensions counted in elements.

#include <cstdint>
#include <cuda/std/complex>  // cuda::std::complex, the spectral element type on both backends

namespace fftconv::detail {

enum class gemm_op { none, transpose, conjugate_transpose };

struct gemm_desc {
  gemm_op op_a = gemm_op::none;
  gemm_op op_b = gemm_op::none;
  std::int64_t m = 0, n = 0, k = 0;
  std::int64_t lda = 0, ldb = 0, ldc = 0;
  std::int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  std::int64_t batch = 1;

  friend bool operator==(const gemm_desc&, const gemm_desc&) = default;
};

template <class T>
using complex = cuda::std::complex<T>;

template <class T>
inline constexpr bool is_gemm_scalar_v = std::is_same_v<T, float> || std::is_same_v<T, double> ||
                                         std::is_same_v<T, complex<float>> || std::is_same_v<T, complex<double>>;

}  // namespace fftconv::detail
