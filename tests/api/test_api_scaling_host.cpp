// alpha / beta scaling on the host, whole and chunked (see scaling_checks.hpp).
#include "scaling_checks.hpp"

using namespace api_checks;

TEST_CASE_TEMPLATE("api scaling: beta = 1 sums two calls, alpha = 2 / beta = 0.5, beta = 0 ignores NaN", P,
                   FFTCONV_API_POLICIES) {
  fftconv::host exec;
  for (std::uint64_t seed = 71; seed <= 74; ++seed) {
    check_scaling<1, float, P>(random_layer(1, seed), seed, exec, chunking::none);
    check_scaling<2, double, P>(random_layer(2, seed), seed, exec, chunking::none);
    check_scaling<3, float, P>(random_layer(3, seed), seed, exec, chunking::none);
  }
}

TEST_CASE_TEMPLATE("api scaling: the same with the work split in chunks (fft rows, im2col images)", P,
                   FFTCONV_API_POLICIES) {
  fftconv::host exec;
  for (std::uint64_t seed = 81; seed <= 84; ++seed) {
    auto batch_of_3 = [&](int rank) {
      reference::layer L = random_layer(rank, seed);
      L.batch = 3;
      return L;
    };
    check_scaling<1, float, P>(batch_of_3(1), seed, exec, chunking::smallest);
    check_scaling<2, double, P>(batch_of_3(2), seed, exec, chunking::smallest);
    check_scaling<3, float, P>(batch_of_3(3), seed, exec, chunking::smallest);
  }
}
