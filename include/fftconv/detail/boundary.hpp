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
#include <memory>
#include <type_traits>
#include <utility>
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

// C: the type the policy computes in. A tensor of another element type (16-bit storage, or the float weights
// of a 16-bit layer) is converted to C on gather and rounded back on blend, unless the policy loads and stores
// that type itself (stored_operand, stored_result).
template <class Exec, class C>
class boundary {
  using ops = backend<Exec>;
  using S = scalar_of<C>;

 public:
  explicit boundary(const Exec& exec) : exec_(exec) {}
  boundary(const boundary&) = delete;
  boundary& operator=(const boundary&) = delete;

  // v's data as C: v's own when it is C and row-major (or null), else a row-major converted copy.
  template <class U, std::size_t Rank>
  const C* input(const tensor_ref<const U, Rank>& v) {
    if constexpr (std::is_same_v<U, C>)
      if (v.data() == nullptr || v.contiguous()) return v.data();
    if (v.data() == nullptr) return nullptr;
    return gathered<C>(v);
  }

  // v as the kernels take it ([leading][channel][spatial...]) in C: through its own strides when it is C and
  // `in_place` or row-major, else a row-major (converted) copy. A null v stays null.
  template <class U, std::size_t Rank>
  strided<const C, int(Rank) - 2> operand(const tensor_ref<const U, Rank>& v, bool in_place) {
    if (v.data() == nullptr) return {};
    if constexpr (std::is_same_v<U, C>)
      if (in_place || v.contiguous()) return {v.data(), layout_of(v)};
    return {input(v), row_major_layout(v)};
  }

  // v in its own element type, for a policy that converts on load: through its strides when `in_place` or
  // row-major, else a row-major copy.
  template <class U, std::size_t Rank>
  strided<const U, int(Rank) - 2> stored_operand(const tensor_ref<const U, Rank>& v, bool in_place) {
    if (v.data() == nullptr || in_place || v.contiguous()) return {v.data(), layout_of(v)};
    return {gathered<U>(v), row_major_layout(v)};
  }

  // Whether result() hands the policy v itself: v is C, the kernels reach it (`in_place`, or it is row-major)
  // and the scaling is plain. Otherwise the policy writes a copy, and the blend adds any bias.
  template <class U, std::size_t Rank>
  static bool written_in_place(const tensor_ref<U, Rank>& v, scaling<S> scale, bool in_place) {
    return stored_in_place(v, scale, in_place) && std::is_same_v<U, C>;
  }

  // As written_in_place, for a policy that stores U itself (stored_result).
  template <class U, std::size_t Rank>
  static bool stored_in_place(const tensor_ref<U, Rank>& v, scaling<S> scale, bool in_place) {
    return (in_place || v.contiguous()) && scale.plain();
  }

  // Where the policy writes v's result in C: v itself through its strides when written_in_place and there is
  // no bias to add, else a row-major copy that finish() blends (and rounds) into v.
  template <class U, std::size_t Rank>
  strided<C, int(Rank) - 2> result(const tensor_ref<U, Rank>& v, scaling<S> scale, bool in_place,
                                   const C* bias = nullptr) {
    if (v.data() == nullptr) return {};
    if constexpr (std::is_same_v<U, C>)
      if (written_in_place(v, scale, in_place) && bias == nullptr) return {v.data(), layout_of(v)};
    return {output(v, scale, bias), row_major_layout(v)};
  }

  // Where a policy that stores U itself writes v's result: v through its strides when stored_in_place, else
  // null (the caller then takes result()).
  template <class U, std::size_t Rank>
  strided<U, int(Rank) - 2> stored_result(const tensor_ref<U, Rank>& v, scaling<S> scale, bool in_place) {
    if (v.data() == nullptr || !stored_in_place(v, scale, in_place)) return {};
    return {v.data(), layout_of(v)};
  }

  // Where the policy writes v's result in C: v itself when it is C, row-major and plainly scaled, else a
  // row-major copy that finish() blends into v (adding `bias` along dim 1 there, when given).
  template <class U, std::size_t Rank>
  C* output(const tensor_ref<U, Rank>& v, scaling<S> scale, const C* bias = nullptr) {
    if constexpr (std::is_same_v<U, C>)
      if (v.contiguous() && scale.plain() && bias == nullptr) return v.data();
    C* result = hold<C>(v.size());
    blend_strided<C, U, S, int(Rank)> blend{result, v.data(), {}, {}, scale.alpha, scale.beta, bias, 1};
    for (std::size_t r = 0; r < Rank; ++r) blend.extents[r] = v.extent(r), blend.strides[r] = v.stride(r);
    const std::int64_t count = v.size();
    pending_.push_back([this, blend, count] { ops::for_each_index(exec_, count, blend); });
    return result;
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

  // A row-major copy of v as Target.
  template <class Target, class U, std::size_t Rank>
  const Target* gathered(const tensor_ref<const U, Rank>& v) {
    Target* copy = hold<Target>(v.size());
    gather_strided<U, Target, int(Rank)> gather{v.data(), {}, {}, copy};
    for (std::size_t r = 0; r < Rank; ++r) gather.extents[r] = v.extent(r), gather.strides[r] = v.stride(r);
    ops::for_each_index(exec_, v.size(), gather);
    return copy;
  }

  struct held_base {
    virtual ~held_base() = default;
  };
  template <class U>
  struct held : held_base {
    explicit held(typename ops::template buffer<U> b) : buffer(std::move(b)) {}
    typename ops::template buffer<U> buffer;
  };

  template <class U>
  U* hold(std::int64_t count) {
    auto copy = std::make_unique<held<U>>(ops::template allocate<U>(exec_, static_cast<std::size_t>(count)));
    U* data = copy->buffer.data();
    held_.push_back(std::move(copy));
    return data;
  }

  Exec exec_;
  std::vector<std::unique_ptr<held_base>> held_;
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
