#pragma once
// Element math of the FFT policy, shared by the host loops and the GPU kernels: staging real maps into the
// zero-padded transform frame, moving spectra between the FFT libraries' natural layout and the
// frequency-major layout of the channel GEMMs, and the fused crop / stride / dilation / bias step after the
// inverse transform.
//
// Frame convention (per spatial dim, extent L >= n + 2p, >= d(k-1)+1): x sits at offset 0 of the frame and
// the output shift t = q*s - p is taken modulo L. With Ŷ = X̂ · conj(Ŵ) the circular correlation is
//   c[t mod L] = sum_j x[t + j] * w_dilated[j],   t in [-p, n + p - span]
// and no valid (t, j) wraps onto x because L >= n + 2p. dY enters the frame zero-upsampled at the same
// positions t = q*s - p, which makes backward_data a convolution (dX̂ = dŶ · Ŵ) read at i in [0, n) and
// backward_filter a correlation (dŴ = conj(dŶ) · X̂) read at the dilated taps j*d.

#include <cstdint>

#include "../../backend/gemm.hpp"  // complex<T>
#include "../../config.hpp"
#include "../../geometry.hpp"
#include "../../plan/fft_desc.hpp"  // spectral_frame

namespace fftconv::detail {

// Launch granularity. operator()(i) computes one element: the GPU runs one thread per element, so
// neighbouring threads touch neighbouring addresses. row(r) computes a whole innermost row (the last spatial
// dim) with incremental indices: the host runs one loop iteration per row, which keeps the int64 divisions
// out of the inner loop (they dominated the host profile) and lets copies vectorise. Both compute the same
// values from the same index arithmetic.

// Splits a row index over [maps][extents[0] .. extents[N-2]] into the map and index[0 .. N-2]; index[N-1]
// is left for the caller's inner loop.
template <int N>
FFTCONV_HD inline std::int64_t unravel_row(std::int64_t row, const std::int64_t (&extents)[N], std::int64_t (&index)[N]) {
  for (int d = N - 2; d >= 0; --d) {
    index[d] = row % extents[d];
    row /= extents[d];
  }
  index[N - 1] = 0;
  return row;
}

template <class T>
FFTCONV_HD inline void zero_row(T* row, std::int64_t length) {
  for (std::int64_t i = 0; i < length; ++i) row[i] = T(0);
}

// x (or dx-shaped data) [maps][n...] into the frame [maps][L...]: copied at offset 0, zeros elsewhere.
template <int N, class T>
struct stage_input {
  spectral_frame<N> frame;
  std::int64_t extents[N];
  std::int64_t volume;  // product of extents
  const T* source;
  T* frame_data;

  FFTCONV_HD void operator()(std::int64_t index) const {
    std::int64_t u[N];
    const std::int64_t map = unravel<N>(index, frame.real, u);
    bool inside = true;
    for (int d = 0; d < N; ++d) inside = inside && u[d] < extents[d];
    frame_data[index] = inside ? source[map * volume + ravel<N>(u, extents)] : T(0);
  }

  FFTCONV_HD void row(std::int64_t r) const {
    std::int64_t u[N];
    const std::int64_t map = unravel_row<N>(r, frame.real, u);
    T* out = frame_data + r * frame.real[N - 1];
    bool inside = true;
    for (int d = 0; d < N - 1; ++d) inside = inside && u[d] < extents[d];
    const std::int64_t copied = inside ? extents[N - 1] : 0;
    const T* in = source + map * volume + ravel<N>(u, extents);
    for (std::int64_t i = 0; i < copied; ++i) out[i] = in[i];
    zero_row(out + copied, frame.real[N - 1] - copied);
  }
};

// Weights [maps][k...] into the frame with their taps at j*d (the zero-inserted, dilated kernel).
template <int N, class T>
struct stage_kernel {
  spectral_frame<N> frame;
  std::int64_t kernel[N];
  std::int64_t dilation[N];
  std::int64_t volume;  // product of kernel
  const T* weights;
  T* frame_data;

