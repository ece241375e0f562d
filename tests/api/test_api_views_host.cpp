// Strided views, slices, aliasing, broadcast inputs and bias views on the host (see view_checks.hpp).
#include "view_checks.hpp"

using namespace api_checks;

namespace {

template <int N, class T, class P>
void check_scenarios(std::uint64_t first_seed) {
  std::uint64_t seed = first_seed;
  for (const scenario<N + 2>& s : view_scenarios<N + 2>()) {
    check_strided_passes<N, T, P>(random_layer(N, seed), seed, fftconv::host{}, s);
    ++seed;
  }
}

}  // namespace

TEST_CASE_TEMPLATE("api views: permuted dims, channels last, channel slices, every other element, int32 indices", P,
                   FFTCONV_API_POLICIES) {
  for (std::uint64_t round = 0; round < 2; ++round) {
    check_scenarios<1, float, P>(100 + 10 * round);
    check_scenarios<2, float, P>(200 + 10 * round);
    check_scenarios<3, float, P>(300 + 10 * round);
    check_scenarios<1, double, P>(400 + 10 * round);
    check_scenarios<2, double, P>(500 + 10 * round);
  }
}

TEST_CASE_TEMPLATE("api views: disjoint channel slices of one buffer as input and output, and as two outputs", P,
                   FFTCONV_API_POLICIES) {
  fftconv::host exec;
  check_disjoint_slices<1, float, P>(exec, placement<3>::row_major());
  check_disjoint_slices<2, float, P>(exec, placement<4>::row_major());
  check_disjoint_slices<2, double, P>(exec, placement<4>::channels_last());
  check_disjoint_slices<3, float, P>(exec, placement<5>::channels_last());
}

TEST_CASE_TEMPLATE("api views: overlapping tensors, outputs with stride 0 or not unique: refused", P,
                   FFTCONV_API_POLICIES) {
  fftconv::host exec;
  check_aliasing_refused<1, float, P>(exec);
  check_aliasing_refused<2, double, P>(exec);
  check_aliasing_refused<3, float, P>(exec);
}

TEST_CASE_TEMPLATE("api views: inputs with stride 0 are broadcasts", P, FFTCONV_API_POLICIES) {
  fftconv::host exec;
  for (std::uint64_t seed = 61; seed <= 66; ++seed) {
    check_broadcast_inputs<1, float, P>(random_layer(1, seed), seed, exec);
    check_broadcast_inputs<2, double, P>(random_layer(2, seed), seed, exec);
    check_broadcast_inputs<3, float, P>(random_layer(3, seed), seed, exec);
  }
}

TEST_CASE_TEMPLATE("api bias: a rank-1 view of the wrong extent is refused, a strided one is honoured", P,
                   FFTCONV_API_POLICIES) {
  fftconv::host exec;
  check_bias_views<1, float, P>(exec);
  check_bias_views<2, double, P>(exec);
  check_bias_views<3, float, P>(exec);
}
