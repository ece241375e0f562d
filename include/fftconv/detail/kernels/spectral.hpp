#pragma once
// Element math of the FFT policy around the transforms, shared by the host loops and the GPU kernels:
// staging tiles of x, dy and the polyphase kernel into transform frames, and reading results back out of the
// inverse transforms' frames (y with bias, dx by overlap-add, dw). The tiling geometry is tiling/tiling.hpp.
//
// Conventions (per spatial dim; s stride, p low padding, K' phase taps, T outputs per tile, W = T + K' - 1,
// L the frame):
//   rows      batch x tiles, row = b * tile_count + tile (tile index row-major over tiles[])
//   x maps    [rows][C][P]  map (row, c, phase r): frame[u] = x[b, c, (tau*T + u)*s + r - p] for u < W, else 0
//   w maps    [O][C/g][P]   map (o, c, r): frame[t] = w[o, c, j] where r + s*t = j*d (t < K'), else 0
//   dy maps   [rows][O]     map (row, o): frame[u] = dy[b, o, tau*T + u] for u < T and inside the output, else 0
// With Ŷ = Σ X̂ conj(Ŵ) the circular correlation holds y[tau*T + u] at frame position u < T; dX̂ = Σ dŶ Ŵ
// holds tile tau's contribution to phase position a = tau*T + v at v < W; dŴ = Σ conj(dŶ) X̂ holds tap t at t.
// Frames are `distance` elements apart (the volume rounded up so every map starts 64-byte aligned). x, w, dy, y,
// dx and dw are read and written through their layouts (the caller's strides).
//
// Element types: T is what the frames and transforms hold (float or double); S, the element type of the caller's
// tensor a functor reads or writes, may be narrower (bf16, fp16): staging converts on load, the crop, overlap-add
// and dw gather round once on store.
//
// Launch granularity: operator()(i) computes one element (the GPU: neighbouring threads touch neighbouring
// addresses); row(r) one innermost row with the divisions paid once per row (the host). Both write the same
// values in the same summation order; the host tests compare them.

#include <cstdint>
#include <type_traits>

#include "../../config.hpp"
#include "../../element.hpp"
#include "../../geometry.hpp"
#include "../../tiling/tiling.hpp"
#include "spectrum_layout.hpp"  // index_divisor
#include "tensor_layout.hpp"

namespace fftconv::detail {

// Splits a row index over [leading][extents[0] .. extents[N-2]] into the leading index and index[0 .. N-2];
// index[N-1] is left for the caller's inner loop.
template <int N>
FFTCONV_HD inline std::int64_t unravel_row(std::int64_t row, const std::int64_t (&extents)[N], std::int64_t (&index)[N]) {
  for (int d = N - 2; d >= 0; --d) {
    index[d] = row % extents[d];
    row /= extents[d];
  }
  index[N - 1] = 0;
  return row;
}

// body(u, row) for every row of a frame [extents...] starting at `frame`, u[N-1] = 0, rows in order: the
// index of the next row by carrying, with no division per row.
template <int N, class T, class Body>
inline void for_each_frame_row(const std::int64_t (&extents)[N], T* frame, Body&& body) {
  std::int64_t u[N] = {};
  const std::int64_t length = extents[N - 1];
  std::int64_t rows = 1;
  for (int d = 0; d < N - 1; ++d) rows *= extents[d];
  for (std::int64_t r = 0; r < rows; ++r) {
    body(u, frame + r * length);
    for (int d = N - 2; d >= 0; --d) {
      if (++u[d] < extents[d]) break;
      u[d] = 0;
    }
  }
}

template <class T>
FFTCONV_HD inline void zero_row(T* row, std::int64_t length) {
  for (std::int64_t i = 0; i < length; ++i) row[i] = T(0);
}

template <int N>
FFTCONV_HD inline std::int64_t volume_of(const std::int64_t (&extents)[N]) {
  std::int64_t v = 1;
  for (int d = 0; d < N; ++d) v *= extents[d];
  return v;
}

// The tile origin (in outputs) of tile `flat`, per dim.
template <int N>
FFTCONV_HD inline void tile_origin(const tiling<N>& t, std::int64_t flat, std::int64_t (&origin)[N]) {
  for (int d = N - 1; d >= 0; --d) {
    origin[d] = (flat % t.tiles[d]) * t.tile[d];
    flat /= t.tiles[d];
  }
}

// The divisions of the element forms (GPU) of the staging and crop functors: 32-bit where every dividend of the
// launch (element index, map, row) stays below 2^31. `channels`: C for x maps, O for dy and y maps.
template <int N>
struct tile_divisors {
  index_divisor frame_volume, tile_volume, phases, channels, tile_count;
  index_divisor frame[N], tile[N], tiles[N], phase_count[N];

