#pragma once
// Element math of the im2col policy, shared by the host loops and the GPU kernels:
//   im2col_gather   columns[b, c, tap, q] = x[b, c, q*s - p + tap*d]   (p: low padding; 0 in the padding)
//   col2im_gather   dx[b, c, i] = sum over taps of columns[b, c, tap, q(i, tap)]   (a gather: no atomics)
//   add_bias        y[b, o, q] += bias[o]
//   sum_partials    dw = (dw or 0) + sum over images of per-image partial dW, in image order (deterministic)
//
// Each gather comes in two shapes: fine-grained for the GPU (one output position, or one dx element, per
// thread, so that adjacent threads touch adjacent memory and stores coalesce) and one row of the last spatial
// dim per index for the host (the divisions are paid once per row and the inner loop is a strided copy the
// compiler vectorises). Both produce the same bits (copies, and sums in the same tap order); the host tests
// compare them, since CI has no GPU.
//
// Column layout, per image: [in_channels * taps, output_spatial] row-major, so a group's rows
// [g * C_in/g * taps, (g + 1) * C_in/g * taps) form the [C_in/g * taps, output_spatial] operand of its GEMM,
// and the GEMM's result lands directly in y's [out_channels, output_spatial] image (no permute).
//
// x and dx are read and written through their layouts (the caller's strides), the columns are dense.
//
// Indices inside one chunk are kept below 2^31 by the policy, so the index arithmetic runs on 32-bit
// multiply-high division (fast_divmod) instead of 64-bit division, which the GPU emulates in ~70 instructions:
// the gather would otherwise be bound by integer division rather than memory.

#include <cstdint>

#include "../../config.hpp"
#include "../../geometry.hpp"
#include "tensor_layout.hpp"

namespace fftconv::detail {

// n / divisor and n % divisor for 0 <= n < 2^31 and 1 <= divisor < 2^31, by a multiply-high and a shift.
// With l = ceil(log2(divisor)) and multiplier = ceil(2^(31+l) / divisor) (< 2^32), the error of
// n * multiplier / 2^(31+l) against n / divisor stays below 1 / divisor for n < 2^31, so the floor is exact.
struct fast_divmod {
  std::uint32_t divisor = 1;
  std::uint32_t multiplier = 0;  // 0 for divisor 1: the quotient is n
  std::uint32_t shift = 0;

  fast_divmod() = default;
  explicit fast_divmod(std::int64_t d) : divisor(static_cast<std::uint32_t>(d)) {
    if (divisor == 1) return;
    std::uint32_t l = 0;
    while ((std::uint64_t{1} << l) < divisor) ++l;
    const std::uint64_t p = 31 + l;
    multiplier = static_cast<std::uint32_t>(((std::uint64_t{1} << p) + divisor - 1) / divisor);
    shift = static_cast<std::uint32_t>(p - 32);
  }

  FFTCONV_HD std::uint32_t quotient(std::uint32_t n) const {
    if (multiplier == 0) return n;
#if defined(__CUDA_ARCH__)
    return __umulhi(n, multiplier) >> shift;
#else
    return static_cast<std::uint32_t>((std::uint64_t{n} * multiplier) >> 32) >> shift;
#endif
  }

  // Returns n / divisor; *remainder = n % divisor.
  FFTCONV_HD std::uint32_t divide(std::uint32_t n, std::uint32_t& remainder) const {
    const std::uint32_t q = quotient(n);
    remainder = n - q * divisor;
    return q;
  }
};

// Row-major unravel of an offset below the extents' volume (so the leading index needs no division).
template <int N>
FFTCONV_HD inline void unravel_fast(std::uint32_t offset, const fast_divmod (&extents)[N], std::int64_t (&index)[N]) {
  for (int d = N - 1; d >= 1; --d) {
    std::uint32_t r = 0;
    offset = extents[d].divide(offset, r);
    index[d] = r;
  }
  index[0] = offset;
}

// Divisors of one problem's extents, computed once on the host and captured by value by the functors.
template <int N>
struct extent_divisors {
  fast_divmod input[N];
  fast_divmod output[N];
  fast_divmod kernel[N];
  fast_divmod stride[N];
  fast_divmod input_spatial;
  fast_divmod output_spatial;
  fast_divmod taps;
  fast_divmod in_channels;

