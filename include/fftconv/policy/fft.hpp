#pragma once
// fft: convolution as pointwise products in the Fourier domain (Mathieu, Henaff & LeCun, ICLR 2014).
//
// Every pass is a set of per-frequency complex matrix products over channels; each transformed map is
// computed once and reused across the passes of a training step:
//   forward          transforms x (X̂) and w (Ŵ), one inverse (y)
//   backward_data    transforms dy (dŶ), reuses Ŵ, one inverse (dx)
//   backward_filter  reuses X̂ and dŶ, one inverse (dw)
// so a full step runs 3 forward and 3 inverse transforms (implementation().transform_counts()).
//
// Reuse is correct by default:
//   - Ŵ is recomputed by every forward (weights change in place between steps) unless
//     set_weights_constant(true), which keeps Ŵ until weights_changed() (or w's pointer or the shape changes).
//   - X̂ and dŶ are tagged with their data pointer and the problem's extents; a backward call whose x / dy do
//     not match recomputes them. A forward starts a new step and drops dŶ.
//   Contract: x and dy are not modified between the calls of one step (as design.md §3 states).
//
// Tiles, phases and frames: plan/tiling.hpp (chosen by a cost model under set_workspace_limit, or forced with
// set_tile_extents). The plan and its passes: plan/frequency_plan.hpp. Element math: detail/kernels/
// spectral.hpp (staging, crop, overlap-add), spectrum_layout.hpp (transposes), products.hpp (natural-layout
// products; their host kernel is backend/host/spectral_gemm.hpp).

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

#include "../backend/backend.hpp"
#include "../backend/host/fftw.hpp"  // FFTW3 (fftw_*/fftwf_* plan-many)
#include "../detail/kernels/direct.hpp"  // bias_gradient_term
#include "../detail/kernels/spectral.hpp"
#include "../geometry.hpp"
#include "../plan/frequency_plan.hpp"
#include "../plan/tiling.hpp"
#include "../plan/plan_cache.hpp"  // fftconv::clear_plan_cache
#include "../policy.hpp"
#if defined(__CUDACC__)
#include "../backend/device/cufft.cuh"  // cuFFT plan-many
#endif

namespace fftconv::detail {

template <int N, class T>
class conv_impl<fft, N, T> {
 public:
  explicit conv_impl(const geometry<N>&) {}

  // Each pass compiles its body only where the executor has an FFT library, so a missing one is reported by
  // the single static_assert in usable() rather than by a cascade of errors.
  template <class Exec>
  void forward(Exec exec, const problem<N>& p, const T* x, const T* w, const T* bias, T* y) {
    if constexpr (usable<Exec>()) forward_pass(exec, p, x, w, bias, y);
  }

  template <class Exec>
  void backward_data(Exec exec, const problem<N>& p, const T* dy, const T* w, T* dx) {
    if constexpr (usable<Exec>()) backward_data_pass(exec, p, dy, w, dx);
  }

  template <class Exec>
  void backward_filter(Exec exec, const problem<N>& p, const T* x, const T* dy, T* dw, T* dbias) {
    if constexpr (usable<Exec>()) backward_filter_pass(exec, p, x, dy, dw, dbias);
  }

  // Drop the cached kernel spectra: the next pass that needs Ŵ recomputes it.
  void weights_changed() {
    for (auto& plan : plans_)
      if (plan) plan->forget_kernel_spectrum();
  }

  // Forget X̂ and dŶ, and Ŵ unless the weights are constant: the next calls transform their arguments afresh.
  void discard_cached_maps() {
    for (auto& plan : plans_)
      if (plan) {
        plan->forget_data_spectra();
        if (!weights_constant_) plan->forget_kernel_spectrum();
      }
  }

  // true: w is constant (inference); Ŵ is kept across forwards until weights_changed(). Default false.
  void set_weights_constant(bool constant) { weights_constant_ = constant; }
  bool weights_constant() const noexcept { return weights_constant_; }

  // Upper bound on the bytes a step holds: the spectra kept across the passes (X̂, Ŵ, dŶ) count against it,
  // and the scratch is chunked under what is left. A problem that cannot fit throws workspace_limit_exceeded.
  // Default: no limit, and a scratch budget of request_.default_scratch.
  void set_workspace_limit(std::size_t bytes) {
    request_.workspace_limit = bytes;
    drop_plans();
  }
  std::size_t workspace_limit() const noexcept { return request_.workspace_limit; }

  // Outputs per tile in each dim (0: chosen by the cost model), for tests and tuning.
  void set_tile_extents(const std::array<std::int64_t, N>& outputs_per_tile) {
    for (int d = 0; d < N; ++d)
      if (outputs_per_tile[d] < 0)
        fail("fft: set_tile_extents: tile extent ", outputs_per_tile[d], " of dim ", d, " must be >= 0");
    request_.forced_tile = outputs_per_tile;
    drop_plans();
  }

  // gemm or elementwise products (automatic: elementwise on the host; on the GPU for few channels per group).
  void set_products(spectral_products products) {
    request_.products = products;
    drop_plans();
  }

  // The tiling, chunking and predicted bytes this layer would use for problem p on the host (or the GPU),
  // without running anything.
  tiling_choice<N> plan_choice(const problem<N>& p, bool on_device = false) const {
    return choose_tiling<N>(p, on_executor(request_, on_device), sizeof(T));
  }

