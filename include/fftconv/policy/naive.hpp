#pragma once
// naive: direct windowed convolution. One thread (or loop iteration) per output element for forward and
// backward_data (a gather, no atomics); dW and db as fixed-order segmented sums, so results repeat bit for bit.
// No workspace; every tensor but dw is read and written through its strides.

#include <cstddef>

#include "../backend/backend.hpp"
#include "../detail/bias_gradient.hpp"
#include "../detail/kernels/direct.hpp"
#include "../geometry.hpp"
#include "../policy.hpp"

namespace fftconv::detail {

template <int N, class T>
class conv_impl<naive, N, T> {
 public:
  explicit conv_impl(const geometry<N>&) {}

  // dw is a segmented sum's dense output.
  static strided_reach reach(const problem<N>&) { return {true, true, true, true, true, false}; }

  template <class Exec>
  void forward(Exec exec, const problem<N>& p, strided<const T, N> x, strided<const T, N> w, const T* bias,
               strided<T, N> y) {
    backend<Exec>::for_each_index(exec, p.output_size(), direct_forward<N, T>{p, x, w, bias, y},
                                  p.in_channels_per_group() * p.kernel_spatial());
  }

  template <class Exec>
  void backward_data(Exec exec, const problem<N>& p, strided<const T, N> dy, strided<const T, N> w, strided<T, N> dx) {
    backend<Exec>::for_each_index(exec, p.input_size(), direct_backward_data<N, T>{p, dy, w, dx},
                                  p.out_channels_per_group() * p.kernel_spatial());
  }

  template <class Exec>
  void backward_filter(Exec exec, const problem<N>& p, strided<const T, N> x, strided<const T, N> dy,
                       strided<T, N> dw, T* dbias) {
    const std::int64_t terms = p.batch * p.output_spatial();
    backend<Exec>::segmented_sum(exec, p.weight_size(), terms, direct_filter_term<N, T>{p, x, dy}, dw.data);
    if (dbias != nullptr)
      bias_gradient(exec, p, dy, dbias);
  }

  void weights_changed() {}
  std::size_t workspace_bytes() const { return 0; }
};

}  // namespace fftconv::detail
