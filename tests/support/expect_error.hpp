#pragma once
// Asserts that a call throws E and that the message names what it should (argument names and values).

#include <doctest/doctest.h>

#include <initializer_list>
#include <string>

namespace testing_support {

template <class E, class F>
void check_throws_naming(F&& call, std::initializer_list<const char*> fragments) {
  try {
    call();
    FAIL_CHECK("expected an exception naming: ", *fragments.begin());
  } catch (const E& error) {
    const std::string message = error.what();
    for (const char* fragment : fragments)
      CHECK_MESSAGE(message.find(fragment) != std::string::npos, "message \"", message, "\" lacks \"", fragment, "\"");
  }
}

}  // namespace testing_support
