#pragma once
// Direct (windowed) convolution, one functor per pass, shared by the host loops and the GPU kernels.
// Cross-correlation as torch.nn.functional.conv{1,2,3}d:
//   y[b, o, q] = bias[o] + sum_{c in group(o), k} x[b, c, q*s - p + k*d] * w[o, c - first(group), k]
// with p the low padding. Out-of-range input positions read as zeros (implicit padding); the high padding
// shows only in the output extents, which bound q.

#include <cstdint>

#include "../../config.hpp"
#include "../../element.hpp"
#include "../../geometry.hpp"
#include "tensor_layout.hpp"

namespace fftconv::detail {

// Input coordinate of output position q and kernel tap k, per dim; false when it falls in the padding.
template <int N>
FFTCONV_HD inline bool input_position(const problem<N>& p, const std::int64_t (&q)[N], const std::int64_t (&k)[N],
                                      std::int64_t (&i)[N]) {
  for (int d = 0; d < N; ++d) {
    i[d] = q[d] * p.stride[d] - p.padding[d] + k[d] * p.dilation[d];
    if (i[d] < 0 || i[d] >= p.input[d]) return false;
  }
  return true;
}

// Output position q that input position i reaches through kernel tap k, if any: the adjoint of
// input_position, used by backward_data to gather (no scatter, no atomics).
template <int N>
FFTCONV_HD inline bool output_position(const problem<N>& p, const std::int64_t (&i)[N], const std::int64_t (&k)[N],
                                       std::int64_t (&q)[N]) {
  for (int d = 0; d < N; ++d) {
    const std::int64_t t = i[d] + p.padding[d] - k[d] * p.dilation[d];
    if (t < 0 || t % p.stride[d] != 0) return false;
    q[d] = t / p.stride[d];
    if (q[d] >= p.output[d]) return false;
  }
  return true;
}

// One output element of y per index, row-major over [batch, out_channels, output...]; every tensor is read and
// written through its layout.
template <int N, class T>
struct direct_forward {
  problem<N> p;
  strided<const T, N> x;
  strided<const T, N> w;
  const T* bias;  // may be null
  strided<T, N> y;

  FFTCONV_HD void operator()(std::int64_t index) const {
    std::int64_t q[N];
    const std::int64_t batch_channel = unravel<N>(index, p.output, q);
    const std::int64_t o = batch_channel % p.out_channels;
    const std::int64_t b = batch_channel / p.out_channels;
    const std::int64_t channels = p.in_channels_per_group();
    const std::int64_t first_channel = (o / p.out_channels_per_group()) * channels;
    const std::int64_t taps = p.kernel_spatial();
    T sum = bias != nullptr ? bias[o] : T(0);
    for (std::int64_t c = 0; c < channels; ++c) {
      const T* x_plane = x.data + x.layout.plane(b, first_channel + c);
      const T* w_taps = w.data + w.layout.plane(o, c);
      std::int64_t k[N] = {};
      std::int64_t i[N];
      for (std::int64_t tap = 0; tap < taps; ++tap, next_index<N>(k, p.kernel))
        if (input_position<N>(p, q, k, i)) sum += x_plane[x.layout.at(i)] * w_taps[w.layout.at(k)];
    }
    y.data[y.layout.plane(b, o) + y.layout.at(q)] = sum;
  }
};

// One element of dx per index, row-major over [batch, in_channels, input...]:
//   dx[b, c, i] = sum_{o in group(c), k : i = q*s - p + k*d} dy[b, o, q] * w[o, c - first(group), k]
template <int N, class T>
struct direct_backward_data {
  problem<N> p;
  strided<const T, N> dy;
  strided<const T, N> w;
  strided<T, N> dx;

  FFTCONV_HD void operator()(std::int64_t index) const {
    std::int64_t i[N];
    const std::int64_t batch_channel = unravel<N>(index, p.input, i);
    const std::int64_t c = batch_channel % p.in_channels;
    const std::int64_t b = batch_channel / p.in_channels;
    const std::int64_t channels = p.in_channels_per_group();
    const std::int64_t outputs = p.out_channels_per_group();
    const std::int64_t group = c / channels;
    const std::int64_t c_in_group = c - group * channels;
    const std::int64_t taps = p.kernel_spatial();
    T sum(0);
    for (std::int64_t o = group * outputs; o < (group + 1) * outputs; ++o) {
      const T* dy_plane = dy.data + dy.layout.plane(b, o);
      const T* w_taps = w.data + w.layout.plane(o, c_in_group);
      std::int64_t k[N] = {};
      std::int64_t q[N];
      for (std::int64_t tap = 0; tap < taps; ++tap, next_index<N>(k, p.kernel))
        if (output_position<N>(p, i, k, q)) sum += dy_plane[dy.layout.at(q)] * w_taps[w.layout.at(k)];
    }
    dx.data[dx.layout.plane(b, c) + dx.layout.at(i)] = sum;
  }
};

// Term i of dw element `segment` (row-major over [out_channels, in_channels/groups, kernel...]); i runs over
// [batch, output...]:  dw[o, c, k] = sum_{b, q} x[b, first(group(o)) + c, q*s - p + k*d] * dy[b, o, q]
template <int N, class T>
struct direct_filter_term {
  problem<N> p;
  strided<const T, N> x;
  strided<const T, N> dy;

  FFTCONV_HD T operator()(std::int64_t segment, std::int64_t term) const {
    std::int64_t k[N];
    const std::int64_t filter = unravel<N>(segment, p.kernel, k);
    const std::int64_t channels = p.in_channels_per_group();
    const std::int64_t c = filter % channels;
    const std::int64_t o = filter / channels;
    const std::int64_t input_channel = (o / p.out_channels_per_group()) * channels + c;
    std::int64_t q[N];
    const std::int64_t b = unravel<N>(term, p.output, q);
    std::int64_t i[N];
    if (!input_position<N>(p, q, k, i)) return T(0);
    return x.data[x.layout.plane(b, input_channel) + x.layout.at(i)] * dy.data[dy.layout.plane(b, o) + dy.layout.at(q)];
  }
};

// Term i of db[o]; i runs over [batch, output...]:  db[o] = sum_{b, q} dy[b, o, q]
template <int N, class T, class S = T>
struct bias_gradient_term {
  std::int64_t output[N];
  std::int64_t output_spatial;
  strided<const S, N> dy;

  bias_gradient_term(const problem<N>& p, strided<const S, N> gradient)
      : output_spatial(p.output_spatial()), dy(gradient) {
    for (int d = 0; d < N; ++d) output[d] = p.output[d];
  }

  FFTCONV_HD T operator()(std::int64_t o, std::int64_t term) const {
    const std::int64_t b = term / output_spatial;
    return load_as<T>(dy.data[dy.layout.plane(b, o) + dy.layout.at_flat(term - b * output_spatial, output)]);
  }
};

}  // namespace fftconv::detail
