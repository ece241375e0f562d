#pragma once
// fftconv::automatic's choices, process-wide: what was picked for a key (automatic/choice_key.hpp) and why.
//
// Thread safety: every function here may be called from any thread. While one thread decides a key (timing
// it), other threads asking for the same key wait for its result instead of timing in parallel; different keys
// are decided concurrently.
//
// save_automatic_choices / load_automatic_choices write and read the file of automatic/choice_file.hpp.

#include <condition_variable>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "../error.hpp"
#include "choice.hpp"
#include "choice_file.hpp"
#include "choice_key.hpp"
#include "default_mode.hpp"

namespace fftconv {
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
  std::shared_ptr<const automatic_choice> find_or_decide(const choice_key& key, Decide&& decide) {
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
  std::shared_ptr<const automatic_choice> find(const choice_key& key) {
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
    std::vector<saved_choice> snapshot;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto& [key, choice] : entries_) snapshot.push_back({key, choice});
    }
    std::ofstream out(path, std::ios::trunc);
    if (!out) fail("save_automatic_choices: cannot open '", path, "' for writing");
    write_choices(out, snapshot);
    out.flush();
    if (!out) fail("save_automatic_choices: writing '", path, "' failed");
    return snapshot.size();
  }

  // Parses the whole file before changing the cache: a malformed file changes nothing.
  std::size_t load(const std::string& path) {
    std::ifstream in(path);
    if (!in) fail("load_automatic_choices: cannot open '", path, "'");
    std::vector<saved_choice> parsed = read_choices(in, path);
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [key, choice] : parsed) entries_[key] = std::move(choice);
    statistics_.loaded += parsed.size();
    return parsed.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable decided_;
  std::map<choice_key, std::shared_ptr<const automatic_choice>> entries_;
  std::set<choice_key> deciding_;
  automatic_statistics statistics_;
};

}  // namespace detail

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
