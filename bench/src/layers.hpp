#pragma once
// The contestants of one case, behind one interface (forward / backward_data / backward_filter on raw
// pointers, workspace_bytes, details): policy_layer wraps fftconv::conv<N, T, Policy>; cudnn_layer (device
// builds with cuDNN) wraps cudnn_conv. The policies under test are one type list, filled from the policy
// headers present in the tree, so a new policy is benchmarked by adding its header.

#include <array>
#include <cstdint>
#include <fftconv/fftconv.hpp>
#include <string>
#if __has_include(<fftconv/policy/im2col.hpp>) && !defined(FFTCONV_BENCH_NO_IM2COL)
#include <fftconv/policy/im2col.hpp>
#define FFTCONV_BENCH_HAS_IM2COL 1
#endif
#if __has_include(<fftconv/policy/fft.hpp>) && !defined(FFTCONV_BENCH_NO_FFT)
#include <fftconv/policy/fft.hpp>
#define FFTCONV_BENCH_HAS_FFT 1
#endif

#include "report.hpp"

namespace bench {

template <class... Policies>
struct type_list {};

// Every policy under test, in the order of the tables and plots.
using policies = type_list<fftconv::naive
#if FFTCONV_BENCH_HAS_IM2COL
                           ,
                           fftconv::im2col
#endif
#if FFTCONV_BENCH_HAS_FFT
                           ,
                           fftconv::fft
#endif
                           >;

// Calls f.template operator()<P>() for each P in the list, in order.
template <class... Policies, class F>
void for_each_policy(type_list<Policies...>, F&& f) {
  (f.template operator()<Policies>(), ...);
}

template <class P>
constexpr const char* policy_name() {
  if constexpr (std::is_same_v<P, fftconv::naive>)
    return "naive";
  else if constexpr (std::is_same_v<P, fftconv::im2col>)
    return "im2col";
  else
    return "fft";
}

inline json policy_names() {
  json names = json::make_array();
  for_each_policy(policies{}, [&]<class P>() { names.push_back(policy_name<P>()); });
  return names;
}

// Drops what policies cache across conv objects (the fft policy's process-wide plans with their work areas):
// after each case, so 250 shapes of plans do not pile up in GPU memory, and before the CUDA context goes.
// Each contestant's first, untimed call pays for the plans it needs.
inline void release_policy_caches() {
#if FFTCONV_BENCH_HAS_FFT
  fftconv::clear_plan_cache();
#endif
}

template <std::size_t R>
cuda::std::array<std::int64_t, R> to_cuda_array(const std::array<std::int64_t, R>& a) {
  cuda::std::array<std::int64_t, R> result{};
  for (std::size_t r = 0; r < R; ++r) result[r] = a[r];
  return result;
}

// fftconv::conv<N, T, Policy> on raw pointers with the case's extents.
template <int N, class T, class Policy>
class policy_layer {
 public:
  using extents = std::array<std::int64_t, N + 2>;
  policy_layer(const fftconv::geometry<N>& g, const extents& x, const extents& w)
      : conv_(g), x_(to_cuda_array(x)), w_(to_cuda_array(w)), y_(to_cuda_array(conv_.output_extents(x))) {}

  template <class Exec>
  void forward(Exec exec, const T* x, const T* w, const T* bias, T* y) {
    conv_.forward(exec, const_view(x, x_), const_view(w, w_), bias, view(y, y_));
  }
  template <class Exec>
  void backward_data(Exec exec, const T* dy, const T* w, T* dx) {
    conv_.backward_data(exec, const_view(dy, y_), const_view(w, w_), view(dx, x_));
  }
  template <class Exec>
  void backward_filter(Exec exec, const T* x, const T* dy, T* dw, T* dbias) {
    conv_.backward_filter(exec, const_view(x, x_), const_view(dy, y_), view(dw, w_), dbias);
  }
  std::size_t workspace_bytes() const { return conv_.workspace_bytes(); }
  json details() const { return json::make_object(); }

 private:
  using cuda_extents = cuda::std::array<std::int64_t, N + 2>;
  static fftconv::view<const T, N + 2> const_view(const T* p, const cuda_extents& e) { return {p, e}; }
  static fftconv::view<T, N + 2> view(T* p, const cuda_extents& e) { return {p, e}; }

  fftconv::conv<N, T, Policy> conv_;
  cuda_extents x_, w_, y_;
};

}  // namespace bench

#if defined(__CUDACC__) && FFTCONV_BENCH_HAS_CUDNN
#include "cudnn_conv.cuh"

namespace bench {

// cudnn_conv behind the policy_layer interface (fp32, device executor only).
class cudnn_layer {
 public:
  cudnn_layer(cudnnHandle_t handle, const cudnn_shape& shape) : conv_(handle, shape) {}
  cudnn_conv& conv() { return conv_; }

  void forward(fftconv::device exec, const float* x, const float* w, const float* bias, float* y) {
    conv_.forward(exec.stream, x, w, bias, y);
  }
  void backward_data(fftconv::device exec, const float* dy, const float* w, float* dx) {
    conv_.backward_data(exec.stream, dy, w, dx);
  }
  void backward_filter(fftconv::device exec, const float* x, const float* dy, float* dw, float* dbias) {
    conv_.backward_filter(exec.stream, x, dy, dw, dbias);
  }
  std::size_t workspace_bytes() const { return conv_.workspace_bytes(); }
  json details() const {
    json d = json::make_object();
    d["forward_algorithm"] = conv_.forward_algorithm();
    if (conv_.has_backward_data()) d["backward_data_algorithm"] = conv_.backward_data_algorithm();
    if (conv_.has_backward_filter()) d["backward_filter_algorithm"] = conv_.backward_filter_algorithm();
    d["search_workspace_bytes"] = conv_.search_workspace_bytes();
    return d;
  }

 private:
  cudnn_conv conv_;
};

}  // namespace bench
#endif
