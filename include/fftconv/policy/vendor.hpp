#pragma once
// vendor: the platform's convolution library, with the other policies' semantics, validation and errors.
//   host    oneDNN 2.x (policy/vendor/onednn.hpp): float, and 16-bit tensors through fp32 copies; oneDNN has
//           no double convolution on the CPU, so conv<N, double, vendor> on fftconv::host does not compile.
//   device  cuDNN 9 (policy/vendor/cudnn.cuh): float and double, 16-bit tensors through fp32 copies; the
//           fastest algorithm per pass found once per shape, FP32 math unless vendor_options allow TF32.
// The library's primitives or algorithms are made once per problem shape and kept (a few shapes per layer);
// their buffers and workspace come from the executor's memory_resource and count against set_workspace_limit.
// Every tensor is handed over dense and row-major (conv gathers strided views into copies): both libraries
// take the plain layouts and reorder inside the call, as a framework calls them.
//
// The library is optional, like FFTW: FFTCONV_HAS_ONEDNN / FFTCONV_HAS_CUDNN (config.hpp) say whether it is on,
// and a build without it refuses fftconv::vendor on that executor at compile time; fftconv::automatic then
// leaves it out of its candidates.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../backend/backend.hpp"
#include "../call.hpp"  // keep
#include "../config.hpp"
#include "../detail/bias_gradient.hpp"
#include "../detail/kernels/tensor_layout.hpp"  // strided
#include "../element.hpp"
#include "../error.hpp"
#include "../executor.hpp"
#include "../geometry.hpp"
#include "../policy.hpp"
#include "im2col/workspace.hpp"
#include "vendor/vendor_shape.hpp"

#if FFTCONV_HAS_ONEDNN
#include "vendor/onednn.hpp"
#endif
#if defined(__CUDACC__) && FFTCONV_HAS_CUDNN
#include "vendor/cudnn.cuh"
#endif

namespace fftconv::detail {

// Whether fftconv::vendor runs layers computed in C on executor Exec in this translation unit.
template <class Exec, class C>
inline constexpr bool vendor_available = [] {
  if constexpr (std::is_same_v<Exec, host>)
    return FFTCONV_HAS_ONEDNN && std::is_same_v<C, float>;
  else
#if defined(__CUDACC__) && FFTCONV_HAS_CUDNN
    return std::is_same_v<C, float> || std::is_same_v<C, double>;
#else
    return false;
#endif
}();

template <int N, class T>
class conv_impl<vendor, N, T> {
 public:
  explicit conv_impl(const geometry<N>&) {}
  // A copied layer keeps the settings and starts without primitives: the libraries' memory objects are bound to
  // each call's pointers, so two layers sharing them could not run on different threads.
  conv_impl(const conv_impl& other) : workspace_limit_(other.workspace_limit_), options_(other.options_) {}
  conv_impl& operator=(const conv_impl& other) {
    if (this != &other) {
      workspace_limit_ = other.workspace_limit_, options_ = other.options_;
      workspace_.release();
      primitives_.clear();
    }
    return *this;
  }
  conv_impl(conv_impl&&) noexcept = default;
  conv_impl& operator=(conv_impl&&) noexcept = default;

  // Dense row-major tensors only: the libraries are given plain layouts.
  static strided_reach reach(const problem<N>&) { return {}; }

  // Host: bf16 tensors with bf16 weights go to oneDNN as they are (its bf16 primitives read bf16, accumulate in
  // f32 and round each output once); other 16-bit layers come as fp32 copies made at the boundary.
  template <class Exec, class U, class V>
  static constexpr bool stores = std::is_same_v<Exec, host> && FFTCONV_HAS_ONEDNN && std::is_same_v<T, float> &&
                                 std::is_same_v<U, bf16> && std::is_same_v<V, bf16>;

  // X, V, D: the storage of x, w, dy (T, or bf16 where `stores`); Y, DX, DW: of the outputs (the same, or T when
  // conv blends a scaled result from a T copy). The trailing saved-state arguments are unused: the vendor saves
  // a header only.
  template <class Exec, class X, class V, class Y>
  void forward(Exec exec, const problem<N>& p, strided<const X, N> x, strided<const V, N> w, const T* bias,
               strided<Y, N> y, std::byte* = nullptr, keep = keep::none) {
    if constexpr (usable<Exec>()) {
      if constexpr (std::is_same_v<Exec, host>) {
        auto& c = host_convolution<X, Y>(p);
        c.forward(x.data, w.data, bias, y.data, host_workspace(exec, c, pass::forward));
      } else {
        device_convolution(p).forward(exec, x.data, w.data, bias, y.data, workspace_limit_);
      }
    }
  }

