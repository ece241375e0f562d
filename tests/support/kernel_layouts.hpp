#pragma once
// Layouts the kernel tests run the functors with: row-major, or permuted as frameworks hand tensors over —
// channels last for x, y, dx and dy ([B][n...][C]), taps first for w and dw ([k...][C/g][O]). Both are dense,
// so a buffer of the tensor's size holds either.

#include <cstdint>

#include <fftconv/detail/kernels/tensor_layout.hpp>

namespace testing_support {

template <int N>
fftconv::detail::tensor_layout<N> activation_layout(bool channels_last, std::int64_t channels,
                                                    const std::int64_t (&extents)[N]) {
  auto l = fftconv::detail::tensor_layout<N>::row_major(channels, extents);
  if (!channels_last) return l;
  for (int d = 0; d < N; ++d) l.spatial[d] *= channels;
  l.channel = 1;
  return l;
}

template <int N>
fftconv::detail::tensor_layout<N> weight_layout(bool taps_first, std::int64_t outputs, std::int64_t channels,
                                                const std::int64_t (&extents)[N]) {
  auto l = fftconv::detail::tensor_layout<N>::row_major(channels, extents);
  if (!taps_first) return l;
  for (int d = 0; d < N; ++d) l.spatial[d] = l.spatial[d] * outputs * channels;
  l.leading = 1;
  l.channel = outputs;
  return l;
}

}  // namespace testing_support
