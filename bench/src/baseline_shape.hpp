#pragma once
// The geometry of one convolution as the baselines (cuDNN on the GPU, oneDNN on the host) are told it: plain
// integers, no fftconv types, so that the oneDNN translation unit compiles without the library's headers.
// Extents are already validated by fftconv's rules in the caller.

#include <array>
#include <cstdint>
#include <stdexcept>

namespace bench {

struct baseline_shape {
  int dims = 2;  // spatial rank 1, 2 or 3
  std::int64_t batch = 1, in_channels = 1, out_channels = 1, groups = 1;
  std::array<std::int64_t, 3> input{}, output{}, kernel{};
  std::array<std::int64_t, 3> padding_low{}, padding_high{};  // zeros before / after each spatial dim
  std::array<std::int64_t, 3> stride{1, 1, 1}, dilation{1, 1, 1};

  bool symmetric() const {
    for (int d = 0; d < dims; ++d)
      if (padding_low[d] != padding_high[d]) return false;
    return true;
  }
};

// A baseline that has no implementation of a layer on this machine (oneDNN 2.6's bf16 convolution below
// AVX-512), or a policy that does not run on the executor in this build (vendor without its library): the row
// records it as skipped with the reason, and the float64 reference checks the others.
struct baseline_unsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace bench
