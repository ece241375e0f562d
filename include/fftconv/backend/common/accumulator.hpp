#pragma once
// The type both backends sum in (segmented sums: dW, db, measurements). float sums run long (a dW term sums
// over batch x output positions), so they accumulate in double, on the CPU and the GPU alike: the backends then
// agree to rounding of the final store, and a float dW meets its tolerance however large the batch.

#include <type_traits>

namespace fftconv::detail {

template <class T>
using accumulator_t = std::conditional_t<std::is_same_v<T, float>, double, T>;

}  // namespace fftconv::detail
