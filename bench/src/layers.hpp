#pragma once
// The contestants of one case, behind one interface (forward / backward_data / backward_filter on raw
// pointers, workspace_bytes, details): policy_layer wraps fftconv::conv<N, T, Policy>; cudnn_layer (device
// builds with cuDNN) wraps cudnn_conv; onednn_layer (builds with oneDNN, host executor) wraps onednn_conv.
// The policies under test are one type list, filled from the policy headers present in the tree, so a new
// policy is benchmarked by adding its header (and its name to policy_name).

#include <algorithm>
#include <array>
#include <cstdint>
#include <fftconv/fftconv.hpp>
#include <span>
#include <stdexcept>
#include <string>
#if __has_include(<fftconv/policy/im2col.hpp>) && !defined(FFTCONV_BENCH_NO_IM2COL)
#include <fftconv/policy/im2col.hpp>
#define FFTCONV_BENCH_HAS_IM2COL 1
#endif
#if __has_include(<fftconv/policy/fft.hpp>) && !defined(FFTCONV_BENCH_NO_FFT)
#include <fftconv/policy/fft.hpp>
#define FFTCONV_BENCH_HAS_FFT 1
#endif
// The platform's convolution library (oneDNN on the host, cuDNN on the device) as a policy: benchmarked in every
// build; where its library is off for an executor, its rows are recorded as skipped with the reason.
#if __has_include(<fftconv/policy/vendor.hpp>) && !defined(FFTCONV_BENCH_NO_VENDOR)
#include <fftconv/policy/vendor.hpp>
#define FFTCONV_BENCH_HAS_VENDOR 1
#endif
// The policy that picks among the others per problem, once its header exists.
#if __has_include(<fftconv/policy/automatic.hpp>) && !defined(FFTCONV_BENCH_NO_AUTOMATIC)
#include <fftconv/policy/automatic.hpp>
#define FFTCONV_BENCH_HAS_AUTOMATIC 1
#endif

#include "baseline_shape.hpp"
#include "report.hpp"
#if FFTCONV_BENCH_HAS_ONEDNN
#include "onednn_conv.hpp"
#endif

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
#if FFTCONV_BENCH_HAS_VENDOR
                           ,
                           fftconv::vendor
#endif
#if FFTCONV_BENCH_HAS_AUTOMATIC
                           ,
                           fftconv::automatic
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
#if FFTCONV_BENCH_HAS_VENDOR
  else if constexpr (std::is_same_v<P, fftconv::vendor>)
    return "vendor";
#endif
#if FFTCONV_BENCH_HAS_AUTOMATIC
  else if constexpr (std::is_same_v<P, fftconv::automatic>)
    return "automatic";
#endif
  else
    return "fft";
}

// Whether policy P runs layers with T tensors on Exec in this build: all but vendor always; vendor where its
// library is on for the executor (oneDNN: float compute on the host; cuDNN: nvcc builds with it), as
// fftconv::conv decides (it refuses the others at compile time).
template <class Exec, class T, class P>
inline constexpr bool policy_runs_on = [] {
#if FFTCONV_BENCH_HAS_VENDOR
  if constexpr (std::is_same_v<P, fftconv::vendor>)
    return fftconv::detail::vendor_available<Exec, fftconv::compute_of<T>>;
#endif
  return true;
}();

// Why policy_runs_on is false, for the skipped row.
template <class Exec, class T, class P>
std::string policy_unavailable_reason() {
  std::string why = std::string(policy_name<P>()) + " is not available here: ";
  if constexpr (std::is_same_v<Exec, fftconv::host>) {
    if (!FFTCONV_HAS_ONEDNN)
      return why + "built without oneDNN 2.x (FFTCONV_HAS_ONEDNN=0: libdnnl-dev not found at configure time, or "
                   "FFTCONV_WITH_ONEDNN=OFF)";
    return why + "oneDNN has no convolution for this element type on the CPU";
  } else {
    return why + "built without cuDNN (FFTCONV_HAS_CUDNN=0: cudnn.h / libcudnn not found at configure time, or "
                 "FFTCONV_WITH_CUDNN=OFF)";
  }
}

