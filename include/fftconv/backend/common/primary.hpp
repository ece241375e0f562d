#pragma once
// The backend primary template; backend/host/host.hpp and backend/device/device.cuh specialise it (see
// backend/backend.hpp).

#include "../../executor.hpp"
#include "../../config.hpp"  // dependent_false

namespace fftconv::detail {

template <class Exec>
struct backend {
  static_assert(dependent_false<Exec>,
                "fftconv: fftconv::device execution needs this translation unit compiled as CUDA (nvcc, a .cu file)");
};

}  // namespace fftconv::detail
