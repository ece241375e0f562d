#pragma once
// automatic: for each problem shape, run whichever of naive, im2col, fft and vendor is fastest for the layer's
// declared passes (set_passes; default all three), chosen once per key and shared process-wide
// (automatic/choice_cache.hpp). vendor is a candidate wherever its library is on for the executor and the
// element type (policy/vendor.hpp): oneDNN with float on the host, cuDNN on the device.
//
// A training step is a forward and one combined backward (dx and dw as the declared passes ask, dŶ shared).
// Forward writes the algorithm it ran into the caller's saved state (conv.hpp writes the header from
// algorithm_for), and fft's X̂ and Ŵ into its payload; a backward given that state runs that algorithm, whatever
// this layer would choose now, so a state is always read by the algorithm that wrote it. A backward without
// saved state chooses as forward does.
//
// Measure mode (the default): the first call for a key times every eligible candidate over a step of the
// declared passes, on the caller's x and w (synthetic where the triggering call lacks them), a seeded synthetic
// dy, and scratch y, dx, dw, db and saved state (the candidate's forward writes it, its backward reads it, as a
// caller's step does); never on the caller's outputs:
//   - naive is timed only where the cost model predicts it within reach of the best, and no candidate modelled
//     hopelessly slower than the best is timed (exhaustive mode times every candidate);
//   - one warm-up step (plans, workspace; reported as first_call_seconds), then the minimum of a few timed
//     steps; a candidate clearly slower than the best so far stops after one, and one whose warm-up is far
//     slower keeps the warm-up as its figure (the factors: tuning.hpp; the trial: automatic/trial.hpp);
//   - every candidate's outputs are compared with the first finished candidate's; one that disagrees beyond
//     agreement_tolerance is reported and cannot win;
//   - out_of_memory and workspace_limit_exceeded skip a candidate (the message is kept in choice()); any
//     other error propagates;
//   - afterwards the losers are destroyed (their workspace freed), and the winner runs the triggering call on
//     the caller's arguments last.
// Under CUDA stream capture nothing is timed: the call uses a choice already measured for its key, else the
// heuristic's pick, which is not remembered, so the first uncaptured call for that shape still measures.
//
// Heuristic mode: the cost model of automatic/cost_model.hpp, no timing, deterministic. A pick that then fails
// with out_of_memory or workspace_limit_exceeded falls back to the next candidate in the model's order.
//
// The functional form (fftconv::forward<automatic> ...) declares just the pass it runs, so it chooses per pass.

#include <algorithm>
#include <array>
#include <cstddef>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../automatic/choice.hpp"
#include "../automatic/choice_cache.hpp"
#include "../automatic/choice_key.hpp"
#include "../automatic/cost_model.hpp"
#include "../automatic/explanation.hpp"
#include "../automatic/hardware.hpp"
#include "../automatic/measurement.hpp"
#include "../automatic/trial.hpp"
#include "../backend/backend.hpp"
#include "../call.hpp"                   // keep
#include "../detail/saved_header.hpp"
#include "../error.hpp"
#include "../geometry.hpp"
#include "../policy.hpp"
#include "../tuning.hpp"
#include "automatic_candidates.hpp"
#include "fft.hpp"
#include "im2col.hpp"
#include "naive.hpp"
#include "vendor.hpp"

namespace fftconv::detail {

template <int N, class T>
class conv_impl<automatic, N, T> {
 public:
  explicit conv_impl(const geometry<N>& g) : candidates_(g) {}

  // What every candidate reads and writes through strides, since which one runs is known only at the call.
  static strided_reach reach(const problem<N>& p) {
    return conv_impl<naive, N, T>::reach(p) & conv_impl<im2col, N, T>::reach(p) & conv_impl<fft, N, T>::reach(p) &
           conv_impl<vendor, N, T>::reach(p);
  }