  FFTCONV_HD void operator()(std::int64_t index) const {
    std::int64_t u[N], tap[N];
    const std::int64_t map = unravel<N>(index, frame.real, u);
    bool inside = true;
    for (int d = 0; d < N; ++d) {
      tap[d] = u[d] / dilation[d];
      inside = inside && u[d] % dilation[d] == 0 && tap[d] < kernel[d];
    }
    frame_data[index] = inside ? weights[map * volume + ravel<N>(tap, kernel)] : T(0);
  }

  FFTCONV_HD void row(std::int64_t r) const {
    std::int64_t u[N], tap[N];
    const std::int64_t map = unravel_row<N>(r, frame.real, u);
    T* out = frame_data + r * frame.real[N - 1];
    zero_row(out, frame.real[N - 1]);
    for (int d = 0; d < N - 1; ++d) {
      tap[d] = u[d] / dilation[d];
      if (u[d] % dilation[d] != 0 || tap[d] >= kernel[d]) return;
    }
    tap[N - 1] = 0;
    const T* in = weights + map * volume + ravel<N>(tap, kernel);
    for (std::int64_t j = 0; j < kernel[N - 1]; ++j) out[j * dilation[N - 1]] = in[j];
  }
};

// dy [maps][out...] zero-upsampled into the frame: dy[q] lands at u = (q*s - p) mod L, i.e. frame position u
// holds dy[q] when v = (u + p) mod L is q*s with q < out. v is exact (not just congruent) because every
// shift t + p lies in [0, n + 2p - span] < L.
template <int N, class T>
struct stage_upsampled {
  spectral_frame<N> frame;
  std::int64_t output[N];
  std::int64_t stride[N];
  std::int64_t padding[N];
  std::int64_t volume;  // product of output
  const T* gradient;
  T* frame_data;

  FFTCONV_HD void operator()(std::int64_t index) const {
    std::int64_t u[N], q[N];
    const std::int64_t map = unravel<N>(index, frame.real, u);
    bool inside = true;
    for (int d = 0; d < N; ++d) {
      const std::int64_t v = (u[d] + padding[d]) % frame.real[d];
      q[d] = v / stride[d];
      inside = inside && v % stride[d] == 0 && q[d] < output[d];
    }
    frame_data[index] = inside ? gradient[map * volume + ravel<N>(q, output)] : T(0);
  }

  FFTCONV_HD void row(std::int64_t r) const {
    std::int64_t u[N], q[N];
    const std::int64_t map = unravel_row<N>(r, frame.real, u);
    const std::int64_t length = frame.real[N - 1];
    T* out = frame_data + r * length;
    zero_row(out, length);
    for (int d = 0; d < N - 1; ++d) {
      const std::int64_t v = (u[d] + padding[d]) % frame.real[d];
      q[d] = v / stride[d];
      if (v % stride[d] != 0 || q[d] >= output[d]) return;
    }
    q[N - 1] = 0;
    const T* in = gradient + map * volume + ravel<N>(q, output);
    // dy[.., q] lands at (q*s - p) mod L: start at -p mod L and step by s (s < L whenever two outputs exist).
    const std::int64_t step = stride[N - 1] % length;
    std::int64_t at = (length - padding[N - 1] % length) % length;
    for (std::int64_t i = 0; i < output[N - 1]; ++i) {
      out[at] = in[i];
      at += step;
      if (at >= length) at -= length;
    }
  }
};

// How a tensor's maps factor for the per-group GEMMs: natural map index ((a1 * G + g) * A2 + a2) * K + k.
//   x, dx, y, dy: A1 = batch, A2 = 1,  K = channels per group
//   w, dw:        A1 = 1,     A2 = out channels per group, K = in channels per group
// In the frequency-major layout [f][g][a1][a2][k], each (f, g) holds a row-major (A1*A2) x K matrix, and
// consecutive (f, g) matrices sit a constant stride apart: one strided-batched GEMM covers all of them.
struct channel_layout {
  std::int64_t outer;   // A1
  std::int64_t groups;  // G
  std::int64_t inner;   // A2
  std::int64_t columns; // K