  template <class Exec, class D, class V, class DX>
  void backward_data(Exec exec, const problem<N>& p, strided<const D, N> dy, strided<const V, N> w, strided<DX, N> dx) {
    if constexpr (usable<Exec>()) {
      if constexpr (std::is_same_v<Exec, host>) {
        auto& c = host_convolution<D, DX>(p);
        c.backward_data(dy.data, w.data, dx.data, host_workspace(exec, c, pass::backward_data));
      } else {
        device_convolution(p).backward_data(exec, dy.data, w.data, dx.data, workspace_limit_);
      }
    }
  }

  template <class Exec, class X, class D, class DW>
  void backward_filter(Exec exec, const problem<N>& p, strided<const X, N> x, strided<const D, N> dy,
                       strided<DW, N> dw, T* dbias) {
    if constexpr (usable<Exec>()) {
      if constexpr (std::is_same_v<Exec, host>) {
        auto& c = host_convolution<X, DW>(p);
        c.backward_filter(x.data, dy.data, dw.data, nullptr, host_workspace(exec, c, pass::backward_filter));
      } else {
        device_convolution(p).backward_filter(exec, x.data, dy.data, dw.data, nullptr, workspace_limit_);
      }
      // db as every policy computes it: a fixed-order sum in double, rather than the library's float sum
      // (which loses digits to cancellation on few output channels, and is not deterministic in cuDNN).
      if (dbias != nullptr) bias_gradient(exec, p, dy, dbias);
    }
  }

  // The gradients asked for (null: skipped), pass by pass; db alone is the library's fixed-order sum over dy.
  // Both passes' primitives (or algorithms) are made, and their workspace checked against the limit, before
  // either runs, so that a refusal leaves dx unwritten too.
  template <class Exec, class X, class V, class D, class DX, class DW>
  void backward(Exec exec, const problem<N>& p, strided<const X, N> x, strided<const V, N> w, strided<const D, N> dy,
                const std::byte*, keep, std::optional<algorithm>, strided<DX, N> dx, strided<DW, N> dw, T* dbias) {
    if constexpr (usable<Exec>()) {
      if (dx && dw) {
        if constexpr (std::is_same_v<Exec, host>) {
          (void)host_workspace(exec, host_convolution<D, DX>(p), pass::backward_data);
          (void)host_workspace(exec, host_convolution<X, DW>(p), pass::backward_filter);
        } else {
          device_convolution(p).prepare(exec, pass::backward_data, workspace_limit_);
          device_convolution(p).prepare(exec, pass::backward_filter, workspace_limit_);
        }
      }
    }
    if (dx) backward_data(exec, p, dy, w, dx);
    if (dw)
      backward_filter(exec, p, x, dy, dw, dbias);
    else if (dbias != nullptr)
      bias_gradient(exec, p, dy, dbias);
  }

  void weights_changed() {}

  // A new limit applies from the next call; the host workspace is released so that it regrows under it. On the
  // device the algorithms were chosen under the old limit, so they are chosen again.
  void set_workspace_limit(std::size_t bytes) {
    workspace_limit_ = bytes;
    workspace_.release();
    primitives_.clear();
  }

  // TF32 and determinism for the device's algorithm search; changing them chooses the algorithms again.
  void set_vendor_options(const vendor_options& options) {
    if (options == options_) return;
    options_ = options;
    primitives_.clear();
  }
  const vendor_options& options() const noexcept { return options_; }

  std::size_t workspace_bytes() const {
    std::size_t bytes = workspace_.bytes();
#if defined(__CUDACC__) && FFTCONV_HAS_CUDNN
    for (const cached& c : primitives_)
      if (c.on_device) bytes += static_cast<const cudnn_convolution*>(c.primitives.get())->workspace_bytes();
#endif
    return bytes;
  }

  // The host workspace a step of `which` passes holds for p: the largest of its passes' reorder buffers and
  // scratchpads (one area serves them in turn). Creates the primitives it asks about, as a first call would.
  // U: the storage of the layer's tensors where conv hands them over as they are (stores).
  template <class U = T>
  std::size_t held_workspace_bytes(const problem<N>& p, const passes& which, keep) const {
#if FFTCONV_HAS_ONEDNN
    if constexpr (vendor_available<host, T>) {
      auto& c = const_cast<conv_impl*>(this)->template host_convolution<U, U>(p);
      std::size_t bytes = 0;
      for (const pass each : {pass::forward, pass::backward_data, pass::backward_filter})
        if (which.has(each)) bytes = std::max(bytes, c.workspace_bytes(each));
      return bytes;
    }
#endif
    (void)p, (void)which;
    return 0;
  }

  // What the library runs for p's pass (the host's oneDNN implementation and layouts), or empty where it has
  // not been prepared on this executor.
  std::string implementation(const problem<N>& p, pass which) const {
#if FFTCONV_HAS_ONEDNN
    if constexpr (vendor_available<host, T>) {
      for (const cached& c : primitives_)
        if (!c.on_device && c.shape == vendor_shape::of(p) && c.inputs == c.outputs)
          return static_cast<onednn_convolution*>(c.primitives.get())->implementation(which);
    }
#endif
    (void)p, (void)which;
    return {};
  }