  tile_divisors() = default;
  tile_divisors(const tiling<N>& t, std::int64_t channel_count, std::int64_t largest_dividend)
      : frame_volume(volume_of<N>(t.frame), largest_dividend), tile_volume(volume_of<N>(t.tile), largest_dividend),
        phases(t.phases, largest_dividend), channels(channel_count, largest_dividend),
        tile_count(t.tile_count, largest_dividend) {
    for (int d = 0; d < N; ++d) {
      frame[d] = index_divisor(t.frame[d], largest_dividend);
      tile[d] = index_divisor(t.tile[d], largest_dividend);
      tiles[d] = index_divisor(t.tiles[d], largest_dividend);
      phase_count[d] = index_divisor(t.phase_count[d], largest_dividend);
    }
  }

  // Row-major unravel of `offset` over N extents with these divisors; returns what is left.
  FFTCONV_HD static std::int64_t unravel(std::int64_t offset, const index_divisor (&extents)[N], std::int64_t (&index)[N]) {
    for (int d = N - 1; d >= 0; --d) offset = extents[d].divide(offset, index[d]);
    return offset;
  }

  // Tile origin (in outputs) of tile `flat`, as tile_origin.
  FFTCONV_HD void origin(const tiling<N>& t, std::int64_t flat, std::int64_t (&at)[N]) const {
    unravel(flat, tiles, at);
    for (int d = 0; d < N; ++d) at[d] *= t.tile[d];
  }
};

// x [B][C][n...] -> frames of the x maps [map_begin, map_begin + count) (see the conventions above).
template <int N, class T, class S = T>
struct stage_input_tiles {
  problem<N> p;
  tiling<N> t;
  std::int64_t distance;
  std::int64_t map_begin;
  strided<const S, N> x;
  T* frames;
  tile_divisors<N> div;  // channels: C

  // Where map `map`'s frame reads x: x + base(map), per-dim first position first[d] (for u = 0) and step s.
  FFTCONV_HD const S* source(std::int64_t map, std::int64_t (&first)[N]) const {
    std::int64_t phase = map % t.phases;
    const std::int64_t c = (map / t.phases) % p.in_channels;
    const std::int64_t row = map / (t.phases * p.in_channels);
    std::int64_t origin[N];
    tile_origin<N>(t, row % t.tile_count, origin);
    for (int d = N - 1; d >= 0; --d) {
      const std::int64_t r = phase % t.phase_count[d];
      phase /= t.phase_count[d];
      first[d] = origin[d] * p.stride[d] + r - p.padding[d];
    }
    return x.data + x.layout.plane(row / t.tile_count, c);
  }

  FFTCONV_HD void operator()(std::int64_t index) const {
    std::int64_t u[N], first[N], phase_index[N], origin[N], within = 0, phase = 0, c = 0;
    const std::int64_t local = div.frame_volume.divide(index, within);
    tile_divisors<N>::unravel(within, div.frame, u);
    const std::int64_t row = div.channels.divide(div.phases.divide(map_begin + local, phase), c);
    std::int64_t tile_flat = 0;
    const std::int64_t b = div.tile_count.divide(row, tile_flat);
    div.origin(t, tile_flat, origin);
    tile_divisors<N>::unravel(phase, div.phase_count, phase_index);
    for (int d = 0; d < N; ++d) first[d] = origin[d] * p.stride[d] + phase_index[d] - p.padding[d];
    const S* plane = x.data + x.layout.plane(b, c);
    bool inside = true;
    std::int64_t offset = 0;
    for (int d = 0; d < N; ++d) {
      const std::int64_t i = first[d] + u[d] * p.stride[d];
      inside = inside && u[d] < t.window[d] && i >= 0 && i < p.input[d];
      offset += i * x.layout.spatial[d];
    }
    frames[local * distance + within] = inside ? load_as<T>(plane[offset]) : T(0);
  }