// Stands in for a policy that does not run on Exec in this build: its construction throws baseline_unsupported,
// which records the row as skipped with the reason (not an error). The members only let the runner compile.
template <class T>
struct unavailable_layer {
  explicit unavailable_layer(const std::string& reason) { throw baseline_unsupported(reason); }
  template <class Exec>
  void forward(Exec, const T*, const T*, const T*, T*) {}
  template <class Exec>
  void backward(Exec, const T*, const T*, const T*, T*, T*, T*) {}
  template <class Exec>
  void backward_data(Exec, const T*, const T*, T*) {}
  template <class Exec>
  void backward_filter(Exec, const T*, const T*, T*, T*) {}
  std::size_t workspace_bytes() const { return 0; }
  json details() const { return json::make_object(); }
};

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

// Low and high padding per dim; the symmetric spelling where both sides agree.
template <int N>
void set_padding(fftconv::geometry<N>& g, const std::type_identity_t<std::array<std::int64_t, N>>& low,
                 const std::type_identity_t<std::array<std::int64_t, N>>& high) {
  g.padding = low == high ? fftconv::padding_sides<N>(low) : fftconv::padding_sides<N>(low, high);
}

// The geometry as the baselines are told it.
template <int N>
baseline_shape make_baseline_shape(const fftconv::geometry<N>& g, const std::array<std::int64_t, N + 2>& x,
                                   const std::array<std::int64_t, N + 2>& y) {
  baseline_shape s;
  s.dims = N;
  s.batch = x[0];
  s.in_channels = g.in_channels;
  s.out_channels = g.out_channels;
  s.groups = g.groups;
  const auto high = g.padding.high();
  for (int d = 0; d < N; ++d) {
    s.input[d] = x[d + 2];
    s.output[d] = y[d + 2];
    s.kernel[d] = g.kernel[d];
    s.padding_low[d] = g.padding[d];
    s.padding_high[d] = high[d];
    s.stride[d] = g.stride[d];
    s.dilation[d] = g.dilation[d];
  }
  return s;
}

namespace kernels {

// Spatial extents and the zeros added before each spatial dim, for the baseline's explicit padding copies.
struct pad_frame {
  int dims;
  std::int64_t inner[3];   // the unpadded tensor's spatial extents
  std::int64_t outer[3];   // the padded tensor's
  std::int64_t before[3];  // zeros before each dim

  // Offset in the unpadded tensor of element `padded_offset` of the padded one, or -1 where it is a zero.
  FFTCONV_HD std::int64_t inner_offset(std::int64_t padded_offset) const {
    std::int64_t rest = padded_offset, offset = 0, stride = 1;
    bool inside = true;
    for (int d = dims - 1; d >= 0; --d) {
      const std::int64_t c = rest % outer[d] - before[d];
      rest /= outer[d];
      inside = inside && c >= 0 && c < inner[d];
      offset += c * stride;
      stride *= inner[d];
    }
    return inside ? rest * stride + offset : -1;  // rest: the (batch, channel) plane
  }
  // Offset in the padded tensor of element `inner_offset` of the unpadded one.
  FFTCONV_HD std::int64_t outer_offset(std::int64_t inner_offset) const {
    std::int64_t rest = inner_offset, offset = 0, stride = 1;
    for (int d = dims - 1; d >= 0; --d) {
      offset += (rest % inner[d] + before[d]) * stride;
      rest /= inner[d];
      stride *= outer[d];
    }
    return rest * stride + offset;
  }
};

// padded = source with zeros around it: one index per element of padded.
template <class T>
struct zero_pad {
  const T* source;
  T* padded;
  pad_frame frame;
  FFTCONV_HD void operator()(std::int64_t i) const {
    const std::int64_t j = frame.inner_offset(i);
    padded[i] = j >= 0 ? source[j] : fftconv::detail::store_as<T>(0.0f);
  }
};

// cropped = the inner part of padded: one index per element of cropped.
template <class T>
struct crop {
  const T* padded;
  T* cropped;
  pad_frame frame;
  FFTCONV_HD void operator()(std::int64_t i) const { cropped[i] = padded[frame.outer_offset(i)]; }
};

}  // namespace kernels

