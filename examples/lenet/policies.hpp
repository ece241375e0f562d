#pragma once
// The convolution policies compiled into the LeNet tools, by command-line name. Adding a policy is one line in
// compiled_policies; everything that dispatches (train_lenet, the tests) goes through with_policy.

#include <fftconv/fftconv.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace lenet {

template <class Policy>
struct policy_entry {
  using type = Policy;
  std::string_view name;
};

inline constexpr std::tuple compiled_policies{
    policy_entry<fftconv::naive>{fftconv::to_string(fftconv::algorithm::naive)},
    policy_entry<fftconv::im2col>{fftconv::to_string(fftconv::algorithm::im2col)},
    policy_entry<fftconv::fft>{fftconv::to_string(fftconv::algorithm::fft)},
    policy_entry<fftconv::automatic>{"auto"},  // per layer shape, the fastest of the three (timed on first use)
};

// "naive|im2col|fft|auto", for usage text and errors.
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

// Calls f(std::type_identity<Policy>{}) for the policy called `name` and returns what it returns; throws
// std::invalid_argument for a name that is not compiled in.
template <std::size_t I = 0, class F>
auto with_policy(std::string_view name, F&& f) -> decltype(f(std::type_identity<fftconv::naive>{})) {
  if constexpr (I == std::tuple_size_v<std::decay_t<decltype(compiled_policies)>>) {
    throw std::invalid_argument("unknown policy '" + std::string(name) + "' (compiled: " + policy_names() + ")");
  } else {
    const auto& entry = std::get<I>(compiled_policies);
    if (entry.name == name) return f(std::type_identity<typename std::decay_t<decltype(entry)>::type>{});
    return with_policy<I + 1>(name, std::forward<F>(f));
  }
}

}  // namespace lenet
