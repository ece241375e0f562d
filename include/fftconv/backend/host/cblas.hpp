#pragma once
// Host GEMM: gemm_desc executed by CBLAS (OpenBLAS), row-major, one call per batch entry; the entries of a
// batch of small products in parallel (OpenMP), and with a single-threaded OpenBLAS a large product by columns.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "../../error.hpp"
#include "../common/gemm.hpp"
#include "parallel.hpp"

#include "../../config.hpp"  // FFTCONV_HAS_CBLAS, FFTCONV_CBLAS_HEADER, dependent_false
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

// OpenBLAS runs a product on one thread when m * n * k <= 65536 * GEMM_MULTITHREAD_THRESHOLD (4)
// (interface/gemm.c). The fft policy issues thousands of such products per call (one per frequency and group,
// channels x channels): host_gemm runs them in parallel over the batch instead, on OpenMP's threads.
inline constexpr std::int64_t blas_single_thread_product = std::int64_t(1) << 18;

#if FFTCONV_HAS_CBLAS
template <class Scalar>
void cblas_gemm(const gemm_desc& desc, Scalar alpha, const Scalar* a, const Scalar* b, Scalar beta, Scalar* c) {
  constexpr bool is_complex = !std::is_floating_point_v<Scalar>;
  const CBLAS_TRANSPOSE op_a = to_cblas(desc.op_a, is_complex);
  const CBLAS_TRANSPOSE op_b = to_cblas(desc.op_b, is_complex);
  const int m = to_blas_int(desc.m, "m"), n = to_blas_int(desc.n, "n"), k = to_blas_int(desc.k, "k");
  const int lda = to_blas_int(desc.lda, "lda"), ldb = to_blas_int(desc.ldb, "ldb"), ldc = to_blas_int(desc.ldc, "ldc");
  if constexpr (std::is_same_v<Scalar, float>)
    cblas_sgemm(CblasRowMajor, op_a, op_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else if constexpr (std::is_same_v<Scalar, double>)
    cblas_dgemm(CblasRowMajor, op_a, op_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else if constexpr (std::is_same_v<Scalar, complex<float>>)
    cblas_cgemm(CblasRowMajor, op_a, op_b, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc);
  else
    cblas_zgemm(CblasRowMajor, op_a, op_b, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc);
}
#endif

// Whether this CBLAS runs a call on the calling thread only: OpenBLAS held to one thread (OPENBLAS_NUM_THREADS=1,
// the one-pool setup the README recommends), or its OpenMP build called inside a parallel region. Then fftconv
// spreads large products over OpenMP's threads itself; otherwise OpenBLAS threads them.
inline bool blas_runs_on_caller_thread() {
#if FFTCONV_HAS_CBLAS && defined(OPENBLAS_VERSION)
  constexpr int openblas_openmp = 2;  // openblas_get_parallel(): 0 sequential, 1 pthreads, 2 OpenMP
  return openblas_get_num_threads() == 1 || openblas_get_parallel() == openblas_openmp;
#else
  return false;
#endif
}

#if FFTCONV_HAS_CBLAS
// One product split by columns of C over OpenMP's threads, a CBLAS call per part (parts a multiple of 16
// columns wide).
template <class Scalar>
void cblas_gemm_by_columns(const gemm_desc& desc, Scalar alpha, const Scalar* a, const Scalar* b, Scalar beta,
                           Scalar* c) {
  std::int64_t parts = 1;
#if defined(_OPENMP)
  parts = omp_get_max_threads();
#endif
  const std::int64_t width = ((desc.n + parts - 1) / parts + 15) / 16 * 16;
  parts = (desc.n + width - 1) / width;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (parts > 1)
#endif
  for (std::int64_t part = 0; part < parts; ++part) {
    const std::int64_t first = part * width;
    gemm_desc piece = desc;
    piece.n = std::min(width, desc.n - first);
    const Scalar* b_part = desc.op_b == gemm_op::none ? b + first : b + first * desc.ldb;
    cblas_gemm(piece, alpha, a, b_part, beta, c + first);
  }
}
#endif

template <class Scalar>
void host_gemm(const gemm_desc& desc, Scalar alpha, const Scalar* a, const Scalar* b, Scalar beta, Scalar* c) {
  static_assert(is_gemm_scalar_v<Scalar>, "fftconv: gemm scalar must be float, double or their complex");
#if FFTCONV_HAS_CBLAS
  // The checks CBLAS would make (sizes in its 32-bit ints), whichever path runs.
  for (const auto& [value, field] : {std::pair{desc.m, "m"}, std::pair{desc.n, "n"}, std::pair{desc.k, "k"},
                                     std::pair{desc.lda, "lda"}, std::pair{desc.ldb, "ldb"}, std::pair{desc.ldc, "ldc"}})
    to_blas_int(value, field);
  // The entries of a batch run in parallel when each is small enough that OpenBLAS runs it on one thread
  // anyway, or when OpenBLAS runs every call on its caller's thread: OpenMP's threads then do all the work, and
  // OpenBLAS's own pool is not woken to compete with them for the cores (its idle threads spin and yield).
  // Otherwise larger products run one after another, each threaded by OpenBLAS; a single large product on a
  // caller-thread OpenBLAS is split by columns over OpenMP's threads.
  const double work = double(desc.batch) * double(desc.m * desc.n * desc.k) / 8.0;  // ~8 MACs a unit
  const bool caller_thread_only = blas_runs_on_caller_thread();
  const bool parallel = desc.batch > 1 && (desc.m * desc.n * desc.k <= blas_single_thread_product || caller_thread_only) &&
                        worth_parallel(work);
  // (worth_parallel is false with one thread and inside a parallel region)
  if (desc.batch == 1 && caller_thread_only && desc.n >= 32 && worth_parallel(work))
    return cblas_gemm_by_columns(desc, alpha, a, b, beta, c);
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (parallel)
#endif
  for (std::int64_t entry = 0; entry < desc.batch; ++entry)
    cblas_gemm(desc, alpha, a + entry * desc.stride_a, b + entry * desc.stride_b, beta, c + entry * desc.stride_c);
#else
  static_assert(dependent_false<Scalar>,
                "fftconv: this policy needs a CBLAS on the host: link fftconv::host (OpenBLAS) or define FFTCONV_HAS_CBLAS");
#endif
}

}  // namespace fftconv::detail