  FFTCONV_HD void row(std::int64_t r) const {
    std::int64_t u[N], first[N];
    const std::int64_t local = unravel_row<N>(r, t.frame, u);
    const std::int64_t length = t.frame[N - 1];
    const S* plane = source(map_begin + local, first);
    copy_row(plane, first, u, frames + local * distance + (r - local * (volume_of<N>(t.frame) / length)) * length);
  }

  // Every row of map `local`, its source found once (the host's unit of work).
  void map(std::int64_t local) const {
    std::int64_t first[N];
    const S* plane = source(map_begin + local, first);
    for_each_frame_row<N>(t.frame, frames + local * distance,
                          [&](const std::int64_t(&u)[N], T* out) { copy_row(plane, first, u, out); });
  }

 private:
  FFTCONV_HD void copy_row(const S* plane, const std::int64_t (&first)[N], const std::int64_t (&u)[N], T* out) const {
    const std::int64_t length = t.frame[N - 1];
    std::int64_t offset = 0;
    for (int d = 0; d < N - 1; ++d) {
      const std::int64_t i = first[d] + u[d] * p.stride[d];
      if (u[d] >= t.window[d] || i < 0 || i >= p.input[d]) return zero_row(out, length);
      offset += i * x.layout.spatial[d];
    }
    // u in [begin, end): first + u*s in [0, n), u < W.
    constexpr int last = N - 1;
    const std::int64_t s = p.stride[last], f = first[last];
    const std::int64_t begin = f >= 0 ? 0 : (-f + s - 1) / s;
    std::int64_t end = p.input[last] - 1 - f >= 0 ? (p.input[last] - 1 - f) / s + 1 : 0;
    end = end < t.window[last] ? end : t.window[last];
    const std::int64_t step = s * x.layout.spatial[last];
    const S* in = plane + offset + f * x.layout.spatial[last];
    std::int64_t u_last = 0;
    for (; u_last < begin && u_last < length; ++u_last) out[u_last] = T(0);
    for (; u_last < end; ++u_last) out[u_last] = load_as<T>(in[u_last * step]);
    for (; u_last < length; ++u_last) out[u_last] = T(0);
  }
};

// w [O][C/g][k...] -> frames of the kernel's phase maps [O][C/g][P].
template <int N, class T, class S = T>
struct stage_kernel_phases {
  problem<N> p;
  tiling<N> t;
  std::int64_t distance;
  strided<const S, N> w;
  T* frames;

  // Tap index along dim d for phase r and frame position u, or -1 where the phase kernel is zero.
  FFTCONV_HD std::int64_t tap(int d, std::int64_t r, std::int64_t u) const {
    if (u >= t.phase_taps[d]) return -1;
    const std::int64_t position = r + p.stride[d] * u;  // in the dilated kernel
    if (position % p.dilation[d] != 0) return -1;
    const std::int64_t j = position / p.dilation[d];
    return j < p.kernel[d] ? j : -1;
  }

  FFTCONV_HD void phase_of(std::int64_t map, std::int64_t (&r)[N]) const {
    std::int64_t phase = map % t.phases;
    for (int d = N - 1; d >= 0; --d) {
      r[d] = phase % t.phase_count[d];
      phase /= t.phase_count[d];
    }
  }

