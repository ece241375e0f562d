#pragma once
// The accuracy the library promises against the float64 reference (relative L2 error), per pass.

#include <type_traits>

namespace testing_support {

template <class T>
struct tolerance {
  static constexpr double forward = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  static constexpr double data = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  static constexpr double filter = std::is_same_v<T, float> ? 1e-4 : 1e-12;
};

}  // namespace testing_support
