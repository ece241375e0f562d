#pragma once
// The one-line reasons fftconv::automatic gives in choice(): which figures decided, and why a candidate was
// not considered.

#include <algorithm>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include "../policy.hpp"
#include "choice.hpp"
#include "cost_model.hpp"

namespace fftconv::detail {

inline std::string milliseconds(double seconds) {
  std::ostringstream out;
  out << std::setprecision(3) << seconds * 1e3 << " ms";
  return out.str();
}

// "forward + backward (dx, dw, db)": the calls a step of the declared passes makes.
inline std::string step_name(const passes& declared) {
  std::string name = declared.forward ? "forward" : "";
  if (declared.any_backward()) {
    name += declared.forward ? " + backward (" : "backward (";
    name += declared.backward_data ? (declared.backward_filter ? "dx, dw, db" : "dx") : "dw, db";
    name += ")";
  }
  return name;
}

// "measured forward + backward (dx, dw, db), minimum of repeats: fft 1.2 ms < im2col 3.4 ms; naive: <why not>"
inline std::string describe_measurement(const automatic_choice& choice, const passes& declared) {
  std::vector<const automatic_candidate*> timed, other;
  for (const auto& c : choice.candidates) (c.considered && c.skipped.empty() ? timed : other).push_back(&c);
  std::stable_sort(timed.begin(), timed.end(), [](const automatic_candidate* a, const automatic_candidate* b) {
    return a->total_seconds < b->total_seconds;
  });
  std::ostringstream reason;
  reason << "measured " << step_name(declared) << ", minimum of repeats:";
  for (std::size_t i = 0; i < timed.size(); ++i)
    reason << (i ? " < " : " ") << to_string(timed[i]->policy) << ' ' << milliseconds(timed[i]->total_seconds);
  for (const auto* c : other)
    if (!c->skipped.empty()) reason << "; " << to_string(c->policy) << ": " << c->skipped;
  return reason.str();
}

// "cost model: fft 1.2 ms < im2col 3.4 ms", after why the choice was not measured where it was not.
inline std::string describe_model(const std::vector<algorithm>& ranked, const modelled_costs& model,
                                  const std::string& why_not_measured) {
  std::ostringstream reason;
  if (!why_not_measured.empty()) reason << "not measured (" << why_not_measured << "); ";
  reason << "cost model:";
  for (std::size_t i = 0; i < ranked.size(); ++i)
    reason << (i ? " < " : " ") << to_string(ranked[i]) << ' ' << milliseconds(model.total(ranked[i]));
  return reason.str();
}

// Why measure mode did not time candidate c: modelled too far from the best.
inline std::string not_timed_reason(algorithm c, double modelled, double best_other, double best, const tuning& t) {
  std::ostringstream why;
  why << "not timed: modelled " << milliseconds(modelled) << ", over ";
  if (c == algorithm::naive)
    why << t.naive_reach_factor << "x the best other (" << milliseconds(best_other) << ")";
  else
    why << t.hopeless_factor << "x the best (" << milliseconds(best) << ")";
  return why.str();
}

}  // namespace fftconv::detail