  FFTCONV_HD void operator()(std::int64_t index) const {
    const std::int64_t volume = volume_of<N>(t.frame);
    const std::int64_t map = index / volume;
    std::int64_t u[N], r[N], j[N];
    unravel<N>(index - map * volume, t.frame, u);
    phase_of(map, r);
    bool inside = true;
    for (int d = 0; d < N; ++d) {
      j[d] = tap(d, r[d], u[d]);
      inside = inside && j[d] >= 0;
    }
    frames[map * distance + (index - map * volume)] = inside ? load_as<T>(w.data[filter_plane(map) + w.layout.at(j)]) : T(0);
  }

  FFTCONV_HD void row(std::int64_t row_index) const {
    std::int64_t u[N], r[N], j[N];
    const std::int64_t map = unravel_row<N>(row_index, t.frame, u);
    const std::int64_t length = t.frame[N - 1];
    T* out = frames + map * distance + (row_index - map * (volume_of<N>(t.frame) / length)) * length;
    zero_row(out, length);
    phase_of(map, r);
    for (int d = 0; d < N - 1; ++d) {
      j[d] = tap(d, r[d], u[d]);
      if (j[d] < 0) return;
    }
    j[N - 1] = 0;
    const S* in = w.data + filter_plane(map) + w.layout.at(j);
    const std::int64_t step = w.layout.spatial[N - 1];
    for (std::int64_t u_last = 0; u_last < length; ++u_last) {
      const std::int64_t k = tap(N - 1, r[N - 1], u_last);
      if (k >= 0) out[u_last] = load_as<T>(in[k * step]);
    }
  }

 private:
  // w's plane (o, c) of map `map` ([O][C/g][P]).
  FFTCONV_HD std::int64_t filter_plane(std::int64_t map) const {
    const std::int64_t filter = map / t.phases, channels = p.in_channels_per_group();
    return w.layout.plane(filter / channels, filter % channels);
  }
};

// dy [B][O][m...] -> frames of the dy maps [map_begin, map_begin + count): tile outputs at u < T.
template <int N, class T, class S = T>
struct stage_output_tiles {
  problem<N> p;
  tiling<N> t;
  std::int64_t distance;
  std::int64_t map_begin;
  strided<const S, N> dy;
  T* frames;
  tile_divisors<N> div;  // channels: O

  FFTCONV_HD const S* source(std::int64_t map, std::int64_t (&origin)[N]) const {
    const std::int64_t o = map % p.out_channels;
    const std::int64_t row = map / p.out_channels;
    tile_origin<N>(t, row % t.tile_count, origin);
    return dy.data + dy.layout.plane(row / t.tile_count, o);
  }

  FFTCONV_HD void operator()(std::int64_t index) const {
    std::int64_t u[N], origin[N], within = 0, o = 0, tile_flat = 0;
    const std::int64_t local = div.frame_volume.divide(index, within);
    tile_divisors<N>::unravel(within, div.frame, u);
    const std::int64_t row = div.channels.divide(map_begin + local, o);
    const std::int64_t b = div.tile_count.divide(row, tile_flat);
    div.origin(t, tile_flat, origin);
    const S* plane = dy.data + dy.layout.plane(b, o);
    bool inside = true;
    std::int64_t offset = 0;
    for (int d = 0; d < N; ++d) {
      const std::int64_t q = origin[d] + u[d];
      inside = inside && u[d] < t.tile[d] && q < p.output[d];
      offset += q * dy.layout.spatial[d];
    }
    frames[local * distance + within] = inside ? load_as<T>(plane[offset]) : T(0);
  }

  FFTCONV_HD void row(std::int64_t r) const {
    std::int64_t u[N], origin[N];
    const std::int64_t local = unravel_row<N>(r, t.frame, u);
    const std::int64_t length = t.frame[N - 1];
    const S* plane = source(map_begin + local, origin);
    copy_row(plane, origin, u, frames + local * distance + (r - local * (volume_of<N>(t.frame) / length)) * length);
  }

  // Every row of map `local`, its source found once (the host's unit of work).
  void map(std::int64_t local) const {
    std::int64_t origin[N];
    const S* plane = source(map_begin + local, origin);
    for_each_frame_row<N>(t.frame, frames + local * distance,
                          [&](const std::int64_t(&u)[N], T* out) { copy_row(plane, origin, u, out); });
  }

