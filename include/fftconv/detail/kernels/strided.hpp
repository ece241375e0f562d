#pragma once
// The boundary between the caller's strided tensors and the policies' row-major buffers, shared by the host
// loops and the GPU kernels: gather a strided input into a dense copy, and write a dense result into a strided
// output with scaling (out = alpha * result + bias + beta * out; beta = 0 never reads out).

#include <cstdint>

#include "../../config.hpp"
#include "../../element.hpp"

namespace fftconv::detail {

// Offset of row-major element i of `extents` in a tensor with `strides`; `channel` receives index[1].
template <int R>
FFTCONV_HD inline std::int64_t strided_offset(std::int64_t i, const std::int64_t (&extents)[R],
                                              const std::int64_t (&strides)[R], std::int64_t* channel = nullptr) {
  std::int64_t offset = 0;
  for (int d = R - 1; d >= 0; --d) {
    const std::int64_t index = i % extents[d];
    i /= extents[d];
    offset += index * strides[d];
    if (d == 1 && channel != nullptr) *channel = index;
  }
  return offset;
}

// target[i] = source at row-major index i, converted to Target (exact: a widening or none).
template <class Source, class Target, int R>
struct gather_strided {
  const Source* source;
  std::int64_t extents[R];
  std::int64_t strides[R];
  Target* target;
  FFTCONV_HD void operator()(std::int64_t i) const {
    target[i] = load_as<Target>(source[strided_offset<R>(i, extents, strides)]);
  }
};

// out at row-major index i = alpha * result[i] + bias[channel] + beta * out, computed in S and rounded once
// to out's type T.
template <class Result, class T, class S, int R>
struct blend_strided {
  const Result* result;
  T* target;
  std::int64_t extents[R];
  std::int64_t strides[R];
  S alpha;
  S beta;
  const Result* bias;  // indexed by dim 1 (forward's y); null: none
  std::int64_t bias_stride;
  FFTCONV_HD void operator()(std::int64_t i) const {
    std::int64_t channel = 0;
    const std::int64_t offset = strided_offset<R>(i, extents, strides, &channel);
    S value = alpha * static_cast<S>(result[i]);
    if (bias != nullptr) value += static_cast<S>(bias[channel * bias_stride]);
    if (beta != S(0)) value += beta * load_as<S>(target[offset]);
    target[offset] = store_as<T>(value);
  }
};

// Copies `count` bytes of a trivially copyable header into memory the executor writes (the saved state).
template <class Header>
struct write_bytes {
  Header header;
  unsigned char* target;
  // Past the header, up to the extent it is called over: zeros (the header's own padding), so that every byte
  // written is defined.
  FFTCONV_HD void operator()(std::int64_t i) const {
    target[i] = i < static_cast<std::int64_t>(sizeof(Header)) ? reinterpret_cast<const unsigned char*>(&header)[i] : 0;
  }
};

}  // namespace fftconv::detail
