#pragma once
// Exceptions thrown by fftconv. Every check is always on (no NDEBUG dependence).
//   invalid_argument : a caller error, naming the argument and its values; nothing was written.
//   library_error    : a CUDA / cuFFT / cuBLAS / FFTW call failed: the call, the status, file and line.
//   out_of_memory    : an allocation failed; says how many bytes were asked for.
//   workspace_limit_exceeded : a policy cannot run the call within set_workspace_limit(); says what it needs
//                      and the limit. A runtime_error, not an invalid_argument: the arguments are valid and the
//                      same call succeeds with a larger limit or another policy (fftconv::automatic skips it).

#include <cstddef>
#include <new>
#include <source_location>
#include <sstream>
#include <stdexcept>
#include <string>

namespace fftconv {

class invalid_argument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

class library_error : public std::runtime_error {
 public:
  library_error(std::string library, std::string call, long long status, std::string status_name,
                std::source_location where)
      : std::runtime_error(describe(library, call, status, status_name, where)),
        library_(std::move(library)),
        status_(status) {}
  const std::string& library() const noexcept { return library_; }
  long long status() const noexcept { return status_; }

 private:
  static std::string describe(const std::string& library, const std::string& call, long long status,
                              const std::string& status_name, std::source_location where) {
    std::ostringstream message;
    message << "fftconv: " << library << " call `" << call << "` failed with " << status_name << " (" << status
            << ") at " << where.file_name() << ':' << where.line();
    return message.str();
  }
  std::string library_;
  long long status_;
};

class out_of_memory : public std::bad_alloc {
 public:
  out_of_memory(std::size_t bytes, const char* space)
      : bytes_(bytes),
        message_("fftconv: out of " + std::string(space) + " memory allocating " + std::to_string(bytes) + " bytes") {}
  const char* what() const noexcept override { return message_.c_str(); }
  std::size_t bytes() const noexcept { return bytes_; }

 private:
  std::size_t bytes_;
  std::string message_;
};

class workspace_limit_exceeded : public std::runtime_error {
 public:
  workspace_limit_exceeded(std::size_t needed_bytes, std::size_t limit_bytes, const std::string& context)
      : std::runtime_error("fftconv: " + context + " needs " + std::to_string(needed_bytes) +
                           " bytes of workspace, over the limit of " + std::to_string(limit_bytes) +
                           " bytes set by set_workspace_limit"),
        needed_bytes_(needed_bytes),
        limit_bytes_(limit_bytes) {}
  std::size_t needed_bytes() const noexcept { return needed_bytes_; }
  std::size_t limit_bytes() const noexcept { return limit_bytes_; }

 private:
  std::size_t needed_bytes_;
  std::size_t limit_bytes_;
};

namespace detail {

// Builds "fftconv: <what>" from streamable pieces and throws invalid_argument.
template <class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream message;
  message << "fftconv: ";
  (message << ... << parts);
  throw invalid_argument(message.str());
}

template <class Range>
std::string format_extents(const Range& extents) {
  std::ostringstream out;
  out << '[';
  bool first = true;
  for (auto e : extents) {
    out << (first ? "" : ", ") << e;
    first = false;
  }
  out << ']';
  return out.str();
}

}  // namespace detail
}  // namespace fftconv
