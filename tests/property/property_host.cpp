// The policy named by FFTCONV_TEST_POLICY, on the host, against the float64 reference.
#include "property.hpp"

using policy_under_test = FFTCONV_TEST_POLICY;

TEST_CASE_TEMPLATE("host: 1D random layers match the float64 reference in every pass", T, float, double) {
  testing_support::check_random_layers<1, T, policy_under_test>(fftconv::host{});
}
TEST_CASE_TEMPLATE("host: 2D random layers match the float64 reference in every pass", T, float, double) {
  testing_support::check_random_layers<2, T, policy_under_test>(fftconv::host{});
}
TEST_CASE_TEMPLATE("host: 3D random layers match the float64 reference in every pass", T, float, double) {
  testing_support::check_random_layers<3, T, policy_under_test>(fftconv::host{});
}
