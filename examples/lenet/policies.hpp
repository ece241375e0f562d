#pragma once
// The convolution policies compiled into the LeNet tools, by command-line name. Adding a policy is one line in
// compiled_policies; everything that dispatches (train_lenet, the tests) goes through with_policy.

#include <fftconv/fftconv.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

namespace lenet {

template <class Policy>
struct policy_entry {
  using type = Policy;
  std::string_view name;
};

inline constexpr std::tuple compiled_policies{
    policy_entry<fftconv::naive>{"naive"},
    policy_entry<fftconv::im2col>{"im2col"},
    policy_entry<fftconv::fft>{"fft"},
};

// "naive|im2col|fft", for usage text and errors.
inline std::string policy_names() {
  std::string names;
  const auto append = [&](std::string_view name) {
    if (!names.empty()) names += '|';
    names += name;
  };
  std::apply([&](const auto&... entry) { (append(entry.name), ...); }, compiled_policies);
  return names;
}

inline bool is_compiled_policy(std::string_view name) {
  return std::apply([&](const auto&... entry) { return ((entry.name == name) || ...); }, compiled_policies);
}

// Calls f(std::type_identity<Policy>{}) for the policy called `name` and returns what it returns.
template <class F>
auto with_policy(std::string_view name, F&& f) {
  using result = decltype(f(std::type_identity<fftconv::naive>{}));
  if (!is_compiled_policy(name))
    throw std::invalid_argument("unknown policy '" + std::string(name) + "' (compiled: " + policy_names() + ")");
  return std::apply(
      [&](const auto&... entry) -> result {
        std::conditional_t<std::is_void_v<result>, int, result> value{};
        const auto call = [&](const auto& e) {
          if (e.name != name) return;
          using policy = typename std::decay_t<decltype(e)>::type;
          if constexpr (std::is_void_v<result>) f(std::type_identity<policy>{});
          else value = f(std::type_identity<policy>{});
        };
        (call(entry), ...);
        if constexpr (!std::is_void_v<result>) return value;
      },
      compiled_policies);
}

}  // namespace lenet