 private:
  FFTCONV_HD void copy_row(const S* plane, const std::int64_t (&origin)[N], const std::int64_t (&u)[N], T* out) const {
    const std::int64_t length = t.frame[N - 1];
    std::int64_t offset = 0;
    for (int d = 0; d < N - 1; ++d) {
      const std::int64_t q = origin[d] + u[d];
      if (u[d] >= t.tile[d] || q >= p.output[d]) return zero_row(out, length);
      offset += q * dy.layout.spatial[d];
    }
    constexpr int last = N - 1;
    const std::int64_t left = p.output[last] - origin[last];
    const std::int64_t copied = t.tile[last] < left ? t.tile[last] : left;
    const std::int64_t step = dy.layout.spatial[last];
    const S* in = plane + offset + origin[last] * step;
    if (step == 1)
      for (std::int64_t i = 0; i < copied; ++i) out[i] = load_as<T>(in[i]);
    else
      for (std::int64_t i = 0; i < copied; ++i) out[i] = load_as<T>(in[i * step]);
    zero_row(out + copied, length - copied);
  }
};

// Frames of the y maps of rows [row_begin, row_begin + rows) -> y: y[b, o, tau*T + u] = frame[u] * scale + bias[o]
// for u < T inside the output. One element per (row, o, u in the tile): every y element has one writer.
template <int N, class T, class S = T>
struct crop_output_tiles {
  problem<N> p;
  tiling<N> t;
  std::int64_t distance;
  std::int64_t row_begin;
  T scale;  // 1 / frame volume: the inverse transforms are unnormalised
  const T* bias;  // may be null
  const T* frames;
  strided<S, N> y;
  tile_divisors<N> div;  // channels: O

  FFTCONV_HD void operator()(std::int64_t index) const {
    std::int64_t u[N], origin[N], within = 0, o = 0, tile_flat = 0;
    const std::int64_t map = div.tile_volume.divide(index, within);  // (row - row_begin) * O + o
    tile_divisors<N>::unravel(within, div.tile, u);
    const std::int64_t row = row_begin + div.channels.divide(map, o);
    const std::int64_t b = div.tile_count.divide(row, tile_flat);
    div.origin(t, tile_flat, origin);
    std::int64_t offset = 0;
    for (int d = 0; d < N; ++d) {
      const std::int64_t q = origin[d] + u[d];
      if (q >= p.output[d]) return;
      offset += q * y.layout.spatial[d];
    }
    const T value = frames[map * distance + ravel<N>(u, t.frame)] * scale;
    y.data[y.layout.plane(b, o) + offset] = store_as<S>(bias != nullptr ? value + bias[o] : value);
  }

  // Row over [rows][O][T_0 .. T_{N-2}].
  FFTCONV_HD void row(std::int64_t r) const {
    std::int64_t u[N], origin[N];
    const std::int64_t map = unravel_row<N>(r, t.tile, u);
    std::int64_t o = 0;
    const T* plane_frames = frames + map * distance;
    S* plane = target(map, origin, o);
    write_row(plane, plane_frames, origin, u, bias != nullptr ? bias[o] : T(0));
  }

  // Every row of y map `map` of the chunk, its target found once (the host's unit of work).
  void map(std::int64_t map_index) const {
    std::int64_t origin[N], o = 0;
    S* plane = target(map_index, origin, o);
    const T shift = bias != nullptr ? bias[o] : T(0);
    const T* plane_frames = frames + map_index * distance;
    for_each_frame_row<N>(t.tile, plane_frames,
                          [&](const std::int64_t(&u)[N], const T*) { write_row(plane, plane_frames, origin, u, shift); });
  }

 private:
  // y's plane of map `map` (row-relative), the tile's origin and the map's output channel.
  FFTCONV_HD S* target(std::int64_t map, std::int64_t (&origin)[N], std::int64_t& o) const {
    o = map % p.out_channels;
    const std::int64_t row_index = row_begin + map / p.out_channels;
    tile_origin<N>(t, row_index % t.tile_count, origin);
    return y.data + y.layout.plane(row_index / t.tile_count, o);
  }

