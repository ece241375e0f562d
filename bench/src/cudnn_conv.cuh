#pragma once
// cuDNN 9 as the baseline, through its (deprecated but present) legacy convolution C API: descriptors for
// x, w, y and the bias, the best algorithm per pass chosen by cudnnFind*Ex with all the workspace any
// algorithm asks for (capped by free memory). fp32 layers: FMA math only, TF32 off, so the comparison with
// fftconv's fp32 paths is like for like. bf16 layers: every tensor bf16, float compute type (as fftconv computes
// in float), any math type, Tensor Cores included: bf16 inputs with float accumulation is what they do.
// 1D convolutions run as 2D with a height of 1.

#if !defined(__CUDACC__)
#error "cudnn_conv.cuh is device code: include it from a .cu translation unit"
#endif

#include <cuda_bf16.h>
#include <cudnn.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <fftconv/backend/backend.hpp>
#include <fftconv/backend/device/status.hpp>
#include <fftconv/error.hpp>
#include <limits>
#include <memory>
#include <source_location>
#include <string>
#include <type_traits>
#include <vector>

#include "baseline_shape.hpp"

namespace bench {

// cuDNN without an implementation for a layer (CUDNN_STATUS_NOT_SUPPORTED and, from cuDNN 9, its sub-codes) is
// a missing baseline, as oneDNN's is: the row records it as skipped and the float64 reference checks the rest.
inline bool cudnn_not_supported(cudnnStatus_t status) {
#if CUDNN_MAJOR >= 9
  return int(status) / 1000 == int(CUDNN_STATUS_NOT_SUPPORTED) / 1000;
#else
  return status == CUDNN_STATUS_NOT_SUPPORTED;
#endif
}
inline void check_cudnn(cudnnStatus_t status, const char* call, std::source_location where) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  const fftconv::library_error error("cuDNN", call, status, cudnnGetErrorString(status), where);
  if (cudnn_not_supported(status)) throw baseline_unsupported(error.what());
  throw error;
}
#define BENCH_CUDNN_CHECK(call) ::bench::check_cudnn((call), #call, std::source_location::current())

// cuDNN's version at run time as "major.minor.patch" (cudnnGetVersion: major*10000 + minor*100 + patch in 9.x).
inline std::string cudnn_version_string() {
  const std::size_t v = cudnnGetVersion();
  return std::to_string(v / 10000) + "." + std::to_string((v % 10000) / 100) + "." + std::to_string(v % 100);
}

// One cuDNN handle per process, bound to the stream of each call.
class cudnn_handle {
 public:
  cudnn_handle() { BENCH_CUDNN_CHECK(cudnnCreate(&handle_)); }
  cudnn_handle(const cudnn_handle&) = delete;
  cudnn_handle& operator=(const cudnn_handle&) = delete;
  ~cudnn_handle() {
    if (handle_ != nullptr) (void)cudnnDestroy(handle_);
  }
  cudnnHandle_t get() const { return handle_; }

 private:
  cudnnHandle_t handle_ = nullptr;
};

