// fftconv::automatic in a translation unit built without oneDNN (FFTCONV_HAS_ONEDNN=0) although oneDNN is
// installed: the vendor candidate is left out with the reason, every choice is one of the others, and the
// program, linked --as-needed, does not load libdnnl (automatic alone must not force the vendor library on it).
// fftconv::host's CMake target defines FFTCONV_HAS_ONEDNN=1 where oneDNN is found; this file sets it to 0 before
// any fftconv header, as a user's -DFFTCONV_HAS_ONEDNN=0 does.
#undef FFTCONV_HAS_ONEDNN
#define FFTCONV_HAS_ONEDNN 0

#include <fstream>
#include <string>

#include "automatic_checks.hpp"

static_assert(!FFTCONV_HAS_ONEDNN);
static_assert(!fftconv::detail::vendor_available<fftconv::host, float>);

using fftconv::algorithm;
using fftconv::automatic_mode;

TEST_CASE("automatic host without oneDNN: vendor is left out with the reason, in every mode") {
  const reference::layer L = testing_support::make_layer(
      2, 2, {.in_channels = 32, .out_channels = 32, .input = {24, 24}, .kernel = {3, 3}, .padding = {1, 1},
             .stride = {1, 1}, .dilation = {1, 1}});
  for (automatic_mode mode : {automatic_mode::heuristic, automatic_mode::measure, automatic_mode::exhaustive}) {
    automatic_checks::start_clean(mode);
    const fftconv::host exec;
    automatic_checks::layer_data<2, float, fftconv::host> data(exec, L, 7);
    fftconv::conv<2, float, fftconv::automatic> layer(testing_support::geometry_of<2>(L));
    automatic_checks::saved_memory<fftconv::host> saved(exec, layer.saved_bytes(data.x_extents()));
    data.forward(layer, exec, saved.state());
    data.backward(layer, exec, saved.const_state());
    const fftconv::automatic_choice& choice = layer.choice();
    INFO(fftconv::to_string(mode), ": ", automatic_checks::describe(choice));
    REQUIRE(choice.candidates.size() == fftconv::algorithm_count);
    const fftconv::automatic_candidate& vendor = choice.candidates[static_cast<int>(algorithm::vendor)];
    CHECK(vendor.policy == algorithm::vendor);
    CHECK_FALSE(vendor.considered);
    CHECK(vendor.skipped == "built without oneDNN (FFTCONV_HAS_ONEDNN=0)");
    CHECK(choice.policy != algorithm::vendor);
    CHECK(automatic_checks::written_algorithm(saved) == automatic_checks::picked(choice));
    CHECK_FALSE(automatic_checks::holds_candidate(layer, "vendor"));
    data.check_forward();
    data.check_backward_data();
    data.check_backward_filter();
  }
}

TEST_CASE("automatic host without oneDNN: the process has not loaded libdnnl") {
  std::ifstream maps("/proc/self/maps");
  REQUIRE(maps.good());
  std::string line, loaded;
  while (std::getline(maps, line))
    if (line.find("libdnnl") != std::string::npos) loaded = line;
  INFO(loaded);
  CHECK(loaded.empty());
}
