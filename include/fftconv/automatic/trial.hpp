#pragma once
// One candidate's trial in measure mode: which candidates are worth timing, the scratch a timed step runs on,
// and the repeats that turn steps into a figure.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>

#include "../backend/backend.hpp"
#include "../geometry.hpp"
#include "../policy.hpp"
#include "../tuning.hpp"
#include "cost_model.hpp"
#include "measurement.hpp"

namespace fftconv::detail {

// Whether measure mode times candidate c: naive only where it might win (within naive_reach_factor of the best
// other candidate's model, or cheap), any other within hopeless_factor of the best model. Exhaustive: all.
struct timing_filter {
  double best_other = std::numeric_limits<double>::infinity();  // the best modelled candidate other than naive
  double best = std::numeric_limits<double>::infinity();        // the best modelled candidate
  bool exhaustive = false;

  bool worth_timing(algorithm c, const modelled_costs& model, const tuning& t) const {
    if (exhaustive) return true;
    const double modelled = model.total(c);
    if (c == algorithm::naive) return modelled <= t.naive_reach_factor * best_other || modelled <= t.naive_always_seconds;
    return modelled <= t.hopeless_factor * best;
  }
};

// The scratch of a trial, in the executor's memory: synthetic x and w where the triggering call lacks them, a
// synthetic dy, the outputs, the reference candidate's outputs for the agreement check, and a saved state.
template <class Exec, class T>
struct trial_scratch {
  using buffer = typename backend<Exec>::template buffer<T>;
  std::optional<buffer> x, w, dy, y, dx, dw, db;
  std::optional<buffer> reference[4];  // y, dx, dw, db of the first candidate that finished
  std::optional<typename backend<Exec>::template buffer<std::byte>> saved;

  // Throws out_of_memory when it does not fit.
  template <int N>
  trial_scratch(const Exec& exec, const problem<N>& p, bool need_x, bool need_w, std::optional<std::size_t> saved_bytes) {
    using be = backend<Exec>;
    const auto make = [&](std::optional<buffer>& holder, std::int64_t n) {
      holder.emplace(be::template allocate<T>(exec, static_cast<std::size_t>(n)));
    };
    if (need_x) make(x, p.input_size());
    if (need_w) make(w, p.weight_size());
    make(dy, p.output_size());
    make(y, p.output_size());
    make(dx, p.input_size());
    make(dw, p.weight_size());
    make(db, p.out_channels);
    make(reference[0], p.output_size());
    make(reference[1], p.input_size());
    make(reference[2], p.weight_size());
    make(reference[3], p.out_channels);
    if (saved_bytes) saved.emplace(be::template allocate<std::byte>(exec, std::max<std::size_t>(1, *saved_bytes)));
  }

  // Seeded values in the synthetic x, w and dy: the same on every run.
  template <int N>
  void fill_synthetic(const Exec& exec, const problem<N>& p) {
    using be = backend<Exec>;
    constexpr std::uint64_t seed = 0x5eed5eed5eedull;
    if (x) be::for_each_index(exec, p.input_size(), synthetic_values<T>{x->data(), seed + 1});
    if (w) be::for_each_index(exec, p.weight_size(), synthetic_values<T>{w->data(), seed + 2});
    be::for_each_index(exec, p.output_size(), synthetic_values<T>{dy->data(), seed + 3});
  }
};

// A candidate's figures: its warm-up step and the minimum over repeats of each call (forward, backward).
struct trial_figures {
  double first_call_seconds = -1;  // -1 until the warm-up step finished
  double forward_seconds = 0;
  double backward_seconds = 0;
};

// step(call_seconds) runs one step and writes its two calls' seconds. One warm-up step (plans, workspace),
// then repeats until the tuning's budget: a step over slow_factor x the best so far stops after one figure, and
// a warm-up over warm_up_cut_factor x the best stands as the figure. `figures` holds the warm-up's figure even
// when a repeat throws.
template <class Step>
void run_trial(Step&& step, double best_total, const tuning& t, trial_figures& figures) {
  double call_seconds[2];
  step(call_seconds);
  figures.first_call_seconds = call_seconds[0] + call_seconds[1];
  double minimum[2] = {call_seconds[0], call_seconds[1]};
  if (!(figures.first_call_seconds > t.warm_up_cut_factor * best_total)) {
    minimum[0] = minimum[1] = std::numeric_limits<double>::infinity();
    double spent = 0;
    for (int repeat = 1;; ++repeat) {
      step(call_seconds);
      const double total = call_seconds[0] + call_seconds[1];
      for (int part = 0; part < 2; ++part) minimum[part] = std::min(minimum[part], call_seconds[part]);
      spent += total;
      if (repeat >= t.max_repeats) break;
      if (total > t.slow_factor * best_total) break;  // clearly losing: one figure is enough
      // Long steps vary less from run to run: two figures suffice past 0.1 s.
      if (repeat >= (total > 0.1 ? 2 : t.min_repeats) && spent >= t.time_budget_seconds) break;
    }
  }
  figures.forward_seconds = minimum[0];
  figures.backward_seconds = minimum[1];
}

}  // namespace fftconv::detail