  FFTCONV_HD void write_row(S* plane, const T* plane_frames, const std::int64_t (&origin)[N],
                            const std::int64_t (&u)[N], T shift) const {
    std::int64_t offset = 0;
    for (int d = 0; d < N - 1; ++d) {
      const std::int64_t q = origin[d] + u[d];
      if (q >= p.output[d]) return;
      offset += q * y.layout.spatial[d];
    }
    constexpr int last = N - 1;
    const std::int64_t left = p.output[last] - origin[last];
    const std::int64_t count = t.tile[last] < left ? t.tile[last] : left;
    const std::int64_t step = y.layout.spatial[last];
    const T* in = plane_frames + ravel<N>(u, t.frame);
    S* out = plane + offset + origin[last] * step;
    if (step != 1 && bias != nullptr)  // channels-last and other strided y
      for (std::int64_t i = 0; i < count; ++i) out[i * step] = store_as<S>(in[i] * scale + shift);
    else if (step != 1)
      for (std::int64_t i = 0; i < count; ++i) out[i * step] = store_as<S>(in[i] * scale);
    else if (bias != nullptr)
      for (std::int64_t i = 0; i < count; ++i) out[i] = store_as<S>(in[i] * scale + shift);
    else
      for (std::int64_t i = 0; i < count; ++i) out[i] = store_as<S>(in[i] * scale);
  }
};

// dx of images [image_begin, image_end) from the frames of the dx maps of rows [row_begin, row_end): each
// element gathers the tiles whose windows hold it (overlap-add, no atomics), tiles in row-major order:
// dx = (accumulate ? dx : 0) + frame_0 * scale + frame_1 * scale + ... accumulate is set when the rows of one
// image are split over chunks. A dx narrower than T is summed in T and rounded once.
template <int N, class T, class S = T>
struct overlap_add_input {
  problem<N> p;
  tiling<N> t;
  std::int64_t distance;
  std::int64_t image_begin;
  std::int64_t row_begin, row_end;
  T scale;
  bool accumulate;
  const T* frames;
  strided<S, N> dx;

  // Phase-domain position a, phase r and the tile range [low, high] holding it, in dim d for input position i.
  FFTCONV_HD void locate(int d, std::int64_t i, std::int64_t& a, std::int64_t& r, std::int64_t& low,
                         std::int64_t& high) const {
    const std::int64_t shifted = i + p.padding[d];
    a = shifted / p.stride[d];
    r = shifted - a * p.stride[d];
    const std::int64_t reach = a - t.window[d] + 1;  // the first tile origin whose window holds a
    low = reach <= 0 ? 0 : (reach + t.tile[d] - 1) / t.tile[d];
    high = a / t.tile[d];
    if (high > t.tiles[d] - 1) high = t.tiles[d] - 1;
  }

  FFTCONV_HD void operator()(std::int64_t index) const {
    std::int64_t i[N];
    const std::int64_t plane = unravel<N>(index, p.input, i);  // (b - image_begin) * C + c
    const std::int64_t c = plane % p.in_channels;
    const std::int64_t b = image_begin + plane / p.in_channels;
    std::int64_t a[N], low[N], high[N], phase = 0;
    bool any = true;
    for (int d = 0; d < N; ++d) {
      std::int64_t r = 0;
      locate(d, i[d], a[d], r, low[d], high[d]);
      phase = phase * t.phase_count[d] + r;
      any = any && low[d] <= high[d];
    }
    const std::int64_t at = dx.layout.plane(b, c) + dx.layout.at(i);
    T sum = accumulate ? load_as<T>(dx.data[at]) : T(0);
    if (any) {
      std::int64_t tau[N];
      for (int d = 0; d < N; ++d) tau[d] = low[d];
      for (;;) {
        const std::int64_t row = b * t.tile_count + ravel<N>(tau, t.tiles);
        if (row >= row_begin && row < row_end) {
          std::int64_t v[N];
          for (int d = 0; d < N; ++d) v[d] = a[d] - tau[d] * t.tile[d];
          sum += frames[(((row - row_begin) * p.in_channels + c) * t.phases + phase) * distance + ravel<N>(v, t.frame)] *
                 scale;
        }
        int d = N - 1;
        while (d >= 0 && ++tau[d] > high[d]) {
          tau[d] = low[d];
          --d;
        }
        if (d < 0) break;
      }
    }
    dx.data[at] = store_as<S>(sum);
  }

