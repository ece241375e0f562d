#pragma once
// The accuracy the library promises against the float64 reference (relative L2 error), per pass. A 16-bit
// result is computed in float and rounded once on store: that rounding dominates its error.

#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace testing_support {

template <class T>
struct tolerance {
  static constexpr double forward = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  static constexpr double data = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  static constexpr double filter = std::is_same_v<T, float> ? 1e-4 : 1e-12;
};

template <>
struct tolerance<__nv_bfloat16> {
  static constexpr double forward = 1e-2;
  static constexpr double data = 1e-2;
  static constexpr double filter = 1e-2;
};

template <>
struct tolerance<__half> {
  static constexpr double forward = 1e-3;
  static constexpr double data = 1e-3;
  static constexpr double filter = 1e-3;
};

}  // namespace testing_support
