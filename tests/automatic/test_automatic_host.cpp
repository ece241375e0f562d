// fftconv::automatic on the host: picks on clear-cut layers in both modes, the process cache, threads, a
// candidate out of memory, no dependence on the timing's scratch addresses, saved states read by the algorithm
// that wrote them, backward without a saved state, the functional form, and the cost model as arithmetic.
#include <array>
#include <cstdio>
#include <fstream>
#include <locale>
#include <optional>
#include <string>

#include "automatic_checks.hpp"

using fftconv::automatic_mode;

namespace {
struct host_executor {
  fftconv::host executor() const { return {}; }
};
}  // namespace

TEST_CASE("automatic host: 1x1 -> im2col or vendor, measured (model-pruned and exhaustive) and modelled") {
  // A plain GEMM either way: oneDNN's (vendor, where it is on) or OpenBLAS's (im2col).
  for (automatic_mode mode : {automatic_mode::measure, automatic_mode::exhaustive, automatic_mode::heuristic})
    automatic_checks::check_pick<float>(fftconv::host{}, automatic_checks::pointwise_layer(), mode,
                                        {fftconv::algorithm::im2col, fftconv::algorithm::vendor});
}

TEST_CASE("automatic host: 1->1 150² k=51 -> fft, measured (model-pruned and exhaustive) and modelled") {
  for (automatic_mode mode : {automatic_mode::measure, automatic_mode::exhaustive, automatic_mode::heuristic})
    automatic_checks::check_pick<float>(fftconv::host{}, automatic_checks::large_kernel_layer(), mode, {fftconv::algorithm::fft});
}

TEST_CASE_TEMPLATE("automatic host: 3x3 on 8x8 -> naive, im2col or vendor modelled, the fastest timed when measured", T, float, double) {
  // The model picks naive or im2col here, or vendor where it runs (float with oneDNN). The tiled fft runs this
  // layer close to im2col, so the measured modes may keep any candidate they timed fastest on that run.
  using fftconv::algorithm;
  automatic_checks::check_pick<T>(fftconv::host{}, automatic_checks::tiny_image_layer(), automatic_mode::heuristic,
                                  {algorithm::naive, algorithm::im2col, algorithm::vendor});
  for (automatic_mode mode : {automatic_mode::measure, automatic_mode::exhaustive})
    automatic_checks::check_pick<T>(fftconv::host{}, automatic_checks::tiny_image_layer(), mode,
                                    {algorithm::naive, algorithm::im2col, algorithm::fft, algorithm::vendor});
}

TEST_CASE("automatic host: a cache hit does not time again, and clear makes the next layer time") {
  automatic_checks::check_cache_hits<float>(fftconv::host{});
}

TEST_CASE("automatic host: save, clear, load") {
  automatic_checks::check_save_and_load<float>(fftconv::host{}, "automatic_choices_host_test.txt");
}

TEST_CASE("automatic host: 4 threads ask for one key at once and one of them times it") {
  automatic_checks::check_concurrent_first_calls<float, fftconv::host>([] { return host_executor{}; }, 4);
}

TEST_CASE("automatic host: a candidate out of memory is skipped, the reason kept") {
  automatic_checks::check_candidate_out_of_memory<float>(fftconv::host{});
}

TEST_CASE("automatic host: fft over the workspace limit is skipped (measure) or ruled out (heuristic)") {
  for (automatic_mode mode : {automatic_mode::measure, automatic_mode::heuristic})
    automatic_checks::check_workspace_limit<float>(fftconv::host{}, mode);
}

TEST_CASE("automatic host: no result depends on the address of the timing's scratch") {
  automatic_checks::check_no_address_dependence<float>(fftconv::host{});
}

TEST_CASE("automatic host: weights declared constant keep no Ŵ of the timing's synthetic weights") {
  automatic_checks::check_constant_weights_after_timing<float>(fftconv::host{});
}

