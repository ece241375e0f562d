#pragma once
// Host GEMM: gemm_desc executed by CBLAS (OpenBLAS), row-major, one call per batch entry.

#include <cstdint>
#include <limits>

#include "../../error.hpp"
#include "../../policy.hpp"  // dependent_false
#include "../gemm.hpp"

#include "../../config.hpp"  // FFTCONV_HAS_CBLAS, FFTCONV_CBLAS_HEADER
#if FFTCONV_HAS_CBLAS
#include FFTCONV_CBLAS_HEADER
#endif

namespace fftconv::detail {

#if FFTCONV_HAS_CBLAS
inline CBLAS_TRANSPOSE to_cblas(gemm_op op, bool is_complex) {
  switch (op) {
    case gemm_op::none: return CblasNoTrans;
    case gemm_op::transpose: return CblasTrans;
    case gemm_op::conjugate_transpose: return is_complex ? CblasConjTrans : CblasTrans;
  }
  return CblasNoTrans;
}

inline int to_blas_int(std::int64_t value, const char* field) {
  if (value < 0 || value > std::numeric_limits<int>::max())
    fail("gemm: ", field, " = ", value, " does not fit the 32-bit integers of this CBLAS");
  return static_cast<int>(value);
}
#endif

template <class Scalar>
void host_gemm(const gemm_desc& desc, Scalar alpha, const Scalar* a, const Scalar* b, Scalar beta, Scalar* c) {
  static_assert(is_gemm_scalar_v<Scalar>, "fftconv: gemm scalar must be float, double or their complex");
#if FFTCONV_HAS_CBLAS
  constexpr bool is_complex = !std::is_floating_point_v<Scalar>;
  const CBLAS_TRANSPOSE op_a = to_cblas(desc.op_a, is_complex);
  const CBLAS_TRANSPOSE op_b = to_cblas(desc.op_b, is_complex);
  const int m = to_blas_int(desc.m, "m"), n = to_blas_int(desc.n, "n"), k = to_blas_int(desc.k, "k");
  const int lda = to_blas_int(desc.lda, "lda"), ldb = to_blas_int(desc.ldb, "ldb"), ldc = to_blas_int(desc.ldc, "ldc");
  for (std::int64_t batch = 0; batch < desc.batch; ++batch) {
    const Scalar* a_b = a + batch * desc.stride_a;
    const Scalar* b_b = b + batch * desc.stride_b;
    Scalar* c_b = c + batch * desc.stride_c;
    if constexpr (std::is_same_v<Scalar, float>)
      cblas_sgemm(CblasRowMajor, op_a, op_b, m, n, k, alpha, a_b, lda, b_b, ldb, beta, c_b, ldc);
    else if constexpr (std::is_same_v<Scalar, double>)
      cblas_dgemm(CblasRowMajor, op_a, op_b, m, n, k, alpha, a_b, lda, b_b, ldb, beta, c_b, ldc);
    else if constexpr (std::is_same_v<Scalar, complex<float>>)
      cblas_cgemm(CblasRowMajor, op_a, op_b, m, n, k, &alpha, a_b, lda, b_b, ldb, &beta, c_b, ldc);
    else
      cblas_zgemm(CblasRowMajor, op_a, op_b, m, n, k, &alpha, a_b, lda, b_b, ldb, &beta, c_b, ldc);
  }
#else
  static_assert(dependent_false<Scalar>,
                "fftconv: this policy needs a CBLAS on the host: link fftconv::host (OpenBLAS) or define FFTCONV_HAS_CBLAS");
#endif
}

}  // namespace fftconv::detail
