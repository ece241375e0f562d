#pragma once
// Elementwise spectral products: a multiply-accumulate per (map, frequency) over spectra in the FFTs' natural
// layout [maps][F] (maps `distance` apart), shared by the host loops and the GPU kernels. The right kernel when
// a group has few channels (depthwise: one), where the per-frequency GEMM degenerates to rows x 1 x 1 and its
// transposes cost more than the arithmetic. Map numbering as in detail/kernels/spectrum_layout.hpp, with
// K = C/g x phases (X̂: row * C*P + g*K + k; Ŵ: o * K + k; Ŷ, dŶ: row * O + o).
//
//   forward          Ŷ[row, o]   = sum_k X̂[row, g(o), k] conj(Ŵ[o, k])
//   backward_data    dX̂[row, g, k] = sum_{o in g} dŶ[row, o] Ŵ[o, k]
//   backward_filter  dŴ[o, k]     = sum_rows conj(dŶ[row, o]) X̂[row, g(o), k]   (rows in order: deterministic)
//
// The complex arithmetic is written out on real and imaginary parts: a library complex multiply may take a
// NaN-recovery path that keeps the loop from vectorising.

#include <cstdint>

#include "../../backend/gemm.hpp"  // complex<T>
#include "../../config.hpp"
#include "spectrum_layout.hpp"  // index_divisor

namespace fftconv::detail {

struct elementwise_shape {
  std::int64_t frequencies;  // F
  std::int64_t distance;     // between maps
  std::int64_t groups;       // G
  std::int64_t columns;      // K = C/g x phases
  std::int64_t outputs;      // O/g
  std::int64_t rows;         // rows the filter pass sums over (forward / data: unused)

  FFTCONV_HD std::int64_t row_inputs() const { return groups * columns; }
  FFTCONV_HD std::int64_t row_outputs() const { return groups * outputs; }
};

// The divisions of a products index (map, frequency) over `elements` indices (32-bit where they fit).
struct products_divisors {
  index_divisor frequencies, maps_per_row, columns, outputs;
  products_divisors() = default;
  products_divisors(const elementwise_shape& s, std::int64_t maps_per_row, std::int64_t elements)
      : frequencies(s.frequencies, elements), maps_per_row(maps_per_row, elements), columns(s.columns, elements),
        outputs(s.outputs, elements) {}
};

// acc += a * b (conjugate_b: a * conj(b)), on interleaved (re, im) pairs.
template <bool ConjugateA, bool ConjugateB, class T>
FFTCONV_HD inline void multiply_add(T& re, T& im, const T* a, const T* b) {
  const T ar = a[0], ai = ConjugateA ? -a[1] : a[1];
  const T br = b[0], bi = ConjugateB ? -b[1] : b[1];
  re += ar * br - ai * bi;
  im += ar * bi + ai * br;
}

// Ŷ of one chunk: x, y point at the chunk's first row; one element per (map, f) over [rows*O][F].
template <class T>
struct forward_products {
  elementwise_shape s;
  const complex<T>* x;
  const complex<T>* w;
  complex<T>* y;
  products_divisors div;  // maps per row: O

  FFTCONV_HD void operator()(std::int64_t index) const {
    std::int64_t f = 0, o = 0, o_in_group = 0;
    const std::int64_t map = div.frequencies.divide(index, f);
    const std::int64_t row = div.maps_per_row.divide(map, o);
    const std::int64_t g = div.outputs.divide(o, o_in_group);
    T re(0), im(0);
    for (std::int64_t k = 0; k < s.columns; ++k)
      multiply_add<false, true>(re, im, reinterpret_cast<const T*>(x + (row * s.row_inputs() + g * s.columns + k) * s.distance + f),
                                reinterpret_cast<const T*>(w + (o * s.columns + k) * s.distance + f));
    y[map * s.distance + f] = complex<T>(re, im);
  }