TEST_CASE_TEMPLATE("automatic host: backward runs the algorithm that wrote the saved state, fft or not", T, float, double) {
  automatic_checks::check_saved_state_read_by_its_producer<T>(fftconv::host{}, automatic_checks::large_kernel_layer(),
                                                              {fftconv::algorithm::fft}, "automatic_saved_state_host_test.txt");
  automatic_checks::check_saved_state_read_by_its_producer<T>(fftconv::host{}, automatic_checks::tiny_image_layer(),
                                                              {fftconv::algorithm::naive, fftconv::algorithm::im2col, fftconv::algorithm::vendor},
                                                              "automatic_saved_state_host_test.txt");
}

TEST_CASE("automatic host: backward without a saved state, each set of gradients, modelled and measured") {
  for (automatic_mode mode : {automatic_mode::heuristic, automatic_mode::measure}) {
    INFO("mode ", fftconv::to_string(mode));
    automatic_checks::check_backward_without_saved_state<float>(fftconv::host{}, automatic_checks::tiny_image_layer(), mode);
    automatic_checks::check_backward_without_saved_state<float>(fftconv::host{}, automatic_checks::large_kernel_layer(), mode);
  }
}

TEST_CASE("automatic host: saved_bytes is the FFT policy's, for both keeps") {
  automatic_checks::check_saved_bytes<float>(fftconv::host{}, automatic_checks::large_kernel_layer());
  automatic_checks::check_saved_bytes<double>(fftconv::host{}, automatic_checks::tiny_image_layer());
}

TEST_CASE("automatic host: workspace_bytes(x, passes) is the chosen candidate's, a bound before a measured choice") {
  for (automatic_mode mode : {automatic_mode::heuristic, automatic_mode::measure}) {
    automatic_checks::check_workspace_prediction<float>(automatic_checks::pointwise_layer(), mode);
    automatic_checks::check_workspace_prediction<float>(automatic_checks::large_kernel_layer(), mode);
  }
}

TEST_CASE("automatic host: the functional form decides per pass") {
  automatic_checks::check_functional_per_pass<float>(fftconv::host{});
}

TEST_CASE("automatic host: choice() before a call, declared passes, bad arguments") {
  fftconv::conv<2, float, fftconv::automatic> layer({.in_channels = 1, .out_channels = 1, .kernel = {3, 3}});
  CHECK_FALSE(layer.choice().policy.has_value());
  CHECK(layer.implementation().declared_passes() == fftconv::passes::training());
  layer.set_passes(fftconv::passes::inference());
  CHECK(layer.implementation().declared_passes() == fftconv::passes::inference());
  CHECK_THROWS_AS(layer.set_passes({.forward = false, .backward_data = false, .backward_filter = false}),
                  fftconv::invalid_argument);
  CHECK(fftconv::passes::frozen() == fftconv::passes{true, true, false});
  layer.set_mode(automatic_mode::heuristic);
  CHECK(layer.implementation().mode() == automatic_mode::heuristic);
}

