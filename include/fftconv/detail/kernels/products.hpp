#pragma once
// Spectral products over the FFTs' natural layout [maps][F] (maps `distance` apart): per frequency and group, a
// complex matrix product over channels whose operands are maps, with no transposes.
//
//   C[g, i, j] = sum_l opA(A[g, i, l]) opB(B[g, l, j])      at every frequency f
//
// where A[g, i, l] is map g*a.group + i*a.outer + l*a.inner (likewise B over (l, j), C over (i, j)) and op is
// the identity or the complex conjugate. The three passes (K = C/g x phases, O/g outputs per group):
//   forward          Ŷ[row, o]   = sum_k X̂[row, g, k] conj(Ŵ[o, k])        i = row, j = o in g, l = k
//   backward_data    dX̂[row, g, k] = sum_{o in g} dŶ[row, o] Ŵ[o, k]        i = row, j = k,      l = o in g
//   backward_filter  dŴ[o, k]     = sum_rows conj(dŶ[row, o]) X̂[row, g, k]  i = o in g, j = k, l = row
// One descriptor, two executions: on the GPU one thread per (g, i, j, f) running the functor below; on the host
// a cache-blocked SIMD kernel vectorised along frequencies (policy/fft/spectral_gemm.hpp), checked against
// the functor's row form. Both sum l in order: the same result on every run.
//
// The complex arithmetic is written out on real and imaginary parts: a library complex multiply may take a
// NaN-recovery path that keeps the loop from vectorising.

#include <cstdint>

#include "../../backend/common/gemm.hpp"  // complex<T>
#include "../../config.hpp"
#include "spectrum_layout.hpp"  // index_divisor

namespace fftconv::detail {

struct spectral_gemm_desc {
  // Map strides of one operand: A over (group, i, l), B over (group, l, j), C over (group, i, j).
  struct operand {
    std::int64_t group = 0, outer = 0, inner = 0;
  };
  std::int64_t frequencies = 0;  // F
  std::int64_t distance = 0;     // between maps, in complex elements
  std::int64_t groups = 1, m = 0, n = 0, k = 0;
  operand a, b, c;
  bool conjugate_a = false, conjugate_b = false;

  FFTCONV_HD std::int64_t output_maps() const { return groups * m * n; }
  FFTCONV_HD std::int64_t elements() const { return output_maps() * frequencies; }
};

// The descriptors of the three passes over one chunk of `rows` rows (pointers offset by the caller).
// row_inputs = G*K and row_outputs = G*O/g maps per row.
inline spectral_gemm_desc forward_products_desc(std::int64_t frequencies, std::int64_t distance, std::int64_t groups,
                                                std::int64_t columns, std::int64_t outputs, std::int64_t rows) {
  spectral_gemm_desc d;
  d.frequencies = frequencies, d.distance = distance;
  d.groups = groups, d.m = rows, d.n = outputs, d.k = columns;
  d.a = {columns, groups * columns, 1};            // X̂[row, g, k]
  d.b = {outputs * columns, 1, columns};           // Ŵ[g*og + j, k], conjugated
  d.c = {outputs, groups * outputs, 1};            // Ŷ[row, g*og + j]
  d.conjugate_b = true;
  return d;
}

inline spectral_gemm_desc data_products_desc(std::int64_t frequencies, std::int64_t distance, std::int64_t groups,
                                             std::int64_t columns, std::int64_t outputs, std::int64_t rows) {
  spectral_gemm_desc d;
  d.frequencies = frequencies, d.distance = distance;
  d.groups = groups, d.m = rows, d.n = columns, d.k = outputs;
  d.a = {outputs, groups * outputs, 1};            // dŶ[row, g*og + l]
  d.b = {outputs * columns, columns, 1};           // Ŵ[g*og + l, k]
  d.c = {columns, groups * columns, 1};            // dX̂[row, g, k]
  return d;
}

inline spectral_gemm_desc filter_products_desc(std::int64_t frequencies, std::int64_t distance, std::int64_t groups,
                                               std::int64_t columns, std::int64_t outputs, std::int64_t rows) {
  spectral_gemm_desc d;
  d.frequencies = frequencies, d.distance = distance;
  d.groups = groups, d.m = outputs, d.n = columns, d.k = rows;
  d.a = {outputs, 1, groups * outputs};            // dŶ[row, g*og + i], conjugated
  d.b = {columns, groups * columns, 1};            // X̂[row, g, k]
  d.c = {outputs * columns, columns, 1};           // dŴ[g*og + i, k]
  d.conjugate_a = true;
  return d;
}

// The divisions of an element index ((g*m + i)*n + j)*F + f (32-bit where the launch's indices fit).
struct spectral_gemm_divisors {
  index_divisor frequencies, n, m;
  spectral_gemm_divisors() = default;
  explicit spectral_gemm_divisors(const spectral_gemm_desc& d)
      : frequencies(d.frequencies, d.elements()), n(d.n, d.elements()), m(d.m, d.elements()) {}
};

// acc += opA(a) * opB(b) on interleaved (re, im) pairs; the signs are +1, or -1 for a conjugate.
template <class T>
FFTCONV_HD inline void multiply_add(T& re, T& im, const T* a, const T* b, T sign_a, T sign_b) {
  const T ar = a[0], ai = sign_a * a[1];
  const T br = b[0], bi = sign_b * b[1];
  re += ar * br - ai * bi;
  im += ar * bi + ai * br;
}

template <class T>
struct spectral_gemm {
  spectral_gemm_desc d;
  const complex<T>* a;
  const complex<T>* b;
  complex<T>* c;
  spectral_gemm_divisors div;

