// The API specification on fftconv::device (a subset of the host's seeds; the same checks): each pass reads
// its arguments afresh, saved states and what they refuse, the FFT policy's counts, strided views, scaling.
#include "../support/device_buffer.cuh"  // test_stream
#include "api_device.cuh"
#include "reuse_checks.hpp"
#include "saved_checks.hpp"
#include "scaling_checks.hpp"
#include "view_checks.hpp"

using namespace api_checks;

TEST_CASE_TEMPLATE("api device reuse: pass orders, in-place updates, a layer applied twice, saved or not", P,
                   FFTCONV_API_POLICIES) {
  testing_support::test_stream stream;
  const fftconv::device exec = stream.executor();
  for (std::uint64_t seed = 1; seed <= 2; ++seed) {
    check_pass_orders<1, float, P>(random_layer(1, seed), seed, exec);
    check_pass_orders<2, float, P>(random_layer(2, seed), seed, exec);
    check_pass_orders<3, double, P>(random_layer(3, seed), seed, exec);
    check_weights_updated_in_place<2, float, P>(random_layer(2, seed + 10), seed + 10, exec);
    const reference::layer L = random_layer(2, seed + 20);
    check_applied_twice<2, float, P>(L, seed + 20, exec, L.batch + 1, fftconv::keep::spectra);
    check_applied_twice<1, double, P>(random_layer(1, seed + 20), seed + 20, exec, 2, fftconv::keep::none);
    check_saved_or_not<3, float, P>(random_layer(3, seed + 30), seed + 30, exec);
  }
  check_functional_in_place<2, float, P>(random_layer(2, 41), 41, exec);
  fftconv::clear_functional_cache();  // before the stream goes
}

TEST_CASE_TEMPLATE("api device fft counts: (2c + 1) forward and (2c + 1) inverse transforms per step", T, float,
                   double) {
  testing_support::test_stream stream;
  const fftconv::device exec = stream.executor();
  check_transform_counts<1, T>(same_layer(1, 3, 2, 3, 1, 30, 5), 51, exec, false);
  check_transform_counts<2, T>(same_layer(2, 3, 4, 2, 2, 9, 3), 54, exec, true);
  check_transform_counts<3, T>(same_layer(3, 2, 2, 2, 1, 5, 3), 56, exec, true);
}

TEST_CASE_TEMPLATE("api device saved state: refusals", P, FFTCONV_API_POLICIES) {
  testing_support::test_stream stream;
  const fftconv::device exec = stream.executor();
  check_saved_refusals<2, float, P>(exec);
  check_saved_refusals<3, double, P>(exec);
}

TEST_CASE("api device saved state: another policy's state, automatic's states") {
  testing_support::test_stream stream;
  const fftconv::device exec = stream.executor();
  check_other_policy_refused<2, float, fftconv::naive, fftconv::fft>(exec);
  check_other_policy_refused<2, float, fftconv::fft, fftconv::im2col>(exec);
#if FFTCONV_API_TEST_AUTOMATIC
  check_automatic_states<2, float>(random_layer(2, 92), 92, exec);
  check_automatic_states<1, float>(same_layer(1, 2, 4, 4, 1, 200, 63), 94, exec);
#endif
}

TEST_CASE_TEMPLATE("api device views: strided layouts, slices, aliasing, broadcast, bias", P, FFTCONV_API_POLICIES) {
  testing_support::test_stream stream;
  const fftconv::device exec = stream.executor();
  std::uint64_t seed = 500;
  for (const scenario<4>& s : view_scenarios<4>()) {
    check_strided_passes<2, float, P>(random_layer(2, seed), seed, exec, s);
    ++seed;
  }
  for (const scenario<5>& s : view_scenarios<5>()) {
    check_strided_passes<3, float, P>(random_layer(3, seed), seed, exec, s);
    ++seed;
  }
  check_disjoint_slices<2, float, P>(exec, placement<4>::channels_last());
  check_aliasing_refused<2, float, P>(exec);
  check_broadcast_inputs<2, float, P>(random_layer(2, 61), 61, exec);
  check_bias_views<1, double, P>(exec);
}

TEST_CASE_TEMPLATE("api device scaling: whole and chunked", P, FFTCONV_API_POLICIES) {
  testing_support::test_stream stream;
  const fftconv::device exec = stream.executor();
  check_scaling<2, float, P>(random_layer(2, 71), 71, exec, chunking::none);
  reference::layer L = random_layer(3, 81);
  L.batch = 3;
  check_scaling<3, float, P>(L, 81, exec, chunking::smallest);
}
