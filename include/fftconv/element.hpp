#pragma once
// Element types. float and double compute in themselves. The 16-bit types are the CUDA Toolkit's own
// __nv_bfloat16 and __half (fftconv::bf16, fftconv::fp16): storage only. Every policy loads them into
// float, transforms, multiplies and accumulates in float, and rounds once on store (round to nearest even, as
// cuDNN and PyTorch do). Their headers serve host code compiled by g++ as well as nvcc; they need the Toolkit's
// include directory, which the mdspan views need already, and no CUDA runtime library.

#include <bit>
#include <cstdint>
#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "config.hpp"

namespace fftconv {

using bf16 = __nv_bfloat16;
using fp16 = __half;

template <class T>
inline constexpr bool is_16bit_v = std::is_same_v<std::remove_const_t<T>, __nv_bfloat16> ||
                                   std::is_same_v<std::remove_const_t<T>, __half>;

template <class T>
inline constexpr bool is_element_v = std::is_same_v<std::remove_const_t<T>, float> ||
                                     std::is_same_v<std::remove_const_t<T>, double> || is_16bit_v<T>;

// What T's values are computed and accumulated in: double for double, float for the rest.
template <class T>
using compute_of = std::conditional_t<std::is_same_v<std::remove_const_t<T>, double>, double, float>;

namespace detail {

// bf16 <-> float on the host as branch-free bit operations the compiler vectorises (the staging and crop convert
// every element): the same results as CUDA's __bfloat162float and __float2bfloat16_rn, NaN to 0x7fff included.
#if !defined(__CUDA_ARCH__)
inline float bf16_to_float(__nv_bfloat16 value) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(std::bit_cast<std::uint16_t>(value)) << 16);
}
inline __nv_bfloat16 float_to_bf16(float value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  const std::uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;  // to nearest, ties to even
  const bool nan = (bits & 0x7fffffffu) > 0x7f800000u;
  return std::bit_cast<__nv_bfloat16>(static_cast<std::uint16_t>(nan ? 0x7fffu : rounded));
}
#endif

// value as C (exact: every bf16, fp16 and float is a float, every float a double).
template <class C, class T>
FFTCONV_HD inline C load_as(T value) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
#if defined(__CUDA_ARCH__)
    return static_cast<C>(__bfloat162float(value));
#else
    return static_cast<C>(bf16_to_float(value));
#endif
  else if constexpr (std::is_same_v<T, __half>)
    return static_cast<C>(__half2float(value));
  else
    return static_cast<C>(value);
}

// value rounded to T (nearest even; fp16 overflows to ±Inf past 65504, as the CUDA conversions do).
// A double is rounded to 16 bits directly: through float it would be rounded twice.
template <class T, class C>
FFTCONV_HD inline T store_as(C value) {
  if constexpr (is_16bit_v<T> && std::is_same_v<C, double>)
    return std::is_same_v<T, __nv_bfloat16> ? T(__double2bfloat16(value)) : T(__double2half(value));
  else if constexpr (std::is_same_v<T, __nv_bfloat16>)
#if defined(__CUDA_ARCH__)
    return __float2bfloat16_rn(static_cast<float>(value));
#else
    return float_to_bf16(static_cast<float>(value));
#endif
  else if constexpr (std::is_same_v<T, __half>)
    return __float2half_rn(static_cast<float>(value));
  else
    return static_cast<T>(value);
}

// The element type's code in a saved state's header, and its name in messages.
template <class T>
constexpr std::uint16_t element_code() {
  using U = std::remove_const_t<T>;
  if constexpr (std::is_same_v<U, float>) return 1;
  else if constexpr (std::is_same_v<U, double>) return 2;
  else if constexpr (std::is_same_v<U, __nv_bfloat16>) return 3;
  else if constexpr (std::is_same_v<U, __half>) return 4;
  else return 0;
}

inline const char* element_name(std::uint32_t code) {
  switch (code) {
    case 1: return "float";
    case 2: return "double";
    case 3: return "bf16";
    case 4: return "fp16";
    default: return "unknown";
  }
}

}  // namespace detail
}  // namespace fftconv