  spectral_gemm(const spectral_gemm_desc& desc, const complex<T>* a_, const complex<T>* b_, complex<T>* c_)
      : d(desc), a(a_), b(b_), c(c_), div(desc) {}

  // One output element (g, i, j, f).
  FFTCONV_HD void operator()(std::int64_t index) const {
    std::int64_t f = 0, j = 0, i = 0;
    const std::int64_t map = div.frequencies.divide(index, f);
    const std::int64_t gi = div.n.divide(map, j);
    const std::int64_t g = div.m.divide(gi, i);
    accumulate(g, i, j, f, f + 1);
  }

  // One output map (g, i, j) over all frequencies: the host's reference form.
  FFTCONV_HD void row(std::int64_t map) const {
    const std::int64_t j = map % d.n, gi = map / d.n;
    accumulate(gi / d.m, gi % d.m, j, 0, d.frequencies);
  }

 private:
  FFTCONV_HD void accumulate(std::int64_t g, std::int64_t i, std::int64_t j, std::int64_t f_begin,
                             std::int64_t f_end) const {
    const T sign_a = d.conjugate_a ? T(-1) : T(1), sign_b = d.conjugate_b ? T(-1) : T(1);
    const T* a_row = reinterpret_cast<const T*>(a + (g * d.a.group + i * d.a.outer) * d.distance);
    const T* b_column = reinterpret_cast<const T*>(b + (g * d.b.group + j * d.b.inner) * d.distance);
    T* out = reinterpret_cast<T*>(c + (g * d.c.group + i * d.c.outer + j * d.c.inner) * d.distance);
    const std::int64_t a_step = 2 * d.a.inner * d.distance, b_step = 2 * d.b.outer * d.distance;
    for (std::int64_t f = 2 * f_begin; f < 2 * f_end; ++f) out[f] = T(0);
    for (std::int64_t l = 0; l < d.k; ++l)  // l outermost: each pass streams two maps
      for (std::int64_t f = f_begin; f < f_end; ++f)
        multiply_add(out[2 * f], out[2 * f + 1], a_row + l * a_step + 2 * f, b_column + l * b_step + 2 * f, sign_a,
                     sign_b);
  }
};

}  // namespace fftconv::detail