TEST_CASE("automatic host: the cost model is deterministic and ranks the clear cases") {
  using fftconv::algorithm;
  const auto model = [](const reference::layer& L) {
    const auto g = testing_support::geometry_of<2>(L);
    const auto p = fftconv::detail::make_problem<2>(g, L.batch, {L.input[0], L.input[1]});
    return fftconv::detail::model_costs<2>(p, fftconv::passes::training(), sizeof(float), fftconv::detail::host_tuning.rates);
  };
  const auto pointwise = model(automatic_checks::pointwise_layer());
  CHECK(pointwise.total(algorithm::im2col) < pointwise.total(algorithm::fft));
  CHECK(pointwise.total(algorithm::im2col) < pointwise.total(algorithm::naive));
  const auto large = model(automatic_checks::large_kernel_layer());
  CHECK(large.total(algorithm::fft) * 4 < large.total(algorithm::im2col));
  CHECK(large.total(algorithm::fft) * 4 < large.total(algorithm::naive));
  const auto again = model(automatic_checks::large_kernel_layer());
  for (int c = 0; c < fftconv::algorithm_count; ++c)
    for (int pass = 0; pass < 3; ++pass) CHECK(again.seconds[c][pass] == large.seconds[c][pass]);
  // Undeclared passes cost nothing.
  const auto g = testing_support::geometry_of<2>(automatic_checks::tiny_image_layer());
  const auto p = fftconv::detail::make_problem<2>(g, 2, {8, 8});
  const auto inference =
      fftconv::detail::model_costs<2>(p, fftconv::passes::inference(), sizeof(float), fftconv::detail::host_tuning.rates);
  for (int c = 0; c < fftconv::algorithm_count; ++c) {
    CHECK(inference.seconds[c][0] > 0);
    CHECK(inference.seconds[c][1] == 0);
    CHECK(inference.seconds[c][2] == 0);
  }
  // A step is a forward and one combined backward: its data and filter parts.
  for (algorithm c : fftconv::algorithms) {
    const auto& s = large.seconds[static_cast<int>(c)];
    CHECK(large.forward(c) == s[0]);
    CHECK(large.backward(c) == s[1] + s[2]);
    CHECK(large.total(c) == large.forward(c) + large.backward(c));
    CHECK(inference.backward(c) == 0);
  }
  CHECK(fftconv::detail::smallest_7_smooth_at_least(150) == 150);
  CHECK(fftconv::detail::smallest_7_smooth_at_least(151) == 160);
  CHECK(fftconv::detail::smallest_7_smooth_at_least((std::int64_t{1} << 39) + 4) > (std::int64_t{1} << 39));
}

TEST_CASE("automatic host: a choice key reads back from its text, and carries the tuning it was made under") {
  using fftconv::detail::choice_key;
  const fftconv::geometry<2> g{.in_channels = 3, .out_channels = 8, .kernel = {5, 5}};
  const auto p = fftconv::detail::make_problem<2>(g, 4, {32, 24});
  const auto key = fftconv::detail::make_choice_key<2, float>(p, fftconv::passes::frozen(), std::size_t{1} << 20,
                                                              fftconv::automatic_mode::exhaustive,
                                                              fftconv::detail::fingerprint(fftconv::detail::host_tuning),
                                                              "host threads=2 blas=openblas-SkylakeX");
  std::string text = key.text();
  INFO(text);
  CHECK(text.find("input=32x24") != std::string::npos);
  CHECK(text.find("passes=fd ") != std::string::npos);
  const auto parsed = choice_key::parse(text);
  REQUIRE(parsed.has_value());
  CHECK(*parsed == key);
  CHECK(choice_key::parse(text.substr(0, text.find(" on="))) == std::nullopt);
  CHECK(choice_key::parse("N=2 T=float batch=x") == std::nullopt);
  CHECK(choice_key::parse(std::string(text).replace(text.find("kernel=5x5"), 10, "kernel=5x")) == std::nullopt);

  // Another limit, mode, element type or set of tuning constants is another key.
  auto other = key;
  other.workspace_limit.reset();
  CHECK(other != key);
  CHECK(choice_key::parse(other.text()) == other);
  CHECK(fftconv::detail::fingerprint(fftconv::detail::host_tuning) !=
        fftconv::detail::fingerprint(fftconv::detail::device_tuning));
  fftconv::detail::tuning changed = fftconv::detail::host_tuning;
  changed.hopeless_factor += 1;
  CHECK(fftconv::detail::fingerprint(changed) != fftconv::detail::fingerprint(fftconv::detail::host_tuning));

  // Rank 1 and 3 read back too; a sign, a grouped number, a pass out of order or no hardware does not.
  const auto key1 = fftconv::detail::make_choice_key<1, double>(
      fftconv::detail::make_problem<1>(fftconv::geometry<1>{.in_channels = 2, .out_channels = 2, .kernel = {7}}, 3, {1000}),
      fftconv::passes::only(fftconv::pass::backward_filter), std::nullopt, fftconv::automatic_mode::measure, 0xabcdef,
      "device sm_90 cudart=13000");
  CHECK(choice_key::parse(key1.text()) == key1);
  const auto key3 = fftconv::detail::make_choice_key<3, float>(
      fftconv::detail::make_problem<3>(fftconv::geometry<3>{.in_channels = 1, .out_channels = 4, .kernel = {3, 3, 3}}, 1,
                                       {8, 9, 10}),
      fftconv::passes::training(), std::size_t{0}, fftconv::automatic_mode::heuristic, 1, "h");
  CHECK(choice_key::parse(key3.text()) == key3);
  const std::string text1 = key1.text();
  const auto with = [&](const char* from, const char* to) {
    std::string changed_text = text1;
    REQUIRE(changed_text.find(from) != std::string::npos);
    return changed_text.replace(changed_text.find(from), std::string(from).size(), to);
  };
  CHECK(choice_key::parse(with("batch=3", "batch=-3")) == std::nullopt);
  CHECK(choice_key::parse(with("input=1000", "input=1,000")) == std::nullopt);
  CHECK(choice_key::parse(with("passes=w", "passes=wf")) == std::nullopt);
  CHECK(choice_key::parse(with("passes=w", "passes=ww")) == std::nullopt);
  CHECK(choice_key::parse(with("tuning=abcdef", "tuning=ABCDEF")) == std::nullopt);
  CHECK(choice_key::parse(text1.substr(0, text1.find("on=") + 3)) == std::nullopt);

  // A global locale that groups digits changes nothing in the text.
  struct grouping : std::numpunct<char> {
    char do_thousands_sep() const override { return ','; }
    std::string do_grouping() const override { return "\3"; }
  };
  const std::locale before = std::locale::global(std::locale(std::locale::classic(), new grouping));
  const std::string grouped = key1.text();
  std::locale::global(before);
  CHECK(grouped == text1);
}

