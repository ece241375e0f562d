// Reuse and statelessness on the host: every pass answers from what its buffers hold now (see reuse_checks.hpp).
#include "reuse_checks.hpp"

using namespace api_checks;

TEST_CASE_TEMPLATE("api reuse: every order of the three passes, inputs rewritten in place, right each time", P,
                   FFTCONV_API_POLICIES) {
  fftconv::host exec;
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    check_pass_orders<1, float, P>(random_layer(1, seed), seed, exec);
    check_pass_orders<2, float, P>(random_layer(2, seed), seed, exec);
    check_pass_orders<3, float, P>(random_layer(3, seed), seed, exec);
  }
  for (std::uint64_t seed = 9; seed <= 11; ++seed) {
    check_pass_orders<1, double, P>(random_layer(1, seed), seed, exec);
    check_pass_orders<2, double, P>(random_layer(2, seed), seed, exec);
    check_pass_orders<3, double, P>(random_layer(3, seed), seed, exec);
  }
}

TEST_CASE_TEMPLATE(
    "api reuse: weights updated in place between forward and backward_data, and used as a transposed convolution", P,
    FFTCONV_API_POLICIES) {
  fftconv::host exec;
  for (std::uint64_t seed = 12; seed <= 17; ++seed) {
    check_weights_updated_in_place<1, float, P>(random_layer(1, seed), seed, exec);
    check_weights_updated_in_place<2, double, P>(random_layer(2, seed), seed, exec);
    check_weights_updated_in_place<3, float, P>(random_layer(3, seed), seed, exec);
  }
}

TEST_CASE_TEMPLATE("api reuse: a layer applied twice in a step, two saved states, backward in reverse order", P,
                   FFTCONV_API_POLICIES) {
  fftconv::host exec;
  using fftconv::keep;
  for (std::uint64_t seed = 21; seed <= 26; ++seed) {
    const reference::layer L1 = random_layer(1, seed), L2 = random_layer(2, seed), L3 = random_layer(3, seed);
    check_applied_twice<1, float, P>(L1, seed, exec, L1.batch, keep::spectra);
    check_applied_twice<1, double, P>(L1, seed, exec, L1.batch + 1, keep::none);
    check_applied_twice<2, float, P>(L2, seed, exec, L2.batch + 1, keep::spectra);
    check_applied_twice<2, double, P>(L2, seed, exec, L2.batch, keep::none);
    check_applied_twice<3, float, P>(L3, seed, exec, L3.batch, keep::spectra);
  }
}

TEST_CASE_TEMPLATE("api reuse: backward with a saved state equals backward without, and keep::none works", P,
                   FFTCONV_API_POLICIES) {
  fftconv::host exec;
  for (std::uint64_t seed = 31; seed <= 36; ++seed) {
    check_saved_or_not<1, float, P>(random_layer(1, seed), seed, exec);
    check_saved_or_not<2, double, P>(random_layer(2, seed), seed, exec);
    check_saved_or_not<3, float, P>(random_layer(3, seed), seed, exec);
  }
}

TEST_CASE_TEMPLATE("api functional: forward, backward_data, backward_filter after in-place changes", P,
                   FFTCONV_API_POLICIES) {
  fftconv::host exec;
  for (std::uint64_t seed = 41; seed <= 44; ++seed) {
    check_functional_in_place<1, float, P>(random_layer(1, seed), seed, exec);
    check_functional_in_place<2, double, P>(random_layer(2, seed), seed, exec);
    check_functional_in_place<3, float, P>(random_layer(3, seed), seed, exec);
  }
  fftconv::clear_functional_cache();
}

TEST_CASE_TEMPLATE("api fft counts: a step with a saved state runs (2c + 1) forward and (2c + 1) inverse transforms", T,
                   float, double) {
  fftconv::host exec;
  const reference::layer L1 = same_layer(1, 3, 2, 3, 1, 30, 5);
  const reference::layer L2 = same_layer(2, 3, 4, 2, 2, 9, 3);
  const reference::layer L3 = same_layer(3, 2, 2, 2, 1, 5, 3);
  check_transform_counts<1, T>(L1, 51, exec, false);
  check_transform_counts<1, T>(L1, 52, exec, true);
  check_transform_counts<2, T>(L2, 53, exec, false);
  check_transform_counts<2, T>(L2, 54, exec, true);
  check_transform_counts<3, T>(L3, 55, exec, false);
  check_transform_counts<3, T>(L3, 56, exec, true);
}

#if FFTCONV_API_TEST_AUTOMATIC
TEST_CASE("api reuse: automatic in measure mode (candidates timed on the first call) stays stateless") {
  fftconv::host exec;
  const automatic_mode_scope measure(fftconv::automatic_mode::measure);
  for (std::uint64_t seed = 101; seed <= 102; ++seed) {
    check_pass_orders<1, float, fftconv::automatic>(random_layer(1, seed), seed, exec);
    check_pass_orders<2, double, fftconv::automatic>(random_layer(2, seed), seed, exec);
    check_applied_twice<2, float, fftconv::automatic>(random_layer(2, seed), seed, exec, 2, fftconv::keep::spectra);
    check_saved_or_not<3, float, fftconv::automatic>(random_layer(3, seed), seed, exec);
  }
}
#endif
