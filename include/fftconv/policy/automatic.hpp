#pragma once
// automatic: for each problem shape, run whichever of naive, im2col and fft is fastest for the layer's declared
// passes (set_passes; default all three), chosen once per key and shared process-wide
// (automatic/choice_cache.hpp).
//
// Measure mode (the default): the first call for a key times every eligible candidate over the declared passes,
// in the order of a training step, on the caller's x and w (synthetic where the triggering call lacks them), a
// seeded synthetic dy, and scratch y, dx, dw, db:
//   - naive is timed only where the cost model predicts it within reach of the best (≤ 4x, or under 2 ms),
//     and no candidate modelled over 20x the best is timed (exhaustive mode times every candidate);
//   - one warm-up step (plans, workspace; reported as first_call_seconds), then the minimum of 2..10 timed
//     steps; a candidate more than 4x slower than the best so far stops after one, and one whose warm-up is
//     over 10x the best keeps the warm-up as its figure;
//   - every candidate's outputs are compared with the first finished candidate's; one that disagrees beyond
//     agreement_tolerance is reported and cannot win;
//   - out_of_memory and workspace_limit_exceeded skip a candidate (the message is kept in choice()); any
//     other error propagates;
//   - afterwards every candidate forgets its cached maps and kernel spectra (they were tagged with scratch
//     addresses, and a freed scratch address can come back as the caller's dy), the losers are destroyed
//     (their workspace freed), and the winner runs the triggering call on the caller's arguments last.
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
#include "../error.hpp"
#include "../geometry.hpp"
#include "../policy.hpp"
#include "fft.hpp"
#include "im2col.hpp"
#include "naive.hpp"

namespace fftconv::detail {

// The arguments of one call, whichever pass it is; pointers a pass does not take are null.
template <class T>
struct call_arguments {
  pass_kind pass;
  const T* x = nullptr;
  const T* w = nullptr;
  const T* bias = nullptr;
  const T* dy = nullptr;
  T* y = nullptr;
  T* dx = nullptr;
  T* dw = nullptr;
  T* dbias = nullptr;
};

template <int N, class T>
class conv_impl<automatic, N, T> {
 public:
  explicit conv_impl(const geometry<N>& g) : geometry_(g) {}

  template <class Exec>
  void forward(Exec exec, const problem<N>& p, const T* x, const T* w, const T* bias, T* y) {
    call_arguments<T> call{pass_kind::forward};
    call.x = x, call.w = w, call.bias = bias, call.y = y;
    execute(exec, p, call);
  }

  template <class Exec>
  void backward_data(Exec exec, const problem<N>& p, const T* dy, const T* w, T* dx) {
    call_arguments<T> call{pass_kind::backward_data};
    call.dy = dy, call.w = w, call.dx = dx;
    execute(exec, p, call);
  }

