#pragma once
// The process-wide default mode of fftconv::automatic: set_default_automatic_mode(), else the environment
// variable FFTCONV_AUTOMATIC_MODE (measure | heuristic | exhaustive), else the compile definition
// FFTCONV_AUTOMATIC_DEFAULT_MODE (the same words, unquoted), else measure.

#include <atomic>
#include <cstdlib>

#include "../error.hpp"
#include "../policy.hpp"
#include "choice.hpp"

#define FFTCONV_DETAIL_MODE_measure 0
#define FFTCONV_DETAIL_MODE_heuristic 1
#define FFTCONV_DETAIL_MODE_exhaustive 2
#define FFTCONV_DETAIL_MODE_VALUE(name) FFTCONV_DETAIL_MODE_VALUE_(name)
#define FFTCONV_DETAIL_MODE_VALUE_(name) FFTCONV_DETAIL_MODE_##name

namespace fftconv {
namespace detail {

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

}  // namespace detail

// Mode for layers that were not given one with set_mode(); measure unless changed (see above).
inline automatic_mode default_automatic_mode() {
  return static_cast<automatic_mode>(detail::default_mode_setting().load());
}
inline void set_default_automatic_mode(automatic_mode mode) {
  detail::default_mode_setting().store(static_cast<int>(mode));
}

}  // namespace fftconv
