#pragma once
// What the bench writes: a small JSON value type (no third-party dependency), robust statistics of the
// timed repeats, and the relative L2 error used to check every output against the reference.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace bench {

// A JSON document as a value. Objects keep insertion order, so the files read in the order they are built.
class json {
 public:
  using array = std::vector<json>;
  using object = std::vector<std::pair<std::string, json>>;

  json() : value_(nullptr) {}
  json(std::nullptr_t) : value_(nullptr) {}
  json(bool b) : value_(b) {}
  json(double d) : value_(d) {}
  json(float d) : value_(static_cast<double>(d)) {}
  json(int i) : value_(static_cast<std::int64_t>(i)) {}
  json(long i) : value_(static_cast<std::int64_t>(i)) {}
  json(long long i) : value_(static_cast<std::int64_t>(i)) {}
  json(unsigned long i) : value_(static_cast<std::int64_t>(i)) {}
  json(unsigned long long i) : value_(static_cast<std::int64_t>(i)) {}
  json(const char* s) : value_(std::string(s)) {}
  json(std::string s) : value_(std::move(s)) {}
  json(array a) : value_(std::move(a)) {}
  json(object o) : value_(std::move(o)) {}
  // Built in place, element by element: no json is moved, which also keeps GCC 12's -Wmaybe-uninitialized (a
  // false positive inside std::variant's move under nvcc's -O3 host pass) quiet.
  template <class T>
  json(const std::vector<T>& values) {
    array items;
    items.reserve(values.size());
    for (const T& v : values) items.emplace_back(v);
    value_ = std::move(items);
  }

  static json make_object() { return json(object{}); }
  static json make_array() { return json(array{}); }

  // Object member access; appends the key when it is new.
  json& operator[](const std::string& key) {
    if (std::holds_alternative<std::nullptr_t>(value_)) value_ = object{};
    object& o = std::get<object>(value_);
    for (auto& [k, v] : o)
      if (k == key) return v;
    o.emplace_back(key, json());
    return o.back().second;
  }
  const json* find(const std::string& key) const {
    if (const auto* o = std::get_if<object>(&value_))
      for (const auto& [k, v] : *o)
        if (k == key) return &v;
    return nullptr;
  }
  void push_back(json v) {
    if (std::holds_alternative<std::nullptr_t>(value_)) value_ = array{};
    std::get<array>(value_).push_back(std::move(v));
  }
  array* as_array() { return std::get_if<array>(&value_); }
  const array* as_array() const { return std::get_if<array>(&value_); }
  bool is_null() const { return std::holds_alternative<std::nullptr_t>(value_); }
  const std::string* as_string() const { return std::get_if<std::string>(&value_); }
  std::optional<double> as_number() const {
    if (const auto* d = std::get_if<double>(&value_)) return *d;
    if (const auto* i = std::get_if<std::int64_t>(&value_)) return static_cast<double>(*i);
    return std::nullopt;
  }

  void write(std::ostream& out, int indent = 0) const {
    const std::string pad(indent, ' '), inner(indent + 2, ' ');
    if (std::holds_alternative<std::nullptr_t>(value_)) {
      out << "null";
    } else if (const auto* b = std::get_if<bool>(&value_)) {
      out << (*b ? "true" : "false");
    } else if (const auto* d = std::get_if<double>(&value_)) {
      if (std::isfinite(*d)) {
        std::ostringstream s;
        s << std::setprecision(7) << *d;  // 7 significant digits: far below any timing noise
        out << s.str();
      } else {
        out << "null";  // JSON has no NaN/inf: a missing value
      }
    } else if (const auto* i = std::get_if<std::int64_t>(&value_)) {
      out << *i;
    } else if (const auto* s = std::get_if<std::string>(&value_)) {
      write_string(out, *s);
    } else if (const auto* a = std::get_if<array>(&value_)) {
      // Arrays of scalars on one line; arrays of objects one per line.
      const bool flat = std::all_of(a->begin(), a->end(), [](const json& v) { return v.is_scalar(); });
      out << '[';
      for (std::size_t k = 0; k < a->size(); ++k) {
        if (k) out << (flat ? ", " : ",");
        if (!flat) out << '\n' << inner;
        (*a)[k].write(out, indent + 2);
      }
      if (!flat && !a->empty()) out << '\n' << pad;
      out << ']';
    } else if (const auto* o = std::get_if<object>(&value_)) {
      out << '{';
      for (std::size_t k = 0; k < o->size(); ++k) {
        out << (k ? ",\n" : "\n") << inner;
        write_string(out, (*o)[k].first);
        out << ": ";
        (*o)[k].second.write(out, indent + 2);
      }
      if (!o->empty()) out << '\n' << pad;
      out << '}';
    }
  }

 private:
  bool is_scalar() const { return !std::holds_alternative<array>(value_) && !std::holds_alternative<object>(value_); }
  static void write_string(std::ostream& out, const std::string& s) {
    out << '"';
    for (const char c : s) {
      switch (c) {
        case '"':
          out << "\\\"";
          break;
        case '\\':
          out << "\\\\";
          break;
        case '\n':
          out << "\\n";
          break;
        case '\t':
          out << "\\t";
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20)
            out << "\\u" << std::hex << std::setw(4) << std::setfill('0') << int(c) << std::dec << std::setfill(' ');
          else
            out << c;
      }
    }
    out << '"';
  }
  std::variant<std::nullptr_t, bool, double, std::int64_t, std::string, array, object> value_;
};

// Median and spread of the per-call times of one measurement, in milliseconds.
struct timing_stats {
  int reps = 0;
  double median_ms = 0, p10_ms = 0, p90_ms = 0, min_ms = 0, max_ms = 0, mean_ms = 0;
};

inline double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return std::numeric_limits<double>::quiet_NaN();
  const double position = q * double(sorted.size() - 1);
  const auto low = static_cast<std::size_t>(std::floor(position));
  const std::size_t high = std::min(low + 1, sorted.size() - 1);
  return sorted[low] + (position - double(low)) * (sorted[high] - sorted[low]);
}

inline timing_stats summarize(std::vector<double> samples_ms) {
  timing_stats s;
  std::sort(samples_ms.begin(), samples_ms.end());
  s.reps = static_cast<int>(samples_ms.size());
  if (samples_ms.empty()) return s;
  s.median_ms = percentile(samples_ms, 0.5);
  s.p10_ms = percentile(samples_ms, 0.1);
  s.p90_ms = percentile(samples_ms, 0.9);
  s.min_ms = samples_ms.front();
  s.max_ms = samples_ms.back();
  double sum = 0;
  for (double v : samples_ms) sum += v;
  s.mean_ms = sum / double(samples_ms.size());
  return s;
}

// ||got - reference|| / ||reference||; NaN when got holds a NaN (an output the implementation never wrote).
template <class T>
double relative_l2(const std::vector<T>& got, const std::vector<double>& reference) {
  if (got.size() != reference.size()) return std::numeric_limits<double>::quiet_NaN();
  double difference = 0, norm = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double d = double(got[i]) - reference[i];
    difference += d * d;
    norm += reference[i] * reference[i];
  }
  if (!std::isfinite(difference)) return std::numeric_limits<double>::quiet_NaN();
  return norm > 0 ? std::sqrt(difference / norm) : std::sqrt(difference);
}

}  // namespace bench