  // payload (null without saved state): where the FFT policy keeps X̂ and Ŵ for backward when kept is
  // keep::spectra; naive and im2col leave it alone. algorithm_for(p) then names the candidate that ran.
  template <class Exec>
  void forward(Exec exec, const problem<N>& p, strided<const T, N> x, strided<const T, N> w, const T* bias,
               strided<T, N> y, std::byte* payload = nullptr, keep kept = keep::none) {
    call_arguments<N, T> call;
    call.x = x, call.w = w, call.bias = bias, call.y = y, call.payload_out = payload, call.kept = kept;
    execute(exec, p, call);
    record_forward(p, last_forward_);
  }

  // The gradients whose pointers are not null. With saved state (producer set) the candidate that wrote it
  // runs, reading its payload (the FFT policy: X̂ and Ŵ, so x and w may be null); without, the layer chooses
  // for its declared passes. No fallback to another candidate with saved state: the caller may have left out
  // the x and w that one would need.
  template <class Exec>
  void backward(Exec exec, const problem<N>& p, strided<const T, N> x, strided<const T, N> w, strided<const T, N> dy,
                const std::byte* payload, keep kept, std::optional<algorithm> producer, strided<T, N> dx,
                strided<T, N> dw, T* dbias) {
    if (!dx && !dw) {
      // db alone is the same fixed-order sum over dy in every candidate: nothing to choose, nothing saved to read.
      if (dbias != nullptr) automatic_candidates<N, T>::bias_gradient(exec, p, dy, dbias);
      return;
    }
    call_arguments<N, T> call;
    call.backward = true;
    call.x = x, call.w = w, call.dy = dy, call.dx = dx, call.dw = dw, call.dbias = dbias;
    call.payload_in = payload, call.kept = kept, call.producer = producer;
    if (producer) return run(*producer, exec, p, call);
    execute(exec, p, call);
  }

  template <class Exec>
  void backward_data(Exec exec, const problem<N>& p, strided<const T, N> dy, strided<const T, N> w, strided<T, N> dx) {
    backward(exec, p, {}, w, dy, nullptr, keep::none, std::nullopt, dx, {}, nullptr);
  }

  template <class Exec>
  void backward_filter(Exec exec, const problem<N>& p, strided<const T, N> x, strided<const T, N> dy,
                       strided<T, N> dw, T* dbias) {
    backward(exec, p, x, {}, dy, nullptr, keep::none, std::nullopt, {}, dw, dbias);
  }

  // Payload bytes of a saved state for p: the FFT policy's (X̂ and Ŵ under keep::spectra) wherever fft may be
  // chosen (on the device always; on the host where FFTW is linked), since which candidate runs is known only
  // at the call. A pure function of the shape and the declared settings (the workspace limit), like the FFT
  // policy's. 0 where the FFT policy cannot size its spectra under the limit: it cannot run there either, so it
  // never writes the payload.
  std::size_t saved_payload_bytes(const problem<N>& p, keep kept, bool on_device) const {
    if (!on_device && !fft_backend<host>::available) return 0;
    for (const payload_size& known : payload_sizes_)
      if (known.kept == kept && known.on_device == on_device && known.shape == p)
        return known.bytes;
    std::size_t bytes = 0;
    if constexpr (requires(const conv_impl<fft, N, T>& f) {
                    { f.saved_payload_bytes(p, kept, on_device) } -> std::convertible_to<std::size_t>;
                  }) {
      try {
        bytes = with_settings<fft>([&](const conv_impl<fft, N, T>& f) { return f.saved_payload_bytes(p, kept, on_device); });
      } catch (const workspace_limit_exceeded&) {
        bytes = 0;
      }
    }
    if (payload_sizes_.size() == 2 * memo_capacity) payload_sizes_.erase(payload_sizes_.begin());
    payload_sizes_.push_back({p, kept, on_device, bytes});
    return bytes;
  }

  // The header's policy-specific fields for a state written by algorithm a: the FFT policy's layout and payload
  // size for fft; none (zero layout, no payload) for naive and im2col, which save nothing but the header.
  void describe_saved(saved_header& h, const problem<N>& p, keep kept, bool on_device, algorithm a) const {
    if (a != algorithm::fft) {
      for (auto& v : h.layout) v = 0;
      h.payload_bytes = 0;
      return;
    }
    if constexpr (requires(const conv_impl<fft, N, T>& f) { f.describe_saved(h, p, kept, on_device, a); })
      with_settings<fft>([&](const conv_impl<fft, N, T>& f) { f.describe_saved(h, p, kept, on_device, a); });
  }