namespace detail {

template <class Handle, cudnnStatus_t (*Destroy)(Handle)>
struct descriptor_deleter {
  void operator()(Handle h) const noexcept { (void)Destroy(h); }
};
using tensor_descriptor =
    std::unique_ptr<cudnnTensorStruct, descriptor_deleter<cudnnTensorDescriptor_t, cudnnDestroyTensorDescriptor>>;
using filter_descriptor =
    std::unique_ptr<cudnnFilterStruct, descriptor_deleter<cudnnFilterDescriptor_t, cudnnDestroyFilterDescriptor>>;
using convolution_descriptor =
    std::unique_ptr<cudnnConvolutionStruct,
                    descriptor_deleter<cudnnConvolutionDescriptor_t, cudnnDestroyConvolutionDescriptor>>;

inline int to_int(std::int64_t value, const char* what) {
  if (value < 0 || value > std::numeric_limits<int>::max())
    throw fftconv::invalid_argument(std::string("cuDNN baseline: ") + what + " does not fit an int");
  return static_cast<int>(value);
}

inline tensor_descriptor make_tensor(const std::vector<int>& dims, cudnnDataType_t type) {
  cudnnTensorDescriptor_t raw = nullptr;
  BENCH_CUDNN_CHECK(cudnnCreateTensorDescriptor(&raw));
  tensor_descriptor d(raw);
  std::vector<int> strides(dims.size());
  int stride = 1;
  for (std::size_t r = dims.size(); r-- > 0;) {
    strides[r] = stride;
    stride *= dims[r];
  }
  BENCH_CUDNN_CHECK(
      cudnnSetTensorNdDescriptor(d.get(), type, int(dims.size()), dims.data(), strides.data()));
  return d;
}

inline const char* forward_algorithm_name(cudnnConvolutionFwdAlgo_t a) {
  static const char* names[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT", "FFT", "FFT_TILING",
                                "WINOGRAD",      "WINOGRAD_NONFUSED"};
  return int(a) >= 0 && int(a) < 8 ? names[a] : "unknown";
}
inline const char* backward_data_algorithm_name(cudnnConvolutionBwdDataAlgo_t a) {
  static const char* names[] = {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  return int(a) >= 0 && int(a) < 6 ? names[a] : "unknown";
}
inline const char* backward_filter_algorithm_name(cudnnConvolutionBwdFilterAlgo_t a) {
  static const char* names[] = {"ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"};
  return int(a) >= 0 && int(a) < 7 ? names[a] : "unknown";
}
inline const char* math_name(cudnnMathType_t m) {
  switch (m) {
    case CUDNN_DEFAULT_MATH:
      return "DEFAULT";
    case CUDNN_TENSOR_OP_MATH:
      return "TENSOR_OP";
    case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION:
      return "TENSOR_OP_ALLOW_CONVERSION";
    case CUDNN_FMA_MATH:
      return "FMA";
  }
  return "unknown";
}

}  // namespace detail

// The cuDNN storage type of T: float or bf16.
template <class T>
constexpr cudnnDataType_t cudnn_data_type() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, __nv_bfloat16>, "cuDNN baseline: float or bf16");
  return std::is_same_v<T, float> ? CUDNN_DATA_FLOAT : CUDNN_DATA_BFLOAT16;
}

