// The saved state on the host: what backward refuses, and how it says so (see saved_checks.hpp).
#include "saved_checks.hpp"

using namespace api_checks;

TEST_CASE_TEMPLATE("api saved state: another geometry, shape, batch or type, misaligned, wrong size, blank: refused", P,
                   FFTCONV_API_POLICIES) {
  fftconv::host exec;
  check_saved_refusals<1, float, P>(exec);
  check_saved_refusals<2, double, P>(exec);
  check_saved_refusals<3, float, P>(exec);
}

TEST_CASE("api saved state: a state written by one policy is refused by another") {
  fftconv::host exec;
  check_other_policy_refused<2, float, fftconv::naive, fftconv::im2col>(exec);
  check_other_policy_refused<2, float, fftconv::im2col, fftconv::fft>(exec);
  check_other_policy_refused<2, float, fftconv::fft, fftconv::naive>(exec);
  check_other_policy_refused<1, double, fftconv::fft, fftconv::im2col>(exec);
  check_other_policy_refused<3, double, fftconv::naive, fftconv::fft>(exec);
}

#if FFTCONV_API_TEST_AUTOMATIC
TEST_CASE_TEMPLATE("api saved state: automatic's state names the algorithm it ran, and automatic reads fixed policies'",
                   T, float, double) {
  fftconv::host exec;
  for (std::uint64_t seed = 91; seed <= 93; ++seed) {
    check_automatic_states<1, T>(random_layer(1, seed), seed, exec);
    check_automatic_states<2, T>(random_layer(2, seed), seed, exec);
    check_automatic_states<3, T>(random_layer(3, seed), seed, exec);
  }
  // A long 1D kernel, where the cost model picks fft.
  reference::layer wide = same_layer(1, 2, 4, 4, 1, 200, 63);
  check_automatic_states<1, T>(wide, 94, exec);
}
#endif
