#pragma once
// What fftconv::automatic picked for a layer, and why: the public record of one choice.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../policy.hpp"

namespace fftconv {

// One candidate's figures in a choice: the measured seconds of a step's two calls (measure mode) or their
// modelled seconds (heuristic mode); a negative figure is a call the declared passes do not make.
struct automatic_candidate {
  algorithm policy = algorithm::naive;
  bool considered = false;         // timed (measure) or modelled (heuristic)
  double forward_seconds = -1;     // forward, writing the saved state when a backward is declared
  double backward_seconds = -1;    // one combined backward: dx and/or dw (and db) as declared, from that state
  double total_seconds = -1;       // their sum
  double first_call_seconds = -1;  // measure mode: the untimed warm-up step (plans, workspace)
  std::string skipped;             // why it was not considered or not eligible, empty if it was
};

// What fftconv::automatic picked for one key, and why.
struct automatic_choice {
  std::optional<algorithm> policy;  // empty before the first call
  automatic_mode mode = automatic_mode::measure;
  std::string reason;                           // one line: the figures that decided
  std::vector<automatic_candidate> candidates;  // indexed by algorithm; empty for a choice loaded from a file
  std::string key;                              // the key's text (automatic/choice_key.hpp)
};

constexpr const char* to_string(automatic_mode mode) noexcept {
  switch (mode) {
    case automatic_mode::measure: return "measure";
    case automatic_mode::heuristic: return "heuristic";
    case automatic_mode::exhaustive: return "exhaustive";
  }
  return "unknown";
}

// "measure", "heuristic" or "exhaustive"; false for anything else.
constexpr bool parse_mode(std::string_view name, automatic_mode& mode) noexcept {
  for (automatic_mode m : {automatic_mode::measure, automatic_mode::heuristic, automatic_mode::exhaustive})
    if (name == to_string(m)) {
      mode = m;
      return true;
    }
  return false;
}

// Process-wide counters, for tests and logs.
struct automatic_statistics {
  std::uint64_t measurements = 0;  // keys timed (measure or exhaustive)
  std::uint64_t modelled = 0;      // keys decided by the cost model
  std::uint64_t cache_hits = 0;    // decisions answered from the cache (by another layer, or a loaded file)
  std::uint64_t loaded = 0;        // choices read by load_automatic_choices
};

}  // namespace fftconv