// fftconv::conv<N, T, Policy> on raw pointers with the case's extents. `declared`: the passes the case runs, as a
// user would declare them (fftconv::automatic chooses for them; the other policies ignore it).
template <int N, class T, class Policy>
class policy_layer {
 public:
  using extents = std::array<std::int64_t, N + 2>;
  policy_layer(const fftconv::geometry<N>& g, const extents& x, const extents& w,
               const fftconv::passes& declared = fftconv::passes::training())
      : conv_(g), x_(to_cuda_array(x)), w_(to_cuda_array(w)), y_(to_cuda_array(conv_.output_extents(x))),
        x_extents_(x), declared_(declared) {
    conv_.set_passes(declared);
  }

  // A training step is forward + backward: forward saves the spectra backward reuses (as a user would).
  template <class Exec>
  void forward(Exec exec, const T* x, const T* w, const T* bias, T* y) {
    conv_.forward(exec, const_view(x, x_), const_view(w, w_), bias, view(y, y_), saved_for(exec));
  }
  // The gradients asked for (null: skipped), from the state the last forward saved.
  template <class Exec>
  void backward(Exec exec, const T* x, const T* w, const T* dy, T* dx, T* dw, T* dbias) {
    const std::span<std::byte> saved = saved_for(exec);
    conv_.backward(exec, const_view(x, x_), const_view(w, w_), const_view(dy, y_), saved,
                   {.dx = dx != nullptr ? tensor(view(dx, x_)) : tensor(), .dw = dw != nullptr ? tensor(view(dw, w_)) : tensor(),
                    .dbias = dbias});
  }
  template <class Exec>
  void backward_data(Exec exec, const T* dy, const T* w, T* dx) {
    conv_.backward_data(exec, const_view(dy, y_), const_view(w, w_), view(dx, x_));
  }
  template <class Exec>
  void backward_filter(Exec exec, const T* x, const T* dy, T* dw, T* dbias) {
    conv_.backward_filter(exec, const_view(x, x_), const_view(dy, y_), view(dw, w_), dbias);
  }
  std::size_t workspace_bytes() const { return conv_.workspace_bytes() + saved_host_.bytes() + saved_device_bytes(); }
  json details() const {
    json d = json::make_object();
    if constexpr (requires { conv_.choice(); }) {  // fftconv::automatic: what it picked, and why
      if (conv_.choice().policy) d["choice"] = fftconv::to_string(*conv_.choice().policy);
      d["choice_mode"] = fftconv::to_string(conv_.choice().mode);
      d["choice_reason"] = conv_.choice().reason;
    }
    return d;
  }

 private:
  using cuda_extents = cuda::std::array<std::int64_t, N + 2>;
  using tensor = fftconv::tensor_ref<T, N + 2>;
  static fftconv::view<const T, N + 2> const_view(const T* p, const cuda_extents& e) { return {p, e}; }
  static fftconv::view<T, N + 2> view(T* p, const cuda_extents& e) { return {p, e}; }

  // The saved state on Exec: saved_bytes(keep::spectra) when a backward pass is declared, else none.
  template <class Exec>
  std::span<std::byte> saved_for(Exec exec) {
    using backend = fftconv::detail::backend<Exec>;
    const bool backward = declared_.backward_data || declared_.backward_filter;
    const std::size_t bytes = backward ? conv_.saved_bytes(x_extents_, fftconv::keep::spectra, backend::on_device) : 0;
    auto& held = saved_buffer(exec);
    if (held.size() != bytes) held = backend::template allocate<unsigned char>(exec, bytes);
    return {reinterpret_cast<std::byte*>(held.data()), bytes};
  }
  fftconv::detail::host_buffer<unsigned char>& saved_buffer(fftconv::host) { return saved_host_; }
#if defined(__CUDACC__)
  fftconv::detail::device_buffer<unsigned char>& saved_buffer(fftconv::device) { return saved_device_; }
  std::size_t saved_device_bytes() const { return saved_device_.bytes(); }
  fftconv::detail::device_buffer<unsigned char> saved_device_;
#else
  std::size_t saved_device_bytes() const { return 0; }
#endif

  fftconv::conv<N, T, Policy> conv_;
  cuda_extents x_, w_, y_;
  std::array<std::int64_t, N + 2> x_extents_;
  fftconv::passes declared_;
  fftconv::detail::host_buffer<unsigned char> saved_host_;
};

}  // namespace bench

