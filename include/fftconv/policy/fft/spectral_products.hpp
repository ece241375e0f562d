#pragma once
// The fft policy's products over natural-layout spectra, one spectral_gemm descriptor (detail/kernels/products.hpp)
// run on each executor: on the host the blocked SIMD kernel (spectral_gemm.hpp) with its packing scratch, on the
// GPU one thread per output element through the backend's for_each_index.

#include <cstddef>
#include <utility>

#include "../../backend/backend.hpp"
#include "../../detail/kernels/products.hpp"  // spectral_gemm
#include "../../executor.hpp"
#include "spectral_gemm.hpp"  // host_spectral_gemm

namespace fftconv::detail {

// Threads of the parallel region the host products run in: one packing region each.
inline int spectral_packing_threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// Reals of packing scratch the host products use: one region per thread of the parallel region they run in.
template <class T>
std::size_t spectral_packing_count() {
  return std::size_t(spectral_packing_threads()) * spectral_gemm_scratch_count<T>();
}

// The host's packing scratch, one region per thread: `packing` when the caller holds one across calls (grown
// here, from exec's memory path); else the resource's memory for this call when exec carries one, else fftconv's
// per-thread buffers.
template <class T>
void run_spectral_gemm(const host& exec, const spectral_gemm<T>& products,
                       backend<host>::buffer<T>* packing = nullptr) {
  using buffer = backend<host>::buffer<T>;
  if ((packing == nullptr && exec.resource == nullptr) || products.d.elements() == 0)
    return host_spectral_gemm(products);
  const int threads = spectral_packing_threads();
  buffer for_this_call;
  buffer& scratch = packing != nullptr ? *packing : for_this_call;
  const std::size_t needed = spectral_packing_count<T>();
  if (scratch.size() < needed) {
    buffer grown = backend<host>::allocate<T>(exec, needed);  // allocate, then swap
    scratch = std::move(grown);
  }
  host_spectral_gemm(products, host_simd_level(), spectral_scratch<T>{scratch.data(), threads});
}

#if defined(__CUDACC__)
template <class T>
void run_spectral_gemm(const device& exec, const spectral_gemm<T>& products,
                       backend<device>::buffer<T>* = nullptr) {
  backend<device>::for_each_index(exec, products.d.elements(), products);
}
#endif

}  // namespace fftconv::detail
