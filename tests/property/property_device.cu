// The policy named by FFTCONV_TEST_POLICY, on the GPU, against the float64 reference (runs only with a GPU).
#include "../support/device_buffer.cuh"
#include "property.hpp"

using policy_under_test = FFTCONV_TEST_POLICY;

using testing_support::test_stream;

TEST_CASE_TEMPLATE("device: 1D random layers match the float64 reference in every pass", T, float, double) {
  test_stream s;
  testing_support::check_random_layers<1, T, policy_under_test>(s.executor());
}
TEST_CASE_TEMPLATE("device: 2D random layers match the float64 reference in every pass", T, float, double) {
  test_stream s;
  testing_support::check_random_layers<2, T, policy_under_test>(s.executor());
}
TEST_CASE_TEMPLATE("device: 3D random layers match the float64 reference in every pass", T, float, double) {
  test_stream s;
  testing_support::check_random_layers<3, T, policy_under_test>(s.executor());
}
