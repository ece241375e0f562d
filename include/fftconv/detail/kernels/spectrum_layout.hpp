#pragma once
// Spectrum layouts of the FFT policy and the transposes between them, shared by the host loops and the GPU
// kernels.
//
//   natural          [maps][F] with maps `distance` apart: what R2C writes and C2R reads (F = L_0 ... L_{N-2}
//                    (L_{N-1}/2 + 1)). cuFFT and FFTW stay in this layout: strided, frequency-major output
//                    takes their transforms off their fast contiguous kernels.
//   frequency-major  [F][G][A1][A2][K]: per frequency f and group g a row-major (A1*A2) x K matrix, the operand
//                    of the per-frequency channel GEMMs (policy/fft/frequency_plan.hpp).
// How a tensor's maps factor (natural map index ((a1 * G + g) * A2 + a2) * K + k):
//   x, dx:  A1 = rows (batch x tiles), A2 = 1,   K = C/g x phases
//   y, dy:  A1 = rows,                 A2 = 1,   K = O/g
//   w, dw:  A1 = 1,                    A2 = O/g, K = C/g x phases

#include <cstdint>

#include "../../backend/common/gemm.hpp"  // complex<T>
#include "../../config.hpp"
#include "im2col.hpp"  // fast_divmod

namespace fftconv::detail {

// n / divisor and n % divisor on the GPU's index path: a 32-bit multiply-high (fast_divmod) when the launch
// keeps every dividend below 2^31, else 64-bit division, which the GPU emulates in ~70 instructions. The host
// runs these functors by rows and tiles, with the divisions hoisted out of its inner loops.
// A default-constructed one divides by 1: functors that run element by element are always given their divisors.
struct index_divisor {
  std::int64_t divisor = 1;
  fast_divmod fast{};
  bool narrow = false;

  index_divisor() = default;
  index_divisor(std::int64_t d, std::int64_t largest_dividend)
      : divisor(d), narrow(d < (std::int64_t{1} << 31) && largest_dividend < (std::int64_t{1} << 31)) {
    if (narrow) fast = fast_divmod(d);
  }

  FFTCONV_HD std::int64_t divide(std::int64_t n, std::int64_t& remainder) const {
    if (narrow) {
      std::uint32_t r = 0;
      const std::uint32_t q = fast.divide(static_cast<std::uint32_t>(n), r);
      remainder = r;
      return q;
    }
    const std::int64_t q = n / divisor;
    remainder = n - q * divisor;
    return q;
  }
};

// Divisors of a [F][G][A1][A2][K] (or [maps][F]) index space of `elements` indices.
struct layout_divisors {
  index_divisor columns, inner, outer, groups, frequencies;
  layout_divisors() = default;
  layout_divisors(std::int64_t k, std::int64_t a2, std::int64_t a1, std::int64_t g, std::int64_t f,
                  std::int64_t elements)
      : columns(k, elements), inner(a2, elements), outer(a1, elements), groups(g, elements), frequencies(f, elements) {}
};

struct channel_layout {
  std::int64_t outer;    // A1
  std::int64_t groups;   // G
  std::int64_t inner;    // A2
  std::int64_t columns;  // K

  FFTCONV_HD std::int64_t maps() const { return outer * groups * inner * columns; }
  FFTCONV_HD std::int64_t matrix_size() const { return outer * inner * columns; }
};

// Square tiles of the [maps][F] <-> [F][maps] transposes on the host.
inline constexpr std::int64_t transpose_tile_extent = 32;

FFTCONV_HD inline std::int64_t transpose_tiles(std::int64_t maps, std::int64_t frequencies) {
  const std::int64_t e = transpose_tile_extent;
  return ((maps + e - 1) / e) * ((frequencies + e - 1) / e);
}

struct transpose_tile_bounds {
  std::int64_t map_begin, map_end, frequency_begin, frequency_end;
  FFTCONV_HD transpose_tile_bounds(std::int64_t tile, std::int64_t maps, std::int64_t frequencies) {
    const std::int64_t e = transpose_tile_extent;
    const std::int64_t frequency_tiles = (frequencies + e - 1) / e;
    map_begin = (tile / frequency_tiles) * e;
    frequency_begin = (tile % frequency_tiles) * e;
    map_end = map_begin + e < maps ? map_begin + e : maps;
    frequency_end = frequency_begin + e < frequencies ? frequency_begin + e : frequencies;
  }
};

// Natural maps of rows [outer_begin, outer_begin + chunk.outer) -> their place in a frequency-major spectrum of
// `outer_total` rows. One element per index over the chunk's frequency-major positions [F][G][A1c][A2][K], so
// GPU writes run along k.
template <class T>
struct to_frequency_major {
  channel_layout chunk;  // outer: the chunk's rows
  std::int64_t outer_total;
  std::int64_t outer_begin;
  std::int64_t frequencies;
  std::int64_t distance;  // between natural maps
  const complex<T>* natural;  // the chunk's first map
  complex<T>* frequency_major;
  layout_divisors div{};  // of the chunk's index space (see make_divisors); default: 64-bit division

