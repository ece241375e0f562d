// The policy named by FFTCONV_TEST_POLICY with 16-bit activations (bf16, fp16) and weights of the same type or
// float, on the GPU, against the float64 reference on the rounded inputs (runs only with a GPU).
#include "../support/device_buffer.cuh"
#include "precision16_checks.hpp"

using policy_under_test = FFTCONV_TEST_POLICY;

using testing_support::test_stream;

TEST_CASE("device: 16-bit 1D random layers match the float64 reference in every pass") {
  test_stream s;
  precision16::check_all_types<1, policy_under_test>(s.executor());
}
TEST_CASE("device: 16-bit 2D random layers match the float64 reference in every pass") {
  test_stream s;
  precision16::check_all_types<2, policy_under_test>(s.executor());
}
TEST_CASE("device: 16-bit 3D random layers match the float64 reference in every pass") {
  test_stream s;
  precision16::check_all_types<3, policy_under_test>(s.executor());
}
