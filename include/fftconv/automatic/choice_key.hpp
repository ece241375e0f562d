#pragma once
// The key of a choice of fftconv::automatic: everything the fastest candidate may depend on. Layers with the same
// key share one choice, so a network with repeated blocks times each distinct shape once.
//
// Text form (the saved file's first field; the hardware identity comes last since it contains spaces):
//   N=2 T=float batch=8 in=3 out=16 groups=1 input=32x32 kernel=5x5 pad=2x2 pad_high=2x2 stride=1x1
//   dilation=1x1 passes=fdw limit=default mode=measure tuning=<hex> on=<hardware identity>

#include <algorithm>
#include <array>
#include <charconv>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <locale>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include "../geometry.hpp"
#include "../policy.hpp"
#include "choice.hpp"

namespace fftconv::detail {

template <class T>
constexpr const char* element_name() {
  if constexpr (std::is_same_v<T, float>)
    return "float";
  else if constexpr (std::is_same_v<T, double>)
    return "double";
  else
    static_assert(dependent_false<T>, "fftconv: no element name for this type");
}

struct choice_key {
  static constexpr int max_rank = 3;
  using extents = std::array<std::int64_t, max_rank>;  // dims past the rank are 0

  int rank = 0;
  std::string element;
  std::int64_t batch = 0, in_channels = 0, out_channels = 0, groups = 0;
  extents input{}, kernel{}, padding{}, padding_high{}, stride{}, dilation{};
  bool forward = false, backward_data = false, backward_filter = false;  // the declared passes
  std::optional<std::size_t> workspace_limit;                           // empty: the policies' default
  automatic_mode mode = automatic_mode::measure;
  std::uint64_t tuning = 0;  // fingerprint of the executor's tuning constants (tuning.hpp)
  std::string hardware;      // automatic/hardware.hpp

  friend auto operator<=>(const choice_key&, const choice_key&) = default;
  friend bool operator==(const choice_key&, const choice_key&) = default;

  std::string text() const {
    std::ostringstream out;
    out.imbue(std::locale::classic());  // no digit grouping: the text must read back under any global locale
    const auto list = [&](const char* name, const extents& values) {
      out << ' ' << name << '=';
      for (int d = 0; d < rank; ++d) out << (d ? "x" : "") << values[d];
    };
    out << "N=" << rank << " T=" << element << " batch=" << batch << " in=" << in_channels << " out=" << out_channels
        << " groups=" << groups;
    list("input", input);
    list("kernel", kernel);
    list("pad", padding);
    list("pad_high", padding_high);
    list("stride", stride);
    list("dilation", dilation);
    out << " passes=" << (forward ? "f" : "") << (backward_data ? "d" : "") << (backward_filter ? "w" : "")
        << " limit=";
    if (workspace_limit)
      out << *workspace_limit;
    else
      out << "default";
    out << " mode=" << to_string(mode) << " tuning=" << std::hex << tuning << std::dec << " on=" << hardware;
    return out.str();
  }

  // The key of text(); empty when the text is not one.
  static std::optional<choice_key> parse(std::string_view text) {
    choice_key key;
    // A non-negative integer spelled as text() spells it: no sign, no grouping, lowercase hex.
    const auto integer = [](std::string_view s, auto& value, int base = 10) {
      if (s.empty() || s.front() == '-' || (base == 16 && s.find_first_of("ABCDEF") != std::string_view::npos))
        return false;
      const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), value, base);
      return error == std::errc() && end == s.data() + s.size();
    };
    const auto list = [&](std::string_view s, extents& values) {
      for (int d = 0; d < key.rank; ++d) {
        const std::size_t x = d + 1 < key.rank ? s.find('x') : s.size();
        if (x == std::string_view::npos || !integer(s.substr(0, x), values[d])) return false;
        s.remove_prefix(std::min(s.size(), x + 1));
      }
      return true;
    };
    const char* fields[] = {"N=", "T=", "batch=", "in=", "out=", "groups=", "input=", "kernel=", "pad=", "pad_high=",
                            "stride=", "dilation=", "passes=", "limit=", "mode=", "tuning=", "on="};
    for (int f = 0; f < 17; ++f) {
      const std::string_view name = fields[f];
      if (text.substr(0, name.size()) != name) return std::nullopt;
      text.remove_prefix(name.size());
      if (f == 16) {  // the hardware: the rest of the line
        key.hardware = std::string(text);
        return key.rank >= 1 && !key.hardware.empty() ? std::optional<choice_key>(key) : std::nullopt;
      }
      const std::size_t space = text.find(' ');
      if (space == std::string_view::npos) return std::nullopt;
      const std::string_view value = text.substr(0, space);
      text.remove_prefix(space + 1);
      bool ok = true;
      switch (f) {
        case 0: ok = integer(value, key.rank) && key.rank >= 1 && key.rank <= max_rank; break;
        case 1: key.element = std::string(value), ok = !value.empty(); break;
        case 2: ok = integer(value, key.batch); break;
        case 3: ok = integer(value, key.in_channels); break;
        case 4: ok = integer(value, key.out_channels); break;
        case 5: ok = integer(value, key.groups); break;
        case 6: ok = list(value, key.input); break;
        case 7: ok = list(value, key.kernel); break;
        case 8: ok = list(value, key.padding); break;
        case 9: ok = list(value, key.padding_high); break;
        case 10: ok = list(value, key.stride); break;
        case 11: ok = list(value, key.dilation); break;
        case 12: {  // "f", "d", "w" in that order, each at most once, at least one
          std::string_view rest = value;
          const auto take = [&](char c) {
            const bool has = !rest.empty() && rest.front() == c;
            if (has) rest.remove_prefix(1);
            return has;
          };
          key.forward = take('f'), key.backward_data = take('d'), key.backward_filter = take('w');
          ok = rest.empty() && !value.empty();
          break;
        }
        case 13:
          if (value != "default") {
            std::size_t limit = 0;
            ok = integer(value, limit);
            key.workspace_limit = limit;
          }
          break;
        case 14: ok = parse_mode(value, key.mode); break;
        case 15: ok = integer(value, key.tuning, 16); break;
      }
      if (!ok) return std::nullopt;
    }
    return std::nullopt;
  }
};

template <int N, class T>
choice_key make_choice_key(const problem<N>& p, const passes& declared, std::optional<std::size_t> workspace_limit,
                           automatic_mode mode, std::uint64_t tuning, std::string hardware) {
  static_assert(N >= 1 && N <= choice_key::max_rank);
  choice_key key;
  key.rank = N;
  key.element = element_name<T>();
  key.batch = p.batch, key.in_channels = p.in_channels, key.out_channels = p.out_channels, key.groups = p.groups;
  for (int d = 0; d < N; ++d) {
    key.input[d] = p.input[d], key.kernel[d] = p.kernel[d], key.padding[d] = p.padding[d];
    key.padding_high[d] = p.padding_high[d], key.stride[d] = p.stride[d], key.dilation[d] = p.dilation[d];
  }
  key.forward = declared.forward, key.backward_data = declared.backward_data;
  key.backward_filter = declared.backward_filter;
  key.workspace_limit = workspace_limit;
  key.mode = mode;
  key.tuning = tuning;
  key.hardware = std::move(hardware);
  return key;
}

}  // namespace fftconv::detail
