#pragma once
// The host execution of a spectral_gemm descriptor (detail/kernels/products.hpp): a cache-blocked kernel that
// runs the per-frequency complex matrix products over spectra in the FFTs' natural layout, vectorised along
// frequencies, so that no transposes surround it and every shape (depthwise, one image, hundreds of channels)
// fills the vectors. spectral_gemm_kernel.inc holds the kernel; it is compiled here for AVX-512, for AVX2 + FMA
// and for 16-byte vectors, and the CPU chooses at run time: a library that ships as headers cannot know the
// flags its users build with. A generic CGEMM would need the spectra transposed to frequency-major and back
// around every product (set_products(gemm) runs that path, for comparison).

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "../../backend/host/buffer.hpp"    // host_buffer
#include "../../backend/host/parallel.hpp"  // omp.h
#include "../../detail/kernels/products.hpp"
#include "../../tuning.hpp"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define FFTCONV_X86_SIMD 1
#include <immintrin.h>
#endif

namespace fftconv::detail {

// The kernel's blocking (see spectral_gemm_kernel.inc): MC rows, KC terms of the sum, NC columns per block.
inline constexpr std::int64_t spectral_mc = 32, spectral_kc = 64, spectral_nc = 64;

// One thread's packing scratch, in reals, enough for the widest vectors (64 bytes): A, B and C blocks of
// panels of 2 x lanes reals.
template <class T>
constexpr std::size_t spectral_gemm_scratch_count() {
  return std::size_t(spectral_mc * spectral_kc + spectral_kc * spectral_nc + spectral_mc * spectral_nc) * 2 *
         (64 / sizeof(T));
}

// Per-thread packing scratch, kept between calls (no allocation or first-touch page faults per call).
template <class T>
T* spectral_gemm_scratch(std::size_t count) {
  thread_local host_buffer<T> held;
  if (held.size() < count) held = host_buffer<T>(count);  // a failed allocation throws and keeps the old one
  return held.data();
}

// Where each thread of a spectral GEMM packs: `threads` consecutive regions of spectral_gemm_scratch_count<T>()
// reals from `base` (the caller's memory: an executor's memory_resource), or, with a null base, a per-thread
// buffer of fftconv's own kept between calls.
template <class T>
struct spectral_scratch {
  T* base = nullptr;
  int threads = 0;
  T* for_thread(int thread, std::size_t count) const {
    if (base == nullptr) return spectral_gemm_scratch<T>(count);
    if (thread >= threads || count > spectral_gemm_scratch_count<T>())
      fail("spectral gemm: scratch for thread ", thread, " (", count, " reals) was not provided");
    return base + std::size_t(thread) * spectral_gemm_scratch_count<T>();
  }
};

enum class simd_level { portable, avx2, avx512 };

// Outputs (C) of at least this many bytes are written with non-temporal stores (see the kernel).
inline constexpr std::int64_t spectral_streaming_bytes = host_tuning.streaming_product_bytes;

// 16-byte vectors through the compilers' vector extensions: every x86-64 has SSE2, and other targets map them
// to their own (NEON).
namespace spectral_portable {
template <class T>
struct simd {
  static constexpr int lanes = 16 / sizeof(T);
  typedef T v __attribute__((vector_size(16)));
  static constexpr int rows = 2, columns = 2;
  static v zero() { return v{}; }
  static v load(const T* p) {
    v x;
    __builtin_memcpy(&x, p, sizeof(v));
    return x;
  }
  static void store(T* p, v x) { __builtin_memcpy(p, &x, sizeof(v)); }
  static v fmadd(v a, v b, v c) { return a * b + c; }
  static v fnmadd(v a, v b, v c) { return c - a * b; }
  static v negate(v a) { return -a; }
  static void deinterleave(const T* p, v& re, v& im) {
    for (int f = 0; f < lanes; ++f) {
      re[f] = p[2 * f];
      im[f] = p[2 * f + 1];
    }
  }
  static void interleave(v re, v im, v& first, v& second) {
    T pairs[2 * lanes];
    for (int f = 0; f < lanes; ++f) {
      pairs[2 * f] = re[f];
      pairs[2 * f + 1] = im[f];
    }
    first = load(pairs);
    second = load(pairs + lanes);
  }
  static void stream(T* p, v x) { store(p, x); }
  static void fence() {}
};
#include "spectral_gemm_kernel.inc"
}  // namespace spectral_portable

#if defined(FFTCONV_X86_SIMD)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
namespace spectral_avx2 {
template <class T>
struct simd;

template <>
struct simd<float> {
  using v = __m256;
  static constexpr int lanes = 8, rows = 2, columns = 2;
  static v zero() { return _mm256_setzero_ps(); }
  static v load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, v x) { _mm256_storeu_ps(p, x); }
  static v fmadd(v a, v b, v c) { return _mm256_fmadd_ps(a, b, c); }
  static v fnmadd(v a, v b, v c) { return _mm256_fnmadd_ps(a, b, c); }
  static v negate(v a) { return _mm256_sub_ps(zero(), a); }
  static void deinterleave(const float* p, v& re, v& im) {
    const v lo = load(p), hi = load(p + 8);  // [r0 i0 .. r3 i3], [r4 i4 .. r7 i7]
    // per 128-bit lane [r0 r1 r4 r5 | r2 r3 r6 r7], then the 64-bit pairs in order
    re = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xD8));
    im = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xDD)), 0xD8));
  }
  static void interleave(v re, v im, v& first, v& second) {
    const v low = _mm256_unpacklo_ps(re, im), high = _mm256_unpackhi_ps(re, im);  // [0 1 | 4 5], [2 3 | 6 7]
    first = _mm256_permute2f128_ps(low, high, 0x20);
    second = _mm256_permute2f128_ps(low, high, 0x31);
  }
  static void stream(float* p, v x) { _mm256_stream_ps(p, x); }
  static void fence() { _mm_sfence(); }
};