  // Bytes a full step of problem p would hold (spectra + scratch), predicted without allocating.
  std::size_t predicted_workspace_bytes(const problem<N>& p) const {
    return static_cast<std::size_t>(plan_choice(p).predicted_bytes);
  }

  // Spectra (X̂, Ŵ, dŶ), staging and product buffers and the FFT work area, over both executors.
  std::size_t workspace_bytes() const {
    std::size_t bytes = 0;
    for (const auto& plan : plans_)
      if (plan) bytes += plan->workspace_bytes();
    return bytes;
  }

  // Transform executions since construction (or reset_transform_counts()): one per R2C / C2R plan execution.
  detail::transform_counts transform_counts() const noexcept { return counts_; }
  void reset_transform_counts() noexcept { counts_ = {}; }

  // The frequency-domain plan in use on executor Exec (null before its first call), e.g. for its frame().
  template <class Exec>
  const frequency_plan<N, T, Exec>* current_plan() const {
    return static_cast<const frequency_plan<N, T, Exec>*>(plans_[slot<Exec>()].get());
  }

 private:
  template <class Exec>
  static constexpr bool usable() {
    static_assert(fft_backend<Exec>::available,
                  "fftconv::fft on fftconv::host needs FFTW3 (libfftw3-dev): link fftconv::host with FFTW found "
                  "so that FFTCONV_HAS_FFTW=1, or run on fftconv::device, or use fftconv::naive / fftconv::im2col");
    return fft_backend<Exec>::available;
  }

  template <class Exec>
  void forward_pass(Exec exec, const problem<N>& p, const T* x, const T* w, const T* bias, T* y) {
    frequency_plan<N, T, Exec>& plan = plan_for(exec, p);
    if (!plan.reaches_input()) {  // every window sees padding only: y = bias, exactly
      backend<Exec>::for_each_index(exec, p.output_size(),
                                    broadcast_bias<T>{p.out_channels, p.output_spatial(), bias, y});
      return;
    }
    plan.forget_output_spectrum();  // a new step: a dy seen before belongs to the previous one
    if (!weights_constant_ || !plan.has_kernel_spectrum(w)) plan.transform_kernel(exec, w, counts_);
    plan.forward(exec, x, bias, y, counts_);
  }

  template <class Exec>
  void backward_data_pass(Exec exec, const problem<N>& p, const T* dy, const T* w, T* dx) {
    frequency_plan<N, T, Exec>& plan = plan_for(exec, p);
    if (!plan.reaches_input()) return backend<Exec>::fill(exec, dx, p.input_size(), T(0));
    if (!plan.has_kernel_spectrum(w)) plan.transform_kernel(exec, w, counts_);
    plan.backward_data(exec, dy, dx, counts_);
  }

  template <class Exec>
  void backward_filter_pass(Exec exec, const problem<N>& p, const T* x, const T* dy, T* dw, T* dbias) {
    frequency_plan<N, T, Exec>& plan = plan_for(exec, p);
    if (!plan.reaches_input()) {
      backend<Exec>::fill(exec, dw, p.weight_size(), T(0));
    } else {
      if (!plan.has_input_spectrum(x)) plan.transform_input(exec, x, counts_);
      if (!plan.has_output_spectrum(dy)) plan.transform_output_gradient(exec, dy, counts_);
      plan.backward_filter(exec, dw, counts_);
    }
    if (dbias != nullptr)
      backend<Exec>::segmented_sum(exec, p.out_channels, p.batch * p.output_spatial(),
                                   bias_gradient_term<N, T>{p.out_channels, p.output_spatial(), dy}, dbias);
  }

  void drop_plans() {
    for (auto& plan : plans_) plan.reset();
  }

  template <class Exec>
  static constexpr std::size_t slot() {
    return backend<Exec>::on_device ? 1 : 0;
  }

  // The plan for p on Exec, rebuilt when the shape changed. A failed rebuild (out_of_memory) leaves no plan,
  // so a later call with a smaller problem starts clean.
  template <class Exec>
  frequency_plan<N, T, Exec>& plan_for(const Exec& exec, const problem<N>& p) {
    std::unique_ptr<frequency_plan_base>& held = plans_[slot<Exec>()];
    auto* current = static_cast<frequency_plan<N, T, Exec>*>(held.get());
    if (current != nullptr && !current->same_queue(exec)) {
      // Another stream: the held workspace and spectra are ordered on the old one. Wait for it (on its own
      // device), then start over on the new stream (a layer used on alternating streams pays one rebuild per
      // switch).
      synchronize(current->queue());
      held.reset();
      current = nullptr;
    }
    if (current == nullptr || !current->matches(p, request_)) {
      held.reset();  // release the old workspace before allocating the new one
      auto fresh = std::make_unique<frequency_plan<N, T, Exec>>(exec, p, request_);
      current = fresh.get();
      held = std::move(fresh);
    }
    return *current;
  }

  std::unique_ptr<frequency_plan_base> plans_[2];  // [0] host, [1] device
  tiling_request<N> request_;
  detail::transform_counts counts_;
  bool weights_constant_ = false;
};

}  // namespace fftconv::detail
