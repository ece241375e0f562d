#pragma once
// The algorithms, as compile-time tags. Each has one specialization of detail::conv_impl in policy/<name>.hpp.

#include <type_traits>

namespace fftconv {

struct naive {};   // direct windowed convolution
struct im2col {};  // gather windows to columns, then GEMM
struct fft {};     // pointwise products in the Fourier domain, transforms reused across a training step

template <class P>
inline constexpr bool is_policy_v = std::is_same_v<P, naive> || std::is_same_v<P, im2col> || std::is_same_v<P, fft>;

template <class P>
concept policy = is_policy_v<P>;

namespace detail {

template <class>
inline constexpr bool dependent_false = false;

// Primary template: reached only by a policy that has no implementation.
template <class Policy, int N, class T>
class conv_impl {
  static_assert(dependent_false<Policy>,
                "fftconv: no implementation for this policy; use fftconv::naive, fftconv::im2col or fftconv::fft");
};

}  // namespace detail
}  // namespace fftconv