template <>
struct simd<double> {
  using v = __m256d;
  static constexpr int lanes = 4, rows = 2, columns = 2;
  static v zero() { return _mm256_setzero_pd(); }
  static v load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, v x) { _mm256_storeu_pd(p, x); }
  static v fmadd(v a, v b, v c) { return _mm256_fmadd_pd(a, b, c); }
  static v fnmadd(v a, v b, v c) { return _mm256_fnmadd_pd(a, b, c); }
  static v negate(v a) { return _mm256_sub_pd(zero(), a); }
  static void deinterleave(const double* p, v& re, v& im) {
    const v lo = load(p), hi = load(p + 4);  // [r0 i0 r1 i1], [r2 i2 r3 i3]
    re = _mm256_permute4x64_pd(_mm256_unpacklo_pd(lo, hi), 0xD8);
    im = _mm256_permute4x64_pd(_mm256_unpackhi_pd(lo, hi), 0xD8);
  }
  static void interleave(v re, v im, v& first, v& second) {
    const v low = _mm256_unpacklo_pd(re, im), high = _mm256_unpackhi_pd(re, im);  // [0 | 2], [1 | 3]
    first = _mm256_permute2f128_pd(low, high, 0x20);
    second = _mm256_permute2f128_pd(low, high, 0x31);
  }
  static void stream(double* p, v x) { _mm256_stream_pd(p, x); }
  static void fence() { _mm_sfence(); }
};
#include "spectral_gemm_kernel.inc"
}  // namespace spectral_avx2
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f")
#endif
namespace spectral_avx512 {
template <class T>
struct simd;

template <>
struct simd<float> {
  using v = __m512;
  static constexpr int lanes = 16, rows = 4, columns = 2;  // 16 accumulators + 8 A + 4 B of 32 registers
  static v zero() { return _mm512_setzero_ps(); }
  static v load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, v x) { _mm512_storeu_ps(p, x); }
  static v fmadd(v a, v b, v c) { return _mm512_fmadd_ps(a, b, c); }
  static v fnmadd(v a, v b, v c) { return _mm512_fnmadd_ps(a, b, c); }
  static v negate(v a) { return _mm512_sub_ps(zero(), a); }
  static void deinterleave(const float* p, v& re, v& im) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    const v lo = load(p), hi = load(p + 16);
    re = _mm512_permutex2var_ps(lo, even, hi);
    im = _mm512_permutex2var_ps(lo, odd, hi);
  }
  static void interleave(v re, v im, v& first, v& second) {
    const __m512i low = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i high = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    first = _mm512_permutex2var_ps(re, low, im);
    second = _mm512_permutex2var_ps(re, high, im);
  }
  static void stream(float* p, v x) { _mm512_stream_ps(p, x); }
  static void fence() { _mm_sfence(); }
};

template <>
struct simd<double> {
  using v = __m512d;
  static constexpr int lanes = 8, rows = 4, columns = 2;
  static v zero() { return _mm512_setzero_pd(); }
  static v load(const double* p) { return _mm512_loadu_pd(p); }
  static void store(double* p, v x) { _mm512_storeu_pd(p, x); }
  static v fmadd(v a, v b, v c) { return _mm512_fmadd_pd(a, b, c); }
  static v fnmadd(v a, v b, v c) { return _mm512_fnmadd_pd(a, b, c); }
  static v negate(v a) { return _mm512_sub_pd(zero(), a); }
  static void deinterleave(const double* p, v& re, v& im) {
    const __m512i even = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
    const v lo = load(p), hi = load(p + 8);
    re = _mm512_permutex2var_pd(lo, even, hi);
    im = _mm512_permutex2var_pd(lo, odd, hi);
  }
  static void interleave(v re, v im, v& first, v& second) {
    const __m512i low = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);
    const __m512i high = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
    first = _mm512_permutex2var_pd(re, low, im);
    second = _mm512_permutex2var_pd(re, high, im);
  }
  static void stream(double* p, v x) { _mm512_stream_pd(p, x); }
  static void fence() { _mm_sfence(); }
};
#include "spectral_gemm_kernel.inc"
}  // namespace spectral_avx512
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#endif  // FFTCONV_X86_SIMD

// The widest kernel this CPU runs.
inline simd_level host_simd_level() {
#if defined(FFTCONV_X86_SIMD)
  static const simd_level level = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return simd_level::avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return simd_level::avx2;
    return simd_level::portable;
  }();
  return level;
#else
  return simd_level::portable;
#endif
}

// C = the descriptor's products, on the kernel for `level` (at most host_simd_level(); the tests run each).
// `scratch` is where each thread packs (fftconv's per-thread buffers by default).
template <class T>
void host_spectral_gemm(const spectral_gemm<T>& g, simd_level level = host_simd_level(),
                        spectral_scratch<T> scratch = {}) {
  if (g.d.elements() == 0) return;
  const T* a = reinterpret_cast<const T*>(g.a);
  const T* b = reinterpret_cast<const T*>(g.b);
  T* c = reinterpret_cast<T*>(g.c);
  switch (level) {
#if defined(FFTCONV_X86_SIMD)
    case simd_level::avx512:
      return spectral_avx512::spectral_gemm_run<T>(g.d, a, b, c, scratch);
    case simd_level::avx2:
      return spectral_avx2::spectral_gemm_run<T>(g.d, a, b, c, scratch);
#endif
    default:
      return spectral_portable::spectral_gemm_run<T>(g.d, a, b, c, scratch);
  }
}

}  // namespace fftconv::detail
