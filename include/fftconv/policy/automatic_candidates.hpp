#pragma once
// The candidates an automatic layer holds: each created on first use with the layer's settings, run on
// one call's arguments, and released (its workspace freed) when it loses.

#include <cstddef>
#include <optional>
#include <type_traits>

#include "../backend/backend.hpp"
#include "../call.hpp"                   // keep
#include "../detail/bias_gradient.hpp"
#include "../detail/kernels/tensor_layout.hpp"  // strided
#include "../error.hpp"
#include "../geometry.hpp"
#include "../backend/common/fft_backend.hpp"
#include "../policy.hpp"
#include "fft.hpp"
#include "im2col.hpp"
#include "naive.hpp"
#include "vendor.hpp"

namespace fftconv::detail {

// The arguments of one call, forward or combined backward; tensors the call does not take are null.
template <int N, class T>
struct call_arguments {
  bool backward = false;  // else forward
  strided<const T, N> x, w, dy;
  const T* bias = nullptr;
  strided<T, N> y, dx, dw;
  T* dbias = nullptr;
  std::byte* payload_out = nullptr;       // forward: the saved state's payload (fft writes X̂, Ŵ there)
  const std::byte* payload_in = nullptr;  // backward: the saved state's payload
  keep kept = keep::none;
  std::optional<algorithm> producer;      // backward: the algorithm that wrote the saved state
};

template <int N, class T>
class automatic_candidates {
 public:
  explicit automatic_candidates(const geometry<N>& g) : geometry_(g) {}

  template <class Exec>
  static constexpr bool fft_usable = fft_backend<Exec>::available;
  template <class Exec>
  static constexpr bool vendor_usable = vendor_available<Exec, T>;

  // Whether candidate c can run on Exec in this build, and why not.
  template <class Exec>
  static constexpr bool usable(algorithm c) {
    return c == algorithm::fft ? fft_usable<Exec> : c == algorithm::vendor ? vendor_usable<Exec> : true;
  }
  template <class Exec>
  static const char* unusable_reason(algorithm c) {
    if (c == algorithm::fft) return "no FFT library for this executor";
    if (std::is_same_v<Exec, host> && FFTCONV_HAS_ONEDNN) return "oneDNN has no double convolution on the CPU";
    return std::is_same_v<Exec, host> ? "built without oneDNN (FFTCONV_HAS_ONEDNN=0)"
                                      : "built without cuDNN (FFTCONV_HAS_CUDNN=0, or not an nvcc translation unit)";
  }

  const vendor_options& options() const noexcept { return vendor_options_; }
  void set_vendor_options(const vendor_options& options) {
    vendor_options_ = options;
    if (vendor_) vendor_->set_vendor_options(options);
  }

  std::optional<std::size_t> workspace_limit() const { return workspace_limit_; }

  void set_weights_constant(bool constant) {
    weights_constant_ = constant;
    for_each_live([&](auto& impl) {
      if constexpr (requires { impl.set_weights_constant(constant); }) impl.set_weights_constant(constant);
    });
  }

  void set_workspace_limit(std::size_t bytes) {
    workspace_limit_ = bytes;
    for_each_live([&](auto& impl) {
      if constexpr (requires { impl.set_workspace_limit(bytes); }) impl.set_workspace_limit(bytes);
    });
  }

  void weights_changed() {
    for_each_live([](auto& impl) { impl.weights_changed(); });
  }

  void weights_changed(algorithm c) {
    switch (c) {
      case algorithm::naive: if (naive_) naive_->weights_changed(); break;
      case algorithm::im2col: if (im2col_) im2col_->weights_changed(); break;
      case algorithm::fft: if (fft_) fft_->weights_changed(); break;
      case algorithm::vendor: if (vendor_) vendor_->weights_changed(); break;
    }
  }

  std::size_t workspace_bytes() const {
    std::size_t bytes = 0;
    for_each_live([&](const auto& impl) { bytes += impl.workspace_bytes(); });
    return bytes;
  }

  // Candidate P's state, null if it does not exist now.
  template <class P>
  const conv_impl<P, N, T>* state() const {
    return slot<P>().has_value() ? &*slot<P>() : nullptr;
  }

  // f(candidate P with the layer's settings): the live one, or a probe made as obtain() would make it.
  template <class P, class F>
  decltype(auto) with_settings(F&& f) const {
    if (slot<P>()) return f(*slot<P>());
    conv_impl<P, N, T> probe(geometry_);
    configure(probe);
    return f(static_cast<const conv_impl<P, N, T>&>(probe));
  }

  // Destroys a candidate and its workspace; it is re-created, with the layer's settings, when next needed.
  void release(algorithm c) {
    switch (c) {
      case algorithm::naive: naive_.reset(); break;
      case algorithm::im2col: im2col_.reset(); break;
      case algorithm::fft: fft_.reset(); break;
      case algorithm::vendor: vendor_.reset(); break;
    }
  }

