#pragma once
// cuDNN 9 behind fftconv::vendor on fftconv::device, and behind the bench's cuDNN baseline: one implementation,
// so the baseline the bench times is the code the policy runs.
//
// The legacy convolution API (cudnnConvolutionForward / BackwardData / BackwardFilter / BackwardBias), which
// every cuDNN 9 ships and which frameworks still call. It pads symmetrically and takes 32-bit extents, so:
//   - padding: cuDNN gets one padding per dim, p = min(low, needed high); a layer whose sides differ (or whose
//     high side exceeds what the last window reaches) runs over a zero-padded copy of x made inside the call,
//     and backward_data computes into a padded dx that is cropped. The copies count against the workspace limit.
//   - sizes: every extent, and every tensor's element count (cuDNN's 2^31 limit), must fit an int, else
//     invalid_argument before cuDNN is called.
//   - 1D runs as 2D with a unit height; groups through cudnnSetConvolutionGroupCount.
// Math: fp32 in FMA only (TF32 off) unless vendor_options::allow_tf32; fp64 in default math; 16-bit tensors
// with float compute and Tensor Core math. vendor_options::deterministic keeps only CUDNN_DETERMINISTIC
// algorithms.
// The fastest algorithm per pass is found once (cudnnFind*AlgorithmEx, which runs and times each) and kept;
// later calls reuse it. Find synchronises and allocates outside the caller's stream order, so it is refused
// under CUDA graph capture rather than replaced by the heuristic pick (cudnnGet*Algorithm_v7): a captured
// graph then runs exactly the algorithm a warm-up call measured, never a different, unmeasured one.

#if !defined(__CUDACC__)
#error "fftconv/policy/vendor/cudnn.cuh is device code: include it from a .cu translation unit"
#endif

#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <source_location>
#include <string>
#include <vector>

#include "../../backend/backend.hpp"  // backend<device>, FFTCONV_CUDA_CHECK, library_out_of_memory
#include "../../error.hpp"
#include "../../executor.hpp"
#include "../../policy.hpp"  // pass, vendor_options
#include "../im2col/workspace.hpp"  // im2col_workspace
#include "vendor_shape.hpp"

namespace fftconv::detail {

// A failed cuDNN call as library_error (the call, cuDNN's status and its text, file and line); a failed device
// allocation inside cuDNN as out_of_memory, as for cuFFT and cuBLAS. A CUDA error cuDNN left behind is cleared
// so that the next launch check does not report it as its own.
inline void check_cudnn(cudnnStatus_t status, const char* call, std::source_location where) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  (void)cudaGetLastError();
  if (status == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED)
    throw library_out_of_memory("cuDNN", call, status, cudnnGetErrorString(status), where);
  throw library_error("cuDNN", call, status, cudnnGetErrorString(status), where);
}

// cuDNN has no implementation for the layer (CUDNN_STATUS_NOT_SUPPORTED and, from cuDNN 9, its sub-codes
// 3001..3999): for library_error::status() of a cuDNN error.
inline bool cudnn_not_supported(long long status) {
  return status / 1000 == static_cast<long long>(CUDNN_STATUS_NOT_SUPPORTED) / 1000;
}

}  // namespace fftconv::detail

#define FFTCONV_CUDNN_CHECK(call) ::fftconv::detail::check_cudnn((call), #call, std::source_location::current())

