// How well fftconv::automatic chooses, over the bench's case list (bench/src/cases.hpp), on the host:
//   - every fixed policy's training step (forward saving its state + one combined backward for dx, dw, db),
//     minimum of 3 after a warm-up, per call too (the cost model's calibration data);
//   - the heuristic's pick and its step time over the measured best (target: within 1.1x on 80 % of cases);
//   - the measure-mode automatic layer: its first step (timing included) and its later steps (minimum of 5)
//     over the best fixed policy (the lower of its first figure and a re-timing right after; target 1.25x).
// A policy whose modelled step exceeds --cap seconds, or 30x the best modelled policy's, is not run (its
// column says so): the measured best is then the best of those that ran. Network cases run
// their convolution layer alone. Not a test: a tool for the README's figures (built on demand).
//
//   automatic_accuracy [--quick] [--cap 2.0] [--match TEXT] [--csv FILE] [--layer dims batch in out n k pad]...

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <fftconv/fftconv.hpp>

#include "cases.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

template <int N>
fftconv::geometry<N> geometry_of(const bench::bench_case& c) {
  fftconv::geometry<N> g;
  g.in_channels = c.in_channels;
  g.out_channels = c.out_channels;
  g.groups = c.groups;
  std::array<std::int64_t, N> high{};
  for (int d = 0; d < N; ++d) {
    g.kernel[d] = c.kernel;
    g.stride[d] = c.stride;
    g.padding[d] = c.padding_low;
    high[d] = c.padding_high;
  }
  g.padding.high_side = high;
  return g;
}

struct tensors {
  std::vector<float> x, w, bias, dy, y, dx, dw, db;
};

// A saved state: saved_bytes of the layer, aligned as forward asks on the host.
struct saved_memory {
  struct release {
    void operator()(std::byte* p) const { ::operator delete(p, std::align_val_t{64}); }
  };
  std::unique_ptr<std::byte, release> data;
  std::size_t bytes;
  explicit saved_memory(std::size_t n)
      : data(static_cast<std::byte*>(::operator new(n, std::align_val_t{64}))), bytes(n) {}
};

struct step_times {
  double call[2] = {0, 0};  // forward, backward
  double total() const { return call[0] + call[1]; }
};

template <int N, class Layer>
step_times run_step(Layer& layer, tensors& t, const std::array<std::int64_t, N + 2>& xe,
                    const std::array<std::int64_t, N + 2>& we, const std::array<std::int64_t, N + 2>& ye) {
  step_times s;
  const fftconv::host exec{};
  saved_memory saved(layer.saved_bytes(xe));
  auto start = clock_type::now();
  layer.forward(exec, fftconv::make_view<const float, N + 2>(t.x.data(), xe),
                fftconv::make_view<const float, N + 2>(t.w.data(), we), t.bias.data(),
                fftconv::make_view<float, N + 2>(t.y.data(), ye), fftconv::saved_state(saved.data.get(), saved.bytes));
  s.call[0] = seconds_since(start);
  start = clock_type::now();
  layer.backward(exec, fftconv::make_view<const float, N + 2>(t.x.data(), xe),
                 fftconv::make_view<const float, N + 2>(t.w.data(), we),
                 fftconv::make_view<const float, N + 2>(t.dy.data(), ye),
                 fftconv::const_saved_state(saved.data.get(), saved.bytes),
                 {.dx = fftconv::make_view<float, N + 2>(t.dx.data(), xe),
                  .dw = fftconv::make_view<float, N + 2>(t.dw.data(), we), .dbias = t.db.data()});
  s.call[1] = seconds_since(start);
  return s;
}

// Warm-up, then per call the minimum over `repeats` steps.
template <int N, class Layer>
step_times best_step(Layer& layer, tensors& t, const std::array<std::int64_t, N + 2>& xe,
                     const std::array<std::int64_t, N + 2>& we, const std::array<std::int64_t, N + 2>& ye,
                     int repeats, double* first_seconds = nullptr) {
  const step_times first = run_step<N>(layer, t, xe, we, ye);
  if (first_seconds != nullptr) *first_seconds = first.total();
  step_times best;
  for (double& c : best.call) c = std::numeric_limits<double>::infinity();
  for (int r = 0; r < repeats; ++r) {
    const step_times s = run_step<N>(layer, t, xe, we, ye);
    for (int c = 0; c < 2; ++c) best.call[c] = std::min(best.call[c], s.call[c]);
  }
  return best;
}