  // One call on candidate c: its combined backward where it has one (the FFT policy), else pass by pass as
  // conv::backward does for a fixed policy.
  template <class Exec>
  void run(algorithm c, Exec exec, const problem<N>& p, const call_arguments<N, T>& call) {
    switch (c) {
      case algorithm::naive: run_on(obtain<naive>(), exec, p, call); break;
      case algorithm::im2col: run_on(obtain<im2col>(), exec, p, call); break;
      case algorithm::fft:
        if constexpr (fft_usable<Exec>) {
          run_on(obtain<fft>(), exec, p, call);
          break;
        } else {
          fail("automatic: fft ", call.producer ? "wrote the saved state" : "chosen",
               ", but this executor has no FFT library");
        }
      case algorithm::vendor:
        if constexpr (vendor_usable<Exec>) {
          run_on(obtain<vendor>(), exec, p, call);
          break;
        } else {
          fail("automatic: vendor ", call.producer ? "wrote the saved state" : "chosen", ", but ",
               unusable_reason<Exec>(algorithm::vendor));
        }
    }
  }

  template <class Exec>
  static void bias_gradient(Exec exec, const problem<N>& p, strided<const T, N> dy, T* dbias) {
    detail::bias_gradient(exec, p, dy, dbias);
  }

 private:
  template <class Impl, class Exec>
  static void run_on(Impl& impl, Exec exec, const problem<N>& p, const call_arguments<N, T>& call) {
    if (!call.backward) {
      if constexpr (requires { impl.forward(exec, p, call.x, call.w, call.bias, call.y, call.payload_out, call.kept); })
        impl.forward(exec, p, call.x, call.w, call.bias, call.y, call.payload_out, call.kept);
      else
        impl.forward(exec, p, call.x, call.w, call.bias, call.y);
      return;
    }
    if constexpr (requires {
                    impl.backward(exec, p, call.x, call.w, call.dy, call.payload_in, call.kept, call.producer, call.dx,
                                  call.dw, call.dbias);
                  }) {
      impl.backward(exec, p, call.x, call.w, call.dy, call.payload_in, call.kept, call.producer, call.dx, call.dw,
                    call.dbias);
    } else {
      if (call.dx) impl.backward_data(exec, p, call.dy, call.w, call.dx);
      if (call.dw)
        impl.backward_filter(exec, p, call.x, call.dy, call.dw, call.dbias);
      else if (call.dbias != nullptr)
        bias_gradient(exec, p, call.dy, call.dbias);
    }
  }

  template <class Impl>
  void configure(Impl& impl) const {
    if constexpr (requires { impl.set_weights_constant(true); }) impl.set_weights_constant(weights_constant_);
    if constexpr (requires { impl.set_workspace_limit(std::size_t{}); })
      if (workspace_limit_) impl.set_workspace_limit(*workspace_limit_);
    if constexpr (requires { impl.set_vendor_options(vendor_options{}); }) impl.set_vendor_options(vendor_options_);
  }

  template <class P>
  conv_impl<P, N, T>& obtain() {
    auto& held = slot<P>();
    if (!held) {
      held.emplace(geometry_);
      configure(*held);
    }
    return *held;
  }

  template <class P>
  std::optional<conv_impl<P, N, T>>& slot() {
    if constexpr (std::is_same_v<P, naive>) return naive_;
    else if constexpr (std::is_same_v<P, im2col>) return im2col_;
    else if constexpr (std::is_same_v<P, vendor>) return vendor_;
    else return fft_;
  }
  template <class P>
  const std::optional<conv_impl<P, N, T>>& slot() const {
    return const_cast<automatic_candidates*>(this)->template slot<P>();
  }

  template <class F>
  void for_each_live(F&& f) {
    if (naive_) f(*naive_);
    if (im2col_) f(*im2col_);
    if (fft_) f(*fft_);
    if (vendor_) f(*vendor_);
  }
  template <class F>
  void for_each_live(F&& f) const {
    if (naive_) f(*naive_);
    if (im2col_) f(*im2col_);
    if (fft_) f(*fft_);
    if (vendor_) f(*vendor_);
  }

  geometry<N> geometry_;
  std::optional<std::size_t> workspace_limit_;
  bool weights_constant_ = false;
  std::optional<conv_impl<naive, N, T>> naive_;
  std::optional<conv_impl<im2col, N, T>> im2col_;
  std::optional<conv_impl<fft, N, T>> fft_;
  std::optional<conv_impl<vendor, N, T>> vendor_;
  vendor_options vendor_options_;
};

}  // namespace fftconv::detail