namespace fftconv::detail {

// cuDNN's version at run time as "major.minor.patch" (cudnnGetVersion: major * 10000 + minor * 100 + patch).
inline std::string cudnn_version_string() {
  const std::size_t v = cudnnGetVersion();
  return std::to_string(v / 10000) + "." + std::to_string((v % 10000) / 100) + "." + std::to_string(v % 100);
}

// One cuDNN handle per (thread, device): a handle is bound to the device current at creation, is not for
// concurrent use from several threads, and costs milliseconds to create. Destroyed at thread exit with its own
// device current, never throwing. Creating one is refused under capture (it allocates and synchronises).
inline cudnnHandle_t cudnn_handle_for(const device& exec) {
  struct handles {
    std::map<int, cudnnHandle_t> by_device;
    ~handles() {
      for (const auto& [device_id, handle] : by_device)
        (void)release_on_device<cuda_runtime>(device_id, [h = handle]() noexcept {
          return cudnnDestroy(h) == CUDNN_STATUS_SUCCESS ? 0 : int(cudaErrorUnknown);
        });
    }
  };
  thread_local handles cache;
  int device_id = 0;
  FFTCONV_CUDA_CHECK(cudaGetDevice(&device_id));
  if (const auto found = cache.by_device.find(device_id); found != cache.by_device.end()) return found->second;
  backend<device>::refuse_under_capture(exec, "creating a cuDNN handle");
  cudnnHandle_t handle = nullptr;
  FFTCONV_CUDNN_CHECK(cudnnCreate(&handle));
  cache.by_device.emplace(device_id, handle);
  return handle;
}

template <class Handle, cudnnStatus_t (*Destroy)(Handle)>
struct cudnn_descriptor_deleter {
  void operator()(Handle h) const noexcept { (void)Destroy(h); }
};
using cudnn_tensor_descriptor =
    std::unique_ptr<cudnnTensorStruct,
                    cudnn_descriptor_deleter<cudnnTensorDescriptor_t, cudnnDestroyTensorDescriptor>>;
using cudnn_filter_descriptor =
    std::unique_ptr<cudnnFilterStruct,
                    cudnn_descriptor_deleter<cudnnFilterDescriptor_t, cudnnDestroyFilterDescriptor>>;
using cudnn_convolution_descriptor =
    std::unique_ptr<cudnnConvolutionStruct,
                    cudnn_descriptor_deleter<cudnnConvolutionDescriptor_t, cudnnDestroyConvolutionDescriptor>>;

// Where a tensor sits inside its zero-padded copy: rows ([batch][channels]) of `inner` extents inside rows of
// `outer` extents, `before` zeros ahead in each spatial dim (last dim fastest).
struct cudnn_pad_frame {
  int dims = 0;
  std::int64_t inner[3] = {}, outer[3] = {}, before[3] = {};
};

// padded[i] = the element of `source` that lands on padded position i, else zero. Word: an unsigned integer of
// the element's size (a bit copy; all-zero bits are +0 in every floating type).
template <class Word>
struct cudnn_zero_pad {
  const Word* source;
  Word* padded;
  cudnn_pad_frame frame;
  FFTCONV_HD void operator()(std::int64_t i) const {
    std::int64_t rest = i, spatial = 0, inner_volume = 1;
    bool inside = true;
    for (int d = frame.dims - 1; d >= 0; --d) {
      const std::int64_t at = rest % frame.outer[d] - frame.before[d];
      rest /= frame.outer[d];
      inside = inside && at >= 0 && at < frame.inner[d];
      spatial += at * inner_volume;
      inner_volume *= frame.inner[d];
    }
    padded[i] = inside ? source[rest * inner_volume + spatial] : Word{0};
  }
};

// target[i] = the element of `padded` over target position i: the inverse of cudnn_zero_pad on the interior.
template <class Word>
struct cudnn_crop {
  const Word* padded;
  Word* target;
  cudnn_pad_frame frame;
  FFTCONV_HD void operator()(std::int64_t i) const {
    std::int64_t rest = i, spatial = 0, outer_volume = 1;
    for (int d = frame.dims - 1; d >= 0; --d) {
      spatial += (rest % frame.inner[d] + frame.before[d]) * outer_volume;
      rest /= frame.inner[d];
      outer_volume *= frame.outer[d];
    }
    target[i] = padded[rest * outer_volume + spatial];
  }
};

inline const char* cudnn_algorithm_name(pass which, int algo) {
  static const char* const forward[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT",
                                        "FFT",           "FFT_TILING",            "WINOGRAD", "WINOGRAD_NONFUSED"};
  static const char* const data[] = {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  static const char* const filter[] = {"ALGO_0",   "ALGO_1",           "FFT",       "ALGO_3",
                                       "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"};
  switch (which) {
    case pass::forward: return algo >= 0 && algo < 8 ? forward[algo] : "unknown";
    case pass::backward_data: return algo >= 0 && algo < 6 ? data[algo] : "unknown";
    case pass::backward_filter: return algo >= 0 && algo < 7 ? filter[algo] : "unknown";
  }
  return "unknown";
}

inline const char* cudnn_math_name(cudnnMathType_t math) {
  switch (math) {
    case CUDNN_DEFAULT_MATH: return "DEFAULT";
    case CUDNN_TENSOR_OP_MATH: return "TENSOR_OP";
    case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION: return "TENSOR_OP_ALLOW_CONVERSION";
    case CUDNN_FMA_MATH: return "FMA";
  }
  return "unknown";
}

// One convolution layer on cuDNN. Tensors are dense row-major: x [B][C][in...], w [O][C/g][k...],
// y [B][O][out...], bias / dbias [O], all of `element`. Move-only (it owns descriptors and its workspace); not
// for concurrent use from several threads.
class cudnn_convolution {
 public:
  cudnn_convolution(const vendor_shape& shape, vendor_element element, vendor_options options)
      : shape_(shape), element_(element), options_(options) {
    check_shape();
    plan_padding();
    make_descriptors();
  }

  // Finds the pass's fastest algorithm that the options allow and whose workspace, with the padded copies,
  // fits `limit` (nullopt: no limit), on scratch tensors; once per pass (again only when a smaller limit no
  // longer fits the one found). Refused under capture.
  void prepare(const device& exec, pass which, std::optional<std::size_t> limit) {
    ready(exec, which, limit, nullptr, nullptr, nullptr);
  }

  // y = conv(x, w) + bias (bias may be null), ordered on exec.stream.
  void forward(const device& exec, const void* x, const void* w, const void* bias, void* y,
               std::optional<std::size_t> limit) {
    // The search runs on the caller's w and y (y is overwritten anyway) and on x unless x is padded first.
    const choice& c = ready(exec, pass::forward, limit, prepadded_ ? nullptr : x, w, y);
    const cudnnHandle_t handle = bind(exec, c);
    unsigned char* area = workspace_.get<unsigned char>(exec, needed_bytes(c));
    const void* input = prepadded_ ? pad_input(exec, x, area) : x;
    FFTCONV_CUDNN_CHECK(cudnnConvolutionForward(handle, one(), x_.get(), input, w_.get(), w, conv_.get(),
                                                cudnnConvolutionFwdAlgo_t(c.algo), algorithm_area(area),
                                                c.workspace, zero(), y_.get(), y));
    if (bias != nullptr) FFTCONV_CUDNN_CHECK(cudnnAddTensor(handle, one(), bias_.get(), bias, one(), y_.get(), y));
  }

  // dx = the gradient of sum(y * dy) with respect to x, overwritten.
  void backward_data(const device& exec, const void* dy, const void* w, void* dx, std::optional<std::size_t> limit) {
    const choice& c = ready(exec, pass::backward_data, limit, w, dy, prepadded_ ? nullptr : dx);
    const cudnnHandle_t handle = bind(exec, c);
    unsigned char* area = workspace_.get<unsigned char>(exec, needed_bytes(c));
    void* result = prepadded_ ? static_cast<void*>(area) : dx;
    FFTCONV_CUDNN_CHECK(cudnnConvolutionBackwardData(handle, one(), w_.get(), w, y_.get(), dy, conv_.get(),
                                                     cudnnConvolutionBwdDataAlgo_t(c.algo), algorithm_area(area),
                                                     c.workspace, zero(), x_.get(), result));
    if (prepadded_) crop_input(exec, area, dx);
  }

  // dw overwritten; dbias (may be null) overwritten with the sum of dy over the batch and space.
  void backward_filter(const device& exec, const void* x, const void* dy, void* dw, void* dbias,
                       std::optional<std::size_t> limit) {
    const choice& c = ready(exec, pass::backward_filter, limit, prepadded_ ? nullptr : x, dy, dw);
    const cudnnHandle_t handle = bind(exec, c);
    unsigned char* area = workspace_.get<unsigned char>(exec, needed_bytes(c));
    const void* input = prepadded_ ? pad_input(exec, x, area) : x;
    FFTCONV_CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle, one(), x_.get(), input, y_.get(), dy, conv_.get(),
                                                       cudnnConvolutionBwdFilterAlgo_t(c.algo), algorithm_area(area),
                                                       c.workspace, zero(), w_.get(), dw));
    if (dbias != nullptr)
      FFTCONV_CUDNN_CHECK(cudnnConvolutionBackwardBias(handle, one(), y_.get(), dy, zero(), bias_.get(), dbias));
  }