TEST_CASE("automatic host: a choice file of another format version is refused, naming which") {
  const std::string path = "automatic_choice_versions_test.txt";
  const auto load_with_header = [&](const std::string& header) {
    {
      std::ofstream out(path, std::ios::trunc);
      out << header << "\n";
    }
    std::string message;
    try {
      fftconv::load_automatic_choices(path);
    } catch (const fftconv::invalid_argument& e) {
      message = e.what();
    }
    std::remove(path.c_str());
    return message;
  };
  CHECK(load_with_header("fftconv-automatic-choices 2").empty());
  CHECK(load_with_header("fftconv-automatic-choices 2\r").empty());  // a line end from Windows
  CHECK(load_with_header("fftconv-automatic-choices 1").find("measured again") != std::string::npos);
  CHECK(load_with_header("fftconv-automatic-choices 3").find("newer fftconv") != std::string::npos);
  CHECK(load_with_header("fftconv-automatic-choices2").find("not a choice file") != std::string::npos);
}

TEST_CASE("automatic host: algorithms and passes as values") {
  for (fftconv::algorithm a : fftconv::algorithms) {
    fftconv::algorithm parsed{};
    CHECK(fftconv::parse_algorithm(fftconv::to_string(a), parsed));
    CHECK(parsed == a);
  }
  fftconv::algorithm unchanged = fftconv::algorithm::im2col;
  CHECK_FALSE(fftconv::parse_algorithm("winograd", unchanged));
  CHECK(unchanged == fftconv::algorithm::im2col);
  CHECK(fftconv::passes::only(fftconv::pass::backward_data) == fftconv::passes{false, true, false});
  CHECK(fftconv::passes::frozen().has(fftconv::pass::backward_data));
  CHECK_FALSE(fftconv::passes::frozen().has(fftconv::pass::backward_filter));
  CHECK_FALSE(fftconv::passes::inference().any_backward());
  CHECK(std::string(fftconv::to_string(fftconv::pass::backward_filter)) == "backward_filter");
}