  // The algorithm the last forward for p ran (its fallback, if the choice did not fit). For a shape this layer
  // has not run forward on (a state written by another layer, read under graph capture, where the header cannot
  // be read), the choice the layer holds, else im2col.
  algorithm algorithm_for(const problem<N>& p) const {
    for (const auto& [shape, ran] : forward_algorithms_)
      if (shape == p) return ran;
    if (last_choice_ && last_choice_->policy) return *last_choice_->policy;
    return algorithm::im2col;
  }

  // Which passes the choice optimises (their summed time). Throws when none is declared.
  void set_passes(const passes& declared) {
    if (!declared.any()) fail("set_passes: declare at least one of forward, backward_data, backward_filter");
    passes_ = declared;
  }
  passes declared_passes() const noexcept { return passes_; }

  // measure or heuristic for this layer; default_automatic_mode() until set.
  void set_mode(automatic_mode mode) { mode_ = mode; }
  automatic_mode mode() const { return mode_ ? *mode_ : default_automatic_mode(); }

  // The choice behind the most recent call (policy empty before the first call). A backward that read a saved
  // state ran the state's algorithm and leaves this as it was.
  const automatic_choice& choice() const {
    static const automatic_choice none{std::nullopt, automatic_mode::measure, "no call yet", {}, ""};
    return last_choice_ ? *last_choice_ : none;
  }

  void weights_changed() { candidates_.weights_changed(); }
  void set_weights_constant(bool constant) { candidates_.set_weights_constant(constant); }

  // The vendor candidate's options; part of the choice's key (TF32 changes both its speed and its results).
  void set_vendor_options(const vendor_options& options) { candidates_.set_vendor_options(options); }

  // Part of the choice's key: a different limit may change the winner.
  void set_workspace_limit(std::size_t bytes) {
    candidates_.set_workspace_limit(bytes);
    payload_sizes_.clear();  // the FFT policy sizes its spectra under the limit
  }

  std::size_t workspace_bytes() const { return candidates_.workspace_bytes(); }

  // Bytes this layer holds on the host after a step of `which` passes for p. Only the candidate that runs p is
  // kept (the others are released after measuring), so once it is known — a forward for p ran, or the cost
  // model decides (heuristic mode) — this is that candidate's exact figure; before a measured choice, the
  // largest any candidate would hold. A candidate that cannot run p (over the limit, past im2col's 32-bit
  // indexing) holds nothing.
  std::size_t held_workspace_bytes(const problem<N>& p, const passes& which, keep kept) const {
    std::optional<algorithm> known;
    for (const auto& [shape, ran] : forward_algorithms_)
      if (shape == p) known = ran;
    if (!known && mode() == automatic_mode::heuristic)
      known = model_choice<host>(p, passes_, {}, "")->policy;
    const auto held = [&](const auto& c) -> std::size_t {
      try {
        return c.held_workspace_bytes(p, which, kept);
      } catch (const workspace_limit_exceeded&) {
        return 0;
      } catch (const invalid_argument&) {
        return 0;
      }
    };
    std::size_t most = 0;
    if (!known || *known == algorithm::im2col) most = std::max(most, with_settings<im2col>(held));
    if constexpr (fft_usable<host>)
      if (!known || *known == algorithm::fft) most = std::max(most, with_settings<fft>(held));
    if constexpr (vendor_usable<host>)
      if (!known || *known == algorithm::vendor) {
        try {
          most = std::max(most, with_settings<vendor>(held));
        } catch (const library_error&) {  // oneDNN has no primitive for p: the vendor candidate cannot run it
        }
      }
    return most;
  }

  // A candidate's state (null if it does not exist now), e.g. the FFT policy's transform counters.
  template <class P>
  const conv_impl<P, N, T>* candidate_state() const {
    return candidates_.template state<P>();
  }