  FFTCONV_HD void row(std::int64_t map) const {
    const std::int64_t o = map % s.row_outputs(), row_index = map / s.row_outputs();
    const std::int64_t g = o / s.outputs;
    T* out = reinterpret_cast<T*>(y + map * s.distance);
    for (std::int64_t f = 0; f < 2 * s.frequencies; ++f) out[f] = T(0);
    for (std::int64_t k = 0; k < s.columns; ++k) {
      const T* a = reinterpret_cast<const T*>(x + (row_index * s.row_inputs() + g * s.columns + k) * s.distance);
      const T* b = reinterpret_cast<const T*>(w + (o * s.columns + k) * s.distance);
      for (std::int64_t f = 0; f < s.frequencies; ++f) multiply_add<false, true>(out[2 * f], out[2 * f + 1], a + 2 * f, b + 2 * f);
    }
  }
};

// dX̂ of one chunk: dy, dx point at the chunk's first row; one element per (map, f) over [rows*C*P][F].
template <class T>
struct data_products {
  elementwise_shape s;
  const complex<T>* dy;
  const complex<T>* w;
  complex<T>* dx;
  products_divisors div;  // maps per row: C*P

  FFTCONV_HD void operator()(std::int64_t index) const {
    std::int64_t f = 0, within = 0, k = 0;
    const std::int64_t map = div.frequencies.divide(index, f);
    const std::int64_t row = div.maps_per_row.divide(map, within);
    const std::int64_t g = div.columns.divide(within, k);
    T re(0), im(0);
    for (std::int64_t j = 0; j < s.outputs; ++j) {
      const std::int64_t o = g * s.outputs + j;
      multiply_add<false, false>(re, im, reinterpret_cast<const T*>(dy + (row * s.row_outputs() + o) * s.distance + f),
                                 reinterpret_cast<const T*>(w + (o * s.columns + k) * s.distance + f));
    }
    dx[map * s.distance + f] = complex<T>(re, im);
  }

  FFTCONV_HD void row(std::int64_t map) const {
    const std::int64_t within = map % s.row_inputs(), row_index = map / s.row_inputs();
    const std::int64_t g = within / s.columns, k = within % s.columns;
    T* out = reinterpret_cast<T*>(dx + map * s.distance);
    for (std::int64_t f = 0; f < 2 * s.frequencies; ++f) out[f] = T(0);
    for (std::int64_t j = 0; j < s.outputs; ++j) {
      const std::int64_t o = g * s.outputs + j;
      const T* a = reinterpret_cast<const T*>(dy + (row_index * s.row_outputs() + o) * s.distance);
      const T* b = reinterpret_cast<const T*>(w + (o * s.columns + k) * s.distance);
      for (std::int64_t f = 0; f < s.frequencies; ++f) multiply_add<false, false>(out[2 * f], out[2 * f + 1], a + 2 * f, b + 2 * f);
    }
  }
};

// dŴ over all rows: one element per (kernel map, f) over [O*K][F]; the row sum runs in row order.
template <class T>
struct filter_products {
  elementwise_shape s;
  const complex<T>* dy;
  const complex<T>* x;
  complex<T>* dw;
  products_divisors div;  // maps per row: unused

  FFTCONV_HD void operator()(std::int64_t index) const {
    std::int64_t f = 0, k = 0, o_in_group = 0;
    const std::int64_t map = div.frequencies.divide(index, f);
    const std::int64_t o = div.columns.divide(map, k);
    const std::int64_t g = div.outputs.divide(o, o_in_group);
    T re(0), im(0);
    for (std::int64_t row = 0; row < s.rows; ++row)
      multiply_add<true, false>(re, im, reinterpret_cast<const T*>(dy + (row * s.row_outputs() + o) * s.distance + f),
                                reinterpret_cast<const T*>(x + (row * s.row_inputs() + g * s.columns + k) * s.distance + f));
    dw[map * s.distance + f] = complex<T>(re, im);
  }

  FFTCONV_HD void row(std::int64_t map) const {
    const std::int64_t o = map / s.columns, k = map % s.columns;
    const std::int64_t g = o / s.outputs;
    T* out = reinterpret_cast<T*>(dw + map * s.distance);
    for (std::int64_t f = 0; f < 2 * s.frequencies; ++f) out[f] = T(0);
    for (std::int64_t row_index = 0; row_index < s.rows; ++row_index) {
      const T* a = reinterpret_cast<const T*>(dy + (row_index * s.row_outputs() + o) * s.distance);
      const T* b = reinterpret_cast<const T*>(x + (row_index * s.row_inputs() + g * s.columns + k) * s.distance);
      for (std::int64_t f = 0; f < s.frequencies; ++f) multiply_add<true, false>(out[2 * f], out[2 * f + 1], a + 2 * f, b + 2 * f);
    }
  }
};

}  // namespace fftconv::detail