  explicit extent_divisors(const problem<N>& p)
      : input_spatial(p.input_spatial()), output_spatial(p.output_spatial()), taps(p.kernel_spatial()),
        in_channels(p.in_channels) {
    for (int d = 0; d < N; ++d) {
      input[d] = fast_divmod(p.input[d]);
      output[d] = fast_divmod(p.output[d]);
      kernel[d] = fast_divmod(p.kernel[d]);
      stride[d] = fast_divmod(p.stride[d]);
    }
  }
};

// The GPU's gather: one index per (image, channel, output position) of one chunk, writing that position's
// entry in each of the channel's `taps` column rows. For a fixed tap, adjacent threads read adjacent x and
// write adjacent columns (coalesced), and the index decomposition is paid once per K entries; taps advance
// by increments, without division. x points at the chunk's first image.
// Every per-dim position lies in [-padding low, input + padding high) and every column offset within a chunk
// below 2^31 (checked by the policy), so the index arithmetic runs in 32 bits; x is addressed in 64.
template <int N, class T>
struct im2col_gather {
  problem<N> p;
  extent_divisors<N> div;
  strided<const T, N> x;
  T* columns;

  FFTCONV_HD void operator()(std::int64_t index) const {
    std::uint32_t q_flat = 0;
    const std::uint32_t plane = div.output_spatial.divide(static_cast<std::uint32_t>(index), q_flat);
    std::int64_t q[N];
    unravel_fast<N>(q_flat, div.output, q);
    std::int32_t first[N], step[N], extent[N], k[N];
    for (int d = 0; d < N; ++d) {
      first[d] = static_cast<std::int32_t>(q[d] * p.stride[d] - p.padding[d]);
      step[d] = static_cast<std::int32_t>(p.dilation[d]);
      extent[d] = static_cast<std::int32_t>(p.input[d]);
      k[d] = 0;
    }
    std::uint32_t channel = 0;
    const std::uint32_t image = div.in_channels.divide(plane, channel);
    const T* x_plane = x.data + x.layout.plane(image, channel);
    const std::int64_t out_spatial = p.output_spatial();
    T* out = columns + std::int64_t(plane) * p.kernel_spatial() * out_spatial + q_flat;
    const std::int64_t taps = p.kernel_spatial();
    for (std::int64_t tap = 0; tap < taps; ++tap) {
      bool inside = true;
      std::int64_t offset = 0;  // meaningful only when inside
      for (int d = 0; d < N; ++d) {
        const std::int32_t i = first[d] + k[d] * step[d];
        inside = inside && i >= 0 && i < extent[d];
        offset += std::int64_t(i) * x.layout.spatial[d];
      }
      out[tap * out_spatial] = inside ? x_plane[offset] : T(0);
      for (int d = N - 1; d >= 0; --d) {  // next tap, row-major
        if (++k[d] < p.kernel[d]) break;
        k[d] = 0;
      }
    }
  }
};

// One dx element per index, over [images, in_channels, input_spatial] of one chunk: the adjoint of
// im2col_gather, summing the column entries that were gathered from this input position, in tap order.
// Requires input[d] + padding[d] < 2^31 (checked by the policy) so t below fits the 32-bit division. Only
// the low side enters the index math; the high side shows only in the output extents.
template <int N, class T>
struct col2im_gather {
  problem<N> p;
  extent_divisors<N> div;
  const T* columns;
  strided<T, N> dx;