// One convolution layer on cuDNN: forward (+ bias), backward data, backward filter (+ bias gradient).
class cudnn_conv {
 public:
  // `s` must have symmetric padding (cudnn_layer pre-pads x where a layer's is not).
  // `data`: every tensor's type, CUDNN_DATA_FLOAT or CUDNN_DATA_BFLOAT16; the compute type is float for both.
  cudnn_conv(cudnnHandle_t handle, const baseline_shape& s, cudnnDataType_t data = CUDNN_DATA_FLOAT)
      : handle_(handle), shape_(s), data_(data) {
    using detail::to_int;
    if (!s.symmetric()) throw fftconv::invalid_argument("cuDNN baseline: padding must be symmetric here");
    // 1D as 2D with a unit height: cuDNN's legacy API wants at least 4-d tensors.
    const int spatial = s.dims == 1 ? 2 : s.dims;
    std::vector<int> x_dims{to_int(s.batch, "batch"), to_int(s.in_channels, "in_channels")};
    std::vector<int> y_dims{to_int(s.batch, "batch"), to_int(s.out_channels, "out_channels")};
    std::vector<int> w_dims{to_int(s.out_channels, "out_channels"), to_int(s.in_channels / s.groups, "in_channels")};
    std::vector<int> b_dims{1, to_int(s.out_channels, "out_channels")};
    std::vector<int> padding, stride, dilation;
    if (s.dims == 1) {
      x_dims.push_back(1);
      y_dims.push_back(1);
      w_dims.push_back(1);
      padding.push_back(0);
      stride.push_back(1);
      dilation.push_back(1);
    }
    for (int d = 0; d < s.dims; ++d) {
      x_dims.push_back(to_int(s.input[d], "input"));
      y_dims.push_back(to_int(s.output[d], "output"));
      w_dims.push_back(to_int(s.kernel[d], "kernel"));
      padding.push_back(to_int(s.padding_low[d], "padding"));
      stride.push_back(to_int(s.stride[d], "stride"));
      dilation.push_back(to_int(s.dilation[d], "dilation"));
    }
    for (int d = 0; d < spatial; ++d) b_dims.push_back(1);
    x_ = detail::make_tensor(x_dims, data);
    y_ = detail::make_tensor(y_dims, data);
    bias_ = detail::make_tensor(b_dims, data);

    cudnnFilterDescriptor_t filter = nullptr;
    BENCH_CUDNN_CHECK(cudnnCreateFilterDescriptor(&filter));
    w_.reset(filter);
    BENCH_CUDNN_CHECK(
        cudnnSetFilterNdDescriptor(w_.get(), data, CUDNN_TENSOR_NCHW, int(w_dims.size()), w_dims.data()));

    cudnnConvolutionDescriptor_t convolution = nullptr;
    BENCH_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&convolution));
    conv_.reset(convolution);
    BENCH_CUDNN_CHECK(cudnnSetConvolutionNdDescriptor(conv_.get(), spatial, padding.data(), stride.data(),
                                                      dilation.data(), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    BENCH_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv_.get(), to_int(s.groups, "groups")));
    // fp32: TF32 off. bf16: Tensor Core math allowed (bf16 products, float accumulation).
    BENCH_CUDNN_CHECK(cudnnSetConvolutionMathType(conv_.get(), bf16() ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));

    // cuDNN's own output extents must be the ones fftconv computed.
    std::vector<int> checked(y_dims.size());
    BENCH_CUDNN_CHECK(
        cudnnGetConvolutionNdForwardOutputDim(conv_.get(), x_.get(), w_.get(), int(checked.size()), checked.data()));
    if (checked != y_dims) throw fftconv::invalid_argument("cuDNN baseline: output extents disagree with fftconv's");
  }

  // Picks the fastest algorithm of each pass that is asked for (forward always): fp32 in FMA math, bf16 in any.
  // x, w, y, dy, dx, dw (elements of the layer's type) are scratch (cudnnFind*Ex writes the outputs); `limit`
  // caps the workspace offered to the search.
  void find(cudaStream_t stream, bool backward_data, bool backward_filter, const void* x, const void* w, void* y,
            const void* dy, void* dx, void* dw, std::size_t limit) {
    has_backward_data_ = backward_data;
    has_backward_filter_ = backward_filter;
    BENCH_CUDNN_CHECK(cudnnSetStream(handle_, stream));
    std::size_t largest = 0;
    std::size_t bytes = 0;
    for (int a = 0; a < CUDNN_CONVOLUTION_FWD_ALGO_COUNT; ++a)
      if (cudnnGetConvolutionForwardWorkspaceSize(handle_, x_.get(), w_.get(), conv_.get(), y_.get(),
                                                  cudnnConvolutionFwdAlgo_t(a), &bytes) == CUDNN_STATUS_SUCCESS)
        largest = std::max(largest, bytes <= limit ? bytes : 0);
    if (backward_data)
      for (int a = 0; a < CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT; ++a)
        if (cudnnGetConvolutionBackwardDataWorkspaceSize(handle_, w_.get(), y_.get(), conv_.get(), x_.get(),
                                                         cudnnConvolutionBwdDataAlgo_t(a),
                                                         &bytes) == CUDNN_STATUS_SUCCESS)
          largest = std::max(largest, bytes <= limit ? bytes : 0);
    if (backward_filter)
      for (int a = 0; a < CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT; ++a)
        if (cudnnGetConvolutionBackwardFilterWorkspaceSize(handle_, x_.get(), y_.get(), conv_.get(), w_.get(),
                                                           cudnnConvolutionBwdFilterAlgo_t(a),
                                                           &bytes) == CUDNN_STATUS_SUCCESS)
          largest = std::max(largest, bytes <= limit ? bytes : 0);
    search_workspace_bytes_ = largest;
    fftconv::detail::device_buffer<char> search(largest, stream);

    int returned = 0;
    {
      cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
      BENCH_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(handle_, x_.get(), x, w_.get(), w, conv_.get(), y_.get(),
                                                               y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf,
                                                               search.data(), largest));
      const auto* best = pick(perf, returned, "forward", bf16());
      forward_ = {best->algo, best->memory, best->mathType};
    }
    if (backward_data) {
      cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
      BENCH_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(handle_, w_.get(), w, y_.get(), dy, conv_.get(),
                                                                    x_.get(), dx, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                                    &returned, perf, search.data(), largest));
      const auto* best = pick(perf, returned, "backward data", bf16());
      backward_data_ = {best->algo, best->memory, best->mathType};
    }
    if (backward_filter) {
      cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
      BENCH_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
          handle_, x_.get(), x, y_.get(), dy, conv_.get(), w_.get(), dw, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
          &returned, perf, search.data(), largest));
      const auto* best = pick(perf, returned, "backward filter", bf16());
      backward_filter_ = {best->algo, best->memory, best->mathType};
    }
    // The search area goes back before timing: only what the chosen algorithms need stays allocated.
    search = {};
    const std::size_t chosen = std::max({forward_.workspace, backward_data ? backward_data_.workspace : std::size_t{0},
                                         backward_filter ? backward_filter_.workspace : std::size_t{0}});
    workspace_ = fftconv::detail::device_buffer<char>(chosen, stream);
    FFTCONV_CUDA_CHECK(cudaStreamSynchronize(stream));
  }

  // y = conv(x, w) + bias
  void forward(cudaStream_t stream, const void* x, const void* w, const void* bias, void* y) {
    BENCH_CUDNN_CHECK(cudnnSetStream(handle_, stream));
    const float one = 1.0f, zero = 0.0f;
    BENCH_CUDNN_CHECK(cudnnConvolutionForward(handle_, &one, x_.get(), x, w_.get(), w, conv_.get(), forward_.algo,
                                              workspace_.data(), forward_.workspace, &zero, y_.get(), y));
    if (bias != nullptr) BENCH_CUDNN_CHECK(cudnnAddTensor(handle_, &one, bias_.get(), bias, &one, y_.get(), y));
  }
  void backward_data(cudaStream_t stream, const void* dy, const void* w, void* dx) {
    BENCH_CUDNN_CHECK(cudnnSetStream(handle_, stream));
    const float one = 1.0f, zero = 0.0f;
    BENCH_CUDNN_CHECK(cudnnConvolutionBackwardData(handle_, &one, w_.get(), w, y_.get(), dy, conv_.get(),
                                                   backward_data_.algo, workspace_.data(), backward_data_.workspace,
                                                   &zero, x_.get(), dx));
  }
  // dw and dbias are overwritten (beta = 0), like fftconv's backward_filter.
  void backward_filter(cudaStream_t stream, const void* x, const void* dy, void* dw, void* dbias) {
    BENCH_CUDNN_CHECK(cudnnSetStream(handle_, stream));
    const float one = 1.0f, zero = 0.0f;
    BENCH_CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle_, &one, x_.get(), x, y_.get(), dy, conv_.get(),
                                                     backward_filter_.algo, workspace_.data(),
                                                     backward_filter_.workspace, &zero, w_.get(), dw));
    if (dbias != nullptr)
      BENCH_CUDNN_CHECK(cudnnConvolutionBackwardBias(handle_, &one, y_.get(), dy, &zero, bias_.get(), dbias));
  }

  std::size_t workspace_bytes() const { return workspace_.bytes(); }
  bool has_backward_data() const { return has_backward_data_; }
  bool has_backward_filter() const { return has_backward_filter_; }
  std::size_t search_workspace_bytes() const { return search_workspace_bytes_; }
  std::string forward_algorithm() const {
    return std::string(detail::forward_algorithm_name(forward_.algo)) + "/" + detail::math_name(forward_.math);
  }
  std::string backward_data_algorithm() const {
    return std::string(detail::backward_data_algorithm_name(backward_data_.algo)) + "/" +
           detail::math_name(backward_data_.math);
  }
  std::string backward_filter_algorithm() const {
    return std::string(detail::backward_filter_algorithm_name(backward_filter_.algo)) + "/" +
           detail::math_name(backward_filter_.math);
  }

 private:
  template <class Algo>
  struct choice {
    Algo algo{};
    std::size_t workspace = 0;
    cudnnMathType_t math = CUDNN_FMA_MATH;
  };

  // cudnnFind* returns the algorithms sorted by time. fp32: the fastest that ran in FMA math wins; Tensor Core
  // math would mean TF32 on fp32 data, not a like-for-like baseline, and DEFAULT math (which may use TF32 on
  // Ampere and later unless NVIDIA_TF32_OVERRIDE=0, which the bench sets) is a last resort, reported as such.
  // bf16: the fastest that ran, whatever its math (Tensor Cores take bf16 and accumulate in float).
  template <class Perf>
  static const Perf* pick(const Perf* perf, int count, const char* pass, bool any_math) {
    if (any_math)
      for (int i = 0; i < count; ++i)
        if (perf[i].status == CUDNN_STATUS_SUCCESS) return &perf[i];
    for (cudnnMathType_t wanted : {CUDNN_FMA_MATH, CUDNN_DEFAULT_MATH})
      for (int i = 0; i < count; ++i)
        if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].mathType == wanted) return &perf[i];
    const std::string message = std::string("cuDNN baseline: no algorithm ran for the ") + pass + " pass";
    if (any_math) throw baseline_unsupported(message + " in bf16");
    throw fftconv::invalid_argument(message);
  }
  bool bf16() const { return data_ == CUDNN_DATA_BFLOAT16; }

  cudnnHandle_t handle_;
  baseline_shape shape_;
  cudnnDataType_t data_;
  detail::tensor_descriptor x_, y_, bias_;
  detail::filter_descriptor w_;
  detail::convolution_descriptor conv_;
  choice<cudnnConvolutionFwdAlgo_t> forward_;
  choice<cudnnConvolutionBwdDataAlgo_t> backward_data_;
  choice<cudnnConvolutionBwdFilterAlgo_t> backward_filter_;
  fftconv::detail::device_buffer<char> workspace_;
  std::size_t search_workspace_bytes_ = 0;
  bool has_backward_data_ = false, has_backward_filter_ = false;
};

}  // namespace bench
