#pragma once
// fft: convolution as pointwise products in the Fourier domain (Mathieu, Henaff & LeCun, ICLR 2014).
//
// Every pass is a set of per-frequency complex matrix products over channels; each transformed map is
// computed once per training step when the step is forward + backward with a saved state:
//   forward   transforms w (Ŵ) and x (X̂) into the caller's saved state, one inverse (y)
//   backward  transforms dy (dŶ) once, reuses Ŵ for dx and X̂ for dw from the saved state, one inverse each
// so a step with c chunks runs (2c + 1) forward and (2c + 1) inverse executions
// (implementation().transform_counts()).
//
// Nothing is reused through hidden state: without a saved state each pass transforms what it needs from its
// own arguments, whatever their addresses. The one kept map is Ŵ for weights the caller declared constant
// (set_weights_constant(true)), until weights_changed().
//
// Tiles, phases and frames: tiling/tiling.hpp (chosen by a cost model under set_workspace_limit, or forced with
// set_tile_extents). The plan and its passes: policy/fft/frequency_plan.hpp. Element math: detail/kernels/
// spectral.hpp (staging, crop, overlap-add), spectrum_layout.hpp (transposes), products.hpp (natural-layout
// products; their host kernel is policy/fft/spectral_gemm.hpp).

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <algorithm>
#include <optional>
#include <type_traits>
#include <vector>