 private:
  template <class Exec>
  static constexpr bool fft_usable = automatic_candidates<N, T>::template fft_usable<Exec>;
  template <class Exec>
  static constexpr bool vendor_usable = automatic_candidates<N, T>::template vendor_usable<Exec>;

  // The tuning fingerprint of the key, with what else decides which candidates exist and what they compute:
  // whether the vendor candidate is on in this build, and its options.
  template <class Exec>
  std::uint64_t settings_fingerprint() const {
    std::uint64_t f = fingerprint(tuning_of<Exec>);
    const vendor_options& o = candidates_.options();
    if (!vendor_usable<Exec>) f ^= 0x9e3779b97f4a7c15ull;
    if (o.allow_tf32) f ^= 0xc2b2ae3d27d4eb4full;
    if (o.deterministic) f ^= 0x165667b19e3779f9ull;
    return f;
  }

  // What decides whether the previous call's choice still holds, compared without building the key: a
  // layer's steady calls then cost a few comparisons (the key is built only when something changed).
  struct call_signature {
    problem<N> shape;
    passes declared;
    automatic_mode mode;
    std::optional<std::size_t> workspace_limit;
    bool on_device;
    int place;  // the device ordinal, or the host's thread count: both are part of the hardware identity

    friend bool operator==(const call_signature&, const call_signature&) = default;
  };

  template <class Exec>
  call_signature signature_of(const Exec& exec, const problem<N>& p, automatic_mode chosen_mode) const {
    int place = 0;
    if constexpr (backend<Exec>::on_device)
      place = backend<Exec>::current_device(exec);
    else
      place = host_thread_count();
    return {p, passes_, chosen_mode, candidates_.workspace_limit(), backend<Exec>::on_device, place};
  }

  // Dispatch: the previous call's choice when nothing changed, else this layer's memo, else the process-wide
  // cache, which decides a new key once (measuring or modelling).
  template <class Exec>
  void execute(Exec exec, const problem<N>& p, const call_arguments<N, T>& call) {
    const passes declared = passes_;
    const automatic_mode chosen_mode = mode();
    const call_signature signature = signature_of(exec, p, chosen_mode);
    if (last_signature_ && *last_signature_ == signature && last_choice_)
      return run_with_fallback(exec, p, call, last_choice_, last_key_ ? &*last_key_ : nullptr);
    last_signature_.reset();
    const choice_key key = make_choice_key<N, T>(p, declared, candidates_.workspace_limit(), chosen_mode,
                                                 settings_fingerprint<Exec>(), hardware_identity(exec));
    for (const auto& [known, held] : memo_)
      if (known == key) {
        last_choice_ = held;
        last_key_ = key;
        last_signature_ = signature;
        return run_with_fallback(exec, p, call, held, &key);  // a copy: a fallback may rewrite memo_
      }
    if (chosen_mode != automatic_mode::heuristic && capturing(exec)) {
      // A choice measured earlier (by any layer) still holds; otherwise the model's pick, not remembered, so
      // the first uncaptured call for this shape measures.
      if (auto measured = choice_cache::instance().find(key)) {
        remember(key, measured);
        last_key_ = key;
        last_signature_ = signature;
        return run_with_fallback(exec, p, call, measured, &key);
      }
      auto choice = model_choice<Exec>(p, declared, nullptr, "the stream is being captured into a CUDA graph");
      last_choice_ = choice;
      return run_with_fallback(exec, p, call, choice, nullptr);
    }
    last_key_ = key;
    bool call_done = false;
    auto choice = choice_cache::instance().find_or_decide(key, [&]() -> std::shared_ptr<const automatic_choice> {
      if (chosen_mode == automatic_mode::heuristic) return model_choice<Exec>(p, declared, &key, "");
      return measure_choice(exec, p, call, declared, key, chosen_mode == automatic_mode::exhaustive, call_done);
    });
    remember(key, choice);
    last_signature_ = signature;
    if (!call_done) run_with_fallback(exec, p, call, choice, &key);
  }

