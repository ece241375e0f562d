#pragma once
// The backend primary template; host/host.hpp and device/device.cuh specialise it (see backend.hpp).

#include "../../executor.hpp"
#include "../../config.hpp"  // dependent_false

namespace fftconv::detail {

template <class Exec>
struct backend {
  static_assert(dependent_false<Exec>,
                "fftconv: fftconv::device execution needs this translation unit compiled as CUDA (nvcc, a .cu file)");
};

}  // namespace fftconv::detail