#include "../backend/backend.hpp"
#include "../backend/common/plan_cache.hpp"  // fftconv::clear_plan_cache
#include "../backend/host/fftw.hpp"          // FFTW3 (fftw_*/fftwf_* plan-many)
#include "../call.hpp"                       // keep
#include "../detail/bias_gradient.hpp"
#include "../detail/kernels/spectral.hpp"
#include "../detail/saved_header.hpp"
#include "../geometry.hpp"
#include "../policy.hpp"
#include "../tiling/tiling.hpp"
#include "fft/frequency_plan.hpp"
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

  // y = conv(x, w) + bias. payload: the saved state's spectra area (null: none saved); with keep::spectra X̂
  // over all rows and Ŵ are written there for backward, else X̂ lives one chunk at a time in the plan.
  // Every tensor is read and written through its strides: the staging and crop index through them.
  static strided_reach reach(const problem<N>&) { return strided_reach::all(); }

  // x, w, dy, y, dx and dw may be stored narrower than T (bf16, fp16): the staging converts them on load into
  // T frames and the crop, overlap-add and dw gather round on store, so no T copy of a tensor is made.
  static constexpr bool converts_storage = true;

  template <class Exec, class X, class W, class Y>
  void forward(Exec exec, const problem<N>& p, strided<const X, N> x, strided<const W, N> w, const T* bias,
               strided<Y, N> y, std::byte* payload = nullptr, keep kept = keep::none) {
    if constexpr (usable<Exec>()) forward_pass(exec, p, x, w, bias, y, kept == keep::spectra ? payload : nullptr);
  }

  // The gradients asked for (null: skipped). With saved spectra (payload, keep::spectra, written by this
  // policy) X̂ and Ŵ come from them; otherwise they are transformed from x and w here. dŶ is transformed once
  // for both dx and dw.
  template <class Exec, class X, class W, class DY, class DX, class DW>
  void backward(Exec exec, const problem<N>& p, strided<const X, N> x, strided<const W, N> w, strided<const DY, N> dy,
                const std::byte* payload, keep kept, std::optional<algorithm> producer, strided<DX, N> dx,
                strided<DW, N> dw, T* dbias) {
    const bool saved = payload != nullptr && kept == keep::spectra && producer.value_or(algorithm::fft) == algorithm::fft;
    if constexpr (usable<Exec>()) backward_pass(exec, p, x, w, dy, saved ? payload : nullptr, dx, dw, dbias);
  }

  template <class Exec>
  void backward_data(Exec exec, const problem<N>& p, strided<const T, N> dy, strided<const T, N> w, strided<T, N> dx) {
    backward(exec, p, strided<const T, N>{}, w, dy, nullptr, keep::none, std::nullopt, dx, strided<T, N>{}, nullptr);
  }

  template <class Exec>
  void backward_filter(Exec exec, const problem<N>& p, strided<const T, N> x, strided<const T, N> dy,
                       strided<T, N> dw, T* dbias) {
    backward(exec, p, x, strided<const T, N>{}, dy, nullptr, keep::none, std::nullopt, strided<T, N>{}, dw, dbias);
  }

  // Bytes of saved spectra after the header for problem p: X̂ over all rows and Ŵ with keep::spectra, none
  // with keep::none. A pure function of the shape, the executor kind and the declared settings.
  std::size_t saved_payload_bytes(const problem<N>& p, keep kept, bool on_device) const {
    if (kept == keep::none || !windows_reach_input(p)) return 0;
    return saved_layout(p, on_device).total();
  }

  // The tiling in the saved header: a state is read only by a plan that lays its spectra out the same way.
  void describe_saved(saved_header& h, const problem<N>& p, keep kept, bool on_device, algorithm) const {
    const tiling_choice<N>& c = tiling_for(p, on_device);
    for (int d = 0; d < N; ++d) h.layout[d] = c.layout.tile[d], h.layout[3 + d] = c.layout.frame[d];
    h.layout[6] = c.layout.phases;
    h.layout[7] = static_cast<std::int64_t>(c.layout.products);
    h.payload_bytes = saved_payload_bytes(p, kept, on_device);
  }

  // Drop the kernel spectra kept for constant weights: the next pass that needs Ŵ transforms w.
  void weights_changed() {
    for (auto& held : plans_)
      for (auto& plan : held) plan->forget_kept_kernel();
  }

  // true: w is constant (inference); Ŵ is kept across calls until weights_changed(), a declaration by the
  // caller, not a guess from addresses. Default false: every pass that needs Ŵ transforms w.
  void set_weights_constant(bool constant) {
    weights_constant_ = constant;
    weights_changed();
  }
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

  // Bytes a full step of problem p would hold (spectra + scratch), predicted without allocating: the cost
  // model's bound, saved spectra included (what set_workspace_limit bounds).
  std::size_t predicted_workspace_bytes(const problem<N>& p) const {
    return static_cast<std::size_t>(plan_choice(p).predicted_bytes);
  }

  // Bytes this layer holds on the host after a step of `which` passes for p (forward with a saved state of
  // `kept`, then one backward for the declared gradients), exactly; the saved state is the caller's.
  std::size_t held_workspace_bytes(const problem<N>& p, const passes& which, keep kept) const {
    return frequency_plan<N, T, host>::held_bytes(p, tiling_for(p, false), which, kept == keep::spectra,
                                                  weights_constant_);
  }

  // Spectra the plans hold (X̂, Ŵ, dŶ when not saved), staging and product buffers and FFT work areas, over
  // every shape held and both executors.
  std::size_t workspace_bytes() const {
    std::size_t bytes = 0;
    for (const auto& held : plans_)
      for (const auto& plan : held) bytes += plan->workspace_bytes();
    return bytes;
  }

  // Transform executions since construction (or reset_transform_counts()): one per R2C / C2R plan execution.
  detail::transform_counts transform_counts() const noexcept { return counts_; }
  void reset_transform_counts() noexcept { counts_ = {}; }

  // The frequency-domain plan of the most recent call on executor Exec (null before the first), e.g. for its
  // frame().
  template <class Exec>
  const frequency_plan<N, T, Exec>* current_plan() const {
    const auto& held = plans_[slot<Exec>()];
    return held.empty() ? nullptr : static_cast<const frequency_plan<N, T, Exec>*>(held.front().get());
  }

  // How many shapes' plans a layer keeps per executor (a layer alternating batch sizes neither rebuilds nor
  // reallocates); the least recently used beyond it is released.
  static constexpr std::size_t plans_per_executor = 4;

 private:
  template <class Exec>
  static constexpr bool usable() {
    static_assert(fft_backend<Exec>::available,
                  "fftconv::fft on fftconv::host needs FFTW3 (libfftw3-dev): link fftconv::host with FFTW found "
                  "so that FFTCONV_HAS_FFTW=1, or run on fftconv::device, or use fftconv::naive / fftconv::im2col");
    return fft_backend<Exec>::available;
  }

  template <class Exec>
  static void clear_padding(const Exec& exec, std::byte* payload, const saved_spectra_layout& l) {
    const auto b = [](std::size_t v) { return static_cast<std::int64_t>(v); };
    const clear_saved_padding clear{reinterpret_cast<unsigned char*>(payload), b(l.input_bytes),
                                    b(l.kernel_offset - l.input_bytes), b(l.input_bytes / l.map_bytes),
                                    b(l.kernel_offset), b(l.map_bytes), b(l.map_used_bytes)};
    const std::int64_t n = clear.count(b(l.kernel_bytes / l.map_bytes));
    if (n > 0) backend<Exec>::for_each_index(exec, n, clear);
  }

  template <class Exec, class X, class W, class Y>
  void forward_pass(Exec exec, const problem<N>& p, strided<const X, N> x, strided<const W, N> w, const T* bias,
                    strided<Y, N> y, std::byte* payload) {
    frequency_plan<N, T, Exec>& plan = plan_for(exec, p);
    if (!plan.reaches_input()) {  // every window sees padding only: y = bias, exactly
      backend<Exec>::for_each_index(exec, p.output_size(), fill_channels<N, T, Y>(p.out_channels, p.output, bias, y));
      return;
    }
    const saved_spectra_layout l = plan.saved_layout();
    complex<T>* saved_input = payload ? reinterpret_cast<complex<T>*>(payload + l.input_offset) : nullptr;
    complex<T>* saved_kernel = payload ? reinterpret_cast<complex<T>*>(payload + l.kernel_offset) : nullptr;
    if (payload != nullptr) clear_padding(exec, payload, l);
    const complex<T>* kernel = kernel_spectrum(exec, plan, w, saved_kernel);
    const spectrum_rows<T> input = saved_input ? plan.all_rows(saved_input) : plan.held_input_spectrum(false);
    plan.forward(exec, x, kernel, input, bias, y, counts_);
  }

  template <class Exec, class X, class W, class DY, class DX, class DW>
  void backward_pass(Exec exec, const problem<N>& p, strided<const X, N> x, strided<const W, N> w,
                     strided<const DY, N> dy, const std::byte* payload, strided<DX, N> dx, strided<DW, N> dw,
                     T* dbias) {
    frequency_plan<N, T, Exec>& plan = plan_for(exec, p);
    if (!plan.reaches_input()) {
      if (dx)
        backend<Exec>::for_each_index(exec, p.input_size(), fill_channels<N, T, DX>(p.in_channels, p.input, nullptr, dx));
      if (dw)
        backend<Exec>::for_each_index(exec, p.weight_size(),
                                      fill_channels<N, T, DW>(p.in_channels_per_group(), p.kernel, nullptr, dw));
    } else if (dx || dw) {
      // Every buffer first, then the transforms: a failed allocation leaves the outputs untouched.
      const saved_spectra_layout l = plan.saved_layout();
      const bool all = static_cast<bool>(dw);
      const spectrum_rows<T> output = plan.held_output_spectrum(all);
      const complex<T>* kernel = nullptr;
      const complex<T>* input = nullptr;
      spectrum_rows<T> input_target{};
      if (payload != nullptr) {
        kernel = reinterpret_cast<const complex<T>*>(payload + l.kernel_offset);
        input = reinterpret_cast<const complex<T>*>(payload + l.input_offset);
      } else if (dw) {
        input_target = plan.held_input_spectrum(true);
        input = input_target.data;
      }
      if (payload == nullptr && dx) kernel = kernel_spectrum(exec, plan, w, nullptr);
      if (input_target.data != nullptr) plan.transform_input(exec, x, input_target, counts_);
      plan.backward(exec, dy, kernel, input, output, dx, dw, counts_);
    }
    if (dbias != nullptr)
      bias_gradient(exec, p, dy, dbias);
  }

  // Ŵ for this call: the plan's kept one for declared-constant weights (transformed once), else w transformed
  // now — into `saved` when forward saves it, else into the plan.
  template <class Exec, class W>
  const complex<T>* kernel_spectrum(const Exec& exec, frequency_plan<N, T, Exec>& plan, strided<const W, N> w,
                                    complex<T>* saved) {
    if (weights_constant_) {
      complex<T>* held = plan.held_kernel_spectrum();
      if (!plan.kept_kernel_valid()) {
        plan.transform_kernel(exec, w, held, counts_);
        plan.keep_kernel();
      }
      if (saved != nullptr) backend<Exec>::copy(exec, saved, held, static_cast<std::int64_t>(plan.kernel_spectrum_elements()));
      return held;
    }
    complex<T>* target = saved != nullptr ? saved : plan.held_kernel_spectrum();
    plan.transform_kernel(exec, w, target, counts_);
    return target;
  }

  saved_spectra_layout saved_layout(const problem<N>& p, bool on_device) const {
    const tiling_choice<N>& c = tiling_for(p, on_device);
    return saved_layout_of<N, T>(c, sizes_of<N>(p, c.layout, sizeof(T)));
  }

  // The cost model's tiling for p, remembered for the last shape asked: saved_bytes and the header ask for it on
  // every call, and choosing takes tens of microseconds. Settings that change it drop the memo.
  const tiling_choice<N>& tiling_for(const problem<N>& p, bool on_device) const {
    if (!memo_valid_ || memo_on_device_ != on_device || !same_problem<N>(memo_problem_, p)) {
      memo_choice_ = choose_tiling<N>(p, on_executor(request_, on_device), sizeof(T));
      memo_problem_ = p, memo_on_device_ = on_device, memo_valid_ = true;
    }
    return memo_choice_;
  }

  void drop_plans() {
    for (auto& held : plans_) held.clear();
    memo_valid_ = false;
  }

  template <class Exec>
  static constexpr std::size_t slot() {
    return backend<Exec>::on_device ? 1 : 0;
  }

  // The plan for p on Exec: a held one for this shape and settings (moved to the front), else a new one. On
  // another stream or memory resource the held plans are released first — their buffers are freed in their own
  // stream's order, so nothing waits — and rebuilt there. A failed build (out_of_memory) adds nothing.
  template <class Exec>
  frequency_plan<N, T, Exec>& plan_for(const Exec& exec, const problem<N>& p) {
    auto& held = plans_[slot<Exec>()];
    if (!held.empty()) {
      auto* front = static_cast<frequency_plan<N, T, Exec>*>(held.front().get());
      if (!front->same_queue(exec) || front->resource() != exec.resource) held.clear();
    }
    for (auto it = held.begin(); it != held.end(); ++it) {
      auto* plan = static_cast<frequency_plan<N, T, Exec>*>(it->get());
      if (plan->matches(p, request_)) {
        std::rotate(held.begin(), it, it + 1);
        return *plan;
      }
    }
    if (held.size() == plans_per_executor) held.pop_back();  // release before allocating the new one
    auto fresh = std::make_unique<frequency_plan<N, T, Exec>>(exec, p, request_);
    held.insert(held.begin(), std::move(fresh));
    return *static_cast<frequency_plan<N, T, Exec>*>(held.front().get());
  }

  std::vector<std::unique_ptr<frequency_plan_base>> plans_[2];  // per executor [0] host, [1] device; most recent first
  tiling_request<N> request_;
  detail::transform_counts counts_;
  // tiling_for's memo (one layer is not used from two threads at once)
  mutable bool memo_valid_ = false;
  mutable bool memo_on_device_ = false;
  mutable problem<N> memo_problem_{};
  mutable tiling_choice<N> memo_choice_{};
  bool weights_constant_ = false;
};

}  // namespace fftconv::detail