  void remember(const choice_key& key, std::shared_ptr<const automatic_choice> choice) {
    for (auto& [known, held] : memo_)
      if (known == key) {
        held = choice;
        last_choice_ = choice;
        return;
      }
    if (memo_.size() == memo_capacity) memo_.erase(memo_.begin());
    memo_.emplace_back(key, choice);
    last_choice_ = std::move(choice);
  }

  // Runs the chosen candidate; on out_of_memory / workspace_limit_exceeded (a loaded or modelled choice that
  // does not fit) the others in the model's order, remembering what happened (key null: nothing to remember).
  template <class Exec>
  void run_with_fallback(Exec exec, const problem<N>& p, const call_arguments<N, T>& call,
                         std::shared_ptr<const automatic_choice> choice, const choice_key* key) {
    const algorithm chosen = *choice->policy;
    std::string failure;
    std::exception_ptr first_error;
    try {
      return run(chosen, exec, p, call);
    } catch (const out_of_memory& e) {
      failure = e.what();
      first_error = std::current_exception();
    } catch (const workspace_limit_exceeded& e) {
      failure = e.what();
      first_error = std::current_exception();
    }
    release(chosen);
    const modelled_costs model = model_costs<N>(p, passes_, sizeof(T), tuning_of<Exec>.rates);
    for (algorithm c : model_order<Exec>(model)) {
      if (c == chosen) continue;
      try {
        run(c, exec, p, call);
      } catch (const out_of_memory& e) {
        failure += std::string("; ") + e.what();
        release(c);
        continue;
      } catch (const workspace_limit_exceeded& e) {
        failure += std::string("; ") + e.what();
        release(c);
        continue;
      }
      auto fallback = std::make_shared<automatic_choice>(*choice);
      fallback->policy = c;
      fallback->reason = std::string(to_string(chosen)) + " failed (" + failure + "); fell back to " + to_string(c) +
                         " (next by the cost model). Before: " + choice->reason;
      if (key == nullptr)
        last_choice_ = std::move(fallback);
      else
        remember(*key, std::move(fallback));  // this layer only: the shared choice may fit other layers
      return;
    }
    std::rethrow_exception(first_error);  // no policy fits: the chosen one's error
  }

  template <class Exec>
  std::vector<algorithm> model_order(const modelled_costs& model) const {
    std::vector<algorithm> order{algorithm::naive, algorithm::im2col};
    if constexpr (fft_usable<Exec>) order.push_back(algorithm::fft);
    if constexpr (vendor_usable<Exec>) order.push_back(algorithm::vendor);
    std::stable_sort(order.begin(), order.end(),
                     [&](algorithm a, algorithm b) { return model.total(a) < model.total(b); });
    return order;
  }

  // Predicted workspace over the limit rules out the FFT policy where it can predict it
  // (predicted_workspace_bytes(problem)); otherwise its own error at run time does.
  bool over_workspace_limit(algorithm c, const problem<N>& p) const {
    const std::optional<std::size_t> workspace_limit = candidates_.workspace_limit();
    if (!workspace_limit || c != algorithm::fft) return false;
    if constexpr (requires(const conv_impl<fft, N, T>& f) {
                    { f.predicted_workspace_bytes(p) } -> std::convertible_to<std::size_t>;
                  }) {
      try {
        return with_settings<fft>([&](const conv_impl<fft, N, T>& f) { return f.predicted_workspace_bytes(p); }) >
               *workspace_limit;
      } catch (const workspace_limit_exceeded&) {  // no layout of the policy fits: the prediction says so
        return true;
      }
    } else {
      return false;
    }
  }

