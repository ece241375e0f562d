#pragma once
// The algorithms, as compile-time tags. Each has one specialization of detail::conv_impl in policy/<name>.hpp.

#include <string_view>
#include <type_traits>

#include "config.hpp"  // detail::dependent_false

namespace fftconv {

struct naive {};      // direct windowed convolution
struct im2col {};     // gather windows to columns, then GEMM
struct fft {};        // pointwise products in the Fourier domain, transforms reused across a training step
struct vendor {};     // the platform's convolution library: oneDNN on the host, cuDNN on the device (policy/vendor.hpp)
struct automatic {};  // one of the others per problem shape, chosen by measurement or a cost model (policy/automatic.hpp)

template <class P>
inline constexpr bool is_policy_v = std::is_same_v<P, naive> || std::is_same_v<P, im2col> ||
                                    std::is_same_v<P, fft> || std::is_same_v<P, vendor> ||
                                    std::is_same_v<P, automatic>;

template <class P>
concept policy = is_policy_v<P>;

// The algorithms as values: what fftconv::automatic chose, what wrote a saved state, what the bench reports.
enum class algorithm : unsigned char { naive, im2col, fft, vendor };
inline constexpr int algorithm_count = 4;
inline constexpr algorithm algorithms[algorithm_count] = {algorithm::naive, algorithm::im2col, algorithm::fft,
                                                          algorithm::vendor};

constexpr const char* to_string(algorithm a) noexcept {
  switch (a) {
    case algorithm::naive: return "naive";
    case algorithm::im2col: return "im2col";
    case algorithm::fft: return "fft";
    case algorithm::vendor: return "vendor";
  }
  return "unknown";
}

// "naive", "im2col", "fft" or "vendor" to the algorithm; false for anything else.
constexpr bool parse_algorithm(std::string_view name, algorithm& a) noexcept {
  for (algorithm candidate : algorithms)
    if (name == to_string(candidate)) {
      a = candidate;
      return true;
    }
  return false;
}

template <class P>
inline constexpr algorithm algorithm_of = std::is_same_v<P, naive> ? algorithm::naive
                                          : std::is_same_v<P, im2col> ? algorithm::im2col
                                          : std::is_same_v<P, vendor> ? algorithm::vendor
                                                                      : algorithm::fft;

// One pass of a layer. The combined backward of a training step is backward_data and backward_filter together.
enum class pass : unsigned char { forward, backward_data, backward_filter };
inline constexpr int pass_count = 3;

constexpr const char* to_string(pass which) noexcept {
  switch (which) {
    case pass::forward: return "forward";
    case pass::backward_data: return "backward_data";
    case pass::backward_filter: return "backward_filter";
  }
  return "unknown";
}

// The passes a layer runs, which is what fftconv::automatic optimises for (the sum of their times). Other
// policies ignore it, and a layer may still run an undeclared pass: the choice was merely not made for it.
struct passes {
  bool forward = true;
  bool backward_data = true;
  bool backward_filter = true;

  static constexpr passes training() { return {true, true, true}; }   // the default
  static constexpr passes frozen() { return {true, true, false}; }    // weights fixed, gradients flow through
  static constexpr passes inference() { return {true, false, false}; }
  static constexpr passes only(pass which) {
    return {which == pass::forward, which == pass::backward_data, which == pass::backward_filter};
  }
  constexpr bool any() const { return forward || backward_data || backward_filter; }
  constexpr bool any_backward() const { return backward_data || backward_filter; }
  constexpr bool has(pass which) const {
    return which == pass::forward ? forward : which == pass::backward_data ? backward_data : backward_filter;
  }
  friend constexpr bool operator==(const passes&, const passes&) = default;
};

// How fftconv::automatic chooses: by timing the candidates on the first call for a shape (measure: those the
// cost model does not rule out; exhaustive: every candidate), or by a deterministic cost model without running
// anything (heuristic).
enum class automatic_mode { measure, heuristic, exhaustive };

// What the vendor policy's library may do (conv::set_vendor_options; fftconv::automatic passes them to its vendor
// candidate). The defaults keep fp32 layers in fp32 arithmetic, as every other policy computes.
struct vendor_options {
  bool allow_tf32 = false;     // device: fp32 layers may use TF32 Tensor Cores (10-bit mantissa products)
  bool deterministic = false;  // device: only algorithms whose results repeat bit for bit (cuDNN's
                               // CUDNN_DETERMINISTIC ones); the host's oneDNN repeats for a fixed thread count
  friend constexpr bool operator==(const vendor_options&, const vendor_options&) = default;
};

namespace detail {

// Which tensors a policy's kernels read or write through their own strides for a problem (conv_impl::reach);
// conv hands the others to it row-major: inputs gathered into a copy, outputs written to one and blended back.
struct strided_reach {
  bool x = false, w = false, dy = false;  // inputs
  bool y = false, dx = false, dw = false;  // outputs (with plain scaling: alpha = 1, beta = 0)

  static constexpr strided_reach all() { return {true, true, true, true, true, true}; }
  friend constexpr strided_reach operator&(strided_reach a, strided_reach b) {
    return {a.x && b.x, a.w && b.w, a.dy && b.dy, a.y && b.y, a.dx && b.dx, a.dw && b.dw};
  }
};

// Primary template: reached only by a policy that has no implementation.
template <class Policy, int N, class T>
class conv_impl {
  static_assert(dependent_false<Policy>,
                "fftconv: no implementation for this policy; use fftconv::naive, fftconv::im2col, fftconv::fft, "
                "fftconv::vendor or fftconv::automatic");
};

}  // namespace detail
}  // namespace fftconv