  // Device bytes held between calls: the chosen algorithms' workspace and the padded copy.
  std::size_t workspace_bytes() const { return workspace_.bytes(); }
  // The largest area any search was offered (freed when the search ends).
  std::size_t search_workspace_bytes() const { return search_bytes_; }
  // Whether x runs through a zero-padded copy (padding cuDNN cannot express).
  bool prepadded() const { return prepadded_; }

  // "cuDNN 9.x.y ALGORITHM MATH" for a prepared pass; empty before.
  std::string implementation(pass which) const {
    const choice& c = choices_[index(which)];
    if (!c.made) return {};
    std::string text = "cuDNN " + cudnn_version_string() + " " + cudnn_algorithm_name(which, c.algo) + " " +
                       cudnn_math_name(c.math);
    if (prepadded_) text += which == pass::backward_data ? ", dx cropped from a padded copy" : ", x zero-padded";
    return text;
  }

 private:
  struct choice {
    bool made = false;
    int algo = 0;
    std::size_t workspace = 0;                      // the algorithm's own, beside the padded copy
    cudnnMathType_t math = CUDNN_FMA_MATH;          // what the descriptor is set to before the call
  };

  static constexpr std::size_t alignment = 256;  // of the algorithm's area after the padded copy
  static int index(pass which) { return static_cast<int>(which); }
  static std::string context(pass which) { return std::string("vendor (cuDNN) ") + to_string(which); }

