#pragma once
// Convolution geometry: what a layer is (channels, kernel, padding, stride, dilation, groups), the output-size
// rule, validation with messages that name the field and its value, and `detail::problem<N>`, the trivially
// copyable shape every element functor captures by value on the host and on the GPU.

#include <array>
#include <compare>
#include <concepts>
#include <cstdint>
#include <limits>
#include <optional>

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

// Zeros added before (low) and after (high) each spatial dim, as jax.lax.conv_general_dilated's padding pairs.
// The array itself is the low side, so code that reads or writes `padding[d]` keeps working; an unset high side
// equals the low side (symmetric, PyTorch's `padding`).
template <int N>
struct padding_sides : std::array<std::int64_t, N> {
  using sides = std::array<std::int64_t, N>;
  std::optional<sides> high_side;  // unset: symmetric

  constexpr padding_sides() : sides{} {}
  constexpr padding_sides(const sides& both) : sides(both) {}  // NOLINT: implicit, symmetric
  template <std::integral... E>
    requires(sizeof...(E) == N)
  constexpr padding_sides(E... both) : sides{static_cast<std::int64_t>(both)...} {}  // NOLINT: `.padding = {1, 2}`
  constexpr padding_sides(const sides& low, const sides& high) : sides(low), high_side(high) {}

  constexpr const sides& low() const { return *this; }
  constexpr sides high() const { return high_side.value_or(low()); }
  constexpr bool symmetric() const { return high() == low(); }

  // Both sides are compared. Both parameters are deduced and constrained, so that `padding_sides == std::array`
  // (either order) still means std::array's ==, which compares the low side: a parameter of type padding_sides
  // would accept the array through the implicit constructor, in C++20's reversed candidate too, and make that
  // comparison ambiguous.
  template <std::same_as<padding_sides> Sides>
  friend constexpr bool operator==(const Sides& a, const Sides& b) {
    return a.low() == b.low() && a.high() == b.high();
  }
};

// PyTorch's conv{1,2,3}d parameters. Weights are [out_channels, in_channels / groups, kernel...].
template <int N>
struct geometry {
  static_assert(N >= 1 && N <= 3, "fftconv: spatial rank N must be 1, 2 or 3");
  std::int64_t in_channels = 0;
  std::int64_t out_channels = 0;
  std::array<std::int64_t, N> kernel{};
  fftconv::padding_sides<N> padding{};  // zeros before (low) and after (high) each spatial dim
  std::array<std::int64_t, N> stride = detail::filled<N>(1);
  std::array<std::int64_t, N> dilation = detail::filled<N>(1);
  std::int64_t groups = 1;

  friend bool operator==(const geometry&, const geometry&) = default;
};

// floor((n + low + high - d(k-1) - 1) / s) + 1; may be < 1, which validation rejects.
constexpr std::int64_t output_extent(std::int64_t n, std::int64_t k, std::int64_t padding_low,
                                     std::int64_t padding_high, std::int64_t stride, std::int64_t dilation) {
  const std::int64_t span = n + padding_low + padding_high - dilation * (k - 1) - 1;
  // floor division (span may be negative)
  const std::int64_t quotient = span >= 0 ? span / stride : -((-span + stride - 1) / stride);
  return quotient + 1;
}

// Symmetric padding: floor((n + 2p - d(k-1) - 1) / s) + 1.
constexpr std::int64_t output_extent(std::int64_t n, std::int64_t k, std::int64_t padding, std::int64_t stride,
                                     std::int64_t dilation) {
  return output_extent(n, k, padding, padding, stride, dilation);
}

namespace detail {
template <std::size_t N>
void check_kernel_and_dilation(const char* function, const std::array<std::int64_t, N>& kernel,
                               const std::array<std::int64_t, N>& dilation) {
  for (std::size_t d = 0; d < N; ++d)
    if (kernel[d] < 1 || dilation[d] < 1)
      fail(function, ": kernel[", d, "] = ", kernel[d], " and dilation[", d, "] = ", dilation[d], " must be >= 1");
}
}  // namespace detail

