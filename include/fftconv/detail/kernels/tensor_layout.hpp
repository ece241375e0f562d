#pragma once
// Where the kernels find a tensor's elements: the strides, in elements, of a [leading][channel][spatial...]
// tensor (x, y, dx, dy: [batch][channels][n...]; w, dw: [out][in / groups][k...]). The caller's views reach the
// kernels with their own strides, so channels-last data, channel slices and sub-views are read and written in
// place; row_major() is the dense layout the policies' own buffers have.

#include <cstdint>

#include "../../config.hpp"

namespace fftconv::detail {

template <int N>
struct tensor_layout {
  std::int64_t leading = 0;
  std::int64_t channel = 0;
  std::int64_t spatial[N] = {};

  static tensor_layout row_major(std::int64_t channels, const std::int64_t (&extents)[N]) {
    tensor_layout l;
    std::int64_t step = 1;
    for (int d = N - 1; d >= 0; --d) {
      l.spatial[d] = step;
      step *= extents[d];
    }
    l.channel = step;
    l.leading = step * channels;
    return l;
  }

  // Offset of the plane (lead, c).
  FFTCONV_HD std::int64_t plane(std::int64_t lead, std::int64_t c) const { return lead * leading + c * channel; }

  // Offset of spatial position i within a plane.
  FFTCONV_HD std::int64_t at(const std::int64_t (&i)[N]) const {
    std::int64_t offset = 0;
    for (int d = 0; d < N; ++d) offset += i[d] * spatial[d];
    return offset;
  }

  // Offset within a plane of the position whose row-major index over `extents` is `flat`.
  FFTCONV_HD std::int64_t at_flat(std::int64_t flat, const std::int64_t (&extents)[N]) const {
    std::int64_t offset = 0;
    for (int d = N - 1; d >= 0; --d) {
      const std::int64_t i = flat % extents[d];
      flat /= extents[d];
      offset += i * spatial[d];
    }
    return offset;
  }

  // The elements of each plane lie row-major without gaps (a dense NCHW tensor, or a channel slice of one).
  bool dense_planes(const std::int64_t (&extents)[N]) const {
    std::int64_t step = 1;
    for (int d = N - 1; d >= 0; --d) {
      if (extents[d] != 1 && spatial[d] != step) return false;
      step *= extents[d];
    }
    return true;
  }
};

// A tensor as the kernels take it: its data and layout.
template <class T, int N>
struct strided {
  T* data = nullptr;
  tensor_layout<N> layout{};

  explicit operator bool() const noexcept { return data != nullptr; }
};

}  // namespace fftconv::detail
