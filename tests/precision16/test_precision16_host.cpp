// The policy named by FFTCONV_TEST_POLICY with 16-bit activations (bf16, fp16) and weights of the same type or
// float, on the host, against the float64 reference on the rounded inputs.
#include "precision16_checks.hpp"

using policy_under_test = FFTCONV_TEST_POLICY;

TEST_CASE("host: 16-bit 1D random layers match the float64 reference in every pass") {
  precision16::check_all_types<1, policy_under_test>(fftconv::host{});
}
TEST_CASE("host: 16-bit 2D random layers match the float64 reference in every pass") {
  precision16::check_all_types<2, policy_under_test>(fftconv::host{});
}
TEST_CASE("host: 16-bit 3D random layers match the float64 reference in every pass") {
  precision16::check_all_types<3, policy_under_test>(fftconv::host{});
}