  FFTCONV_HD void operator()(std::int64_t index) const {
    std::uint32_t i_flat = 0;
    const std::uint32_t plane = div.input_spatial.divide(static_cast<std::uint32_t>(index), i_flat);
    std::int64_t i[N];
    unravel_fast<N>(i_flat, div.input, i);
    const std::int64_t out_spatial = p.output_spatial();
    const T* column_plane = columns + std::int64_t(plane) * p.kernel_spatial() * out_spatial;
    T sum(0);
    std::int64_t k[N] = {};
    const std::int64_t taps = p.kernel_spatial();
    for (std::int64_t tap = 0; tap < taps; ++tap, next_index<N>(k, p.kernel)) {
      std::int64_t q_offset = 0;
      bool reached = true;
      for (int d = 0; d < N && reached; ++d) {
        const std::int64_t t = i[d] + p.padding[d] - k[d] * p.dilation[d];
        if (t < 0) {
          reached = false;
          break;
        }
        std::uint32_t r = 0;
        const std::int64_t q = div.stride[d].divide(static_cast<std::uint32_t>(t), r);
        reached = r == 0 && q < p.output[d];
        q_offset = q_offset * p.output[d] + q;
      }
      if (reached) sum += column_plane[tap * out_spatial + q_offset];
    }
    std::uint32_t channel = 0;
    const std::uint32_t image = div.in_channels.divide(plane, channel);
    dx.data[dx.layout.plane(image, channel) + dx.layout.at(i)] = sum;
  }
};

// Valid range [first, last) of q in [0, width) for which q * stride + offset lies in [0, extent).
struct valid_range {
  std::int64_t first, last;
};
FFTCONV_HD inline valid_range valid_outputs(std::int64_t offset, std::int64_t stride, std::int64_t extent,
                                             std::int64_t width) {
  std::int64_t first = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  std::int64_t last = extent - 1 - offset >= 0 ? (extent - 1 - offset) / stride + 1 : 0;
  first = first < width ? first : width;
  last = last < first ? first : (last < width ? last : width);
  return {first, last};
}

// im2col_gather by rows: one index per row of output[N-1] column entries, over
// [images, in_channels, taps, output[0..N-2]]. With block_rows > 0, only the output rows
// [first_row, first_row + block_rows) of dims 0..N-2 (flattened) are gathered, into columns of block_rows *
// output[N-1] entries per (channel, tap): the host's forward works through an image in such blocks, whose
// columns stay in cache for the GEMM that reads them.
template <int N, class T>
struct im2col_gather_rows {
  problem<N> p;
  strided<const T, N> x;
  T* columns;
  std::int64_t first_row = 0;
  std::int64_t block_rows = 0;  // 0: all output rows

  FFTCONV_HD void operator()(std::int64_t row) const {
    constexpr int last = N - 1;
    const std::int64_t width = p.output[last];
    T* out = columns + row * width;
    const std::int64_t rows = block_rows > 0 ? block_rows : p.output_spatial() / width;
    std::int64_t rest = row / rows;
    std::int64_t q_outer = first_row + (row - rest * rows);
    const std::int64_t taps = p.kernel_spatial();
    const std::int64_t plane = rest / taps;
    std::int64_t k[N], q[N];
    unravel<N>(rest - plane * taps, p.kernel, k);
    std::int64_t base = 0;  // offset of the input row over dims 0..N-2
    for (int d = last - 1; d >= 0; --d) {
      q[d] = q_outer % p.output[d];
      q_outer /= p.output[d];
    }
    for (int d = 0; d < last; ++d) {
      const std::int64_t i = q[d] * p.stride[d] - p.padding[d] + k[d] * p.dilation[d];
      if (i < 0 || i >= p.input[d]) {
        for (std::int64_t c = 0; c < width; ++c) out[c] = T(0);
        return;
      }
      base += i * x.layout.spatial[d];
    }
    const std::int64_t offset = k[last] * p.dilation[last] - p.padding[last];
    const std::int64_t stride = p.stride[last];
    const std::int64_t step = x.layout.spatial[last];
    const T* x_row = x.data + x.layout.plane(plane / p.in_channels, plane % p.in_channels) + base + offset * step;
    const std::int64_t jump = stride * step;
    const valid_range r = valid_outputs(offset, stride, p.input[last], width);
    for (std::int64_t c = 0; c < r.first; ++c) out[c] = T(0);
    for (std::int64_t c = r.first; c < r.last; ++c) out[c] = x_row[c * jump];
    for (std::int64_t c = r.last; c < width; ++c) out[c] = T(0);
  }
};

// col2im_gather by rows: one index per row of input[N-1] dx entries, over [images, in_channels, input[0..N-2]].
// Each element receives its terms in tap order from zero, exactly as in col2im_gather.
template <int N, class T>
struct col2im_gather_rows {
  problem<N> p;
  const T* columns;
  strided<T, N> dx;