  std::size_t element_bytes() const {
    switch (element_) {
      case vendor_element::f64: return 8;
      case vendor_element::f32: return 4;
      default: return 2;
    }
  }
  cudnnDataType_t data_type() const {
    switch (element_) {
      case vendor_element::f64: return CUDNN_DATA_DOUBLE;
      case vendor_element::f32: return CUDNN_DATA_FLOAT;
      case vendor_element::bf16: return CUDNN_DATA_BFLOAT16;
      case vendor_element::f16: return CUDNN_DATA_HALF;
    }
    return CUDNN_DATA_FLOAT;
  }
  // 16-bit tensors accumulate in float, as fftconv computes them.
  cudnnDataType_t compute_type() const { return element_ == vendor_element::f64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT; }
  // The math type the search starts from. fp32: FMA keeps TF32 (10-bit products) out unless the caller allows it;
  // DEFAULT then lets cuDNN use TF32 Tensor Cores. 16-bit: Tensor Cores take 16-bit products, float accumulation.
  cudnnMathType_t search_math() const {
    switch (element_) {
      case vendor_element::f32: return options_.allow_tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
      case vendor_element::f64: return CUDNN_DEFAULT_MATH;
      default: return CUDNN_TENSOR_OP_MATH;
    }
  }
  // What a found algorithm must satisfy. fp32 without TF32: FMA math only, as PyTorch asserts; cuDNN reports the
  // math each result ran in, and DEFAULT may mean TF32 on Ampere and later.
  bool allowed(cudnnMathType_t math, cudnnDeterminism_t determinism) const {
    if (options_.deterministic && determinism != CUDNN_DETERMINISTIC) return false;
    if (element_ == vendor_element::f32 && !options_.allow_tf32) return math == CUDNN_FMA_MATH;
    return true;
  }
  const void* one() const {
    static constexpr float f = 1.0f;
    static constexpr double d = 1.0;
    return element_ == vendor_element::f64 ? static_cast<const void*>(&d) : static_cast<const void*>(&f);
  }
  const void* zero() const {
    static constexpr float f = 0.0f;
    static constexpr double d = 0.0;
    return element_ == vendor_element::f64 ? static_cast<const void*>(&d) : static_cast<const void*>(&f);
  }

  // ---- shape ------------------------------------------------------------------------------------------------

  static int to_int(std::int64_t value, const char* what) {
    if (value < 0 || value > std::numeric_limits<int>::max())
      fail("vendor (cuDNN): ", what, " is ", value, ", but cuDNN takes 32-bit sizes (at most ",
           std::numeric_limits<int>::max(), "); split the batch or use another policy");
    return static_cast<int>(value);
  }

  // The shape is validated by conv before it gets here; this guards the class's own arithmetic.
  void check_shape() const {
    const vendor_shape& s = shape_;
    if (s.dims < 1 || s.dims > 3) fail("vendor (cuDNN): spatial rank ", s.dims, " is not 1, 2 or 3");
    if (s.batch < 1 || s.in_channels < 1 || s.out_channels < 1 || s.groups < 1 || s.in_channels % s.groups != 0 ||
        s.out_channels % s.groups != 0)
      fail("vendor (cuDNN): batch ", s.batch, ", channels ", s.in_channels, " -> ", s.out_channels, " and groups ",
           s.groups, " do not describe a layer");
    for (int d = 0; d < s.dims; ++d)
      if (s.input[d] < 1 || s.output[d] < 1 || s.kernel[d] < 1 || s.stride[d] < 1 || s.dilation[d] < 1 ||
          s.padding_low[d] < 0 || s.padding_high[d] < 0)
        fail("vendor (cuDNN): spatial dim ", d, " has input ", s.input[d], ", output ", s.output[d], ", kernel ",
             s.kernel[d], ", stride ", s.stride[d], ", dilation ", s.dilation[d], ", padding ", s.padding_low[d],
             " / ", s.padding_high[d]);
  }

