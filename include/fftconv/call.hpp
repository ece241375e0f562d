#pragma once
// What a call takes besides its tensors: output scaling, and the state forward saves for backward.

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "view.hpp"

namespace fftconv {

// out = alpha * result + beta * out, as cuDNN's and oneDNN's alpha / beta (forward adds the bias unscaled:
// y = alpha * conv(x, w) + bias + beta * y). beta = 0 never reads out, so whatever it held (NaN) is ignored;
// beta = 1 accumulates (gradient accumulation, shared weights).
template <class S>
struct scaling {
  S alpha = 1;
  S beta = 0;
  constexpr bool plain() const noexcept { return alpha == S(1) && beta == S(0); }
};

// The scalar type of T's scaling: double for double, float otherwise.
template <class T>
using scalar_of = std::conditional_t<std::is_same_v<std::remove_const_t<T>, double>, double, float>;

// What forward saves for backward in the caller's memory (see conv::saved_bytes):
//   spectra  the FFT policy's transformed input and weights, so backward transforms only dy;
//   none     a header only: backward transforms what it needs again (least memory).
// Other policies save a header either way: backward reads x and w again.
enum class keep { none, spectra };

// Caller memory for the saved state: written by forward, read by backward. Its first bytes are a header that
// names the layer, shape, type, policy and executor that wrote it; backward refuses state from another.
using saved_state = std::span<std::byte>;
using const_saved_state = std::span<const std::byte>;

// The gradients a combined backward computes (null: not wanted), as PyTorch's convolution_backward mask.
// W: the weights' type (conv's W; T unless a 16-bit layer keeps fp32 weights).
template <class T, std::size_t R, class W = T>
struct gradients {
  tensor_ref<T, R> dx{};
  tensor_ref<W, R> dw{};
  optional_vector<W> dbias{};
};

}  // namespace fftconv
