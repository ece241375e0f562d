#pragma once
// The convolution policies compiled into the LeNet tools, by command-line name. Adding a policy is one line in
// compiled_policies; everything that dispatches (train_lenet, the tests) goes through with_policy, which refuses
// a policy that does not run on the executor in this build (vendor without oneDNN / cuDNN) with the reason.

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
    policy_entry<fftconv::vendor>{fftconv::to_string(fftconv::algorithm::vendor)},  // oneDNN / cuDNN
    policy_entry<fftconv::automatic>{"auto"},  // per layer shape, the fastest of the others (timed on first use)
};

// Whether Policy runs this example's float layers on Exec in this build: every policy but vendor always; vendor
// where fftconv was built with the executor's vendor library (config.hpp: oneDNN 2.x on the host, cuDNN in an
// nvcc translation unit), which is where fftconv::conv<2, float, fftconv::vendor> compiles.
template <class Exec, class Policy>
inline constexpr bool runs_on = [] {
  if constexpr (!std::is_same_v<Policy, fftconv::vendor>)
    return true;
  else if constexpr (std::is_same_v<Exec, fftconv::host>)
    return FFTCONV_HAS_ONEDNN != 0;
  else
#if defined(__CUDACC__)
    return FFTCONV_HAS_CUDNN != 0;
#else
    return false;
#endif
}();

// The policy was compiled in, but does not run on this executor in this build.
class policy_unavailable : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

template <class Exec>
std::string unavailable_reason(std::string_view name) {
  const std::string prefix = "--policy " + std::string(name) + ": ";
  if constexpr (std::is_same_v<Exec, fftconv::host>)
    return prefix + "fftconv was built without oneDNN 2.x for the host (FFTCONV_HAS_ONEDNN=0; install libdnnl-dev "
                    "and reconfigure), so the vendor policy does not run on --device host";
  else
    return prefix + "fftconv was built without cuDNN for the GPU (FFTCONV_HAS_CUDNN=0; install cuDNN and "
                    "reconfigure), so the vendor policy does not run on --device gpu";
}

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

// Whether the policy called `name` is compiled in and runs on Exec in this build.
template <class Exec>
bool runs_on_executor(std::string_view name) {
  return std::apply(
      [&](const auto&... entry) {
        return ((entry.name == name && runs_on<Exec, typename std::decay_t<decltype(entry)>::type>) || ...);
      },
      compiled_policies);
}

// Calls f(std::type_identity<Policy>{}) for the policy called `name` on executor Exec and returns what it
// returns; throws std::invalid_argument for a name that is not compiled in, and policy_unavailable (with the
// reason) for one that does not run on Exec in this build; f is instantiated only for the policies that do.
template <class Exec, std::size_t I = 0, class F>
auto with_policy(std::string_view name, F&& f) -> decltype(f(std::type_identity<fftconv::naive>{})) {
  if constexpr (I == std::tuple_size_v<std::decay_t<decltype(compiled_policies)>>) {
    throw std::invalid_argument("unknown policy '" + std::string(name) + "' (compiled: " + policy_names() + ")");
  } else {
    const auto& entry = std::get<I>(compiled_policies);
    using policy = typename std::decay_t<decltype(entry)>::type;
    if (entry.name == name) {
      if constexpr (runs_on<Exec, policy>)
        return f(std::type_identity<policy>{});
      else
        throw policy_unavailable(unavailable_reason<Exec>(name));
    }
    return with_policy<Exec, I + 1>(name, std::forward<F>(f));
  }
}

}  // namespace lenet
