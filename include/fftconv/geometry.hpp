#pragma once
// Convolution geometry: what a layer is (channels, kernel, padding, stride, dilation, groups), the output-size
// rule, validation with messages that name the field and its value, and `detail::problem<N>`, the trivially
// copyable shape every element functor captures by value on the host and on the GPU.

#include <array>
#include <cstdint>
#include <limits>

#include "config.hpp"
#include "error.hpp"

namespace fftconv {

namespace detail {
template <int N>
constexpr std::array<std::int64_t, N> filled(std::int64_t value) {
  std::array<std::int64_t, N> result{};
  result.fill(value);
  return result;
}
}  // namespace detail

// PyTorch's conv{1,2,3}d parameters. Weights are [out_channels, in_channels / groups, kernel...].
template <int N>
struct geometry {
  static_assert(N >= 1 && N <= 3, "fftconv: spatial rank N must be 1, 2 or 3");
  std::int64_t in_channels = 0;
  std::int64_t out_channels = 0;
  std::array<std::int64_t, N> kernel{};
  std::array<std::int64_t, N> padding{};  // zeros on both sides of each spatial dim
  std::array<std::int64_t, N> stride = detail::filled<N>(1);
  std::array<std::int64_t, N> dilation = detail::filled<N>(1);
  std::int64_t groups = 1;

  friend bool operator==(const geometry&, const geometry&) = default;
};

// floor((n + 2p - d(k-1) - 1) / s) + 1; may be < 1, which validation rejects.
constexpr std::int64_t output_extent(std::int64_t n, std::int64_t k, std::int64_t padding, std::int64_t stride,
                                     std::int64_t dilation) {
  const std::int64_t span = n + 2 * padding - dilation * (k - 1) - 1;
  // floor division (span may be negative)
  const std::int64_t quotient = span >= 0 ? span / stride : -((-span + stride - 1) / stride);
  return quotient + 1;
}

// Symmetric 'same' padding for stride 1: the output has the input's extent. Needs an odd dilated kernel
// d(k-1)+1, since the padding is symmetric.
template <std::size_t N>
std::array<std::int64_t, N> same_padding(const std::array<std::int64_t, N>& kernel,
                                         const std::array<std::int64_t, N>& dilation = detail::filled<N>(1)) {
  std::array<std::int64_t, N> padding{};
  for (std::size_t d = 0; d < N; ++d) {
    const std::int64_t span = dilation[d] * (kernel[d] - 1);
    if (kernel[d] < 1 || dilation[d] < 1) detail::fail("same_padding: kernel[", d, "] = ", kernel[d], " and dilation[", d, "] = ", dilation[d], " must be >= 1");
    if (span % 2 != 0)
      detail::fail("same_padding: dilation[", d, "] * (kernel[", d, "] - 1) = ", span,
                   " is odd; symmetric 'same' padding needs it even");
    padding[d] = span / 2;
  }
  return padding;
}

template <int N>
void validate(const geometry<N>& g) {
  if (g.in_channels < 1) detail::fail("geometry.in_channels = ", g.in_channels, " must be >= 1");
  if (g.out_channels < 1) detail::fail("geometry.out_channels = ", g.out_channels, " must be >= 1");
  if (g.groups < 1) detail::fail("geometry.groups = ", g.groups, " must be >= 1");
  if (g.in_channels % g.groups != 0)
    detail::fail("geometry.groups = ", g.groups, " does not divide in_channels = ", g.in_channels);
  if (g.out_channels % g.groups != 0)
    detail::fail("geometry.groups = ", g.groups, " does not divide out_channels = ", g.out_channels);
  for (int d = 0; d < N; ++d) {
    if (g.kernel[d] < 1) detail::fail("geometry.kernel[", d, "] = ", g.kernel[d], " must be >= 1");
    if (g.padding[d] < 0) detail::fail("geometry.padding[", d, "] = ", g.padding[d], " must be >= 0");
    if (g.stride[d] < 1) detail::fail("geometry.stride[", d, "] = ", g.stride[d], " must be >= 1");
    if (g.dilation[d] < 1) detail::fail("geometry.dilation[", d, "] = ", g.dilation[d], " must be >= 1");
    // Keep every later product of these fields far from int64 overflow.
    constexpr std::int64_t limit = std::int64_t{1} << 31;
    if (g.kernel[d] > limit || g.padding[d] > limit || g.stride[d] > limit || g.dilation[d] > limit)
      detail::fail("geometry: kernel/padding/stride/dilation[", d, "] must each be <= 2^31");
  }
  constexpr std::int64_t channel_limit = std::int64_t{1} << 31;
  if (g.in_channels > channel_limit || g.out_channels > channel_limit)
    detail::fail("geometry: in_channels = ", g.in_channels, " and out_channels = ", g.out_channels,
                 " must be <= 2^31");
}

namespace detail {

// a * b, or fail naming `what` when the product leaves int64.
inline std::int64_t checked_multiply(std::int64_t a, std::int64_t b, const char* what) {
  std::int64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product))
    fail(what, ": element count overflows std::int64_t (", a, " * ", b, ")");
  return product;
}

