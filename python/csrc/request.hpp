#pragma once
// The boundary between the PyTorch bindings (torch_ops.cpp) and the translation units that instantiate the
// library (host_conv_Nd.cpp, device_conv_Nd.cu): plain descriptions of tensors and layers, so that neither side
// includes the other's headers. nvcc never parses torch's headers, and torch's headers are parsed once.

#include <array>
#include <cstddef>
#include <cstdint>

#include <fftconv/memory.hpp>

namespace fftconv_torch {

// Storage types: float32, float64, and the 16-bit bfloat16 / float16, which the library computes in float.
enum class element { f32, f64, bf16, f16 };
enum class policy_kind { naive, im2col, fft, automatic };

// One convolution layer as the operator's arguments declare it; arrays hold `rank` spatial entries.
struct layer_desc {
  int rank = 0;
  element type = element::f32;         // x, y, dx, dy
  element weight_type = element::f32;  // w, bias, dw, dbias: type, or f32 beside a 16-bit type
  policy_kind policy = policy_kind::fft;
  std::int64_t in_channels = 0, out_channels = 0, groups = 1;
  std::array<std::int64_t, 3> kernel{}, stride{}, padding_low{}, padding_high{}, dilation{};
};

// A strided tensor of rank + 2 dims (batch, channels, spatial...) or, for bias, rank 1; data null: absent.
struct tensor_desc {
  void* data = nullptr;
  int dims = 0;
  std::array<std::int64_t, 5> sizes{}, strides{};
};

// Where a call runs: the host, or a CUDA stream on the current device; memory from `resource` (torch's).
struct placement {
  bool on_device = false;
  int device_index = -1;
  CUstream_st* stream = nullptr;
  fftconv::memory_resource* resource = nullptr;
};

struct forward_request {
  tensor_desc x, w, bias, y;
  std::byte* saved = nullptr;
  std::size_t saved_bytes = 0;
  bool keep_spectra = true;
};

struct backward_request {
  tensor_desc x, w, dy, dx, dw, dbias;  // dx, dw, dbias: null data when not wanted
  const std::byte* saved = nullptr;
  std::size_t saved_bytes = 0;
};

// Bytes of saved state forward writes for x of `x_sizes` (rank + 2 entries): a pure function of the shapes.
std::size_t saved_bytes(const layer_desc& layer, const std::int64_t* x_sizes, bool keep_spectra, bool on_device);

void forward(const layer_desc& layer, const placement& where, const forward_request& request);
void backward(const layer_desc& layer, const placement& where, const backward_request& request);

// The same forward, `repeats` times, called from C++ on one layer: the baseline of the operator's overhead.
double direct_forward_seconds(const layer_desc& layer, const forward_request& request, int repeats);

// Per spatial rank and backend: defined in host_conv_Nd.cpp and device_conv_Nd.cu.
template <int N>
std::size_t host_saved_bytes(const layer_desc&, const std::int64_t*, bool keep_spectra, bool on_device);
template <int N>
void host_forward(const layer_desc&, const placement&, const forward_request&);
template <int N>
void host_backward(const layer_desc&, const placement&, const backward_request&);
template <int N>
double host_direct_forward_seconds(const layer_desc&, const forward_request&, int repeats);
template <int N>
void device_forward(const layer_desc&, const placement&, const forward_request&);
template <int N>
void device_backward(const layer_desc&, const placement&, const backward_request&);

// Frees the cached layers (their plans and workspace) no call is running on, on every backend; of one rank
// and backend below.
void release_layers();

// The same for one rank and backend.
template <int N>
void release_host_layers_of_rank();
template <int N>
void release_device_layers_of_rank();

}  // namespace fftconv_torch