// 'same' padding for stride 1, as PyTorch's padding='same': the output has the input's extent. The dilated span
// t = d(k-1) is split floor(t/2) low, t - floor(t/2) high, so an odd t puts the extra zero after the input.
template <std::size_t N>
padding_sides<static_cast<int>(N)> same_padding(const std::array<std::int64_t, N>& kernel,
                                                const std::array<std::int64_t, N>& dilation = detail::filled<N>(1)) {
  detail::check_kernel_and_dilation("same_padding", kernel, dilation);
  std::array<std::int64_t, N> low{}, high{};
  for (std::size_t d = 0; d < N; ++d) {
    const std::int64_t span = dilation[d] * (kernel[d] - 1);
    low[d] = span / 2;
    high[d] = span - span / 2;
  }
  if (low == high) return padding_sides<static_cast<int>(N)>(low);
  return padding_sides<static_cast<int>(N)>(low, high);
}

// Causal padding for stride 1: all d(k-1) zeros before the input, none after, so output t reads inputs <= t
// and the output has the input's extent.
template <std::size_t N>
padding_sides<static_cast<int>(N)> causal_padding(const std::array<std::int64_t, N>& kernel,
                                                  const std::array<std::int64_t, N>& dilation = detail::filled<N>(1)) {
  detail::check_kernel_and_dilation("causal_padding", kernel, dilation);
  std::array<std::int64_t, N> low{};
  for (std::size_t d = 0; d < N; ++d) low[d] = dilation[d] * (kernel[d] - 1);
  return padding_sides<static_cast<int>(N)>(low, std::array<std::int64_t, N>{});
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
  const auto high = g.padding.high();
  for (int d = 0; d < N; ++d) {
    if (g.kernel[d] < 1) detail::fail("geometry.kernel[", d, "] = ", g.kernel[d], " must be >= 1");
    if (g.padding[d] < 0) detail::fail("geometry.padding[", d, "] = ", g.padding[d], " must be >= 0");
    if (high[d] < 0) detail::fail("geometry.padding.high()[", d, "] = ", high[d], " must be >= 0");
    if (g.stride[d] < 1) detail::fail("geometry.stride[", d, "] = ", g.stride[d], " must be >= 1");
    if (g.dilation[d] < 1) detail::fail("geometry.dilation[", d, "] = ", g.dilation[d], " must be >= 1");
    // Keep every later product of these fields far from int64 overflow.
    constexpr std::int64_t limit = std::int64_t{1} << 31;
    if (g.kernel[d] > limit || g.padding[d] > limit || high[d] > limit || g.stride[d] > limit ||
        g.dilation[d] > limit)
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

// a + b, or fail naming `what` when the sum leaves int64.
inline std::int64_t checked_add(std::int64_t a, std::int64_t b, const char* what) {
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) fail(what, ": offset overflows std::int64_t (", a, " + ", b, ")");
  return sum;
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
  std::int64_t padding[N];       // low side: zeros before each dim; output q reads input q*s - padding + tap*d
  std::int64_t padding_high[N];  // zeros after each dim; only the output extents depend on it
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

  // Field by field, so a problem can key a cache (never its bytes: padding would take part).
  friend constexpr auto operator<=>(const problem&, const problem&) = default;
  friend constexpr bool operator==(const problem&, const problem&) = default;
};

template <int N>
problem<N> make_problem(const geometry<N>& g, std::int64_t batch, const std::array<std::int64_t, N>& input) {
  problem<N> p{};
  p.batch = batch;
  p.in_channels = g.in_channels;
  p.out_channels = g.out_channels;
  p.groups = g.groups;
  const auto high = g.padding.high();
  for (int d = 0; d < N; ++d) {
    p.input[d] = input[d];
    p.kernel[d] = g.kernel[d];
    p.padding[d] = g.padding.low()[d];
    p.padding_high[d] = high[d];
    p.stride[d] = g.stride[d];
    p.dilation[d] = g.dilation[d];
    p.output[d] = output_extent(input[d], g.kernel[d], p.padding[d], p.padding_high[d], g.stride[d], g.dilation[d]);
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