template <class Range>
std::int64_t checked_product(const Range& extents, const char* what) {
  std::int64_t product = 1;
  for (auto e : extents) product = checked_multiply(product, static_cast<std::int64_t>(e), what);
  return product;
}

// The shape of one call, flattened for element functors: plain arrays, no pointers, trivially copyable.
template <int N>
struct problem {
  std::int64_t batch;
  std::int64_t in_channels;
  std::int64_t out_channels;
  std::int64_t groups;
  std::int64_t input[N];   // spatial extents of x / dx
  std::int64_t output[N];  // spatial extents of y / dy
  std::int64_t kernel[N];
  std::int64_t padding[N];
  std::int64_t stride[N];
  std::int64_t dilation[N];

  FFTCONV_HD std::int64_t in_channels_per_group() const { return in_channels / groups; }
  FFTCONV_HD std::int64_t out_channels_per_group() const { return out_channels / groups; }
  FFTCONV_HD std::int64_t input_spatial() const { return volume(input); }
  FFTCONV_HD std::int64_t output_spatial() const { return volume(output); }
  FFTCONV_HD std::int64_t kernel_spatial() const { return volume(kernel); }
  FFTCONV_HD std::int64_t input_size() const { return batch * in_channels * input_spatial(); }
  FFTCONV_HD std::int64_t output_size() const { return batch * out_channels * output_spatial(); }
  FFTCONV_HD std::int64_t weight_size() const { return out_channels * in_channels_per_group() * kernel_spatial(); }

  FFTCONV_HD static std::int64_t volume(const std::int64_t (&extents)[N]) {
    std::int64_t v = 1;
    for (int d = 0; d < N; ++d) v *= extents[d];
    return v;
  }
};

template <int N>
problem<N> make_problem(const geometry<N>& g, std::int64_t batch, const std::array<std::int64_t, N>& input) {
  problem<N> p{};
  p.batch = batch;
  p.in_channels = g.in_channels;
  p.out_channels = g.out_channels;
  p.groups = g.groups;
  for (int d = 0; d < N; ++d) {
    p.input[d] = input[d];
    p.kernel[d] = g.kernel[d];
    p.padding[d] = g.padding[d];
    p.stride[d] = g.stride[d];
    p.dilation[d] = g.dilation[d];
    p.output[d] = output_extent(input[d], g.kernel[d], g.padding[d], g.stride[d], g.dilation[d]);
  }
  return p;
}

// Row-major multi-index <-> offset over N extents.
template <int N>
FFTCONV_HD inline std::int64_t unravel(std::int64_t offset, const std::int64_t (&extents)[N], std::int64_t (&index)[N]) {
  for (int d = N - 1; d >= 0; --d) {
    index[d] = offset % extents[d];
    offset /= extents[d];
  }
  return offset;  // what is left: the index over the leading (non-spatial) dims
}

template <int N>
FFTCONV_HD inline std::int64_t ravel(const std::int64_t (&index)[N], const std::int64_t (&extents)[N]) {
  std::int64_t offset = 0;
  for (int d = 0; d < N; ++d) offset = offset * extents[d] + index[d];
  return offset;
}

// Advances a row-major multi-index by one; returns false after the last one (and resets it to zeros).
template <int N>
FFTCONV_HD inline bool next_index(std::int64_t (&index)[N], const std::int64_t (&extents)[N]) {
  for (int d = N - 1; d >= 0; --d) {
    if (++index[d] < extents[d]) return true;
    index[d] = 0;
  }
  return false;
}

}  // namespace detail
}  // namespace fftconv
