#pragma once
// What an epoch prints: the per-minibatch time table, and a progress bar on stderr when it is a terminal.

#include <unistd.h>  // isatty

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace lenet {

struct time_summary {
  std::int64_t count = 0;
  double min = 0, max = 0, mean = 0, median = 0, std = 0;  // ms; std is the sample standard deviation
};

inline time_summary summarise(std::vector<double> milliseconds) {
  time_summary s;
  s.count = static_cast<std::int64_t>(milliseconds.size());
  if (s.count == 0) return s;
  std::sort(milliseconds.begin(), milliseconds.end());
  s.min = milliseconds.front();
  s.max = milliseconds.back();
  s.mean = std::accumulate(milliseconds.begin(), milliseconds.end(), 0.0) / double(s.count);
  const std::size_t half = milliseconds.size() / 2;
  s.median = milliseconds.size() % 2 == 1 ? milliseconds[half] : 0.5 * (milliseconds[half - 1] + milliseconds[half]);
  if (s.count > 1) {
    double squares = 0;
    for (double t : milliseconds) squares += (t - s.mean) * (t - s.mean);
    s.std = std::sqrt(squares / double(s.count - 1));
  }
  return s;
}

inline void print_time_table(std::FILE* out, const time_summary& s) {
  std::fprintf(out, "  %11s %10s %10s %10s %10s %10s   (ms per minibatch)\n", "minibatches", "min", "max", "mean",
               "median", "std");
  std::fprintf(out, "  %11lld %10.3f %10.3f %10.3f %10.3f %10.3f\n", static_cast<long long>(s.count), s.min, s.max,
               s.mean, s.median, s.std);
}

// A one-line bar redrawn in place on stderr; silent when stderr is not a terminal (logs, pipes, CI).
class progress_bar {
 public:
  progress_bar(std::string label, std::int64_t total)
      : label_(std::move(label)), total_(total), enabled_(total > 0 && isatty(STDERR_FILENO) == 1) {}
  progress_bar(const progress_bar&) = delete;
  progress_bar& operator=(const progress_bar&) = delete;
  ~progress_bar() { finish(); }

  bool enabled() const { return enabled_; }

  void update(std::int64_t done) {
    if (!enabled_) return;
    constexpr int width = 40;
    const int filled = static_cast<int>(width * done / total_);
    if (filled == last_filled_ && done != total_) return;  // redraw only when the bar moves
    last_filled_ = filled;
    std::fprintf(stderr, "\r%s [%.*s%*s] %lld/%lld", label_.c_str(), filled, "########################################",
                 width - filled, "", static_cast<long long>(done), static_cast<long long>(total_));
    std::fflush(stderr);
  }

  // Clears the line so that what follows on stdout starts clean.
  void finish() {
    if (!enabled_) return;
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    enabled_ = false;
  }

 private:
  std::string label_;
  std::int64_t total_;
  bool enabled_;
  int last_filled_ = -1;
};

}  // namespace lenet