  FFTCONV_HD void operator()(std::int64_t row) const {
    constexpr int last = N - 1;
    const std::int64_t width = p.input[last];
    const std::int64_t outer = p.input_spatial() / width;
    const std::int64_t plane = row / outer;
    std::int64_t i_outer = row - plane * outer;
    std::int64_t i[N];
    T* out = dx.data + dx.layout.plane(plane / p.in_channels, plane % p.in_channels);
    for (int d = last - 1; d >= 0; --d) {
      i[d] = i_outer % p.input[d];
      i_outer /= p.input[d];
      out += i[d] * dx.layout.spatial[d];
    }
    const std::int64_t step = dx.layout.spatial[last];
    for (std::int64_t c = 0; c < width; ++c) out[c * step] = T(0);
    const std::int64_t out_spatial = p.output_spatial();
    const std::int64_t taps = p.kernel_spatial();
    const T* column_plane = columns + plane * taps * out_spatial;
    std::int64_t k[N] = {};
    for (std::int64_t tap = 0; tap < taps; ++tap, next_index<N>(k, p.kernel)) {
      std::int64_t q_outer = 0;
      bool reached = true;
      for (int d = 0; d < last && reached; ++d) {
        const std::int64_t t = i[d] + p.padding[d] - k[d] * p.dilation[d];
        reached = t >= 0 && t % p.stride[d] == 0 && t / p.stride[d] < p.output[d];
        q_outer = q_outer * p.output[d] + (reached ? t / p.stride[d] : 0);
      }
      if (!reached) continue;
      // Along the last dim, column entry q of this tap came from input position q * stride + offset.
      const std::int64_t offset = k[last] * p.dilation[last] - p.padding[last];
      const std::int64_t stride = p.stride[last];
      const T* column_row = column_plane + tap * out_spatial + q_outer * p.output[last];
      const valid_range r = valid_outputs(offset, stride, width, p.output[last]);
      T* target = out + offset * step;
      const std::int64_t jump = stride * step;
      for (std::int64_t q = r.first; q < r.last; ++q) target[q * jump] += column_row[q];
    }
  }
};

// y[index] += bias[channel of index], over [images, out_channels, output_spatial] of one chunk.
template <class T>
struct add_bias {
  fast_divmod output_spatial;
  fast_divmod out_channels;
  const T* bias;
  T* y;

  FFTCONV_HD void operator()(std::int64_t index) const {
    std::uint32_t channel = 0;
    out_channels.divide(output_spatial.quotient(static_cast<std::uint32_t>(index)), channel);
    y[index] += bias[channel];
  }
};

// dw[i] = (accumulate ? dw[i] : 0) + sum_{b < images} partials[b * weight_size + i], summed in image order.
template <class T>
struct sum_partials {
  const T* partials;
  T* dw;
  std::int64_t weight_size;
  std::int64_t images;
  bool accumulate;

  FFTCONV_HD void operator()(std::int64_t i) const {
    T sum = accumulate ? dw[i] : T(0);
    for (std::int64_t b = 0; b < images; ++b) sum += partials[b * weight_size + i];
    dw[i] = sum;
  }
};

}  // namespace fftconv::detail
