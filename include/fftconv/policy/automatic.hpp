#pragma once
// automatic: for each problem shape, run whichever of naive, im2col and fft is fastest for the layer's declared
// passes (set_passes; default all three), chosen once per key and shared process-wide
// (automatic/choice_cache.hpp).
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
//   - naive is timed only where the cost model predicts it within reach of the best (≤ 4x, or under 2 ms),
//     and no candidate modelled over 20x the best is timed (exhaustive mode times every candidate);
//   - one warm-up step (plans, workspace; reported as first_call_seconds), then the minimum of 2..10 timed
//     steps; a candidate more than 4x slower than the best so far stops after one, and one whose warm-up is
//     over 10x the best keeps the warm-up as its figure;
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
#include <cstring>
#include <exception>
#include <iomanip>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../automatic/choice_cache.hpp"
#include "../automatic/cost_model.hpp"
#include "../automatic/hardware.hpp"
#include "../automatic/measurement.hpp"
#include "../backend/backend.hpp"
#include "../call.hpp"                   // keep
#include "../detail/bias_gradient.hpp"
#include "../detail/saved_header.hpp"
#include "../error.hpp"
#include "../geometry.hpp"
#include "../policy.hpp"
#include "fft.hpp"
#include "im2col.hpp"
#include "naive.hpp"

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

inline constexpr algorithm algorithm_of_candidate(candidate c) {
  return c == candidate::naive ? algorithm::naive : c == candidate::im2col ? algorithm::im2col : algorithm::fft;
}
inline constexpr candidate candidate_of_algorithm(algorithm a) {
  return a == algorithm::naive ? candidate::naive : a == algorithm::im2col ? candidate::im2col : candidate::fft;
}

template <int N, class T>
class conv_impl<automatic, N, T> {
 public:
  explicit conv_impl(const geometry<N>& g) : geometry_(g) {}