  // Row over [images][C][n_0 .. n_{N-2}]: each frame row is added along the row in the same tile order as
  // operator() (tiles of the leading dims row-major, then the last dim's). A narrower dx is summed in T a
  // segment of the row at a time.
  FFTCONV_HD void row(std::int64_t r) const {
    constexpr int last = N - 1;
    const std::int64_t width = p.input[last];
    std::int64_t i[N];
    const std::int64_t plane = unravel_row<N>(r, p.input, i);
    const std::int64_t c = plane % p.in_channels;
    const std::int64_t b = image_begin + plane / p.in_channels;
    S* out = dx.data + dx.layout.plane(b, c);
    for (int d = 0; d < last; ++d) out += i[d] * dx.layout.spatial[d];
    const std::int64_t step = dx.layout.spatial[last];
    if constexpr (std::is_same_v<S, T>) {
      if (!accumulate)
        for (std::int64_t k = 0; k < width; ++k) out[k * step] = T(0);
      add_row(b, c, i, 0, width, out, step);
    } else {
      constexpr std::int64_t segment = 512;
      T sum[segment];
      for (std::int64_t lo = 0; lo < width; lo += segment) {
        const std::int64_t count = width - lo < segment ? width - lo : segment;
        for (std::int64_t k = 0; k < count; ++k) sum[k] = accumulate ? load_as<T>(out[(lo + k) * step]) : T(0);
        add_row(b, c, i, lo, lo + count, sum, 1);
        for (std::int64_t k = 0; k < count; ++k) out[(lo + k) * step] = store_as<S>(sum[k]);
      }
    }
  }

 private:
  static FFTCONV_HD std::int64_t ceil_div(std::int64_t a, std::int64_t s) { return a >= 0 ? (a + s - 1) / s : -(-a / s); }