  FFTCONV_HD std::int64_t maps() const { return outer * groups * inner * columns; }
  FFTCONV_HD std::int64_t matrix_size() const { return outer * inner * columns; }

  // Position of natural map m within one frequency's slice [G][A1][A2][K].
  FFTCONV_HD std::int64_t frequency_major_column(std::int64_t m) const {
    const std::int64_t k = m % columns;
    std::int64_t rest = m / columns;
    const std::int64_t a2 = rest % inner;
    rest /= inner;
    const std::int64_t g = rest % groups;
    const std::int64_t a1 = rest / groups;
    return ((g * outer + a1) * inner + a2) * columns + k;
  }
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

// Natural [maps][F] -> frequency-major [F][G][A1][A2][K]. One element per index over the destination, so
// writes are contiguous; reads stride by F (the FFT library's map distance).
template <class T>
struct to_frequency_major {
  channel_layout layout;
  std::int64_t frequencies;  // F: complex volume of one map
  const complex<T>* natural;
  complex<T>* frequency_major;

  FFTCONV_HD void operator()(std::int64_t index) const {
    std::int64_t rest = index;
    const std::int64_t k = rest % layout.columns;
    rest /= layout.columns;
    const std::int64_t a2 = rest % layout.inner;
    rest /= layout.inner;
    const std::int64_t a1 = rest % layout.outer;
    rest /= layout.outer;
    const std::int64_t g = rest % layout.groups;
    const std::int64_t f = rest / layout.groups;
    const std::int64_t map = ((a1 * layout.groups + g) * layout.inner + a2) * layout.columns + k;
    frequency_major[index] = natural[map * frequencies + f];
  }

  // Row m: map m's spectrum, read contiguously, written with stride maps.
  FFTCONV_HD void row(std::int64_t m) const {
    const std::int64_t maps = layout.maps();
    const std::int64_t column = layout.frequency_major_column(m);
    const complex<T>* in = natural + m * frequencies;
    for (std::int64_t f = 0; f < frequencies; ++f) frequency_major[f * maps + column] = in[f];
  }

  // Tile t of transpose_tile_extent maps x frequencies (host): both sides stay in cache, where a row's
  // writes with stride maps each missed it.
  FFTCONV_HD std::int64_t tiles() const { return transpose_tiles(layout.maps(), frequencies); }
  FFTCONV_HD void tile(std::int64_t t) const {
    transpose_tile_bounds bounds(t, layout.maps(), frequencies);
    std::int64_t columns[transpose_tile_extent];
    for (std::int64_t m = bounds.map_begin; m < bounds.map_end; ++m)
      columns[m - bounds.map_begin] = layout.frequency_major_column(m);
    const std::int64_t maps = layout.maps();
    for (std::int64_t f = bounds.frequency_begin; f < bounds.frequency_end; ++f)
      for (std::int64_t m = bounds.map_begin; m < bounds.map_end; ++m)
        frequency_major[f * maps + columns[m - bounds.map_begin]] = natural[m * frequencies + f];
  }
};

// Frequency-major [F][G][A1][A2][K] -> natural [maps][F], one element per index over the destination.
template <class T>
struct from_frequency_major {
  channel_layout layout;
  std::int64_t frequencies;
  const complex<T>* frequency_major;
  complex<T>* natural;

  FFTCONV_HD void operator()(std::int64_t index) const {
    const std::int64_t f = index % frequencies;
    std::int64_t rest = index / frequencies;
    const std::int64_t k = rest % layout.columns;
    rest /= layout.columns;
    const std::int64_t a2 = rest % layout.inner;
    rest /= layout.inner;
    const std::int64_t g = rest % layout.groups;
    const std::int64_t a1 = rest / layout.groups;
    natural[index] = frequency_major[(((f * layout.groups + g) * layout.outer + a1) * layout.inner + a2) *
                                         layout.columns + k];
  }