  // cuDNN's padding per dim, and how much x is pre-padded before and after it. The low side must be exactly
  // padding_low (it places every window). The high side only has to let the last of shape.output windows fit:
  // when cuDNN's symmetric padding p = low already yields shape.output windows, no copy is needed (any zeros p
  // adds past padding_high are never read, or the output would be longer). Otherwise p = min(low, high needed),
  // and the copy carries the rest, with exactly (output - 1) * stride + span positions after padding.
  void plan_padding() {
    for (int d = 0; d < shape_.dims; ++d) {
      const std::int64_t n = shape_.input[d], low = shape_.padding_low[d], s = shape_.stride[d];
      const std::int64_t span = shape_.dilation[d] * (shape_.kernel[d] - 1) + 1;
      const std::int64_t symmetric_extent = n + 2 * low - span;
      if (symmetric_extent >= 0 && symmetric_extent / s + 1 == shape_.output[d]) {
        padding_[d] = low;
        before_[d] = after_[d] = 0;
      } else {
        const std::int64_t high_needed = std::max<std::int64_t>(0, (shape_.output[d] - 1) * s + span - low - n);
        padding_[d] = std::min(low, high_needed);
        before_[d] = low - padding_[d];
        after_[d] = high_needed - padding_[d];
      }
      padded_input_[d] = n + before_[d] + after_[d];
      prepadded_ = prepadded_ || before_[d] != 0 || after_[d] != 0;
    }
  }

  std::int64_t spatial_volume(const std::array<std::int64_t, 3>& extents) const {
    std::int64_t v = 1;
    for (int d = 0; d < shape_.dims; ++d) v *= extents[d];
    return v;
  }
  std::int64_t input_elements() const { return shape_.batch * shape_.in_channels * spatial_volume(shape_.input); }
  std::int64_t padded_elements() const { return shape_.batch * shape_.in_channels * spatial_volume(padded_input_); }
  // The padded copy (x for forward and backward_filter, dx for backward_data), rounded up so the algorithm's
  // area after it stays aligned; none when cuDNN's own padding suffices.
  std::size_t padded_bytes() const {
    if (!prepadded_) return 0;
    const std::size_t bytes = static_cast<std::size_t>(padded_elements()) * element_bytes();
    return (bytes + alignment - 1) / alignment * alignment;
  }
  std::size_t needed_bytes(const choice& c) const { return padded_bytes() + c.workspace; }
  void* algorithm_area(unsigned char* area) const {
    return area == nullptr || padded_bytes() == 0 ? static_cast<void*>(area)
                                                  : static_cast<void*>(area + padded_bytes());
  }

  static cudnn_tensor_descriptor make_tensor(const std::vector<int>& dims, cudnnDataType_t type) {
    cudnnTensorDescriptor_t raw = nullptr;
    FFTCONV_CUDNN_CHECK(cudnnCreateTensorDescriptor(&raw));
    cudnn_tensor_descriptor descriptor(raw);
    std::vector<int> strides(dims.size());
    std::int64_t stride = 1;
    for (std::size_t r = dims.size(); r-- > 0;) {
      strides[r] = static_cast<int>(stride);  // <= the element count, checked to fit an int
      stride *= dims[r];
    }
    FFTCONV_CUDNN_CHECK(
        cudnnSetTensorNdDescriptor(descriptor.get(), type, int(dims.size()), dims.data(), strides.data()));
    return descriptor;
  }

