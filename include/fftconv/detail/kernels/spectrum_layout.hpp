#pragma once
// Spectrum layouts of the FFT policy and the transposes between them, shared by the host loops and the GPU
// kernels.
//
//   natural          [maps][F] with maps `distance` apart: what R2C writes and C2R reads (F = L_0 ... L_{N-2}
//                    (L_{N-1}/2 + 1)). cuFFT and FFTW stay in this layout: asking cuFFT for frequency-major
//                    output made its transforms ~3x slower on an H100 (design.md §5).
//   frequency-major  [F][G][A1][A2][K]: per frequency f and group g a row-major (A1*A2) x K matrix, the operand
//                    of the per-frequency channel GEMMs (plan/frequency_plan.hpp).
// How a tensor's maps factor (natural map index ((a1 * G + g) * A2 + a2) * K + k):
//   x, dx:  A1 = rows (batch x tiles), A2 = 1,   K = C/g x phases
//   y, dy:  A1 = rows,                 A2 = 1,   K = O/g
//   w, dw:  A1 = 1,                    A2 = O/g, K = C/g x phases

#include <cstdint>

#include "../../backend/gemm.hpp"  // complex<T>
#include "../../config.hpp"

namespace fftconv::detail {

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
    std::int64_t rest = index;
    const std::int64_t k = rest % chunk.columns;
    rest /= chunk.columns;
    const std::int64_t a2 = rest % chunk.inner;
    rest /= chunk.inner;
    const std::int64_t a1 = rest % chunk.outer;
    rest /= chunk.outer;
    const std::int64_t g = rest % chunk.groups;
    const std::int64_t f = rest / chunk.groups;
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

  FFTCONV_HD std::int64_t column(std::int64_t m) const {
    const std::int64_t k = m % layout.columns;
    std::int64_t rest = m / layout.columns;
    const std::int64_t a2 = rest % layout.inner;
    rest /= layout.inner;
    const std::int64_t g = rest % layout.groups;
    const std::int64_t a1 = rest / layout.groups;
    return ((g * layout.outer + a1) * layout.inner + a2) * layout.columns + k;
  }

  FFTCONV_HD void operator()(std::int64_t index) const {
    const std::int64_t f = index % frequencies;
    const std::int64_t m = index / frequencies;
    natural[m * distance + f] = frequency_major[f * layout.maps() + column(m)];
  }

  FFTCONV_HD std::int64_t tiles() const { return transpose_tiles(layout.maps(), frequencies); }
  FFTCONV_HD void tile(std::int64_t t) const {
    transpose_tile_bounds bounds(t, layout.maps(), frequencies);
    const std::int64_t maps = layout.maps();
    for (std::int64_t m = bounds.map_begin; m < bounds.map_end; ++m) {
      const std::int64_t c = column(m);
      for (std::int64_t f = bounds.frequency_begin; f < bounds.frequency_end; ++f)
        natural[m * distance + f] = frequency_major[f * maps + c];
    }
  }
};

}  // namespace fftconv::detail