  // The cost model's pick (heuristic mode, or measure mode where timing is impossible).
  template <class Exec>
  std::shared_ptr<automatic_choice> model_choice(const problem<N>& p, const passes& declared, const choice_key* key,
                                                 const std::string& why_not_measured) const {
    auto choice = std::make_shared<automatic_choice>();
    choice->mode = automatic_mode::heuristic;
    if (key != nullptr) choice->key = key->text();
    const modelled_costs model = model_costs<N>(p, declared, sizeof(T), tuning_of<Exec>.rates);
    choice->candidates.resize(algorithm_count);
    std::vector<algorithm> ranked;
    for (algorithm c : model_order<Exec>(model)) {
      automatic_candidate& report = choice->candidates[static_cast<int>(c)];
      if (over_workspace_limit(c, p)) {
        report.skipped = "predicted workspace over the limit";
        continue;
      }
      report.considered = true;
      ranked.push_back(c);
    }
    for (algorithm c : algorithms) {
      automatic_candidate& report = choice->candidates[static_cast<int>(c)];
      report.policy = c;
      report.forward_seconds = declared.forward ? model.forward(c) : -1;
      report.backward_seconds = declared.any_backward() ? model.backward(c) : -1;
      report.total_seconds = model.total(c);
      if (!report.considered && report.skipped.empty())
        report.skipped = automatic_candidates<N, T>::template unusable_reason<Exec>(c);
    }
    if (ranked.empty()) ranked.push_back(algorithm::im2col);  // im2col chunks to any limit
    choice->policy = ranked.front();
    choice->reason = describe_model(ranked, model, why_not_measured);
    return choice;
  }