  static layout_divisors make_divisors(const channel_layout& chunk, std::int64_t frequencies) {
    return {chunk.columns, chunk.inner, chunk.outer, chunk.groups, frequencies, chunk.maps() * frequencies};
  }

  // Column of chunk map m within one frequency's slice [G][A1][A2][K] of the whole spectrum.
  FFTCONV_HD std::int64_t column(std::int64_t m) const {
    const std::int64_t k = m % chunk.columns;
    std::int64_t rest = m / chunk.columns;
    const std::int64_t a2 = rest % chunk.inner;
    rest /= chunk.inner;
    const std::int64_t g = rest % chunk.groups;
    const std::int64_t a1 = rest / chunk.groups + outer_begin;
    return ((g * outer_total + a1) * chunk.inner + a2) * chunk.columns + k;
  }

  FFTCONV_HD std::int64_t slice() const { return chunk.groups * outer_total * chunk.inner * chunk.columns; }

  FFTCONV_HD void operator()(std::int64_t index) const {
    std::int64_t k = 0, a2 = 0, a1 = 0, g = 0;
    std::int64_t rest = div.columns.divide(index, k);
    rest = div.inner.divide(rest, a2);
    rest = div.outer.divide(rest, a1);
    const std::int64_t f = div.groups.divide(rest, g);
    const std::int64_t map = ((a1 * chunk.groups + g) * chunk.inner + a2) * chunk.columns + k;
    frequency_major[f * slice() + ((g * outer_total + a1 + outer_begin) * chunk.inner + a2) * chunk.columns + k] =
        natural[map * distance + f];
  }

  // Tile t of transpose_tile_extent maps x frequencies (host): both sides stay in cache.
  FFTCONV_HD std::int64_t tiles() const { return transpose_tiles(chunk.maps(), frequencies); }
  FFTCONV_HD void tile(std::int64_t t) const {
    transpose_tile_bounds bounds(t, chunk.maps(), frequencies);
    std::int64_t columns[transpose_tile_extent];
    for (std::int64_t m = bounds.map_begin; m < bounds.map_end; ++m) columns[m - bounds.map_begin] = column(m);
    const std::int64_t stride = slice();
    for (std::int64_t f = bounds.frequency_begin; f < bounds.frequency_end; ++f)
      for (std::int64_t m = bounds.map_begin; m < bounds.map_end; ++m)
        frequency_major[f * stride + columns[m - bounds.map_begin]] = natural[m * distance + f];
  }
};

// A chunk's frequency-major products [F][G][A1][A2][K] -> natural maps, one element per index over the
// destination [maps][F] (distance-apart maps).
template <class T>
struct from_frequency_major {
  channel_layout layout;
  std::int64_t frequencies;
  std::int64_t distance;
  const complex<T>* frequency_major;
  complex<T>* natural;
  layout_divisors div{};  // of the [maps][F] index space (see make_divisors); default: 64-bit division

  static layout_divisors make_divisors(const channel_layout& layout, std::int64_t frequencies) {
    return {layout.columns, layout.inner, layout.outer, layout.groups, frequencies, layout.maps() * frequencies};
  }

  // Column of natural map m in one frequency's slice: by the divisors (GPU), or by plain division (host tiles).
  FFTCONV_HD std::int64_t column(std::int64_t m) const {
    std::int64_t k = 0, a2 = 0, g = 0;
    std::int64_t rest = div.columns.divide(m, k);
    rest = div.inner.divide(rest, a2);
    const std::int64_t a1 = div.groups.divide(rest, g);
    return ((g * layout.outer + a1) * layout.inner + a2) * layout.columns + k;
  }
  FFTCONV_HD std::int64_t column_by_division(std::int64_t m) const {
    const std::int64_t k = m % layout.columns;
    std::int64_t rest = m / layout.columns;
    const std::int64_t a2 = rest % layout.inner;
    rest /= layout.inner;
    const std::int64_t g = rest % layout.groups;
    const std::int64_t a1 = rest / layout.groups;
    return ((g * layout.outer + a1) * layout.inner + a2) * layout.columns + k;
  }

  FFTCONV_HD void operator()(std::int64_t index) const {
    std::int64_t f = 0;
    const std::int64_t m = div.frequencies.divide(index, f);
    natural[m * distance + f] = frequency_major[f * layout.maps() + column(m)];
  }

  FFTCONV_HD std::int64_t tiles() const { return transpose_tiles(layout.maps(), frequencies); }
  FFTCONV_HD void tile(std::int64_t t) const {
    transpose_tile_bounds bounds(t, layout.maps(), frequencies);
    const std::int64_t maps = layout.maps();
    for (std::int64_t m = bounds.map_begin; m < bounds.map_end; ++m) {
      const std::int64_t c = column_by_division(m);
      for (std::int64_t f = bounds.frequency_begin; f < bounds.frequency_end; ++f)
        natural[m * distance + f] = frequency_major[f * maps + c];
    }
  }
};

}  // namespace fftconv::detail