  template <class Exec>
  void backward_filter(Exec exec, const problem<N>& p, const T* x, const T* dy, T* dw, T* dbias) {
    call_arguments<T> call{pass_kind::backward_filter};
    call.x = x, call.dy = dy, call.dw = dw, call.dbias = dbias;
    execute(exec, p, call);
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

  // The choice behind the most recent call (policy empty before the first call).
  const automatic_choice& choice() const {
    static const automatic_choice none{"", automatic_mode::measure, "no call yet", {}, ""};
    return last_choice_ ? *last_choice_ : none;
  }

  void weights_changed() {
    for_each_live([](auto& impl) { impl.weights_changed(); });
  }

  void discard_cached_maps() {
    for_each_live([](auto& impl) {
      if constexpr (requires { impl.discard_cached_maps(); }) impl.discard_cached_maps();
    });
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
    for_each_live([&](auto& impl) {
      if constexpr (requires { impl.set_workspace_limit(bytes); }) impl.set_workspace_limit(bytes);
    });
  }

  std::size_t workspace_bytes() const {
    std::size_t bytes = 0;
    for_each_live([&](const auto& impl) { bytes += impl.workspace_bytes(); });
    return bytes;
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
  void execute(Exec exec, const problem<N>& p, const call_arguments<T>& call) {
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
    constexpr std::size_t memo_capacity = 8;  // shapes one layer alternates between (e.g. a short last batch)
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
  void run_with_fallback(Exec exec, const problem<N>& p, const call_arguments<T>& call,
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
      for (int pass = 0; pass < pass_count; ++pass)
        report.seconds[pass] = declares(declared, static_cast<pass_kind>(pass)) ? model.seconds[c][pass] : -1;
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
                                                         const call_arguments<T>& call, const passes& declared,
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
      // Scratch, in the executor's memory space. If it does not fit, decide by the model instead.
      std::optional<typename be::template buffer<T>> synthetic_x, synthetic_w, dy, y, dx, dw, db, reference[4];
      try {
        const auto make = [&](auto& holder, std::int64_t n) { holder.emplace(be::template allocate<T>(exec, static_cast<std::size_t>(n))); };
        if (call.x == nullptr) make(synthetic_x, p.input_size());
        if (call.w == nullptr) make(synthetic_w, p.weight_size());
        make(dy, p.output_size());
        make(y, p.output_size());
        make(dx, p.input_size());
        make(dw, p.weight_size());
        make(db, p.out_channels);
        make(reference[0], p.output_size());
        make(reference[1], p.input_size());
        make(reference[2], p.weight_size());
        make(reference[3], p.out_channels);
      } catch (const out_of_memory& e) {
        return model_choice<Exec>(p, declared, key, std::string("the timing's scratch did not fit: ") + e.what());
      }
      constexpr std::uint64_t seed = 0x5eed5eed5eedull;
      if (synthetic_x) be::for_each_index(exec, p.input_size(), synthetic_values<T>{synthetic_x->data(), seed + 1});
      if (synthetic_w) be::for_each_index(exec, p.weight_size(), synthetic_values<T>{synthetic_w->data(), seed + 2});
      be::for_each_index(exec, p.output_size(), synthetic_values<T>{dy->data(), seed + 3});

      call_arguments<T> step[pass_count];
      const T* x = call.x ? call.x : synthetic_x->data();
      const T* w = call.w ? call.w : synthetic_w->data();
      step[0] = {pass_kind::forward, x, w, call.pass == pass_kind::forward ? call.bias : nullptr, nullptr, y->data()};
      step[1] = {pass_kind::backward_data, nullptr, w, nullptr, dy->data(), nullptr, dx->data()};
      step[2] = {pass_kind::backward_filter, x, nullptr, nullptr, dy->data(), nullptr, nullptr, dw->data(), db->data()};
      // Outputs per pass, for the agreement check: {candidate's, reference's, count}.
      struct output {
        T* mine;
        T* reference;
        std::int64_t count;
        const char* name;
      };
      const output outputs[4] = {{y->data(), reference[0]->data(), p.output_size(), "y"},
                                 {dx->data(), reference[1]->data(), p.input_size(), "dx"},
                                 {dw->data(), reference[2]->data(), p.weight_size(), "dw"},
                                 {db->data(), reference[3]->data(), p.out_channels, "db"}};
      const auto output_declared = [&](int o) { return declares(declared, static_cast<pass_kind>(o < 3 ? o : 2)); };

      std::optional<candidate> reference_candidate;
      double best_total = std::numeric_limits<double>::infinity();
      // Two rounds: the candidates worth timing, then, only if none of them could run (out of memory, over
      // the workspace limit), the ones the model had ruled out.
      for (int round = 0; round < 2 && !winner; ++round) {
        for (candidate c : order) {
          automatic_candidate& report = choice->candidates[static_cast<int>(c)];
          if (worth_timing(c) != (round == 0)) continue;
          report.skipped.clear();
          double pass_seconds[pass_count];
          const auto run_step = [&] {
            if (!declared.forward) discard_cached_maps_of(c);  // as a functional backward call: transforms included
            for (int pass = 0; pass < pass_count; ++pass) {
              pass_seconds[pass] = 0;
              if (declares(declared, static_cast<pass_kind>(pass)))
                pass_seconds[pass] = timed_seconds(exec, [&] { run(c, exec, p, step[pass]); });
            }
            return pass_seconds[0] + pass_seconds[1] + pass_seconds[2];
          };
          try {
            report.first_call_seconds = run_step();
            double minimum[pass_count] = {pass_seconds[0], pass_seconds[1], pass_seconds[2]};
            // A warm-up over 10x the best so far stands as the figure: planning and first allocations are small
            // next to such a step, so repeats would not bring it within reach.
            if (!(report.first_call_seconds > warm_up_cut_factor * best_total)) {
              for (int pass = 0; pass < pass_count; ++pass) minimum[pass] = std::numeric_limits<double>::infinity();
              double spent = 0;
              for (int repeat = 1;; ++repeat) {
                const double total = run_step();
                for (int pass = 0; pass < pass_count; ++pass) minimum[pass] = std::min(minimum[pass], pass_seconds[pass]);
                spent += total;
                if (repeat >= max_repeats) break;
                if (total > slow_factor * best_total) break;  // clearly losing: one figure is enough
                // Long steps vary less from run to run: two figures suffice past 0.1 s.
                if (repeat >= (total > 0.1 ? 2 : min_repeats) && spent >= time_budget_seconds) break;
              }
            }
            report.considered = true;
            report.total_seconds = 0;
            for (int pass = 0; pass < pass_count; ++pass) {
              const bool on = declares(declared, static_cast<pass_kind>(pass));
              report.seconds[pass] = on ? minimum[pass] : -1;
              if (on) report.total_seconds += minimum[pass];
            }
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
            for (int o = 0; o < 4; ++o)
              if (output_declared(o)) be::copy(exec, outputs[o].reference, outputs[o].mine, outputs[o].count);
            reference_candidate = c;
          } else {
            for (int o = 0; o < 4 && report.skipped.empty(); ++o) {
              if (!output_declared(o)) continue;
              const double difference = relative_difference(exec, outputs[o].mine, outputs[o].reference, outputs[o].count);
              if (!(difference <= agreement_tolerance<T>)) {
                std::ostringstream why;
                why << "disagrees with " << candidate_name(*reference_candidate) << " on " << outputs[o].name
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
    // The candidates' cached maps and kernel spectra are tagged with scratch addresses: forget them all.
    for (candidate c : {candidate::naive, candidate::im2col, candidate::fft}) {
      if (c != *winner) {
        release(c);
        continue;
      }
      discard_cached_maps_of(c);
      weights_changed_of(c);
    }
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
    reason << "measured (";
    bool first = true;
    for (int pass = 0; pass < pass_count; ++pass)
      if (declares(declared, static_cast<pass_kind>(pass))) {
        reason << (first ? "" : " + ") << pass_name(static_cast<pass_kind>(pass));
        first = false;
      }
    reason << ", minimum of repeats):";
    for (std::size_t i = 0; i < timed.size(); ++i)
      reason << (i ? " < " : " ") << timed[i]->policy << ' ' << milliseconds(timed[i]->total_seconds);
    for (const auto* c : other)
      if (!c->skipped.empty()) reason << "; " << c->policy << ": " << c->skipped;
    return reason.str();
  }

  template <class Exec>
  void run(candidate c, Exec exec, const problem<N>& p, const call_arguments<T>& call) {
    switch (c) {
      case candidate::naive: return run_on(obtain<naive>(), exec, p, call);
      case candidate::im2col: return run_on(obtain<im2col>(), exec, p, call);
      case candidate::fft:
        if constexpr (fft_usable<Exec>) return run_on(obtain<fft>(), exec, p, call);
        fail("automatic: fft chosen, but this executor has no FFT library");
    }
  }

  template <class Impl, class Exec>
  static void run_on(Impl& impl, Exec exec, const problem<N>& p, const call_arguments<T>& call) {
    switch (call.pass) {
      case pass_kind::forward: return impl.forward(exec, p, call.x, call.w, call.bias, call.y);
      case pass_kind::backward_data: return impl.backward_data(exec, p, call.dy, call.w, call.dx);
      case pass_kind::backward_filter: return impl.backward_filter(exec, p, call.x, call.dy, call.dw, call.dbias);
    }
  }

  // A candidate, created on first use with the layer's settings.
  template <class P>
  conv_impl<P, N, T>& obtain() {
    auto& held = slot<P>();
    if (!held) {
      held.emplace(geometry_);
      if constexpr (requires { held->set_weights_constant(true); }) held->set_weights_constant(weights_constant_);
      if constexpr (requires { held->set_workspace_limit(std::size_t{}); })
        if (workspace_limit_) held->set_workspace_limit(*workspace_limit_);
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

  void discard_cached_maps_of(candidate c) {
    with_candidate(c, [](auto& impl) {
      if constexpr (requires { impl.discard_cached_maps(); }) impl.discard_cached_maps();
    });
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
};

}  // namespace fftconv::detail