  // Measure mode: a trial per candidate worth timing (automatic/trial.hpp) over a step of the declared passes,
  // the agreement check, then the winner runs the triggering call.
  template <class Exec>
  std::shared_ptr<const automatic_choice> measure_choice(Exec exec, const problem<N>& p,
                                                         const call_arguments<N, T>& call, const passes& declared,
                                                         const choice_key& key, bool exhaustive, bool& call_done) {
    using be = backend<Exec>;
    const tuning& tuned = tuning_of<Exec>;
    const modelled_costs model = model_costs<N>(p, declared, sizeof(T), tuned.rates);
    const std::vector<algorithm> order = model_order<Exec>(model);

    auto choice = std::make_shared<automatic_choice>();
    choice->mode = exhaustive ? automatic_mode::exhaustive : automatic_mode::measure;
    choice->key = key.text();
    choice->candidates.resize(algorithm_count);
    for (algorithm c : algorithms) choice->candidates[static_cast<int>(c)].policy = c;
    for (algorithm c : algorithms)
      if (!automatic_candidates<N, T>::template usable<Exec>(c))
        choice->candidates[static_cast<int>(c)].skipped = automatic_candidates<N, T>::template unusable_reason<Exec>(c);

    timing_filter filter;
    filter.exhaustive = exhaustive;
    for (algorithm c : order)
      if (c != algorithm::naive) filter.best_other = std::min(filter.best_other, model.total(c));
    filter.best = model.total(order.front());
    const auto worth_timing = [&](algorithm c) { return filter.worth_timing(c, model, tuned); };
    for (algorithm c : order)
      if (!worth_timing(c))
        choice->candidates[static_cast<int>(c)].skipped =
            not_timed_reason(c, model.total(c), filter.best_other, filter.best, tuned);

    std::optional<algorithm> winner;
    std::exception_ptr first_skip;
    {
      // If the scratch does not fit, decide by the model instead. A layer that runs a backward after its
      // forward gets a saved state: the candidate's forward writes it (fft: X̂ and Ŵ under keep::spectra,
      // saved_bytes' default) and its backward reads it, as the caller's step will.
      const bool saves = declared.forward && declared.any_backward();
      constexpr keep timing_kept = keep::spectra;
      std::optional<trial_scratch<Exec, T>> scratch;
      try {
        scratch.emplace(exec, p, !call.x, !call.w,
                        saves ? std::optional<std::size_t>(saved_payload_bytes(p, timing_kept, be::on_device))
                              : std::nullopt);
      } catch (const out_of_memory& e) {
        return model_choice<Exec>(p, declared, &key, std::string("the timing's scratch did not fit: ") + e.what());
      }
      scratch->fill_synthetic(exec, p);

      // The scratch is dense; the caller's x and w keep their strides.
      const tensor_layout<N> input_layout = tensor_layout<N>::row_major(p.in_channels, p.input);
      const tensor_layout<N> output_layout = tensor_layout<N>::row_major(p.out_channels, p.output);
      const tensor_layout<N> weight_layout = tensor_layout<N>::row_major(p.in_channels_per_group(), p.kernel);
      const strided<const T, N> x = call.x ? call.x : strided<const T, N>{scratch->x->data(), input_layout};
      const strided<const T, N> w = call.w ? call.w : strided<const T, N>{scratch->w->data(), weight_layout};
      call_arguments<N, T> forward_step;
      forward_step.x = x, forward_step.w = w, forward_step.y = {scratch->y->data(), output_layout};
      forward_step.bias = call.backward ? nullptr : call.bias;
      if (saves) forward_step.payload_out = scratch->saved->data(), forward_step.kept = timing_kept;
      // The backward of candidate c: what conv::backward hands it (x and w left out where fft's saved spectra
      // replace them).
      const auto backward_step = [&](algorithm c) {
        call_arguments<N, T> step;
        step.backward = true;
        step.dy = {scratch->dy->data(), output_layout};
        if (declared.backward_data) step.dx = {scratch->dx->data(), input_layout};
        if (declared.backward_filter) step.dw = {scratch->dw->data(), weight_layout}, step.dbias = scratch->db->data();
        if (saves) step.payload_in = scratch->saved->data(), step.kept = timing_kept, step.producer = c;
        const bool spectra = saves && timing_kept == keep::spectra && c == algorithm::fft;
        if (step.dw && !spectra) step.x = x;
        if (step.dx && !spectra) step.w = w;
        return step;
      };
      // Outputs, for the agreement check.
      struct output {
        T* mine;
        T* reference;
        std::int64_t count;
        const char* name;
        bool declared;
      };
      const output outputs[4] = {
          {scratch->y->data(), scratch->reference[0]->data(), p.output_size(), "y", declared.forward},
          {scratch->dx->data(), scratch->reference[1]->data(), p.input_size(), "dx", declared.backward_data},
          {scratch->dw->data(), scratch->reference[2]->data(), p.weight_size(), "dw", declared.backward_filter},
          {scratch->db->data(), scratch->reference[3]->data(), p.out_channels, "db", declared.backward_filter}};

      std::optional<algorithm> reference_candidate;
      double best_total = std::numeric_limits<double>::infinity();
      // Two rounds: the candidates worth timing, then, only if none of them could run (out of memory, over
      // the workspace limit), the ones the model had ruled out.
      for (int round = 0; round < 2 && !winner; ++round) {
        for (algorithm c : order) {
          automatic_candidate& report = choice->candidates[static_cast<int>(c)];
          if (worth_timing(c) != (round == 0)) continue;
          report.skipped.clear();
          const call_arguments<N, T> backward_call = backward_step(c);
          const auto step = [&](double (&call_seconds)[2]) {
            call_seconds[0] = declared.forward ? timed_seconds(exec, [&] { run(c, exec, p, forward_step); }) : 0;
            call_seconds[1] =
                declared.any_backward() ? timed_seconds(exec, [&] { run(c, exec, p, backward_call); }) : 0;
          };
          trial_figures figures;
          try {
            run_trial(step, best_total, tuned, figures);
            report.considered = true;
            report.first_call_seconds = figures.first_call_seconds;
            report.forward_seconds = declared.forward ? figures.forward_seconds : -1;
            report.backward_seconds = declared.any_backward() ? figures.backward_seconds : -1;
            report.total_seconds = figures.forward_seconds + figures.backward_seconds;
          } catch (const out_of_memory& e) {
            report.first_call_seconds = figures.first_call_seconds;
            report.skipped = std::string("out of memory: ") + e.what();
            if (!first_skip) first_skip = std::current_exception();
            release(c);
            continue;
          } catch (const workspace_limit_exceeded& e) {
            report.first_call_seconds = figures.first_call_seconds;
            report.skipped = e.what();
            if (!first_skip) first_skip = std::current_exception();
            release(c);
            continue;
          } catch (const library_error& e) {
            // The vendor library may have no implementation for a layer (oneDNN's unimplemented, cuDNN's
            // NOT_SUPPORTED): that candidate cannot run it. Any other policy's library error propagates.
            if (c != algorithm::vendor) throw;
            report.first_call_seconds = figures.first_call_seconds;
            report.skipped = e.what();
            release(c);
            continue;
          }
          if (!reference_candidate) {
            for (const output& o : outputs)
              if (o.declared) be::copy(exec, o.reference, o.mine, o.count);
            reference_candidate = c;
          } else {
            for (const output& o : outputs) {
              if (!o.declared || !report.skipped.empty()) continue;
              const double difference = relative_difference(exec, o.mine, o.reference, o.count);
              if (!(difference <= agreement_tolerance<T>)) {
                std::ostringstream why;
                why << "disagrees with " << to_string(*reference_candidate) << " on " << o.name
                    << " (relative L2 " << difference << ")";
                report.skipped = why.str();
              }
            }
          }
          if (report.skipped.empty() && report.total_seconds < best_total) {
            best_total = report.total_seconds;
            winner = c;
          }
        }
      }
      be::synchronize(exec);  // the scratch is freed at the end of this block; nothing may still read it
    }
    if (!winner) {
      if (first_skip) std::rethrow_exception(first_skip);
      fail("automatic: no candidate produced agreeing results for this layer (see the candidates' reasons)");
    }
    for (algorithm c : algorithms)
      if (c != *winner) release(c);
    // The timing may have run on synthetic weights: a layer declared weights-constant would keep their Ŵ.
    candidates_.weights_changed(*winner);
    choice->policy = *winner;
    choice->reason = describe_measurement(*choice, declared);
    run(*winner, exec, p, call);
    call_done = true;
    return choice;
  }
  // Runs candidate c, noting which one a forward ran.
  template <class Exec>
  void run(algorithm c, Exec exec, const problem<N>& p, const call_arguments<N, T>& call) {
    candidates_.run(c, exec, p, call);
    if (!call.backward) last_forward_ = c;
  }