  FFTCONV_HD void row(std::int64_t m) const {
    const std::int64_t maps = layout.maps();
    const std::int64_t column = layout.frequency_major_column(m);
    complex<T>* out = natural + m * frequencies;
    for (std::int64_t f = 0; f < frequencies; ++f) out[f] = frequency_major[f * maps + column];
  }

  FFTCONV_HD std::int64_t tiles() const { return transpose_tiles(layout.maps(), frequencies); }
  FFTCONV_HD void tile(std::int64_t t) const {
    transpose_tile_bounds bounds(t, layout.maps(), frequencies);
    const std::int64_t maps = layout.maps();
    for (std::int64_t m = bounds.map_begin; m < bounds.map_end; ++m) {
      const std::int64_t column = layout.frequency_major_column(m);
      for (std::int64_t f = bounds.frequency_begin; f < bounds.frequency_end; ++f)
        natural[m * frequencies + f] = frequency_major[f * maps + column];
    }
  }
};

// After the inverse transform: destination[m][q...] = frame[m][(q*step + offset) mod L] * scale (+ bias[m mod
// channels]). The crop, the stride subsampling (forward: step s, offset -p), the dilated taps (dW: step d),
// the 1/L normalisation of the unnormalised inverse and the bias, all in one pass.
template <int N, class T>
struct crop_frame {
  spectral_frame<N> frame;
  std::int64_t extents[N];
  std::int64_t step[N];
  std::int64_t offset[N];
  T scale;
  const T* bias;  // may be null
  std::int64_t channels;
  const T* frame_data;
  T* destination;

  FFTCONV_HD void operator()(std::int64_t index) const {
    std::int64_t q[N], u[N];
    const std::int64_t map = unravel<N>(index, extents, q);
    for (int d = 0; d < N; ++d) {
      const std::int64_t t = (q[d] * step[d] + offset[d]) % frame.real[d];
      u[d] = t < 0 ? t + frame.real[d] : t;
    }
    T value = frame_data[map * frame.real_volume + ravel<N>(u, frame.real)] * scale;
    if (bias != nullptr) value += bias[map % channels];
    destination[index] = value;
  }

  FFTCONV_HD void row(std::int64_t r) const {
    std::int64_t q[N], u[N];
    const std::int64_t map = unravel_row<N>(r, extents, q);
    for (int d = 0; d < N - 1; ++d) {
      const std::int64_t t = (q[d] * step[d] + offset[d]) % frame.real[d];
      u[d] = t < 0 ? t + frame.real[d] : t;
    }
    u[N - 1] = 0;
    const T* in = frame_data + map * frame.real_volume + ravel<N>(u, frame.real);
    T* out = destination + r * extents[N - 1];
    const std::int64_t length = frame.real[N - 1];
    const std::int64_t stride = step[N - 1] % length;
    std::int64_t at = offset[N - 1] % length;
    if (at < 0) at += length;
    const T shift = bias != nullptr ? bias[map % channels] : T(0);
    for (std::int64_t i = 0; i < extents[N - 1]; ++i) {
      out[i] = in[at] * scale + shift;
      at += stride;
      if (at >= length) at -= length;
    }
  }
};

// y where no output window reaches the input (see frequency_plan::reaches_input): y[b, o, q] = bias[o] or 0.
template <class T>
struct broadcast_bias {
  std::int64_t channels;
  std::int64_t spatial;
  const T* bias;  // may be null
  T* destination;

  FFTCONV_HD void operator()(std::int64_t index) const {
    destination[index] = bias != nullptr ? bias[(index / spatial) % channels] : T(0);
  }
};

}  // namespace fftconv::detail
