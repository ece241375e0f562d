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

// Every byte of a saved state up to the end of the payload its header records is written: two forwards into
// buffers that held different bytes leave equal states there, so a checkpoint of the state, or a traced graph's
// copy of it, compares equal to the eager one. Past it (automatic's state, sized for the FFT policy's spectra,
// written by a candidate that saves a header only) the caller's bytes are left as they were: zeroing tens of
// megabytes that nothing reads cost a k = 3 layer's training step 13 % on the host.
template <int N, class P>
void check_state_is_a_function_of_x_and_w(const fftconv::geometry<N>& g, const std::array<std::int64_t, N + 2>& xe) {
  fftconv::conv<N, float, P> layer(g);
  const auto ye = layer.output_extents(xe);
  std::array<std::int64_t, N + 2> we{g.out_channels, g.in_channels / g.groups};
  for (int d = 0; d < N; ++d) we[d + 2] = g.kernel[d];
  const auto size = [](const auto& e) { std::int64_t n = 1; for (auto v : e) n *= v; return std::size_t(n); };
  std::vector<float> x(size(xe)), w(size(we)), y(size(ye));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.7f * float(i));
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::cos(0.3f * float(i));
  const std::size_t bytes = layer.saved_bytes(xe);
  std::vector<std::byte> first, second;
  std::size_t defined = 0;
  for (const auto& [fill, state] : {std::pair{std::byte{0x00}, &first}, std::pair{std::byte{0xA5}, &second}}) {
    std::vector<std::byte> memory(bytes + 64, fill);
    auto* aligned = reinterpret_cast<std::byte*>((reinterpret_cast<std::uintptr_t>(memory.data()) + 63) / 64 * 64);
    layer.forward(fftconv::host{}, fftconv::make_view(x.data(), xe), fftconv::make_view(w.data(), we), nullptr,
                  fftconv::make_view(y.data(), ye), fftconv::saved_state(aligned, bytes));
    state->assign(aligned, aligned + bytes);
    fftconv::detail::saved_header header{};
    std::memcpy(&header, aligned, sizeof(header));
    defined = fftconv::detail::saved_header_bytes + header.payload_bytes;
    REQUIRE(defined <= bytes);
    std::size_t touched = 0;
    for (std::size_t i = defined; i < bytes; ++i) touched += (*state)[i] != fill;
    CHECK_MESSAGE(touched == 0, touched, " bytes past the header's payload were written");
  }
  std::size_t differing = 0;
  for (std::size_t i = 0; i < defined; ++i) differing += first[i] != second[i];
  CHECK_MESSAGE(differing == 0, differing, " of ", defined, " saved bytes depend on the buffer's earlier contents");
}

TEST_CASE_TEMPLATE("api saved state: every byte is written, whatever the buffer held", P, fftconv::naive,
                   fftconv::im2col, fftconv::fft, fftconv::automatic) {
  check_state_is_a_function_of_x_and_w<1, P>({.in_channels = 2, .out_channels = 2, .kernel = {3}, .padding = {1}},
                                             {2, 2, 11});
  check_state_is_a_function_of_x_and_w<2, P>(
      {.in_channels = 4, .out_channels = 4, .kernel = {5, 5}, .padding = {2, 2}, .groups = 4}, {2, 4, 19, 13});
  check_state_is_a_function_of_x_and_w<3, P>(
      {.in_channels = 3, .out_channels = 5, .kernel = {3, 2, 3}, .stride = {2, 1, 1}}, {1, 3, 9, 8, 7});
}
