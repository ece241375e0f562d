#pragma once
// fftconv::automatic's choices, process-wide: what was picked for a key and why.
//
// Key: rank, element type, the problem (batch, channels, groups, extents, kernel, padding, stride, dilation),
// the declared passes, the workspace limit, the mode, the executor kind and the hardware identity
// (automatic/hardware.hpp). Layers with the same key share one choice, so a network with repeated blocks
// times each distinct shape once.
//
// Thread safety: every function here may be called from any thread. While one thread decides a key (timing
// it), other threads asking for the same key wait for its result instead of timing in parallel; different keys
// are decided concurrently.
//
// Files: save_automatic_choices(path) writes one line per choice,
//     <key> | <policy> | <mode> | <reason>
// after the header line `fftconv-automatic-choices 1`; load_automatic_choices(path) reads them back (a
// training job restarted on the same machine then skips the timing). Keys from other machines load but never
// match, since the hardware identity is part of the key.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../geometry.hpp"
#include "../policy.hpp"
#include "cost_model.hpp"

namespace fftconv {

// One candidate's figures in a choice: the measured seconds of a step's two calls (measure mode) or their
// modelled seconds (heuristic mode); a negative figure is a call the declared passes do not make.
struct automatic_candidate {
  std::string policy;
  bool considered = false;         // timed (measure) or modelled (heuristic)
  double forward_seconds = -1;     // forward, writing the saved state when a backward is declared
  double backward_seconds = -1;    // one combined backward: dx and/or dw (and db) as declared, from that state
  double total_seconds = -1;       // their sum
  double first_call_seconds = -1;  // measure mode: the untimed warm-up step (plans, workspace)
  std::string skipped;             // why it was not considered or not eligible, empty if it was
};

// What fftconv::automatic picked for one key, and why.
struct automatic_choice {
  std::string policy;  // "naive", "im2col" or "fft"; empty before the first call
  automatic_mode mode = automatic_mode::measure;
  std::string reason;  // one line: the figures that decided
  std::vector<automatic_candidate> candidates;  // empty for a choice loaded from a file
  std::string key;
};

inline const char* mode_name(automatic_mode mode) {
  switch (mode) {
    case automatic_mode::measure: return "measure";
    case automatic_mode::heuristic: return "heuristic";
    case automatic_mode::exhaustive: return "exhaustive";
  }
  return "?";
}

// "measure", "heuristic" or "exhaustive"; false for anything else.
inline bool parse_mode(const std::string& name, automatic_mode& mode) {
  for (automatic_mode m : {automatic_mode::measure, automatic_mode::heuristic, automatic_mode::exhaustive})
    if (name == mode_name(m)) {
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

namespace detail {

class choice_cache {
 public:
  static choice_cache& instance() {
    static choice_cache cache;
    return cache;
  }

  // The choice for key: cached, or made by decide() on this thread while other threads asking for the same
  // key wait. If decide() throws, nothing is cached and a waiting thread decides in turn.
  template <class Decide>
  std::shared_ptr<const automatic_choice> find_or_decide(const std::string& key, Decide&& decide) {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      auto found = entries_.find(key);
      if (found != entries_.end()) {
        ++statistics_.cache_hits;
        return found->second;
      }
      if (deciding_.count(key) == 0) break;
      decided_.wait(lock);
    }
    deciding_.insert(key);
    lock.unlock();
    std::shared_ptr<const automatic_choice> choice;
    try {
      choice = decide();
    } catch (...) {
      lock.lock();
      deciding_.erase(key);
      decided_.notify_all();
      throw;
    }
    lock.lock();
    entries_[key] = choice;
    if (choice->mode == automatic_mode::heuristic)
      ++statistics_.modelled;
    else
      ++statistics_.measurements;
    deciding_.erase(key);
    decided_.notify_all();
    return choice;
  }

  // The cached choice for key, or null; never decides (used where timing is impossible).
  std::shared_ptr<const automatic_choice> find(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = entries_.find(key);
    if (found == entries_.end()) return nullptr;
    ++statistics_.cache_hits;
    return found->second;
  }

  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.clear();
  }

  std::size_t size() {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.size();
  }

  automatic_statistics statistics() {
    std::lock_guard<std::mutex> lock(mutex_);
    return statistics_;
  }

  void reset_statistics() {
    std::lock_guard<std::mutex> lock(mutex_);
    statistics_ = {};
  }

  std::size_t save(const std::string& path) {
    std::vector<std::shared_ptr<const automatic_choice>> snapshot;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto& [key, choice] : entries_) snapshot.push_back(choice);
    }
    std::ofstream out(path, std::ios::trunc);
    if (!out) fail("save_automatic_choices: cannot open '", path, "' for writing");
    out << header << '\n';
    for (const auto& choice : snapshot)
      out << choice->key << separator << choice->policy << separator << mode_name(choice->mode) << separator
          << one_line(choice->reason) << '\n';
    out.flush();
    if (!out) fail("save_automatic_choices: writing '", path, "' failed");
    return snapshot.size();
  }

