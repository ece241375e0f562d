#pragma once
// The saved form of fftconv::automatic's choices: a small text file a restarted job loads to skip the timing.
//
//   fftconv-automatic-choices 2
//   <key> | <algorithm> | <mode> | <reason>
//
// One line per choice; the key is choice_key::text(). A file of another format version is refused with a
// message rather than read: its keys lack fields (the tuning fingerprint, in version 1) that decide whether a
// choice still holds. Keys from other machines load but never match, since the hardware identity is part of them.

#include <charconv>
#include <istream>
#include <locale>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../error.hpp"
#include "../policy.hpp"
#include "choice.hpp"
#include "choice_key.hpp"

namespace fftconv::detail {

inline constexpr int choice_file_version = 2;
inline constexpr std::string_view choice_file_magic = "fftconv-automatic-choices";
inline constexpr std::string_view choice_file_separator = " | ";

struct saved_choice {
  choice_key key;
  std::shared_ptr<const automatic_choice> choice;
};

inline void write_choices(std::ostream& out, const std::vector<saved_choice>& choices) {
  const auto one_line = [](std::string text) {
    for (char& c : text)
      if (c == '\n' || c == '\r') c = ' ';
    return text;
  };
  out.imbue(std::locale::classic());
  out << choice_file_magic << ' ' << choice_file_version << '\n';
  for (const auto& [key, choice] : choices)
    out << key.text() << choice_file_separator << to_string(*choice->policy) << choice_file_separator
        << to_string(choice->mode) << choice_file_separator << one_line(choice->reason) << '\n';
}

// Every line of a choice file, or a thrown invalid_argument naming the path and the line; `path` is for messages.
inline std::vector<saved_choice> read_choices(std::istream& in, const std::string& path) {
  const std::string expected = std::string(choice_file_magic) + ' ' + std::to_string(choice_file_version);
  std::string line;
  const auto next_line = [&] {
    if (!std::getline(in, line)) return false;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // written on or copied through Windows
    return true;
  };
  if (!next_line() || line.substr(0, choice_file_magic.size() + 1) != std::string(choice_file_magic) + ' ')
    fail("load_automatic_choices: '", path, "' is not a choice file (it does not start with '", expected, "')");
  if (line != expected) {
    int version = 0;
    const std::string number = line.substr(choice_file_magic.size() + 1);
    const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), version);
    const bool newer = error == std::errc() && end == number.data() + number.size() && version > choice_file_version;
    if (newer)
      fail("load_automatic_choices: '", path, "' has format '", line, "', written by a newer fftconv; this one reads '",
           expected, "'");
    fail("load_automatic_choices: '", path, "' has format '", line, "', this fftconv reads '", expected,
         "'; delete the file and let the choices be measured again");
  }
  std::vector<saved_choice> parsed;
  for (int number = 2; next_line(); ++number) {
    if (line.empty()) continue;
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (int f = 0; f < 3; ++f) {
      const std::size_t at = line.find(choice_file_separator, start);
      if (at == std::string::npos) break;
      fields.push_back(line.substr(start, at - start));
      start = at + choice_file_separator.size();
    }
    fields.push_back(line.substr(start));
    if (fields.size() != 4)
      fail("load_automatic_choices: '", path, "' line ", number, " has ", fields.size(),
           " fields, expected 4 (key | algorithm | mode | reason)");
    const std::optional<choice_key> key = choice_key::parse(fields[0]);
    if (!key) fail("load_automatic_choices: '", path, "' line ", number, ": malformed key '", fields[0], "'");
    auto choice = std::make_shared<automatic_choice>();
    algorithm picked{};
    if (!parse_algorithm(fields[1], picked))
      fail("load_automatic_choices: '", path, "' line ", number, ": unknown algorithm '", fields[1], "'");
    choice->policy = picked;
    if (!parse_mode(fields[2], choice->mode))
      fail("load_automatic_choices: '", path, "' line ", number, ": unknown mode '", fields[2], "'");
    choice->key = fields[0];
    choice->reason = "loaded from " + path + ": " + fields[3];
    parsed.push_back({*key, std::move(choice)});
  }
  return parsed;
}

}  // namespace fftconv::detail