  // Which candidate forward ran for p, for algorithm_for (a few shapes, as memo_).
  void record_forward(const problem<N>& p, algorithm ran) {
    for (auto& [shape, held] : forward_algorithms_)
      if (shape == p) {
        held = ran;
        return;
      }
    if (forward_algorithms_.size() == memo_capacity) forward_algorithms_.erase(forward_algorithms_.begin());
    forward_algorithms_.emplace_back(p, ran);
  }

  template <class P, class F>
  decltype(auto) with_settings(F&& f) const {
    return candidates_.template with_settings<P>(std::forward<F>(f));
  }

  void release(algorithm c) { candidates_.release(c); }

  static constexpr std::size_t memo_capacity = 8;  // shapes one layer alternates between (e.g. a short last batch)

  passes passes_ = passes::training();
  std::optional<automatic_mode> mode_;
  automatic_candidates<N, T> candidates_;
  std::vector<std::pair<choice_key, std::shared_ptr<const automatic_choice>>> memo_;
  std::shared_ptr<const automatic_choice> last_choice_;
  std::optional<call_signature> last_signature_;  // of the call last_choice_ was found for
  std::optional<choice_key> last_key_;
  algorithm last_forward_ = algorithm::naive;  // the candidate the latest forward ran (run() sets it)
  std::vector<std::pair<problem<N>, algorithm>> forward_algorithms_;
  // saved_payload_bytes per shape, computed once: the FFT policy sizes its spectra by choosing its tiling (tens
  // of microseconds), and conv asks on every call with a saved state, whichever candidate runs. Keyed by what
  // the size depends on; the limit is the one setting, and set_workspace_limit clears it.
  struct payload_size {
    problem<N> shape;
    keep kept;
    bool on_device;
    std::size_t bytes;
  };
  mutable std::vector<payload_size> payload_sizes_;
};

}  // namespace fftconv::detail