  // Parses the whole file before changing the cache: a malformed file changes nothing.
  std::size_t load(const std::string& path) {
    std::ifstream in(path);
    if (!in) fail("load_automatic_choices: cannot open '", path, "'");
    std::string line;
    if (!std::getline(in, line) || line != header)
      fail("load_automatic_choices: '", path, "' does not start with '", header, "'");
    std::vector<std::shared_ptr<const automatic_choice>> parsed;
    for (int number = 2; std::getline(in, line); ++number) {
      if (line.empty()) continue;
      std::vector<std::string> fields;
      std::size_t start = 0;
      for (int f = 0; f < 3; ++f) {
        const std::size_t at = line.find(separator, start);
        if (at == std::string::npos) break;
        fields.push_back(line.substr(start, at - start));
        start = at + separator.size();
      }
      fields.push_back(line.substr(start));
      if (fields.size() != 4)
        fail("load_automatic_choices: '", path, "' line ", number, " has ", fields.size(),
             " fields, expected 4 (key | policy | mode | reason)");
      auto choice = std::make_shared<automatic_choice>();
      choice->key = fields[0];
      choice->policy = fields[1];
      if (choice->policy != "naive" && choice->policy != "im2col" && choice->policy != "fft")
        fail("load_automatic_choices: '", path, "' line ", number, ": unknown policy '", choice->policy, "'");
      if (!parse_mode(fields[2], choice->mode))
        fail("load_automatic_choices: '", path, "' line ", number, ": unknown mode '", fields[2], "'");
      choice->reason = "loaded from " + path + ": " + fields[3];
      parsed.push_back(std::move(choice));
    }
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& choice : parsed) entries_[choice->key] = choice;
    statistics_.loaded += parsed.size();
    return parsed.size();
  }

 private:
  static constexpr const char* header = "fftconv-automatic-choices 1";
  static inline const std::string separator = " | ";

  static std::string one_line(std::string text) {
    for (char& c : text)
      if (c == '\n' || c == '\r') c = ' ';
    return text;
  }

  std::mutex mutex_;
  std::condition_variable decided_;
  std::map<std::string, std::shared_ptr<const automatic_choice>> entries_;
  std::set<std::string> deciding_;
  automatic_statistics statistics_;
};

// The process-wide default mode: set_default_automatic_mode(), else the environment variable
// FFTCONV_AUTOMATIC_MODE (measure | heuristic | exhaustive), else the compile definition
// FFTCONV_AUTOMATIC_DEFAULT_MODE (the same words, unquoted), else measure.
#define FFTCONV_DETAIL_MODE_measure 0
#define FFTCONV_DETAIL_MODE_heuristic 1
#define FFTCONV_DETAIL_MODE_exhaustive 2
#define FFTCONV_DETAIL_MODE_VALUE(name) FFTCONV_DETAIL_MODE_VALUE_(name)
#define FFTCONV_DETAIL_MODE_VALUE_(name) FFTCONV_DETAIL_MODE_##name

inline automatic_mode compiled_default_mode() {
#if defined(FFTCONV_AUTOMATIC_DEFAULT_MODE)
  constexpr int mode = FFTCONV_DETAIL_MODE_VALUE(FFTCONV_AUTOMATIC_DEFAULT_MODE);
  return mode == 1 ? automatic_mode::heuristic : mode == 2 ? automatic_mode::exhaustive : automatic_mode::measure;
#else
  return automatic_mode::measure;
#endif
}

inline automatic_mode environment_default_mode() {
  const char* value = std::getenv("FFTCONV_AUTOMATIC_MODE");
  if (value == nullptr || *value == '\0') return compiled_default_mode();
  automatic_mode mode = automatic_mode::measure;
  if (!parse_mode(value, mode))
    fail("FFTCONV_AUTOMATIC_MODE is '", value, "'; expected 'measure', 'heuristic' or 'exhaustive'");
  return mode;
}

inline std::atomic<int>& default_mode_setting() {
  static std::atomic<int> setting{static_cast<int>(environment_default_mode())};
  return setting;
}

template <int N>
std::string choice_key(const problem<N>& p, std::size_t element_bytes, const passes& declared,
                       std::size_t workspace_limit, bool limit_set, automatic_mode mode, const std::string& hardware) {
  std::ostringstream key;
  const auto list = [&](const char* name, const std::int64_t (&values)[N]) {
    key << ' ' << name << '=';
    for (int d = 0; d < N; ++d) key << (d ? "x" : "") << values[d];
  };
  key << "N=" << N << " T=" << (element_bytes == 4 ? "float" : "double") << " batch=" << p.batch
      << " in=" << p.in_channels << " out=" << p.out_channels << " groups=" << p.groups;
  list("input", p.input);
  list("kernel", p.kernel);
  list("pad", p.padding);
  list("pad_high", p.padding_high);
  list("stride", p.stride);
  list("dilation", p.dilation);
  key << " passes=" << (declared.forward ? "f" : "") << (declared.backward_data ? "d" : "")
      << (declared.backward_filter ? "w" : "") << " limit=";
  if (limit_set)
    key << workspace_limit;
  else
    key << "default";
  key << " mode=" << mode_name(mode) << " on=" << hardware;
  return key.str();
}

}  // namespace detail

// Mode for layers that were not given one with set_mode(); measure unless changed (see above).
inline automatic_mode default_automatic_mode() {
  return static_cast<automatic_mode>(detail::default_mode_setting().load());
}
inline void set_default_automatic_mode(automatic_mode mode) {
  detail::default_mode_setting().store(static_cast<int>(mode));
}

// Forget every cached choice (layers keep the choice they hold; new layers and new shapes decide again).
inline void clear_automatic_choices() { detail::choice_cache::instance().clear(); }

// Writes every cached choice to a small text file; returns how many.
inline std::size_t save_automatic_choices(const std::string& path) { return detail::choice_cache::instance().save(path); }

// Reads choices written by save_automatic_choices into the cache (replacing equal keys); returns how many.
// Throws invalid_argument, changing nothing, when the file cannot be read or a line is malformed.
inline std::size_t load_automatic_choices(const std::string& path) { return detail::choice_cache::instance().load(path); }

inline automatic_statistics automatic_choice_statistics() { return detail::choice_cache::instance().statistics(); }
inline void reset_automatic_choice_statistics() { detail::choice_cache::instance().reset_statistics(); }

}  // namespace fftconv