  // Adds the frames' contributions to input positions [lo, hi) of the row (b, c, i[0 .. N-2]) into
  // target[(k - lo) * target_step].
  FFTCONV_HD void add_row(std::int64_t b, std::int64_t c, const std::int64_t (&i)[N], std::int64_t lo, std::int64_t hi,
                          T* target, std::int64_t target_step) const {
    constexpr int last = N - 1;
    const std::int64_t width = p.input[last];
    std::int64_t a[N], low[N], high[N], lead_phase = 0;
    for (int d = 0; d < last; ++d) {
      std::int64_t phase_d = 0;
      locate(d, i[d], a[d], phase_d, low[d], high[d]);
      if (low[d] > high[d]) return;
      lead_phase = lead_phase * t.phase_count[d] + phase_d;
    }
    std::int64_t tau[N];
    for (int d = 0; d < last; ++d) tau[d] = low[d];
    const std::int64_t s = p.stride[last];
    // The last dim's tiles whose windows reach [lo, hi): tile tau covers positions from tau*T*s - p (phase 0)
    // to tau*T*s - p + W*s - 1 (the last phase's last tap).
    const std::int64_t span = t.tile[last] * s;
    const std::int64_t reach = ceil_div(lo + p.padding[last] - t.window[last] * s + 1, span);
    const std::int64_t first_tile = reach > 0 ? reach : 0;
    const std::int64_t top = hi - 1 + p.padding[last];
    const std::int64_t past_tile = top < 0 ? 0 : (top / span + 1 < t.tiles[last] ? top / span + 1 : t.tiles[last]);
    for (;;) {
      std::int64_t v[N];
      for (int d = 0; d < last; ++d) v[d] = a[d] - tau[d] * t.tile[d];
      v[last] = 0;
      for (std::int64_t tau_last = first_tile; tau_last < past_tile; ++tau_last) {
        tau[last] = tau_last;
        const std::int64_t row = b * t.tile_count + ravel<N>(tau, t.tiles);
        if (row < row_begin || row >= row_end) continue;
        for (std::int64_t phase_last = 0; phase_last < s; ++phase_last) {
          const std::int64_t phase = lead_phase * s + phase_last;
          const T* in =
              frames + (((row - row_begin) * p.in_channels + c) * t.phases + phase) * distance + ravel<N>(v, t.frame);
          // frame position v_last holds input position (tau*T + v_last)*s + phase_last - p
          const std::int64_t origin = tau_last * t.tile[last] * s + phase_last - p.padding[last];
          std::int64_t begin = origin >= 0 ? 0 : (-origin + s - 1) / s;
          std::int64_t end = width - 1 - origin >= 0 ? (width - 1 - origin) / s + 1 : 0;
          end = end < t.window[last] ? end : t.window[last];
          const std::int64_t first_held = ceil_div(lo - origin, s), past_held = ceil_div(hi - origin, s);
          begin = begin > first_held ? begin : first_held;
          end = end < past_held ? end : past_held;
          T* at = target + (origin - lo) * target_step;
          const std::int64_t jump = s * target_step;
          for (std::int64_t v_last = begin; v_last < end; ++v_last) at[v_last * jump] += in[v_last] * scale;
        }
      }
      int d = last - 1;
      while (d >= 0 && ++tau[d] > high[d]) {
        tau[d] = low[d];
        --d;
      }
      if (d < 0) break;
    }
  }
};

// dw [O][C/g][k...] from the frames of the kernel's phase maps: tap j sits in phase j*d mod s at (j*d) / s.
template <int N, class T, class S = T>
struct gather_kernel_gradient {
  problem<N> p;
  tiling<N> t;
  std::int64_t distance;
  T scale;
  const T* frames;
  strided<S, N> dw;

  FFTCONV_HD void operator()(std::int64_t index) const {
    std::int64_t j[N], u[N];
    const std::int64_t filter = unravel<N>(index, p.kernel, j);
    std::int64_t phase = 0;
    for (int d = 0; d < N; ++d) {
      const std::int64_t position = j[d] * p.dilation[d];
      u[d] = position / p.stride[d];
      phase = phase * t.phase_count[d] + (position - u[d] * p.stride[d]);
    }
    const std::int64_t channels = p.in_channels_per_group();
    dw.data[dw.layout.plane(filter / channels, filter % channels) + dw.layout.at(j)] =
        store_as<S>(frames[(filter * t.phases + phase) * distance + ravel<N>(u, t.frame)] * scale);
  }

  FFTCONV_HD void row(std::int64_t r) const {
    const std::int64_t width = p.kernel[N - 1];
    for (std::int64_t k = 0; k < width; ++k) (*this)(r * width + k);
  }
};

// A whole tensor [leading][channels][extents...] set to bias[c], or to 0 without a bias: y where no output window
// reaches the input (see frequency_plan::reaches_input), and dx, dw there.
template <int N, class T, class S = T>
struct fill_channels {
  std::int64_t channels;
  std::int64_t extents[N];
  std::int64_t volume;  // of extents
  const T* bias;        // may be null
  strided<S, N> destination;

  fill_channels(std::int64_t channel_count, const std::int64_t (&spatial)[N], const T* values, strided<S, N> target)
      : channels(channel_count), volume(1), bias(values), destination(target) {
    for (int d = 0; d < N; ++d) extents[d] = spatial[d], volume *= spatial[d];
  }

  FFTCONV_HD void operator()(std::int64_t index) const {
    const std::int64_t plane = index / volume, c = plane % channels;
    destination.data[destination.layout.plane(plane / channels, c) +
                     destination.layout.at_flat(index - plane * volume, extents)] = store_as<S>(bias != nullptr ? bias[c] : T(0));
  }
};

}  // namespace fftconv::detail
