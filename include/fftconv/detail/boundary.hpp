#pragma once
// One call's boundary with the caller's tensors. A tensor the policy's kernels reach through its strides
// (conv_impl::reach) passes as it is; a strided input the policy must read row-major is gathered into a copy;
// an output the policy cannot write in place, or a scaled one (alpha != 1, beta != 0), is computed into a
// row-major copy and blended into the caller's tensor when the policy is done. Copies come from the executor's
// memory path and are released (stream-ordered on the GPU) at the end of the call.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

#include "../backend/backend.hpp"
#include "../call.hpp"
#include "../view.hpp"
#include "kernels/strided.hpp"
#include "kernels/tensor_layout.hpp"

#if defined(__CUDACC__)
#include <cuda_runtime.h>
#endif

namespace fftconv::detail {

template <class Exec, class T>
class boundary {
  using ops = backend<Exec>;
  using buffer = typename ops::template buffer<T>;
  using S = scalar_of<T>;

 public:
  explicit boundary(const Exec& exec) : exec_(exec) {}
  boundary(const boundary&) = delete;
  boundary& operator=(const boundary&) = delete;

  // v's data when row-major (or null), else a row-major copy.
  template <std::size_t Rank>
  const T* input(const tensor_ref<const T, Rank>& v) {
    if (v.data() == nullptr || v.contiguous()) return v.data();
    buffer& copy = hold(v.size());
    gather_strided<T, int(Rank)> gather{v.data(), {}, {}, copy.data()};
    for (std::size_t r = 0; r < Rank; ++r) gather.extents[r] = v.extent(r), gather.strides[r] = v.stride(r);
    ops::for_each_index(exec_, v.size(), gather);
    return copy.data();
  }

  // v as the kernels take it ([leading][channel][spatial...]): through its own strides when `in_place` or
  // row-major, else a row-major copy. A null v stays null.
  template <std::size_t Rank>
  strided<const T, int(Rank) - 2> operand(const tensor_ref<const T, Rank>& v, bool in_place) {
    if (v.data() == nullptr || in_place || v.contiguous()) return {v.data(), layout_of(v)};
    return {input(v), row_major_layout(v)};
  }

  // Whether result() hands the policy v itself: the kernels reach it (`in_place`, or it is row-major) and the
  // scaling is plain. Otherwise the policy writes a copy, and the blend adds any bias.
  template <std::size_t Rank>
  static bool written_in_place(const tensor_ref<T, Rank>& v, scaling<S> scale, bool in_place) {
    return (in_place || v.contiguous()) && scale.plain();
  }

  // Where the policy writes v's result: v itself through its strides when written_in_place and there is no bias
  // to add, else a row-major copy that finish() blends into v.
  template <std::size_t Rank>
  strided<T, int(Rank) - 2> result(const tensor_ref<T, Rank>& v, scaling<S> scale, bool in_place,
                                   const T* bias = nullptr) {
    if (v.data() == nullptr) return {};
    if (written_in_place(v, scale, in_place) && bias == nullptr) return {v.data(), layout_of(v)};
    return {output(v, scale, bias), row_major_layout(v)};
  }

  // Where the policy writes v's result: v itself when row-major with plain scaling, else a row-major copy that
  // finish() blends into v (adding `bias` along dim 1 there, when given).
  template <std::size_t Rank>
  T* output(const tensor_ref<T, Rank>& v, scaling<S> scale, const T* bias = nullptr) {
    if (v.contiguous() && scale.plain() && bias == nullptr) return v.data();
    buffer& result = hold(v.size());
    blend_strided<T, S, int(Rank)> blend{result.data(), v.data(), {}, {}, scale.alpha, scale.beta, bias, 1};
    for (std::size_t r = 0; r < Rank; ++r) blend.extents[r] = v.extent(r), blend.strides[r] = v.stride(r);
    const std::int64_t count = v.size();
    pending_.push_back([this, blend, count] { ops::for_each_index(exec_, count, blend); });
    return result.data();
  }

  // Writes every copied output into the caller's tensor.
  void finish() {
    for (auto& write : pending_) write();
    pending_.clear();
  }

 private:
  template <class U, std::size_t Rank>
  static tensor_layout<int(Rank) - 2> layout_of(const tensor_ref<U, Rank>& v) {
    tensor_layout<int(Rank) - 2> l;
    l.leading = v.stride(0);
    l.channel = v.stride(1);
    for (std::size_t d = 2; d < Rank; ++d) l.spatial[d - 2] = v.stride(d);
    return l;
  }
  template <class U, std::size_t Rank>
  static tensor_layout<int(Rank) - 2> row_major_layout(const tensor_ref<U, Rank>& v) {
    std::int64_t spatial[Rank - 2];
    for (std::size_t d = 2; d < Rank; ++d) spatial[d - 2] = v.extent(d);
    return tensor_layout<int(Rank) - 2>::row_major(v.extent(1), spatial);
  }

  buffer& hold(std::int64_t count) {
    held_.push_back(ops::template allocate<T>(exec_, static_cast<std::size_t>(count)));
    return held_.back();
  }

  Exec exec_;
  std::vector<buffer> held_;
  std::vector<std::function<void()>> pending_;
};

// Copies `bytes` of executor memory to the host (the saved state's header). On the device this waits for the
// stream, which graph capture forbids: there it returns false without reading.
template <class Exec>
bool read_to_host(const Exec&, void* target, const void* source, std::size_t bytes) {
  std::memcpy(target, source, bytes);
  return true;
}

#if defined(__CUDACC__)
template <>
inline bool read_to_host<device>(const device& exec, void* target, const void* source, std::size_t bytes) {
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  FFTCONV_CUDA_CHECK(cudaStreamIsCapturing(exec.stream, &capture));
  if (capture != cudaStreamCaptureStatusNone) return false;
  FFTCONV_CUDA_CHECK(cudaMemcpyAsync(target, source, bytes, cudaMemcpyDeviceToHost, exec.stream));
  FFTCONV_CUDA_CHECK(cudaStreamSynchronize(exec.stream));
  return true;
}
#endif

}  // namespace fftconv::detail