#if FFTCONV_BENCH_HAS_ONEDNN
namespace bench {

// onednn_conv behind the policy_layer interface (host executor only), in T = float or bf16 throughout.
template <class T>
class onednn_layer {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, fftconv::bf16>,
                "onednn_layer: oneDNN 2.6 convolves f32 or bf16 on the CPU (no f16)");

 public:
  onednn_layer(const baseline_shape& shape, onednn_passes passes)
      : conv_(shape, passes, std::is_same_v<T, float> ? onednn_data::f32 : onednn_data::bf16) {}

  void forward(fftconv::host, const T* x, const T* w, const T* bias, T* y) { conv_.forward(x, w, bias, y); }
  void backward_data(fftconv::host, const T* dy, const T* w, T* dx) { conv_.backward_data(dy, w, dx); }
  void backward_filter(fftconv::host, const T* x, const T* dy, T* dw, T* dbias) {
    conv_.backward_filter(x, dy, dw, dbias);
  }
  void backward(fftconv::host exec, const T* x, const T* w, const T* dy, T* dx, T* dw, T* dbias) {
    if (dx != nullptr) backward_data(exec, dy, w, dx);
    if (dw != nullptr) backward_filter(exec, x, dy, dw, dbias);
  }
  std::size_t workspace_bytes() const { return conv_.workspace_bytes(); }
  json details() const {
    json d = json::make_object();
    d["forward_primitive"] = conv_.forward_implementation();
    if (!conv_.backward_data_implementation().empty())
      d["backward_data_primitive"] = conv_.backward_data_implementation();
    if (!conv_.backward_filter_implementation().empty())
      d["backward_filter_primitive"] = conv_.backward_filter_implementation();
    d["reorders"] = "plain NC(D)(H)W / (G)OI(D)(H)W in and out; every reorder, weights included, inside each call";
    if constexpr (!std::is_same_v<T, float>) d["data_type"] = "bf16 for every tensor, f32 accumulation";
    return d;
  }

 private:
  onednn_conv conv_;
};

}  // namespace bench
#endif

#if defined(__CUDACC__) && FFTCONV_BENCH_HAS_CUDNN
#include "cudnn_conv.cuh"

namespace bench {

// cudnn_conv behind the policy_layer interface (device executor only), in T = float (FMA math) or bf16 (float
// compute) throughout. cuDNN's descriptor has one padding per dim: an asymmetric layer runs as its symmetric
// part (min(low, high) zeros each side) over an explicitly zero-padded copy of x, made once by prepare_input()
// before timing (x does not change within a case); the dx that cuDNN then produces has the padded extents and is
// cropped into dx inside backward_data.
template <class T>
class cudnn_layer {
 public:
  cudnn_layer(cudnnHandle_t handle, const baseline_shape& shape)
      : shape_(shape), inner_(symmetric_part(shape)), conv_(handle, inner_, cudnn_data_type<T>()) {}
  cudnn_conv& conv() { return conv_; }

  bool prepadded() const { return !shape_.symmetric(); }

  // The zero-padded copy of x (asymmetric layers; a no-op otherwise).
  void prepare_input(fftconv::device exec, const T* x) {
    if (!prepadded()) return;
    padded_x_ = fftconv::detail::device_buffer<T>(std::size_t(padded_input_size()), exec.stream);
    padded_dx_ = fftconv::detail::device_buffer<T>(std::size_t(padded_input_size()), exec.stream);
    fftconv::detail::backend<fftconv::device>::for_each_index(exec, padded_input_size(),
                                                            kernels::zero_pad<T>{x, padded_x_.data(), frame()});
    FFTCONV_CUDA_CHECK(cudaStreamSynchronize(exec.stream));
    source_x_ = x;
  }