struct summary {
  int cases = 0, heuristic_within = 0, automatic_cases = 0, automatic_within = 0;
  double worst_automatic = 0;
};

template <int N>
void run_case(const bench::bench_case& c, double cap, std::FILE* csv, summary& total) {
  const fftconv::geometry<N> g = geometry_of<N>(c);
  std::array<std::int64_t, N + 2> xe{c.batch, c.in_channels}, we{c.out_channels, c.in_channels / c.groups};
  std::array<std::int64_t, N> spatial{};
  for (int d = 0; d < N; ++d) {
    xe[d + 2] = c.input;
    we[d + 2] = c.kernel;
    spatial[d] = c.input;
  }
  fftconv::conv<N, float, fftconv::naive> probe(g);
  const auto ye = probe.output_extents(xe);
  const auto p = fftconv::detail::make_problem<N>(g, c.batch, spatial);
  const auto model =
      fftconv::detail::model_costs<N>(p, fftconv::passes::training(), sizeof(float), fftconv::detail::host_tuning.rates);

  tensors t;
  auto fill = [](std::vector<float>& v, std::size_t n, unsigned seed) {
    v.resize(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(((i * 2654435761u + seed) % 2001) / 1000.0 - 1.0);
  };
  auto volume = [](const auto& e) {
    std::size_t v = 1;
    for (auto x : e) v *= static_cast<std::size_t>(x);
    return v;
  };
  fill(t.x, volume(xe), 1);
  fill(t.w, volume(we), 2);
  fill(t.bias, c.out_channels, 3);
  fill(t.dy, volume(ye), 4);
  t.y.resize(volume(ye));
  t.dx.resize(volume(xe));
  t.dw.resize(volume(we));
  t.db.resize(c.out_channels);

  const char* names[3] = {"naive", "im2col", "fft"};
  step_times measured[3];
  bool ran[3] = {false, false, false};
  double best_model = std::numeric_limits<double>::infinity();
  for (int i = 0; i < 3; ++i) best_model = std::min(best_model, model.total(static_cast<fftconv::algorithm>(i)));
  // Not run: a policy modelled over the cap, or over 30x the best modelled one (hopeless, and slow to time).
  const auto time_policy = [&]<class P>(int index) {
    const double modelled = model.total(static_cast<fftconv::algorithm>(index));
    if (modelled > cap || modelled > 30 * best_model) return;
    fftconv::conv<N, float, P> layer(g);
    measured[index] = best_step<N>(layer, t, xe, we, ye, 3);
    ran[index] = true;
  };
  time_policy.template operator()<fftconv::naive>(0);
  time_policy.template operator()<fftconv::im2col>(1);
  time_policy.template operator()<fftconv::fft>(2);

  int best = -1;
  for (int i = 0; i < 3; ++i)
    if (ran[i] && (best < 0 || measured[i].total() < measured[best].total())) best = i;
  if (best < 0) {
    std::printf("%-40s every policy over the cap (modelled ms: naive %.1f, im2col %.1f, fft %.1f)\n", c.label.c_str(),
                model.total(fftconv::algorithm::naive) * 1e3, model.total(fftconv::algorithm::im2col) * 1e3,
                model.total(fftconv::algorithm::fft) * 1e3);
    return;
  }

  fftconv::conv<N, float, fftconv::automatic> heuristic(g);
  heuristic.set_mode(fftconv::automatic_mode::heuristic);
  run_step<N>(heuristic, t, xe, we, ye);
  const std::string pick = fftconv::to_string(*heuristic.choice().policy);
  int pick_index = 0;
  for (int i = 0; i < 3; ++i)
    if (pick == names[i]) pick_index = i;
  const bool pick_ran = ran[pick_index];
  const double pick_ratio = pick_ran ? measured[pick_index].total() / measured[best].total() : -1;
  ++total.cases;
  if (pick_ran && pick_ratio <= 1.1) ++total.heuristic_within;

  // The measure-mode layer (it times what its own rules allow), then the best fixed policy again right after
  // it, so that both figures see the same machine load (the CI host is shared).
  double automatic_ratio = -1, first_call = -1;
  std::string automatic_pick = "-";
  {
    fftconv::clear_automatic_choices();
    fftconv::conv<N, float, fftconv::automatic> automatic(g);
    automatic.set_mode(fftconv::automatic_mode::measure);
    const step_times steady = best_step<N>(automatic, t, xe, we, ye, 5, &first_call);
    const auto retime_best = [&]<class P>() {
      fftconv::conv<N, float, P> layer(g);
      return best_step<N>(layer, t, xe, we, ye, 5).total();
    };
    const double best_again = best == 0   ? retime_best.template operator()<fftconv::naive>()
                              : best == 1 ? retime_best.template operator()<fftconv::im2col>()
                                          : retime_best.template operator()<fftconv::fft>();
    automatic_ratio = steady.total() / std::min(best_again, measured[best].total());
    automatic_pick = fftconv::to_string(*automatic.choice().policy);
    ++total.automatic_cases;
    if (automatic_ratio <= 1.25) ++total.automatic_within;
    total.worst_automatic = std::max(total.worst_automatic, automatic_ratio);
  }

  std::printf("%-40s", c.label.c_str());
  for (int i = 0; i < 3; ++i) {
    if (ran[i])
      std::printf(" %s %8.3f/%8.3f", names[i], measured[i].total() * 1e3,
                  model.total(static_cast<fftconv::algorithm>(i)) * 1e3);
    else
      std::printf(" %s   (capped)/%8.3f", names[i], model.total(static_cast<fftconv::algorithm>(i)) * 1e3);
  }
  std::printf(" | best %-6s heuristic %-6s x%.2f | auto %-6s x%.2f first %.1f ms\n", names[best], pick.c_str(),
              pick_ratio, automatic_pick.c_str(), automatic_ratio, first_call * 1e3);
  std::fflush(stdout);
  if (csv != nullptr)
    for (int i = 0; i < 3; ++i)
      if (ran[i]) {
        const auto policy = static_cast<fftconv::algorithm>(i);
        std::fprintf(csv, "%s,%s,forward,%g,%g\n", c.label.c_str(), names[i], measured[i].call[0], model.forward(policy));
        std::fprintf(csv, "%s,%s,backward,%g,%g\n", c.label.c_str(), names[i], measured[i].call[1], model.backward(policy));
      }
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  double cap = 2.0;
  std::string match, csv_path;
  std::vector<bench::bench_case> extra;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") quick = true;
    else if (arg == "--cap" && i + 1 < argc) cap = std::stod(argv[++i]);
    else if (arg == "--match" && i + 1 < argc) match = argv[++i];
    else if (arg == "--csv" && i + 1 < argc) csv_path = argv[++i];
    else if (arg == "--layer" && i + 7 < argc) {  // dims batch in out n k padding: one extra case, 'same'-style
      bench::bench_case c = bench::general_case("extra", "layer", 0, std::stoi(argv[i + 1]), std::stoll(argv[i + 2]),
                                                std::stoll(argv[i + 3]), std::stoll(argv[i + 4]), 1,
                                                std::stoll(argv[i + 5]), std::stoll(argv[i + 6]), 1,
                                                std::stoll(argv[i + 7]), std::stoll(argv[i + 7]));
      extra.push_back(c);
      i += 7;
    }
    else {
      std::fprintf(stderr, "usage: %s [--quick] [--cap SECONDS] [--match TEXT] [--csv FILE]\n", argv[0]);
      return 2;
    }
  }
  std::FILE* csv = csv_path.empty() ? nullptr : std::fopen(csv_path.c_str(), "w");
  if (csv != nullptr) std::fprintf(csv, "case,policy,call,measured_s,model_s\n");
  summary total;
  std::printf("per policy: measured step ms / modelled ms (%s)\n", fftconv::detail::host_identity().c_str());
  const std::vector<bench::bench_case> cases = extra.empty() ? bench::make_cases(quick) : extra;
  for (const bench::bench_case& c : cases) {
    if (!match.empty() && c.label.find(match) == std::string::npos) continue;
    try {
      if (c.dims == 1) run_case<1>(c, cap, csv, total);
      if (c.dims == 2) run_case<2>(c, cap, csv, total);
      if (c.dims == 3) run_case<3>(c, cap, csv, total);
    } catch (const std::exception& e) {
      std::printf("%-40s failed: %s\n", c.label.c_str(), e.what());
    }
  }
  if (csv != nullptr) std::fclose(csv);
  std::printf("heuristic within 1.1x of the measured best: %d of %d cases\n", total.heuristic_within, total.cases);
  std::printf("automatic (after its first call) within 1.25x of the best fixed policy: %d of %d cases, worst x%.2f\n",
              total.automatic_within, total.automatic_cases, total.worst_automatic);
}
