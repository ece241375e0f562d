#pragma once
// One convolution as a vendor library is told it: plain integers with the spatial rank a run-time value, so
// that the oneDNN and cuDNN glue compiles once for every N, and the bench's baselines (which time the same glue)
// describe their layers without fftconv's templates. Tensors are dense: x [batch][in_channels][input...],
// w [out_channels][in_channels / groups][kernel...], y [batch][out_channels][output...], row-major.

#include <array>
#include <cstdint>

#include "../../geometry.hpp"

namespace fftconv::detail {

struct vendor_shape {
  int dims = 2;  // spatial rank: 1, 2 or 3
  std::int64_t batch = 1, in_channels = 1, out_channels = 1, groups = 1;
  std::array<std::int64_t, 3> input{}, output{}, kernel{};
  std::array<std::int64_t, 3> padding_low{}, padding_high{};  // zeros before / after each spatial dim
  std::array<std::int64_t, 3> stride{1, 1, 1}, dilation{1, 1, 1};

  std::int64_t input_size() const { return batch * in_channels * volume(input); }
  std::int64_t output_size() const { return batch * out_channels * volume(output); }
  std::int64_t weight_size() const { return out_channels * (in_channels / groups) * volume(kernel); }
  std::int64_t volume(const std::array<std::int64_t, 3>& extents) const {
    std::int64_t v = 1;
    for (int d = 0; d < dims; ++d) v *= extents[d];
    return v;
  }

  friend bool operator==(const vendor_shape&, const vendor_shape&) = default;

  template <int N>
  static vendor_shape of(const problem<N>& p) {
    vendor_shape s;
    s.dims = N;
    s.batch = p.batch, s.in_channels = p.in_channels, s.out_channels = p.out_channels, s.groups = p.groups;
    for (int d = 0; d < N; ++d) {
      s.input[d] = p.input[d], s.output[d] = p.output[d], s.kernel[d] = p.kernel[d];
      s.padding_low[d] = p.padding[d], s.padding_high[d] = p.padding_high[d];
      s.stride[d] = p.stride[d], s.dilation[d] = p.dilation[d];
    }
    return s;
  }
};

// The element type a vendor primitive runs in (its storage type; both libraries accumulate in at least fp32).
enum class vendor_element : unsigned char { f32, f64, bf16, f16 };

}  // namespace fftconv::detail