  // cudnnFind*Ex over this layer's (padded) tensors; dx / dw may be null when that pass is not searched.
  void find(fftconv::device exec, bool backward_data, bool backward_filter, const T* x, const T* w, T* y,
            const T* dy, T* dx, T* dw, std::size_t limit) {
    const std::int64_t nx = padded_input_size(), nw = inner_.out_channels * (inner_.in_channels / inner_.groups) *
                                                      volume(inner_.kernel);
    // cudnnFind*Ex writes its outputs: scratch for those the caller does not hold, and the padded dx.
    fftconv::detail::device_buffer<T> scratch_dx(std::size_t(dx == nullptr || prepadded() ? nx : 0), exec.stream);
    fftconv::detail::device_buffer<T> scratch_dw(std::size_t(dw == nullptr ? nw : 0), exec.stream);
    conv_.find(exec.stream, backward_data, backward_filter, input(x), w, y, dy,
               dx == nullptr || prepadded() ? scratch_dx.data() : dx, dw == nullptr ? scratch_dw.data() : dw, limit);
  }

  void forward(fftconv::device exec, const T* x, const T* w, const T* bias, T* y) {
    conv_.forward(exec.stream, input(x), w, bias, y);
  }
  void backward_data(fftconv::device exec, const T* dy, const T* w, T* dx) {
    if (!prepadded()) {
      conv_.backward_data(exec.stream, dy, w, dx);
      return;
    }
    conv_.backward_data(exec.stream, dy, w, padded_dx_.data());
    fftconv::detail::backend<fftconv::device>::for_each_index(exec, input_size(),
                                                            kernels::crop<T>{padded_dx_.data(), dx, frame()});
  }
  void backward_filter(fftconv::device exec, const T* x, const T* dy, T* dw, T* dbias) {
    conv_.backward_filter(exec.stream, input(x), dy, dw, dbias);
  }
  void backward(fftconv::device exec, const T* x, const T* w, const T* dy, T* dx, T* dw,
                T* dbias) {
    if (dx != nullptr) backward_data(exec, dy, w, dx);
    if (dw != nullptr) backward_filter(exec, x, dy, dw, dbias);
  }
  std::size_t workspace_bytes() const { return conv_.workspace_bytes() + padded_x_.bytes() + padded_dx_.bytes(); }
  json details() const {
    json d = json::make_object();
    d["forward_algorithm"] = conv_.forward_algorithm();
    if (conv_.has_backward_data()) d["backward_data_algorithm"] = conv_.backward_data_algorithm();
    if (conv_.has_backward_filter()) d["backward_filter_algorithm"] = conv_.backward_filter_algorithm();
    d["search_workspace_bytes"] = conv_.search_workspace_bytes();
    if (prepadded())
      d["asymmetric_padding"] =
          "x zero-padded once before timing (counted in workspace_bytes); dx cropped inside backward_data";
    return d;
  }

 private:
  static std::int64_t volume(const std::array<std::int64_t, 3>& e, int dims = 3) {
    std::int64_t v = 1;
    for (int d = 0; d < dims; ++d) v *= e[d];
    return v;
  }
  // The same layer over x padded by the difference of its sides: then min(low, high) zeros remain on each side.
  static baseline_shape symmetric_part(baseline_shape s) {
    for (int d = 0; d < s.dims; ++d) {
      const std::int64_t common = std::min(s.padding_low[d], s.padding_high[d]);
      s.input[d] += s.padding_low[d] + s.padding_high[d] - 2 * common;
      s.padding_low[d] = s.padding_high[d] = common;
    }
    return s;
  }
  kernels::pad_frame frame() const {
    kernels::pad_frame f{};
    f.dims = shape_.dims;
    for (int d = 0; d < shape_.dims; ++d) {
      f.inner[d] = shape_.input[d];
      f.outer[d] = inner_.input[d];
      f.before[d] = shape_.padding_low[d] - inner_.padding_low[d];
    }
    return f;
  }
  std::int64_t input_size() const {
    return shape_.batch * shape_.in_channels * volume(shape_.input, shape_.dims);
  }
  std::int64_t padded_input_size() const {
    return inner_.batch * inner_.in_channels * volume(inner_.input, inner_.dims);
  }
  const T* input(const T* x) const {
    if (!prepadded()) return x;
    if (x != source_x_)
      throw std::logic_error("cudnn_layer: asymmetric padding needs prepare_input() with this case's x first");
    return padded_x_.data();
  }

  baseline_shape shape_, inner_;
  cudnn_conv conv_;
  fftconv::detail::device_buffer<T> padded_x_, padded_dx_;
  const T* source_x_ = nullptr;
};

}  // namespace bench
#endif