  // How many shapes' primitives a layer keeps per executor; the oldest beyond it is released.
  static constexpr std::size_t shapes_kept = 4;

 private:
  template <class Exec>
  static constexpr bool usable() {
    if constexpr (std::is_same_v<Exec, host>) {
      static_assert(FFTCONV_HAS_ONEDNN || dependent_false<Exec>,
                    "fftconv::vendor on fftconv::host needs oneDNN 2.x (libdnnl-dev): link fftconv::host with oneDNN "
                    "found so that FFTCONV_HAS_ONEDNN=1 (plain builds: <oneapi/dnnl/dnnl.h> visible and -ldnnl), or run "
                    "on fftconv::device, or use another policy");
      static_assert(!FFTCONV_HAS_ONEDNN || !std::is_same_v<T, double>,
                    "fftconv::vendor on fftconv::host: oneDNN has no double convolution on the CPU; use float (or "
                    "bf16 / fp16 tensors), fftconv::device, or another policy");
    } else {
      static_assert(vendor_available<Exec, T>,
                    "fftconv::vendor on fftconv::device needs cuDNN (<cudnn.h>, -lcudnn) in an nvcc translation "
                    "unit: link fftconv::device with cuDNN found so that FFTCONV_HAS_CUDNN=1, or use another policy");
    }
    return vendor_available<Exec, T>;
  }

  // The primitives for one shape on one executor kind, type-erased so that this class has one layout in
  // host-only and CUDA translation units.
  struct cached {
    vendor_shape shape;
    vendor_element inputs, outputs;
    bool on_device;
    std::shared_ptr<void> primitives;
  };

  template <class U>
  static constexpr vendor_element element_of = std::is_same_v<U, bf16>     ? vendor_element::bf16
                                               : std::is_same_v<U, fp16>   ? vendor_element::f16
                                               : std::is_same_v<U, double> ? vendor_element::f64
                                                                           : vendor_element::f32;

  template <class Convolution, class Make>
  Convolution& find_or_make(const vendor_shape& shape, vendor_element inputs, vendor_element outputs, bool on_device,
                            Make&& make) {
    for (cached& c : primitives_)
      if (c.on_device == on_device && c.shape == shape && c.inputs == inputs && c.outputs == outputs)
        return *static_cast<Convolution*>(c.primitives.get());
    std::size_t held = 0;
    for (const cached& c : primitives_) held += c.on_device == on_device;
    if (held == shapes_kept)
      for (auto it = primitives_.begin(); it != primitives_.end(); ++it)
        if (it->on_device == on_device) {
          primitives_.erase(it);
          break;
        }
    std::shared_ptr<Convolution> made = make();
    Convolution& result = *made;
    primitives_.push_back({shape, inputs, outputs, on_device, std::move(made)});
    return result;
  }

#if FFTCONV_HAS_ONEDNN
  // The primitives for p with inputs stored as I and outputs as O (the bias and its gradient stay in T).
  template <class I, class O>
  onednn_convolution& host_convolution(const problem<N>& p) {
    const vendor_shape shape = vendor_shape::of(p);
    const onednn_types types{element_of<I>, element_of<O>, vendor_element::f32};
    return find_or_make<onednn_convolution>(shape, types.inputs, types.outputs, false,
                                            [&] { return std::make_shared<onednn_convolution>(shape, types); });
  }

  // The pass's reorder buffers and scratchpad, under the workspace limit.
  std::byte* host_workspace(const host& exec, onednn_convolution& c, pass which) {
    const std::size_t bytes = c.workspace_bytes(which);
    if (workspace_limit_ && bytes > *workspace_limit_)
      throw workspace_limit_exceeded(bytes, *workspace_limit_,
                                     std::string("vendor (oneDNN ") + to_string(which) + ": reorders and scratchpad)");
    return workspace_.get<std::byte>(exec, bytes);
  }
#endif

#if defined(__CUDACC__) && FFTCONV_HAS_CUDNN
  cudnn_convolution& device_convolution(const problem<N>& p) {
    const vendor_shape shape = vendor_shape::of(p);
    const vendor_element element = std::is_same_v<T, double> ? vendor_element::f64 : vendor_element::f32;
    return find_or_make<cudnn_convolution>(shape, element, element, true, [&] {
      return std::make_shared<cudnn_convolution>(
          shape, std::is_same_v<T, double> ? vendor_element::f64 : vendor_element::f32, options_);
    });
  }
#endif

  std::optional<std::size_t> workspace_limit_;
  vendor_options options_;
  im2col_workspace workspace_;  // host: reorder buffers and scratchpad (the device's live in its convolutions)
  std::vector<cached> primitives_;
};

}  // namespace fftconv::detail