  void make_descriptors() {
    const vendor_shape& s = shape_;
    // Every tensor's element count (cuDNN's limit for a tensor) as well as every extent.
    to_int(padded_elements(), prepadded_ ? "the element count of x padded for cuDNN" : "the element count of x");
    to_int(s.output_size(), "the element count of y");
    to_int(s.weight_size(), "the element count of w");
    std::vector<int> x_dims{to_int(s.batch, "batch"), to_int(s.in_channels, "in_channels")};
    std::vector<int> y_dims{x_dims[0], to_int(s.out_channels, "out_channels")};
    std::vector<int> w_dims{y_dims[1], to_int(s.in_channels / s.groups, "in_channels / groups")};
    std::vector<int> padding, stride, dilation;
    if (s.dims == 1) {  // a unit height ahead of the width: the legacy API wants 4-d tensors at least
      x_dims.push_back(1), y_dims.push_back(1), w_dims.push_back(1);
      padding.push_back(0), stride.push_back(1), dilation.push_back(1);
    }
    for (int d = 0; d < s.dims; ++d) {
      x_dims.push_back(to_int(padded_input_[d], "an input extent"));
      y_dims.push_back(to_int(s.output[d], "an output extent"));
      w_dims.push_back(to_int(s.kernel[d], "a kernel extent"));
      padding.push_back(to_int(padding_[d], "a padding"));
      stride.push_back(to_int(s.stride[d], "a stride"));
      dilation.push_back(to_int(s.dilation[d], "a dilation"));
    }
    std::vector<int> bias_dims(x_dims.size(), 1);
    bias_dims[1] = y_dims[1];

    x_ = make_tensor(x_dims, data_type());
    y_ = make_tensor(y_dims, data_type());
    bias_ = make_tensor(bias_dims, data_type());
    cudnnFilterDescriptor_t filter = nullptr;
    FFTCONV_CUDNN_CHECK(cudnnCreateFilterDescriptor(&filter));
    w_.reset(filter);
    FFTCONV_CUDNN_CHECK(
        cudnnSetFilterNdDescriptor(w_.get(), data_type(), CUDNN_TENSOR_NCHW, int(w_dims.size()), w_dims.data()));
    cudnnConvolutionDescriptor_t convolution = nullptr;
    FFTCONV_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&convolution));
    conv_.reset(convolution);
    FFTCONV_CUDNN_CHECK(cudnnSetConvolutionNdDescriptor(conv_.get(), int(padding.size()), padding.data(),
                                                        stride.data(), dilation.data(), CUDNN_CROSS_CORRELATION,
                                                        compute_type()));
    FFTCONV_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv_.get(), to_int(s.groups, "groups")));
    FFTCONV_CUDNN_CHECK(cudnnSetConvolutionMathType(conv_.get(), search_math()));

    // cuDNN's own output extents must be the shape's: a disagreement here is a bug in plan_padding.
    std::vector<int> computed(y_dims.size());
    FFTCONV_CUDNN_CHECK(cudnnGetConvolutionNdForwardOutputDim(conv_.get(), x_.get(), w_.get(), int(computed.size()),
                                                              computed.data()));
    if (computed != y_dims)
      fail("vendor (cuDNN): cuDNN computes output extents ", format_extents(computed), " where the layer has ",
           format_extents(y_dims));
  }

  // ---- padded copies ------------------------------------------------------------------------------------------

  cudnn_pad_frame frame() const {
    cudnn_pad_frame f;
    f.dims = shape_.dims;
    for (int d = 0; d < shape_.dims; ++d) {
      f.inner[d] = shape_.input[d];
      f.outer[d] = padded_input_[d];
      f.before[d] = before_[d];
    }
    return f;
  }
  template <class Word>
  void pad_words(const device& exec, const void* x, void* padded) const {
    backend<device>::for_each_index(
        exec, padded_elements(),
        cudnn_zero_pad<Word>{static_cast<const Word*>(x), static_cast<Word*>(padded), frame()});
  }
  template <class Word>
  void crop_words(const device& exec, const void* padded, void* dx) const {
    backend<device>::for_each_index(
        exec, input_elements(), cudnn_crop<Word>{static_cast<const Word*>(padded), static_cast<Word*>(dx), frame()});
  }
  // x into the head of the workspace; returns the copy.
  const void* pad_input(const device& exec, const void* x, unsigned char* area) const {
    switch (element_bytes()) {
      case 8: pad_words<unsigned long long>(exec, x, area); break;
      case 4: pad_words<unsigned int>(exec, x, area); break;
      default: pad_words<unsigned short>(exec, x, area); break;
    }
    return area;
  }
  void crop_input(const device& exec, const unsigned char* area, void* dx) const {
    switch (element_bytes()) {
      case 8: crop_words<unsigned long long>(exec, area, dx); break;
      case 4: crop_words<unsigned int>(exec, area, dx); break;
      default: crop_words<unsigned short>(exec, area, dx); break;
    }
  }

  // ---- algorithms -----------------------------------------------------------------------------------------------

  // The handle for exec's device, on exec's stream, with the descriptor in the chosen algorithm's math (cuDNN
  // picks its kernels from the algorithm and the descriptor's math type together).
  cudnnHandle_t bind(const device& exec, const choice& c) const {
    const cudnnHandle_t handle = cudnn_handle_for(exec);
    FFTCONV_CUDNN_CHECK(cudnnSetStream(handle, exec.stream));
    FFTCONV_CUDNN_CHECK(cudnnSetConvolutionMathType(conv_.get(), c.math));
    return handle;
  }

  // The pass's choice, found now when there is none yet or when the one found no longer fits `limit`.
  // first / second / result: the search's tensors in cuDNN's order (forward: x, w, y; backward_data: w, dy, dx;
  // backward_filter: x, dy, dw); null ones are scratch.
  const choice& ready(const device& exec, pass which, std::optional<std::size_t> limit, const void* first,
                      const void* second, void* result) {
    choice& c = choices_[index(which)];
    const bool fits = !limit || needed_bytes(c) <= *limit;
    if (c.made && fits) return c;
    if (c.made && backend<device>::is_capturing(exec))
      throw workspace_limit_exceeded(needed_bytes(c), *limit, context(which));
    c = find(exec, which, limit, first, second, result);
    workspace_.get<unsigned char>(exec, needed_bytes(c));  // held from now on, so a captured call allocates nothing
    return c;
  }

  template <class Perf>
  choice pick(const Perf* perf, int returned, std::size_t offered) const {
    for (int i = 0; i < returned; ++i)  // sorted fastest first
      if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= offered &&
          allowed(perf[i].mathType, perf[i].determinism))
        return {true, static_cast<int>(perf[i].algo), perf[i].memory, perf[i].mathType};
    return {};
  }

  choice find(const device& exec, pass which, std::optional<std::size_t> limit, const void* first,
              const void* second, void* result) {
    backend<device>::refuse_under_capture(exec, "finding a cuDNN algorithm (cudnnFind*AlgorithmEx)");
    const std::size_t padded = padded_bytes();
    if (limit && padded > *limit) throw workspace_limit_exceeded(padded, *limit, context(which) + " (padded copy)");
    const cudnnHandle_t handle = cudnn_handle_for(exec);
    FFTCONV_CUDNN_CHECK(cudnnSetStream(handle, exec.stream));
    FFTCONV_CUDNN_CHECK(cudnnSetConvolutionMathType(conv_.get(), search_math()));

    // The search area: the largest workspace any algorithm asks for within the limit (after the padded copy)
    // and within half the free memory, which also holds the scratch tensors; freed when the search ends.
    std::size_t free_bytes = 0, total_bytes = 0;
    FFTCONV_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    const std::size_t allowed_bytes = limit ? *limit - padded : std::numeric_limits<std::size_t>::max();
    const std::size_t offered_cap = std::min(allowed_bytes, free_bytes / 2);
    std::size_t offered = 0, smallest_over_limit = std::numeric_limits<std::size_t>::max();
    for (const std::size_t bytes : workspace_sizes(handle, which)) {
      if (bytes <= offered_cap) offered = std::max(offered, bytes);
      if (bytes > allowed_bytes) smallest_over_limit = std::min(smallest_over_limit, bytes);
    }
    search_bytes_ = std::max(search_bytes_, offered);
    const auto search_area = backend<device>::allocate<unsigned char>(exec, offered);

    // Scratch for the tensors the caller did not hand over: inputs zeroed (their values do not change an
    // algorithm's time, but uninitialised memory could hold signalling patterns), outputs written by the search.
    const std::size_t x_bytes = static_cast<std::size_t>(padded_elements()) * element_bytes();
    const std::size_t y_bytes = static_cast<std::size_t>(shape_.output_size()) * element_bytes();
    const std::size_t w_bytes = static_cast<std::size_t>(shape_.weight_size()) * element_bytes();
    std::size_t first_bytes = x_bytes, second_bytes = w_bytes, result_bytes = y_bytes;
    if (which == pass::backward_data) first_bytes = w_bytes, second_bytes = y_bytes, result_bytes = x_bytes;
    if (which == pass::backward_filter) first_bytes = x_bytes, second_bytes = y_bytes, result_bytes = w_bytes;
    const auto first_scratch = scratch(exec, first == nullptr ? first_bytes : 0, true);
    const auto second_scratch = scratch(exec, second == nullptr ? second_bytes : 0, true);
    const auto result_scratch = scratch(exec, result == nullptr ? result_bytes : 0, false);
    if (first == nullptr) first = first_scratch.data();
    if (second == nullptr) second = second_scratch.data();
    if (result == nullptr) result = result_scratch.data();

    choice found;
    int returned = 0;
    switch (which) {
      case pass::forward: {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        FFTCONV_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(
            handle, x_.get(), first, w_.get(), second, conv_.get(), y_.get(), result, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
            &returned, perf, search_area.data(), offered));
        found = pick(perf, returned, offered);
        break;
      }
      case pass::backward_data: {
        cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        FFTCONV_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(
            handle, w_.get(), first, y_.get(), second, conv_.get(), x_.get(), result,
            CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &returned, perf, search_area.data(), offered));
        found = pick(perf, returned, offered);
        break;
      }
      case pass::backward_filter: {
        cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        FFTCONV_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
            handle, x_.get(), first, y_.get(), second, conv_.get(), w_.get(), result,
            CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &returned, perf, search_area.data(), offered));
        found = pick(perf, returned, offered);
        break;
      }
    }
    if (found.made) return found;
    // Nothing allowed ran. Where the limit kept some algorithm out, that is the limit's doing: the smallest
    // such workspace is what a call would need (whether that algorithm passes the math and determinism filter
    // is not known without running it).
    if (limit && smallest_over_limit != std::numeric_limits<std::size_t>::max())
      throw workspace_limit_exceeded(padded + smallest_over_limit, *limit, context(which));
    const std::string call = std::string("cudnnFind*AlgorithmEx (") + to_string(which) + "): no algorithm ran" +
                             (element_ == vendor_element::f32 && !options_.allow_tf32 ? " in FMA math (TF32 off)" : "") +
                             (options_.deterministic ? ", deterministic" : "");
    throw library_error("cuDNN", call, CUDNN_STATUS_NOT_SUPPORTED, cudnnGetErrorString(CUDNN_STATUS_NOT_SUPPORTED),
                        std::source_location::current());
  }

  // The workspace each of the pass's algorithms asks for (those cuDNN has for this layer).
  std::vector<std::size_t> workspace_sizes(cudnnHandle_t handle, pass which) const {
    std::vector<std::size_t> sizes;
    std::size_t bytes = 0;
    switch (which) {
      case pass::forward:
        for (int a = 0; a < CUDNN_CONVOLUTION_FWD_ALGO_COUNT; ++a)
          if (cudnnGetConvolutionForwardWorkspaceSize(handle, x_.get(), w_.get(), conv_.get(), y_.get(),
                                                      cudnnConvolutionFwdAlgo_t(a), &bytes) == CUDNN_STATUS_SUCCESS)
            sizes.push_back(bytes);
        break;
      case pass::backward_data:
        for (int a = 0; a < CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT; ++a)
          if (cudnnGetConvolutionBackwardDataWorkspaceSize(handle, w_.get(), y_.get(), conv_.get(), x_.get(),
                                                           cudnnConvolutionBwdDataAlgo_t(a),
                                                           &bytes) == CUDNN_STATUS_SUCCESS)
            sizes.push_back(bytes);
        break;
      case pass::backward_filter:
        for (int a = 0; a < CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT; ++a)
          if (cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, x_.get(), y_.get(), conv_.get(), w_.get(),
                                                             cudnnConvolutionBwdFilterAlgo_t(a),
                                                             &bytes) == CUDNN_STATUS_SUCCESS)
            sizes.push_back(bytes);
        break;
    }
    return sizes;
  }

  static device_buffer<unsigned char> scratch(const device& exec, std::size_t bytes, bool zeroed) {
    auto buffer = backend<device>::allocate<unsigned char>(exec, bytes);
    if (zeroed && bytes > 0) FFTCONV_CUDA_CHECK(cudaMemsetAsync(buffer.data(), 0, bytes, exec.stream));
    return buffer;
  }

  vendor_shape shape_;
  vendor_element element_;
  vendor_options options_;
  std::array<std::int64_t, 3> padding_{}, before_{}, after_{}, padded_input_{};
  bool prepadded_ = false;
  cudnn_tensor_descriptor x_, y_, bias_;
  cudnn_filter_descriptor w_;
  cudnn_convolution_descriptor conv_;
  std::array<choice, 3> choices_{};
  im2col_workspace workspace_;  // the padded copy, then the chosen algorithm's area; kept between calls
  std::size_t search_bytes_ = 0;
};

}  // namespace fftconv::detail
