// fftconv::automatic with its vendor candidate on the host (oneDNN): timed beside the others in measure mode,
// ranked by the cost model in heuristic mode, and left out, with the reason, for double (oneDNN has no double
// convolution on the CPU). The build without oneDNN is automatic.no_onednn.host (test_automatic_no_onednn_host.cpp).
#include <string>

#include "automatic_checks.hpp"

using fftconv::algorithm;
using fftconv::automatic_mode;

namespace {

// 3x3, 32 -> 32 channels at 24x24, batch 2: a layer of the kind every fftconv policy loses to oneDNN.
reference::layer conv3x3_layer() {
  return testing_support::make_layer(2, 2, {.in_channels = 32, .out_channels = 32, .input = {24, 24}, .kernel = {3, 3},
                                            .padding = {1, 1}, .stride = {1, 1}, .dilation = {1, 1}});
}

const fftconv::automatic_candidate& vendor_of(const fftconv::automatic_choice& choice) {
  REQUIRE(choice.candidates.size() == fftconv::algorithm_count);
  const fftconv::automatic_candidate& c = choice.candidates[static_cast<int>(algorithm::vendor)];
  CHECK(c.policy == algorithm::vendor);
  return c;
}

// One training step through an automatic layer in `mode` (forward with a saved state, one combined backward),
// checked against the reference; returns the layer's choice.
template <class T>
fftconv::automatic_choice step(const reference::layer& L, automatic_mode mode) {
  automatic_checks::start_clean(mode);
  const fftconv::host exec;
  automatic_checks::layer_data<2, T, fftconv::host> data(exec, L, 5);
  fftconv::conv<2, T, fftconv::automatic> layer(testing_support::geometry_of<2>(L));
  automatic_checks::saved_memory<fftconv::host> saved(exec, layer.saved_bytes(data.x_extents()));
  data.forward(layer, exec, saved.state());
  data.backward(layer, exec, saved.const_state());
  INFO(automatic_checks::describe(layer.choice()));
  CHECK(automatic_checks::written_algorithm(saved) == automatic_checks::picked(layer.choice()));
  data.check_forward();
  data.check_backward_data();
  data.check_backward_filter();
  return layer.choice();
}

}  // namespace

TEST_CASE("automatic host vendor: measure mode times vendor beside the others on a 3x3 layer") {
  for (automatic_mode mode : {automatic_mode::measure, automatic_mode::exhaustive}) {
    const fftconv::automatic_choice choice = step<float>(conv3x3_layer(), mode);
    INFO(fftconv::to_string(mode), ": ", automatic_checks::describe(choice));
    const fftconv::automatic_candidate& vendor = vendor_of(choice);
    CHECK(vendor.considered);
    CHECK(vendor.skipped.empty());
    CHECK(vendor.first_call_seconds > 0);
    CHECK(vendor.forward_seconds > 0);
    CHECK(vendor.backward_seconds > 0);
    CHECK(vendor.total_seconds == doctest::Approx(vendor.forward_seconds + vendor.backward_seconds));
    CHECK(choice.reason.find("vendor") != std::string::npos);
  }
}

TEST_CASE("automatic host vendor: measured, a 3x3 32-channel layer runs vendor (oneDNN)") {
  // On the bench's k = 3 rows oneDNN is 2.6x faster than the best fftconv policy; a measured choice that missed
  // it would leave automatic that much slower than the vendor.
  const fftconv::automatic_choice choice = step<float>(conv3x3_layer(), automatic_mode::measure);
  INFO(automatic_checks::describe(choice));
  CHECK(choice.policy == algorithm::vendor);
}

TEST_CASE("automatic host vendor: heuristic mode models vendor and ranks it first on a 3x3 layer, not on a large kernel") {
  const fftconv::automatic_choice choice = step<float>(conv3x3_layer(), automatic_mode::heuristic);
  INFO(automatic_checks::describe(choice));
  const fftconv::automatic_candidate& vendor = vendor_of(choice);
  CHECK(vendor.considered);
  CHECK(vendor.skipped.empty());
  CHECK(vendor.total_seconds > 0);
  CHECK(vendor.first_call_seconds < 0);  // nothing timed
  CHECK(choice.policy == algorithm::vendor);
  CHECK(choice.reason.find("cost model: vendor") != std::string::npos);
  CHECK(fftconv::automatic_choice_statistics().measurements == 0);

  // The figure is the cost model's.
  const reference::layer L = conv3x3_layer();
  const auto p = fftconv::detail::make_problem<2>(testing_support::geometry_of<2>(L), L.batch, {L.input[0], L.input[1]});
  const auto model = fftconv::detail::model_costs<2>(p, fftconv::passes::training(), sizeof(float),
                                                     fftconv::detail::host_tuning.rates);
  CHECK(vendor.total_seconds == doctest::Approx(model.total(algorithm::vendor)));
  for (algorithm other : {algorithm::naive, algorithm::im2col, algorithm::fft})
    CHECK(model.total(algorithm::vendor) < model.total(other));

  // On fft's layer (k = 51) the model ranks vendor below fft.
  const fftconv::automatic_choice large = step<float>(automatic_checks::large_kernel_layer(), automatic_mode::heuristic);
  INFO(automatic_checks::describe(large));
  CHECK(vendor_of(large).considered);
  CHECK(large.policy == algorithm::fft);
}

TEST_CASE("automatic host vendor: double leaves vendor out, saying oneDNN has no double convolution") {
  for (automatic_mode mode : {automatic_mode::heuristic, automatic_mode::measure, automatic_mode::exhaustive}) {
    const fftconv::automatic_choice choice = step<double>(conv3x3_layer(), mode);
    INFO(fftconv::to_string(mode), ": ", automatic_checks::describe(choice));
    const fftconv::automatic_candidate& vendor = vendor_of(choice);
    CHECK_FALSE(vendor.considered);
    CHECK(vendor.skipped == "oneDNN has no double convolution on the CPU");
    CHECK(vendor.first_call_seconds < 0);
    CHECK(choice.policy != algorithm::vendor);
    if (mode != automatic_mode::heuristic)
      CHECK(choice.reason.find("vendor: oneDNN has no double convolution on the CPU") != std::string::npos);
  }
}

TEST_CASE("automatic host vendor: vendor is part of the key: a layer with other vendor options decides again") {
  automatic_checks::start_clean(automatic_mode::heuristic);
  const reference::layer L = conv3x3_layer();
  const fftconv::host exec;
  automatic_checks::layer_data<2, float, fftconv::host> data(exec, L, 6);
  fftconv::conv<2, float, fftconv::automatic> first(testing_support::geometry_of<2>(L)), second(testing_support::geometry_of<2>(L));
  data.forward(first, exec);
  second.set_vendor_options({.allow_tf32 = false, .deterministic = true});
  data.forward(second, exec);
  CHECK(fftconv::automatic_choice_statistics().modelled == 2);
  CHECK(first.choice().key != second.choice().key);
  CHECK(automatic_checks::holds_candidate(second, "vendor"));
  data.check_forward();
}
