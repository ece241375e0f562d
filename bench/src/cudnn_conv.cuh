#pragma once
// cuDNN 9 as the baseline: a thin wrapper over the library's own cuDNN glue (fftconv/policy/vendor/cudnn.cuh,
// the code fftconv::vendor runs on the device), so the baseline the bench times and the vendor policy are one
// implementation. What the baseline asks of it: fp32 layers in FMA math only, TF32 off (vendor_options'
// defaults), so the comparison with fftconv's fp32 paths is like for like; bf16 layers with every tensor bf16,
// float compute and Tensor Core math (bf16 products, float accumulation); the fastest algorithm per pass found
// once by cudnnFind*Ex outside the timed calls, within the workspace the caller offers. 1D convolutions run as
// 2D with a height of 1. cuDNN without an implementation for a layer is a missing baseline (baseline_unsupported),
// as oneDNN's is.

#if !defined(__CUDACC__)
#error "cudnn_conv.cuh is device code: include it from a .cu translation unit"
#endif

#include <cuda_bf16.h>
#include <cudnn.h>

#include <cstddef>
#include <fftconv/backend/backend.hpp>
#include <fftconv/error.hpp>
#include <fftconv/policy/vendor/cudnn.cuh>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "baseline_shape.hpp"

namespace bench {

using fftconv::detail::cudnn_version_string;

// A library_error from cuDNN saying it has no implementation for the layer (CUDNN_STATUS_NOT_SUPPORTED and its
// cuDNN 9 sub-codes) becomes baseline_unsupported: the row records it as skipped, and the float64 reference
// checks the rest. Every other error passes through.
template <class Call>
decltype(auto) cudnn_baseline_call(Call&& call) {
  try {
    return std::forward<Call>(call)();
  } catch (const fftconv::library_error& error) {
    if (error.library() == "cuDNN" && fftconv::detail::cudnn_not_supported(error.status()))
      throw baseline_unsupported(error.what());
    throw;
  }
}

// Starts cuDNN on the current device before any case, so that a cuDNN that fails to start (e.g. a library
// mismatch) costs the baseline, not the run: the library's handle for this thread and device, the one every
// call then uses.
class cudnn_handle {
 public:
  cudnn_handle() : handle_(fftconv::detail::cudnn_handle_for(fftconv::device{})) {}
  cudnnHandle_t get() const { return handle_; }

 private:
  cudnnHandle_t handle_;
};

// The cuDNN storage type of T: float or bf16.
template <class T>
constexpr cudnnDataType_t cudnn_data_type() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, __nv_bfloat16>, "cuDNN baseline: float or bf16");
  return std::is_same_v<T, float> ? CUDNN_DATA_FLOAT : CUDNN_DATA_BFLOAT16;
}

// One convolution layer on cuDNN: forward (+ bias), backward data, backward filter (+ bias gradient).
class cudnn_conv {
 public:
  // `s` must have symmetric padding (cudnn_layer pre-pads x where a layer's is not, once, outside the timed
  // calls). `data`: every tensor's type, CUDNN_DATA_FLOAT or CUDNN_DATA_BFLOAT16; the compute type is float for
  // both. The handle is the library's (cudnn_handle): the glue takes it per thread and device itself.
  cudnn_conv(cudnnHandle_t /*handle*/, const baseline_shape& s, cudnnDataType_t data = CUDNN_DATA_FLOAT)
      : convolution_(cudnn_baseline_call([&] {
          if (!s.symmetric()) throw fftconv::invalid_argument("cuDNN baseline: padding must be symmetric here");
          if (data != CUDNN_DATA_FLOAT && data != CUDNN_DATA_BFLOAT16)
            throw fftconv::invalid_argument("cuDNN baseline: float or bf16 tensors");
          return fftconv::detail::cudnn_convolution(
              shape_of(s), data == CUDNN_DATA_FLOAT ? fftconv::detail::vendor_element::f32
                                                    : fftconv::detail::vendor_element::bf16,
              fftconv::vendor_options{});
        })) {}

  // Picks the fastest algorithm of each pass that is asked for (forward always) whose workspace fits `limit`,
  // and keeps that workspace allocated, so the timed calls allocate nothing. The search runs on scratch tensors
  // of the glue's own; the caller's tensors are accepted for the interface's sake.
  void find(cudaStream_t stream, bool backward_data, bool backward_filter, const void* /*x*/, const void* /*w*/,
            void* /*y*/, const void* /*dy*/, void* /*dx*/, void* /*dw*/, std::size_t limit) {
    limit_ = limit;
    has_backward_data_ = backward_data;
    has_backward_filter_ = backward_filter;
    const fftconv::device exec{stream};
    cudnn_baseline_call([&] {
      convolution_.prepare(exec, fftconv::pass::forward, limit_);
      if (backward_data) convolution_.prepare(exec, fftconv::pass::backward_data, limit_);
      if (backward_filter) convolution_.prepare(exec, fftconv::pass::backward_filter, limit_);
    });
    FFTCONV_CUDA_CHECK(cudaStreamSynchronize(stream));
  }

  // y = conv(x, w) + bias
  void forward(cudaStream_t stream, const void* x, const void* w, const void* bias, void* y) {
    cudnn_baseline_call([&] { convolution_.forward(fftconv::device{stream}, x, w, bias, y, limit_); });
  }
  void backward_data(cudaStream_t stream, const void* dy, const void* w, void* dx) {
    cudnn_baseline_call([&] { convolution_.backward_data(fftconv::device{stream}, dy, w, dx, limit_); });
  }
  // dw and dbias are overwritten (beta = 0), like fftconv's backward_filter.
  void backward_filter(cudaStream_t stream, const void* x, const void* dy, void* dw, void* dbias) {
    cudnn_baseline_call([&] { convolution_.backward_filter(fftconv::device{stream}, x, dy, dw, dbias, limit_); });
  }

  std::size_t workspace_bytes() const { return convolution_.workspace_bytes(); }
  bool has_backward_data() const { return has_backward_data_; }
  bool has_backward_filter() const { return has_backward_filter_; }
  std::size_t search_workspace_bytes() const { return convolution_.search_workspace_bytes(); }
  // "cuDNN <version> <ALGORITHM> <MATH>" per pass, as the vendor policy reports it.
  std::string forward_algorithm() const { return convolution_.implementation(fftconv::pass::forward); }
  std::string backward_data_algorithm() const { return convolution_.implementation(fftconv::pass::backward_data); }
  std::string backward_filter_algorithm() const {
    return convolution_.implementation(fftconv::pass::backward_filter);
  }

 private:
  static fftconv::detail::vendor_shape shape_of(const baseline_shape& s) {
    fftconv::detail::vendor_shape v;
    v.dims = s.dims;
    v.batch = s.batch, v.in_channels = s.in_channels, v.out_channels = s.out_channels, v.groups = s.groups;
    v.input = s.input, v.output = s.output, v.kernel = s.kernel;
    v.padding_low = s.padding_low, v.padding_high = s.padding_high;
    v.stride = s.stride, v.dilation = s.dilation;
    return v;
  }

  fftconv::detail::cudnn_convolution convolution_;
  std::optional<std::size_t> limit_;
  bool has_backward_data_ = false, has_backward_filter_ = false;
};

}  // namespace bench