  // What every candidate reads and writes through strides, since which one runs is known only at the call.
  static strided_reach reach(const problem<N>& p) {
    return conv_impl<naive, N, T>::reach(p) & conv_impl<im2col, N, T>::reach(p) & conv_impl<fft, N, T>::reach(p);
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
      if (dbias != nullptr) bias_gradient(exec, p, dy, dbias);
      return;
    }
    call_arguments<N, T> call;
    call.backward = true;
    call.x = x, call.w = w, call.dy = dy, call.dx = dx, call.dw = dw, call.dbias = dbias;
    call.payload_in = payload, call.kept = kept, call.producer = producer;
    if (producer) return run(candidate_of_algorithm(*producer), exec, p, call);
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
      if (known.kept == kept && known.on_device == on_device && std::memcmp(&known.shape, &p, sizeof p) == 0)
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
      if (std::memcmp(&shape, &p, sizeof p) == 0) return ran;
    if (last_choice_ && !last_choice_->policy.empty()) return algorithm_of_candidate(candidate_named(last_choice_->policy));
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
    static const automatic_choice none{"", automatic_mode::measure, "no call yet", {}, ""};
    return last_choice_ ? *last_choice_ : none;
  }

  void weights_changed() {
    for_each_live([](auto& impl) { impl.weights_changed(); });
  }

  void set_weights_constant(bool constant) {
    weights_constant_ = constant;
    for_each_live([&](auto& impl) {
      if constexpr (requires { impl.set_weights_constant(constant); }) impl.set_weights_constant(constant);
    });
  }

  // Part of the choice's key: a different limit may change the winner.
  void set_workspace_limit(std::size_t bytes) {
    workspace_limit_ = bytes;
    payload_sizes_.clear();  // the FFT policy sizes its spectra under the limit
    for_each_live([&](auto& impl) {
      if constexpr (requires { impl.set_workspace_limit(bytes); }) impl.set_workspace_limit(bytes);
    });
  }

  std::size_t workspace_bytes() const {
    std::size_t bytes = 0;
    for_each_live([&](const auto& impl) { bytes += impl.workspace_bytes(); });
    return bytes;
  }

  // Bytes this layer holds on the host after a step of `which` passes for p. Only the candidate that runs p is
  // kept (the others are released after measuring), so once it is known — a forward for p ran, or the cost
  // model decides (heuristic mode) — this is that candidate's exact figure; before a measured choice, the
  // largest any candidate would hold. A candidate that cannot run p (over the limit, past im2col's 32-bit
  // indexing) holds nothing.
  std::size_t held_workspace_bytes(const problem<N>& p, const passes& which, keep kept) const {
    std::optional<candidate> known;
    for (const auto& [shape, ran] : forward_algorithms_)
      if (std::memcmp(&shape, &p, sizeof p) == 0) known = candidate_of_algorithm(ran);
    if (!known && mode() == automatic_mode::heuristic)
      known = candidate_named(model_choice<host>(p, passes_, "", "")->policy);
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
    if (!known || *known == candidate::im2col) most = std::max(most, with_settings<im2col>(held));
    if constexpr (fft_usable<host>)
      if (!known || *known == candidate::fft) most = std::max(most, with_settings<fft>(held));
    return most;
  }

  // A candidate's state (null if it does not exist now), e.g. the FFT policy's transform counters.
  template <class P>
  const conv_impl<P, N, T>* candidate_state() const {
    return slot<P>().has_value() ? &*slot<P>() : nullptr;
  }

 private:
  template <class Exec>
  static constexpr bool fft_usable = fft_backend<Exec>::available;

  template <class Exec>
  static constexpr const backend_rates& rates() {
    return backend<Exec>::on_device ? device_rates : host_rates;
  }

  // What decides whether the previous call's choice still holds, compared without building the key: a
  // layer's steady calls then cost a few comparisons (the key string is built only when something changed).
  struct call_signature {
    problem<N> shape;
    passes declared;
    automatic_mode mode;
    std::size_t workspace_limit;
    bool limit_set;
    bool on_device;
    int place;  // the device ordinal, or the host's thread count: both are part of the hardware identity

    bool operator==(const call_signature& other) const {
      return std::memcmp(&shape, &other.shape, sizeof shape) == 0 && declared == other.declared &&
             mode == other.mode && workspace_limit == other.workspace_limit && limit_set == other.limit_set &&
             on_device == other.on_device && place == other.place;
    }
  };

  template <class Exec>
  call_signature signature_of(const Exec& exec, const problem<N>& p, automatic_mode chosen_mode) const {
    int place = 0;
    if constexpr (backend<Exec>::on_device)
      place = backend<Exec>::current_device(exec);
    else
      place = host_thread_count();
    return {p, passes_, chosen_mode, workspace_limit_.value_or(0), workspace_limit_.has_value(),
            backend<Exec>::on_device, place};
  }

  template <class Exec>
  void execute(Exec exec, const problem<N>& p, const call_arguments<N, T>& call) {
    const passes declared = passes_;
    const automatic_mode chosen_mode = mode();
    const call_signature signature = signature_of(exec, p, chosen_mode);
    if (last_signature_ && *last_signature_ == signature && last_choice_)
      return run_with_fallback(exec, p, call, last_choice_, last_key_);
    last_signature_.reset();
    const std::string key = choice_key<N>(p, sizeof(T), declared, workspace_limit_.value_or(0),
                                          workspace_limit_.has_value(), chosen_mode, hardware_identity(exec));
    for (const auto& [known, held] : memo_)
      if (known == key) {
        last_choice_ = held;
        last_key_ = key;
        last_signature_ = signature;
        return run_with_fallback(exec, p, call, held, key);  // a copy: a fallback may rewrite memo_
      }
    if (chosen_mode != automatic_mode::heuristic && capturing(exec)) {
      // A choice measured earlier (by any layer) still holds; otherwise the model's pick, not remembered, so
      // the first uncaptured call for this shape measures.
      if (auto measured = choice_cache::instance().find(key)) {
        remember(key, measured);
        last_key_ = key;
        last_signature_ = signature;
        return run_with_fallback(exec, p, call, measured, key);
      }
      auto choice = model_choice<Exec>(p, declared, "", "the stream is being captured into a CUDA graph");
      last_choice_ = choice;
      return run_with_fallback(exec, p, call, choice, "");
    }
    last_key_ = key;
    bool call_done = false;
    auto choice = choice_cache::instance().find_or_decide(key, [&]() -> std::shared_ptr<const automatic_choice> {
      if (chosen_mode == automatic_mode::heuristic) return model_choice<Exec>(p, declared, key, "");
      return measure_choice(exec, p, call, declared, key, chosen_mode == automatic_mode::exhaustive, call_done);
    });
    remember(key, choice);
    last_signature_ = signature;
    if (!call_done) run_with_fallback(exec, p, call, choice, key);
  }

  void remember(const std::string& key, std::shared_ptr<const automatic_choice> choice) {
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

  static candidate candidate_named(const std::string& name) {
    if (name == "naive") return candidate::naive;
    if (name == "im2col") return candidate::im2col;
    return candidate::fft;
  }

  // Runs the chosen candidate; on out_of_memory / workspace_limit_exceeded (a loaded or modelled choice that
  // does not fit) the others in the model's order, remembering what happened.
  template <class Exec>
  void run_with_fallback(Exec exec, const problem<N>& p, const call_arguments<N, T>& call,
                         std::shared_ptr<const automatic_choice> choice, const std::string& key) {
    const candidate chosen = candidate_named(choice->policy);
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
    const modelled_costs model = model_costs<N>(p, passes_, sizeof(T), rates<Exec>());
    for (candidate c : model_order<Exec>(model)) {
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
      fallback->policy = candidate_name(c);
      fallback->reason = choice->policy + " failed (" + failure + "); fell back to " + candidate_name(c) +
                         " (next by the cost model). Before: " + choice->reason;
      if (key.empty())
        last_choice_ = std::move(fallback);
      else
        remember(key, std::move(fallback));  // this layer only: the shared choice may fit other layers
      return;
    }
    std::rethrow_exception(first_error);  // no policy fits: the chosen one's error
  }

  template <class Exec>
  std::vector<candidate> model_order(const modelled_costs& model) const {
    std::vector<candidate> order{candidate::naive, candidate::im2col};
    if constexpr (fft_usable<Exec>) order.push_back(candidate::fft);
    std::stable_sort(order.begin(), order.end(),
                     [&](candidate a, candidate b) { return model.total(a) < model.total(b); });
    return order;
  }

  // Predicted workspace over the limit rules out the FFT policy where it can predict it
  // (predicted_workspace_bytes(problem)); otherwise its own error at run time does.
  bool over_workspace_limit(candidate c, const problem<N>& p) const {
    if (!workspace_limit_ || c != candidate::fft) return false;
    if constexpr (requires(const conv_impl<fft, N, T>& f) {
                    { f.predicted_workspace_bytes(p) } -> std::convertible_to<std::size_t>;
                  }) {
      conv_impl<fft, N, T> probe(geometry_);
      if constexpr (requires { probe.set_workspace_limit(std::size_t{}); }) probe.set_workspace_limit(*workspace_limit_);
      try {
        return probe.predicted_workspace_bytes(p) > *workspace_limit_;
      } catch (const workspace_limit_exceeded&) {  // no layout of the policy fits: the prediction says so
        return true;
      }
    } else {
      return false;
    }
  }

  static std::string milliseconds(double seconds) {
    std::ostringstream out;
    out << std::setprecision(3) << seconds * 1e3 << " ms";
    return out.str();
  }

  template <class Exec>
  std::shared_ptr<automatic_choice> model_choice(const problem<N>& p, const passes& declared, const std::string& key,
                                                 const std::string& why_not_measured) const {
    auto choice = std::make_shared<automatic_choice>();
    choice->mode = automatic_mode::heuristic;
    choice->key = key;
    const modelled_costs model = model_costs<N>(p, declared, sizeof(T), rates<Exec>());
    choice->candidates.resize(candidate_count);
    std::vector<candidate> ranked;
    for (candidate c : model_order<Exec>(model)) {
      automatic_candidate& report = choice->candidates[static_cast<int>(c)];
      if (over_workspace_limit(c, p)) {
        report.skipped = "predicted workspace over the limit";
        continue;
      }
      report.considered = true;
      ranked.push_back(c);
    }
    for (int c = 0; c < candidate_count; ++c) {
      automatic_candidate& report = choice->candidates[c];
      report.policy = candidate_name(static_cast<candidate>(c));
      report.forward_seconds = declared.forward ? model.forward(static_cast<candidate>(c)) : -1;
      report.backward_seconds = backward_declared(declared) ? model.backward(static_cast<candidate>(c)) : -1;
      report.total_seconds = model.total(static_cast<candidate>(c));
      if (!report.considered && report.skipped.empty()) report.skipped = "no FFT library for this executor";
    }
    if (ranked.empty()) ranked.push_back(candidate::im2col);  // im2col chunks to any limit
    choice->policy = candidate_name(ranked.front());
    std::ostringstream reason;
    if (!why_not_measured.empty()) reason << "not measured (" << why_not_measured << "); ";
    reason << "cost model:";
    for (std::size_t i = 0; i < ranked.size(); ++i)
      reason << (i ? " < " : " ") << candidate_name(ranked[i]) << ' ' << milliseconds(model.total(ranked[i]));
    choice->reason = reason.str();
    return choice;
  }

  template <class Exec>
  std::shared_ptr<const automatic_choice> measure_choice(Exec exec, const problem<N>& p,
                                                         const call_arguments<N, T>& call, const passes& declared,
                                                         const std::string& key, bool exhaustive, bool& call_done) {
    using be = backend<Exec>;
    const modelled_costs model = model_costs<N>(p, declared, sizeof(T), rates<Exec>());
    const std::vector<candidate> order = model_order<Exec>(model);

    auto choice = std::make_shared<automatic_choice>();
    choice->mode = exhaustive ? automatic_mode::exhaustive : automatic_mode::measure;
    choice->key = key;
    choice->candidates.resize(candidate_count);
    for (int c = 0; c < candidate_count; ++c) choice->candidates[c].policy = candidate_name(static_cast<candidate>(c));
    if constexpr (!fft_usable<Exec>)
      choice->candidates[static_cast<int>(candidate::fft)].skipped = "no FFT library for this executor";

    // naive only where it might win: its modelled step within 4x of the best other candidate, or under 2 ms.
    // Any candidate modelled over 20x the best is not timed either: the model is within ~3x on the project's
    // hosts, and timing a hopeless candidate (im2col on a large kernel) would cost the first call seconds.
    double best_other = std::numeric_limits<double>::infinity();
    for (candidate c : order)
      if (c != candidate::naive) best_other = std::min(best_other, model.total(c));
    const double best_model = model.total(order.front());
    const auto worth_timing = [&](candidate c) {
      if (exhaustive) return true;
      const double modelled = model.total(c);
      if (c == candidate::naive) return modelled <= 4 * best_other || modelled <= 2e-3;
      return modelled <= hopeless_factor * best_model;
    };
    for (candidate c : order)
      if (!worth_timing(c))
        choice->candidates[static_cast<int>(c)].skipped =
            "not timed: modelled " + milliseconds(model.total(c)) + ", over " +
            (c == candidate::naive ? "4x the best other (" + milliseconds(best_other)
                                   : std::to_string(static_cast<int>(hopeless_factor)) + "x the best (" +
                                         milliseconds(best_model)) +
            ")";

    std::optional<candidate> winner;
    std::exception_ptr first_skip;
    {
      // Scratch, in the executor's memory space. If it does not fit, decide by the model instead. A layer that
      // runs a backward after its forward gets a saved state: the candidate's forward writes it (fft: X̂ and Ŵ
      // under keep::spectra, saved_bytes' default) and its backward reads it, as the caller's step will.
      const bool saves = declared.forward && backward_declared(declared);
      constexpr keep timing_kept = keep::spectra;
      std::optional<typename be::template buffer<T>> synthetic_x, synthetic_w, dy, y, dx, dw, db, reference[4];
      std::optional<typename be::template buffer<std::byte>> saved;
      try {
        const auto make = [&](auto& holder, std::int64_t n) { holder.emplace(be::template allocate<T>(exec, static_cast<std::size_t>(n))); };
        if (!call.x) make(synthetic_x, p.input_size());
        if (!call.w) make(synthetic_w, p.weight_size());
        make(dy, p.output_size());
        make(y, p.output_size());
        make(dx, p.input_size());
        make(dw, p.weight_size());
        make(db, p.out_channels);
        make(reference[0], p.output_size());
        make(reference[1], p.input_size());
        make(reference[2], p.weight_size());
        make(reference[3], p.out_channels);
        if (saves)
          saved.emplace(be::template allocate<std::byte>(
              exec, std::max<std::size_t>(1, saved_payload_bytes(p, timing_kept, be::on_device))));
      } catch (const out_of_memory& e) {
        return model_choice<Exec>(p, declared, key, std::string("the timing's scratch did not fit: ") + e.what());
      }
      constexpr std::uint64_t seed = 0x5eed5eed5eedull;
      if (synthetic_x) be::for_each_index(exec, p.input_size(), synthetic_values<T>{synthetic_x->data(), seed + 1});
      if (synthetic_w) be::for_each_index(exec, p.weight_size(), synthetic_values<T>{synthetic_w->data(), seed + 2});
      be::for_each_index(exec, p.output_size(), synthetic_values<T>{dy->data(), seed + 3});

      // The scratch is dense; the caller's x and w keep their strides.
      const tensor_layout<N> input_layout = tensor_layout<N>::row_major(p.in_channels, p.input);
      const tensor_layout<N> output_layout = tensor_layout<N>::row_major(p.out_channels, p.output);
      const tensor_layout<N> weight_layout = tensor_layout<N>::row_major(p.in_channels_per_group(), p.kernel);
      const strided<const T, N> x = call.x ? call.x : strided<const T, N>{synthetic_x->data(), input_layout};
      const strided<const T, N> w = call.w ? call.w : strided<const T, N>{synthetic_w->data(), weight_layout};
      call_arguments<N, T> forward_step;
      forward_step.x = x, forward_step.w = w, forward_step.y = {y->data(), output_layout};
      forward_step.bias = call.backward ? nullptr : call.bias;
      if (saves) forward_step.payload_out = saved->data(), forward_step.kept = timing_kept;
      // The backward of candidate c: what conv::backward hands it (x and w left out where fft's saved spectra
      // replace them).
      const auto backward_step = [&](candidate c) {
        call_arguments<N, T> step;
        step.backward = true;
        step.dy = {dy->data(), output_layout};
        if (declared.backward_data) step.dx = {dx->data(), input_layout};
        if (declared.backward_filter) step.dw = {dw->data(), weight_layout}, step.dbias = db->data();
        if (saves) {
          step.payload_in = saved->data(), step.kept = timing_kept, step.producer = algorithm_of_candidate(c);
        }
        const bool spectra = saves && timing_kept == keep::spectra && c == candidate::fft;
        if (step.dw && !spectra) step.x = x;
        if (step.dx && !spectra) step.w = w;
        return step;
      };
      // Outputs, for the agreement check: {candidate's, reference's, count}.
      struct output {
        T* mine;
        T* reference;
        std::int64_t count;
        const char* name;
        bool declared;
      };
      const output outputs[4] = {
          {y->data(), reference[0]->data(), p.output_size(), "y", declared.forward},
          {dx->data(), reference[1]->data(), p.input_size(), "dx", declared.backward_data},
          {dw->data(), reference[2]->data(), p.weight_size(), "dw", declared.backward_filter},
          {db->data(), reference[3]->data(), p.out_channels, "db", declared.backward_filter}};

      std::optional<candidate> reference_candidate;
      double best_total = std::numeric_limits<double>::infinity();
      // Two rounds: the candidates worth timing, then, only if none of them could run (out of memory, over
      // the workspace limit), the ones the model had ruled out.
      for (int round = 0; round < 2 && !winner; ++round) {
        for (candidate c : order) {
          automatic_candidate& report = choice->candidates[static_cast<int>(c)];
          if (worth_timing(c) != (round == 0)) continue;
          report.skipped.clear();
          const call_arguments<N, T> backward_call = backward_step(c);
          double call_seconds[2];  // forward, backward
          const auto run_step = [&] {
            call_seconds[0] = declared.forward ? timed_seconds(exec, [&] { run(c, exec, p, forward_step); }) : 0;
            call_seconds[1] = backward_declared(declared) ? timed_seconds(exec, [&] { run(c, exec, p, backward_call); }) : 0;
            return call_seconds[0] + call_seconds[1];
          };
          try {
            report.first_call_seconds = run_step();
            double minimum[2] = {call_seconds[0], call_seconds[1]};
            // A warm-up over 10x the best so far stands as the figure: planning and first allocations are small
            // next to such a step, so repeats would not bring it within reach.
            if (!(report.first_call_seconds > warm_up_cut_factor * best_total)) {
              minimum[0] = minimum[1] = std::numeric_limits<double>::infinity();
              double spent = 0;
              for (int repeat = 1;; ++repeat) {
                const double total = run_step();
                for (int part = 0; part < 2; ++part) minimum[part] = std::min(minimum[part], call_seconds[part]);
                spent += total;
                if (repeat >= max_repeats) break;
                if (total > slow_factor * best_total) break;  // clearly losing: one figure is enough
                // Long steps vary less from run to run: two figures suffice past 0.1 s.
                if (repeat >= (total > 0.1 ? 2 : min_repeats) && spent >= time_budget_seconds) break;
              }
            }
            report.considered = true;
            report.forward_seconds = declared.forward ? minimum[0] : -1;
            report.backward_seconds = backward_declared(declared) ? minimum[1] : -1;
            report.total_seconds = minimum[0] + minimum[1];
          } catch (const out_of_memory& e) {
            report.skipped = std::string("out of memory: ") + e.what();
            if (!first_skip) first_skip = std::current_exception();
            release(c);
            continue;
          } catch (const workspace_limit_exceeded& e) {
            report.skipped = e.what();
            if (!first_skip) first_skip = std::current_exception();
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
                why << "disagrees with " << candidate_name(*reference_candidate) << " on " << o.name
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
    for (candidate c : {candidate::naive, candidate::im2col, candidate::fft})
      if (c != *winner) release(c);
    // The timing may have run on synthetic weights: a layer declared weights-constant would keep their Ŵ.
    weights_changed_of(*winner);
    choice->policy = candidate_name(*winner);
    choice->reason = describe_measurement(*choice, declared);
    run(*winner, exec, p, call);
    call_done = true;
    return choice;
  }

  static std::string describe_measurement(const automatic_choice& choice, const passes& declared) {
    std::vector<const automatic_candidate*> timed, other;
    for (const auto& c : choice.candidates) (c.considered && c.skipped.empty() ? timed : other).push_back(&c);
    std::stable_sort(timed.begin(), timed.end(),
                     [](const automatic_candidate* a, const automatic_candidate* b) { return a->total_seconds < b->total_seconds; });
    std::ostringstream reason;
    reason << "measured " << step_name(declared) << ", minimum of repeats:";
    for (std::size_t i = 0; i < timed.size(); ++i)
      reason << (i ? " < " : " ") << timed[i]->policy << ' ' << milliseconds(timed[i]->total_seconds);
    for (const auto* c : other)
      if (!c->skipped.empty()) reason << "; " << c->policy << ": " << c->skipped;
    return reason.str();
  }

  // "forward + backward (dx, dw)": the calls a step of the declared passes makes.
  static std::string step_name(const passes& declared) {
    std::string name = declared.forward ? "forward" : "";
    if (backward_declared(declared)) {
      name += declared.forward ? " + backward (" : "backward (";
      name += declared.backward_data ? (declared.backward_filter ? "dx, dw, db" : "dx") : "dw, db";
      name += ")";
    }
    return name;
  }

  static constexpr bool backward_declared(const passes& declared) {
    return declared.backward_data || declared.backward_filter;
  }

  template <class Exec>
  void run(candidate c, Exec exec, const problem<N>& p, const call_arguments<N, T>& call) {
    switch (c) {
      case candidate::naive: run_on(obtain<naive>(), exec, p, call); break;
      case candidate::im2col: run_on(obtain<im2col>(), exec, p, call); break;
      case candidate::fft:
        if constexpr (fft_usable<Exec>) {
          run_on(obtain<fft>(), exec, p, call);
          break;
        } else {
          fail("automatic: fft ", call.producer ? "wrote the saved state" : "chosen",
               ", but this executor has no FFT library");
        }
    }
    if (!call.backward) last_forward_ = algorithm_of_candidate(c);
  }

  // One call on a candidate: its combined backward where it has one (the FFT policy), else pass by pass as
  // conv::backward does for a fixed policy.
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

  template <class Exec>
  static void bias_gradient(Exec exec, const problem<N>& p, strided<const T, N> dy, T* dbias) {
    detail::bias_gradient(exec, p, dy, dbias);
  }

  // Which candidate forward ran for p, for algorithm_for (a few shapes, as memo_).
  void record_forward(const problem<N>& p, algorithm ran) {
    for (auto& [shape, held] : forward_algorithms_)
      if (std::memcmp(&shape, &p, sizeof p) == 0) {
        held = ran;
        return;
      }
    if (forward_algorithms_.size() == memo_capacity) forward_algorithms_.erase(forward_algorithms_.begin());
    forward_algorithms_.emplace_back(p, ran);
  }

  // f(candidate P with this layer's settings): the live one, or a probe made as obtain() would make it.
  template <class P, class F>
  decltype(auto) with_settings(F&& f) const {
    if (slot<P>()) return f(*slot<P>());
    conv_impl<P, N, T> probe(geometry_);
    configure(probe);
    return f(static_cast<const conv_impl<P, N, T>&>(probe));
  }

  template <class Impl>
  void configure(Impl& impl) const {
    if constexpr (requires { impl.set_weights_constant(true); }) impl.set_weights_constant(weights_constant_);
    if constexpr (requires { impl.set_workspace_limit(std::size_t{}); })
      if (workspace_limit_) impl.set_workspace_limit(*workspace_limit_);
  }

  // A candidate, created on first use with the layer's settings.
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
    else return fft_;
  }
  template <class P>
  const std::optional<conv_impl<P, N, T>>& slot() const {
    return const_cast<conv_impl*>(this)->template slot<P>();
  }

  template <class F>
  void for_each_live(F&& f) {
    if (naive_) f(*naive_);
    if (im2col_) f(*im2col_);
    if (fft_) f(*fft_);
  }
  template <class F>
  void for_each_live(F&& f) const {
    if (naive_) f(*naive_);
    if (im2col_) f(*im2col_);
    if (fft_) f(*fft_);
  }

  template <class F>
  void with_candidate(candidate c, F&& f) {
    switch (c) {
      case candidate::naive: if (naive_) f(*naive_); break;
      case candidate::im2col: if (im2col_) f(*im2col_); break;
      case candidate::fft: if (fft_) f(*fft_); break;
    }
  }

  void weights_changed_of(candidate c) {
    with_candidate(c, [](auto& impl) { impl.weights_changed(); });
  }

  // Destroys a candidate and its workspace; it is re-created, with the layer's settings, when next needed.
  void release(candidate c) {
    switch (c) {
      case candidate::naive: naive_.reset(); break;
      case candidate::im2col: im2col_.reset(); break;
      case candidate::fft: fft_.reset(); break;
    }
  }

  static constexpr std::size_t memo_capacity = 8;  // shapes one layer alternates between (e.g. a short last batch)
  static constexpr int min_repeats = 3;
  static constexpr int max_repeats = 10;
  static constexpr double slow_factor = 4.0;
  static constexpr double hopeless_factor = 20.0;  // modelled over this many times the best: not timed
  static constexpr double warm_up_cut_factor = 10.0;  // a warm-up step this much slower than the best: no repeats
  static constexpr double time_budget_seconds = 0.2;  // per candidate, after min_repeats

  geometry<N> geometry_;
  passes passes_ = passes::training();
  std::optional<automatic_mode> mode_;
  std::optional<std::size_t> workspace_limit_;
  bool weights_constant_ = false;
  std::optional<conv_impl<naive, N, T>> naive_;
  std::optional<conv_impl<im2col, N, T>> im2col_;
  std::optional<conv_impl<fft, N, T>> fft_;
  std::vector<std::pair<std::string, std::shared_ptr<const automatic_choice>>> memo_;
  std::shared_ptr<const automatic_choice> last_choice_;
  std::optional<call_signature> last_signature_;  // of the call last_choice_ was found for
  std::string last_key_;
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
