#pragma once
// One case, one pass, every contestant: build the data once, run the baseline (cuDNN on the device, oneDNN on
// the host) or, without one, a float64 naive reference, then each selected policy of the type list; check each
// output against the reference, time each after warm-up, and return the case's JSON record. Written once over the executor,
// so the host quick run that CI executes goes through the same code as the GPU run.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <type_traits>
#include <vector>

#include "cases.hpp"
#include "layers.hpp"
#include "network.hpp"
#include "platform.hpp"
#include "report.hpp"

namespace bench {

// The storage type of a layer's tensors: fp32, or bf16 (x, w, bias, y and every gradient; fftconv and the
// baselines compute in float). The network cases are fp32 code and run in fp32 only.
enum class dtype { fp32, bf16 };
inline const char* dtype_name(dtype d) { return d == dtype::bf16 ? "bf16" : "fp32"; }

enum class timed_work { forward, step };  // a forward alone, or a training step (forward + combined backward)
inline const char* work_name(timed_work w) { return w == timed_work::forward ? "fwd" : "step"; }

struct options {
  bool host = false;
  bool quick = false;
  std::string out = "bench-results";
  std::vector<std::string> only;      // run only the groups whose name contains one of these
  std::optional<std::regex> match;     // and only the cases whose label matches this
  std::string match_text;              // its text, for the JSON
  std::vector<std::string> policies;   // run only these of the built policies (empty: all)
  bool baseline = true;                // --no-baseline: no cuDNN / oneDNN
  std::vector<dtype> dtypes{dtype::fp32};  // each case runs in each, in this order, one after the other
  std::vector<timed_work> passes{timed_work::forward, timed_work::step};
  double target_seconds = 0.15;   // timed budget per contestant and pass: sets the number of repeats
  int warmup = 2;
  int min_reps = 5;
  int max_reps = 200;
  double naive_cap_seconds = 1.0;   // skip naive where its predicted time per call is above this
  double slow_call_seconds = 0.25;  // a first call slower than this: no warm-up, slow_reps repeats only
  int slow_reps = 3;
  std::uint64_t seed = 20140001;
  int device = 0;
};

inline bool policy_selected(const options& o, const std::string& name) {
  return o.policies.empty() || std::find(o.policies.begin(), o.policies.end(), name) != o.policies.end();
}

// --only (group contains one of the words) and --match (label regex), both when given.
inline bool case_selected(const options& o, const bench_case& c) {
  bool wanted = o.only.empty();
  for (const std::string& g : o.only) wanted = wanted || c.group.find(g) != std::string::npos;
  return wanted && (!o.match || std::regex_search(c.label, *o.match));
}

// What all cases of a run share.
struct run_state {
  options opt;
  double copy_gbs = 0;               // measured copy rate, bytes read + written per second / 1e9
  double naive_macs_per_second = 0;  // calibrated at start, predicts naive's time to enforce the cap
  int check_failures = 0;
  int errors = 0;
  std::string baseline;  // the baseline that runs: "cudnn" (device), "onednn" (host), or empty
#if defined(__CUDACC__) && FFTCONV_BENCH_HAS_CUDNN
  cudnnHandle_t cudnn = nullptr;  // set in device mode
#endif
};

// Tolerances of the checks (relative L2). Against the float64 reference they are the library's contract;
// against a baseline (cuDNN, oneDNN: itself fp32, summing in another order) one decade looser. bf16 outputs are
// rounded to 8 significant bits (unit roundoff 2^-9): each element may be one ulp off where the float sums of
// two implementations fall on either side of a rounding boundary, so 1e-2 for every output against any reference.
struct tolerance {
  double forward, filter;
};
inline tolerance tolerance_for(const std::string& reference, bool network, dtype storage = dtype::fp32) {
  if (storage == dtype::bf16) return {1e-2, 1e-2};
  if (network) return {1e-4, 1e-3};  // max pool routes gradients by argmax: a near-tie may route differently
  if (reference == "naive_f64") return {1e-5, 1e-4};
  return {1e-4, 1e-3};
}

// A layer's dtype from its element type.
template <class T>
constexpr dtype dtype_of() {
  return std::is_same_v<T, fftconv::bf16> ? dtype::bf16 : dtype::fp32;
}

// values rounded to T and back: the inputs every contestant (and the float64 reference) sees in a T case.
template <class T>
std::vector<float> representable_in(std::vector<float> values) {
  if constexpr (!std::is_same_v<T, float>)
    for (float& v : values) v = fftconv::detail::load_as<float>(fftconv::detail::store_as<T>(v));
  return values;
}
template <class T>
std::vector<T> stored_as(const std::vector<float>& values) {
  std::vector<T> stored(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) stored[i] = fftconv::detail::store_as<T>(values[i]);
  return stored;
}

template <class Exec, class Op>
timing_stats measure(Exec exec, const options& o, double first_call_ms, Op&& op) {
  typename platform<Exec>::timer timer(exec);
  const bool slow = first_call_ms > 1000.0 * o.slow_call_seconds;
  double last_ms = first_call_ms;
  for (int r = 0; r < (slow ? 0 : o.warmup); ++r) {
    timer.start();
    op();
    last_ms = timer.stop_ms();
  }
  int reps = int(std::ceil(o.target_seconds * 1e3 / std::max(last_ms, 1e-4)));
  reps = slow ? o.slow_reps : std::clamp(reps, o.min_reps, o.max_reps);
  std::vector<double> samples;
  samples.reserve(reps);
  for (int r = 0; r < reps; ++r) {
    timer.start();
    op();
    samples.push_back(timer.stop_ms());
  }
  return summarize(std::move(samples));
}

inline void put_timing(json& r, const timing_stats& s, double first_ms) {
  r["reps"] = s.reps;
  r["median_ms"] = s.median_ms;
  r["p10_ms"] = s.p10_ms;
  r["p90_ms"] = s.p90_ms;
  r["min_ms"] = s.min_ms;
  r["max_ms"] = s.max_ms;
  r["mean_ms"] = s.mean_ms;
  r["first_call_ms"] = first_ms;
}

// One contestant's record: body(r) runs and times it and fills r; an exception is recorded as its error.
template <class Body>
json contestant_record(const char* name, run_state& st, Body&& body) {
  json r = json::make_object();
  r["impl"] = name;
  try {
    body(r);
  } catch (const baseline_unsupported& e) {
    r["status"] = "skipped";
    r["reason"] = e.what();
  } catch (const std::exception& e) {
    r["status"] = "error";
    r["reason"] = e.what();
    ++st.errors;
  }
  return r;
}

// A contestant that ran: its timings, its throughput from the compulsory `bytes` (and `macs`, where known) and
// what its layer reports.
template <class Layer>
void put_ok(json& r, const timing_stats& s, double first_ms, double bytes, std::optional<double> macs, Layer& layer,
            const run_state& st) {
  r["status"] = "ok";
  put_timing(r, s, first_ms);
  r["workspace_bytes"] = layer.workspace_bytes();
  r["gbs"] = bytes / (s.median_ms * 1e6);
  r["copy_fraction"] = bytes / (s.median_ms * 1e6) / st.copy_gbs;
  if (macs) r["gmacs"] = *macs / (s.median_ms * 1e6);
  r["details"] = layer.details();
}

// Outputs of one contestant, as downloaded after its first call.
struct outputs {
  std::vector<std::vector<double>> tensors;  // in the order of the case's output names
};

template <class T>
std::vector<double> widen(const std::vector<T>& v) {
  std::vector<double> wide(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) wide[i] = fftconv::detail::load_as<double>(v[i]);
  return wide;
}

// Relative L2 error of each output against the reference, the largest, and pass/fail.
inline void put_check(json& r, const std::vector<std::string>& names, const outputs& got,
                      const std::optional<outputs>& reference, const std::string& reference_name, const tolerance& tol,
                      run_state& st) {
  if (!reference) {
    r["check"] = "no reference";
    return;
  }
  json errors = json::make_object();
  double worst_forward = 0, worst_filter = 0;
  bool finite = true;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const double e = relative_l2(got.tensors[i], reference->tensors[i]);
    errors[names[i]] = e;
    if (!std::isfinite(e)) finite = false;
    const bool filter = names[i] == "dw" || names[i] == "db";
    (filter ? worst_filter : worst_forward) = std::max(filter ? worst_filter : worst_forward, e);
  }
  r["rel_l2_error"] = errors;
  r["reference"] = reference_name;
  r["tolerance"] = json::object{{"y_dx", tol.forward}, {"dw_db", tol.filter}};
  const bool ok = finite && worst_forward <= tol.forward && worst_filter <= tol.filter;
  r["check"] = ok ? "pass" : "fail";
  if (!ok) ++st.check_failures;
}

inline std::uint64_t case_seed(std::uint64_t seed, std::size_t index) { return seed * 0x9E3779B97F4A7C15ull + index; }

inline std::vector<float> random_vector(std::mt19937_64& rng, std::int64_t count) {
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(count));
  for (float& x : v) x = unit(rng);
  return v;
}

inline std::string format_seconds(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f s", s);
  return text;
}

inline bool is_ok(const json& result) {
  const json* status = result.find("status");
  return status != nullptr && status->as_string() != nullptr && *status->as_string() == "ok";
}

// The fields that name a case and its pass: first in every record, also in that of a case which failed outside
// any contestant.
inline json case_record(const bench_case& c, timed_work work) {
  json record = json::make_object();
  record["group"] = c.group;
  record["sweep"] = c.sweep;
  record["x"] = c.x;
  record["label"] = c.label;
  record["pass"] = work_name(work);
  return record;
}

// What a case's contestants produced: their records, and the oracle they are checked against (cuDNN's outputs
// where it ran, else a float64 naive run where that fits the cap, else none, with the reason).
struct case_results {
  json records = json::make_array();
  std::optional<outputs> reference;
  std::string reference_name;
  std::string reference_missing = "no reference ran";

  // The baseline runs first: a contestant whose first-call outputs are the reference.
  template <class Evaluate, class MakeLayer>
  void run_baseline(const char* name, Evaluate& evaluate, MakeLayer&& make_layer) {
    outputs o;
    json r = evaluate(name, make_layer, &o);
    if (is_ok(r)) {
      reference = std::move(o);
      reference_name = name;
      r["check"] = "reference";
    } else {
      const json* reason = r.find("reason");
      reference_missing = std::string(name) + " did not run" +
                          (reason != nullptr && reason->as_string() != nullptr ? ": " + *reason->as_string() : "");
    }
    records.push_back(std::move(r));
  }

  // Without a reference yet, run_naive() (a float64 naive run on the same executor, returning its outputs) is
  // the oracle, where the calibrated rate predicts it within 4x the cap.
  template <class RunNaive>
  void fall_back_to_naive(double macs, const run_state& st, RunNaive&& run_naive) {
    if (reference) return;
    const double predicted = macs / st.naive_macs_per_second;
    if (predicted <= 4 * st.opt.naive_cap_seconds) {
      reference = run_naive();
      reference_name = "naive_f64";
    } else {
      reference_missing = "float64 reference skipped: predicted " + format_seconds(predicted);
    }
  }
};

#if defined(__CUDACC__) && FFTCONV_BENCH_HAS_CUDNN
// The workspace cudnnFind*Ex may try algorithms with: half the free memory, at most 8 GiB.
inline std::size_t cudnn_search_limit() {
  std::size_t free_bytes = 0, total_bytes = 0;
  FFTCONV_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return std::min<std::size_t>(free_bytes / 2, std::size_t{8} << 30);
}
#endif

// The common tail of a case: records the reference, runs every policy through evaluate(name, make, &outputs)
// (naive skipped where the calibrated rate predicts more than the cap per call), checks each that ran and stores
// the records. make_layer.template operator()<P>() builds policy P's layer (in the case's dtype).
template <class Evaluate, class MakeLayer>
json finish_case(json record, case_results results, bool network, double macs, const std::vector<std::string>& names,
                 run_state& st, Evaluate& evaluate, MakeLayer make_layer, dtype storage = dtype::fp32) {
  record["reference"] = results.reference ? json(results.reference_name) : json(nullptr);
  if (!results.reference) record["reference_missing"] = results.reference_missing;
  const tolerance tol = tolerance_for(results.reference_name, network, storage);

  for_each_policy(policies{}, [&]<class P>() {
    if (!policy_selected(st.opt, policy_name<P>())) return;
    const double predicted = macs / st.naive_macs_per_second;
    if (std::is_same_v<P, fftconv::naive> && predicted > st.opt.naive_cap_seconds) {
      json r = json::make_object();
      r["impl"] = policy_name<P>();
      r["status"] = "skipped";
      r["reason"] = "predicted " + format_seconds(predicted) + " per call from the calibrated naive rate (cap " +
                    format_seconds(st.opt.naive_cap_seconds) + ")";
      results.records.push_back(std::move(r));
      return;
    }
    outputs o;
    json r = evaluate(policy_name<P>(), [&] { return make_layer.template operator()<P>(); }, &o);
    if (is_ok(r)) put_check(r, names, o, results.reference, results.reference_name, tol, st);
    results.records.push_back(std::move(r));
  });
  record["results"] = std::move(results.records);
  return record;
}

// After every contestant ran: time relative to the baseline (> 1: slower) and the speed-up over it, on every
// result that ran, the baseline's own (1) included.
inline void put_ratios(json& record, const std::string& baseline) {
  json* results = const_cast<json*>(record.find("results"));
  if (baseline.empty() || results == nullptr || results->as_array() == nullptr) return;
  std::optional<double> baseline_ms;
  for (const json& r : *results->as_array())
    if (is_ok(r) && *r.find("impl")->as_string() == baseline) baseline_ms = r.find("median_ms")->as_number();
  if (!baseline_ms) return;
  for (json& r : *results->as_array())
    if (is_ok(r)) {
      const double ms = *r.find("median_ms")->as_number();
      r["ratio_to_baseline"] = ms / *baseline_ms;
      r["speedup_vs_baseline"] = *baseline_ms / ms;
    }
}

// ---------------------------------------------------------------------------------------------------------
// A single convolution layer: fwd = forward (+ bias); step = forward, backward_data, backward_filter (+ db).
// T: the storage of every tensor (float or bf16); the data are drawn in float and rounded to T.

template <class Exec, int N, class T = float>
json run_layer_case(Exec exec, const bench_case& c, timed_work work, std::uint64_t seed, run_state& st) {
  using plat = platform<Exec>;
  using backend = fftconv::detail::backend<Exec>;
  const bool step = work == timed_work::step;

  fftconv::geometry<N> g{};
  g.in_channels = c.in_channels;
  g.out_channels = c.out_channels;
  g.groups = c.groups;
  g.kernel.fill(c.kernel);
  g.stride.fill(c.stride);
  std::array<std::int64_t, N> padding_low{}, padding_high{};
  padding_low.fill(c.padding_low);
  padding_high.fill(c.padding_high);
  set_padding(g, padding_low, padding_high);
  std::array<std::int64_t, N + 2> xe{}, we{};
  xe[0] = c.batch;
  xe[1] = c.in_channels;
  we[0] = c.out_channels;
  we[1] = c.in_channels / g.groups;
  for (int d = 0; d < N; ++d) {
    xe[d + 2] = c.input;
    we[d + 2] = c.kernel;
  }
  const auto ye = fftconv::conv<N, float, fftconv::naive>(g).output_extents(xe);
  auto volume = [](const auto& e) {
    std::int64_t v = 1;
    for (auto x : e) v *= x;
    return v;
  };
  const std::int64_t nx = volume(xe), nw = volume(we), nb = c.out_channels, ny = volume(ye);
  const double forward_macs = double(ny) * double(c.in_channels / g.groups) * double(volume(g.kernel));
  const double macs = forward_macs * (step ? 3.0 : 1.0);
  // Compulsory traffic: each pass reads its operands and writes its result once.
  const double bytes =
      sizeof(T) * (double(nx + nw + nb + ny) + (step ? double(ny + nw + nx) + double(nx + ny + nw + nb) : 0.0));

  json record = case_record(c, work);
  record["kind"] = "layer";
  record["dims"] = N;
  record["batch"] = c.batch;
  record["in_channels"] = c.in_channels;
  record["out_channels"] = c.out_channels;
  record["groups"] = c.groups;
  record["input"] = std::vector<std::int64_t>(xe.begin() + 2, xe.end());
  record["kernel"] = std::vector<std::int64_t>(g.kernel.begin(), g.kernel.end());
  record["stride"] = std::vector<std::int64_t>(g.stride.begin(), g.stride.end());
  record["padding"] = std::vector<std::int64_t>(padding_low.begin(), padding_low.end());
  record["padding_high"] = std::vector<std::int64_t>(padding_high.begin(), padding_high.end());
  record["output"] = std::vector<std::int64_t>(ye.begin() + 2, ye.end());
  record["macs"] = macs;
  record["bytes"] = bytes;
  record["dtype"] = dtype_name(dtype_of<T>());

  // The same draws in every dtype (the seed is the case's), rounded to T.
  std::mt19937_64 rng(seed);
  const std::vector<float> hx = representable_in<T>(random_vector(rng, nx)),
                           hw = representable_in<T>(random_vector(rng, nw)),
                           hb = representable_in<T>(random_vector(rng, nb)),
                           hdy = representable_in<T>(random_vector(rng, ny));
  auto x = plat::upload(exec, stored_as<T>(hx));
  auto w = plat::upload(exec, stored_as<T>(hw));
  auto b = plat::upload(exec, stored_as<T>(hb));
  auto dy = plat::upload(exec, stored_as<T>(hdy));
  auto y = backend::template allocate<T>(exec, ny);
  auto dx = backend::template allocate<T>(exec, step ? nx : 0);
  auto dw = backend::template allocate<T>(exec, step ? nw : 0);
  auto db = backend::template allocate<T>(exec, step ? nb : 0);

  const std::vector<std::string> names =
      step ? std::vector<std::string>{"y", "dx", "dw", "db"} : std::vector<std::string>{"y"};
  auto poison = [&] {
    const T nan = fftconv::detail::store_as<T>(std::numeric_limits<float>::quiet_NaN());
    backend::fill(exec, y.data(), ny, nan);
    if (step) {
      backend::fill(exec, dx.data(), nx, nan);
      backend::fill(exec, dw.data(), nw, nan);
      backend::fill(exec, db.data(), nb, nan);
    }
  };
  auto run_pass = [&](auto& layer) {
    layer.forward(exec, x.data(), w.data(), b.data(), y.data());
    if (step) layer.backward(exec, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
  };
  auto download = [&] {
    outputs o;
    o.tensors.push_back(widen(plat::download(exec, y.data(), ny)));
    if (step) {
      o.tensors.push_back(widen(plat::download(exec, dx.data(), nx)));
      o.tensors.push_back(widen(plat::download(exec, dw.data(), nw)));
      o.tensors.push_back(widen(plat::download(exec, db.data(), nb)));
    }
    return o;
  };
  // Runs one contestant: a first (checked) call on poisoned outputs, then the timed repeats.
  auto evaluate = [&](const char* name, auto&& make_layer, outputs* first_outputs) -> json {
    return contestant_record(name, st, [&](json& r) {
      auto layer = make_layer();
      poison();
      typename plat::timer timer(exec);
      timer.start();
      run_pass(*layer);
      const double first_ms = timer.stop_ms();
      *first_outputs = download();
      const timing_stats s = measure(exec, st.opt, first_ms, [&] { run_pass(*layer); });
      put_ok(r, s, first_ms, bytes, macs, *layer, st);
    });
  };

  case_results results;

#if defined(__CUDACC__) && FFTCONV_BENCH_HAS_CUDNN
  if constexpr (std::is_same_v<Exec, fftconv::device>) {
    if (st.baseline == "cudnn")
      results.run_baseline("cudnn", evaluate, [&] {
        auto layer = std::make_unique<cudnn_layer<T>>(st.cudnn, make_baseline_shape(g, xe, ye));
        layer->prepare_input(exec, x.data());
        layer->find(exec, step, step, x.data(), w.data(), y.data(), dy.data(), step ? dx.data() : nullptr,
                    step ? dw.data() : nullptr, cudnn_search_limit());
        return layer;
      });
  }
#endif
#if FFTCONV_BENCH_HAS_ONEDNN
  if constexpr (std::is_same_v<Exec, fftconv::host>) {
    if (st.baseline == "onednn")
      results.run_baseline("onednn", evaluate, [&] {
        return std::make_unique<onednn_layer<T>>(make_baseline_shape(g, xe, ye), onednn_passes{step, step, step});
      });
  }
#endif
  // No baseline here: a float64 naive convolution on the same executor is the oracle, where it fits the cap.
  results.fall_back_to_naive(macs, st, [&] {
    using reference_layer = policy_layer<N, double, fftconv::naive>;
    reference_layer layer(g, xe, we);
    auto x64 = plat::upload(exec, convert<double>(hx));
    auto w64 = plat::upload(exec, convert<double>(hw));
    auto b64 = plat::upload(exec, convert<double>(hb));
    auto dy64 = plat::upload(exec, convert<double>(hdy));
    auto y64 = backend::template allocate<double>(exec, ny);
    auto dx64 = backend::template allocate<double>(exec, step ? nx : 0);
    auto dw64 = backend::template allocate<double>(exec, step ? nw : 0);
    auto db64 = backend::template allocate<double>(exec, step ? nb : 0);
    layer.forward(exec, x64.data(), w64.data(), b64.data(), y64.data());
    outputs o;
    o.tensors.push_back(plat::download(exec, y64.data(), ny));
    if (step) {
      layer.backward(exec, x64.data(), w64.data(), dy64.data(), dx64.data(), dw64.data(), db64.data());
      o.tensors.push_back(plat::download(exec, dx64.data(), nx));
      o.tensors.push_back(plat::download(exec, dw64.data(), nw));
      o.tensors.push_back(plat::download(exec, db64.data(), nb));
    }
    return o;
  });
  return finish_case(
      std::move(record), std::move(results), false, macs, names, st, evaluate,
      [&]<class P>() {
        if constexpr (policy_runs_on<Exec, T, P>)
          return std::make_unique<policy_layer<N, T, P>>(g, xe, we,
                                                         step ? fftconv::passes::training() : fftconv::passes::inference());
        else
          return std::make_unique<unavailable_layer<T>>(policy_unavailable_reason<Exec, T, P>());
      },
      dtype_of<T>());
}

// ---------------------------------------------------------------------------------------------------------
// The small network: fwd = the network's forward; step = one SGD training step. Checked: the logits, and
// (step) the convolution's dW and db; everything but the convolution is the same code for all contestants.

template <class Exec>
json run_network_case(Exec exec, const bench_case& c, timed_work work, std::uint64_t seed, run_state& st) {
  using plat = platform<Exec>;
  using backend [[maybe_unused]] = fftconv::detail::backend<Exec>;  // cuDNN scratch (device)
  const bool step = work == timed_work::step;
  network_shape s;
  s.batch = c.batch;
  s.n = c.input;
  s.k = c.kernel;
  const network_data data = make_network_data(s, seed);
  fftconv::geometry<2> g{};
  g.in_channels = s.channels;
  g.out_channels = s.maps;
  g.kernel = {s.k, s.k};
  const std::array<std::int64_t, 4> xe{s.batch, s.channels, s.n, s.n}, we{s.maps, s.channels, s.k, s.k};
  [[maybe_unused]] const std::array<std::int64_t, 4> ye{s.batch, s.maps, s.m(), s.m()};  // the baselines' shape
  const double conv_macs = double(s.conv_macs()) * (step ? 2.0 : 1.0);  // forward (+ backward_filter)
  const double bytes = network<Exec, float, policy_layer<2, float, fftconv::naive>>::bytes(s, step);

  json record = case_record(c, work);
  record["kind"] = "network";
  record["dims"] = 2;
  record["batch"] = s.batch;
  record["in_channels"] = s.channels;
  record["out_channels"] = s.maps;
  record["input"] = std::vector<std::int64_t>{s.n, s.n};
  record["kernel"] = std::vector<std::int64_t>{s.k, s.k};
  record["groups"] = 1;
  record["stride"] = std::vector<std::int64_t>{1, 1};
  record["padding"] = std::vector<std::int64_t>{0, 0};
  record["padding_high"] = std::vector<std::int64_t>{0, 0};
  record["output"] = std::vector<std::int64_t>{s.m(), s.m()};
  record["network"] = json::object{{"pool", "max 2x2 stride 2"},
                                   {"linear", std::vector<std::int64_t>{s.features(), s.hidden1, s.hidden2, s.classes}},
                                   {"loss", "softmax cross-entropy"},
                                   {"optimizer", "SGD lr 1e-3 momentum 0.9"},
                                   {"conv_passes", step ? "forward, backward_filter" : "forward"}};
  record["macs"] = conv_macs;
  record["bytes"] = bytes;
  record["dtype"] = "fp32";

  const std::vector<std::string> names =
      step ? std::vector<std::string>{"logits", "dw", "db"} : std::vector<std::string>{"logits"};
  auto evaluate = [&](const char* name, auto&& make_layer, outputs* first_outputs) -> json {
    return contestant_record(name, st, [&](json& r) {
      auto layer = make_layer();
      using layer_type = std::remove_reference_t<decltype(*layer)>;
      network<Exec, float, layer_type> net(exec, *layer, s, data);
      net.poison();
      typename plat::timer timer(exec);
      auto run = [&] { step ? net.step() : net.forward(); };
      timer.start();
      run();
      const double first_ms = timer.stop_ms();
      first_outputs->tensors.push_back(widen(net.logits()));
      if (step) {
        first_outputs->tensors.push_back(widen(net.conv_weight_gradient()));
        first_outputs->tensors.push_back(widen(net.conv_bias_gradient()));
      }
      const timing_stats t = measure(exec, st.opt, first_ms, run);
      put_ok(r, t, first_ms, bytes, std::nullopt, *layer, st);  // network records carry no gmacs
    });
  };

  case_results results;

#if defined(__CUDACC__) && FFTCONV_BENCH_HAS_CUDNN
  if constexpr (std::is_same_v<Exec, fftconv::device>) {
    if (st.baseline == "cudnn")
      results.run_baseline("cudnn", evaluate, [&] {
        auto layer = std::make_unique<cudnn_layer<float>>(st.cudnn, make_baseline_shape(g, xe, ye));
        auto x = plat::upload(exec, data.x);
        auto w =
            plat::upload(exec, std::vector<float>(data.parameters.begin(), data.parameters.begin() + s.sizes()[0]));
        auto y = backend::template allocate<float>(exec, s.batch * s.maps * s.m() * s.m());
        auto dy = backend::template allocate<float>(exec, y.size());
        backend::fill(exec, dy.data(), std::int64_t(dy.size()), 0.5f);
        layer->find(exec, false, step, x.data(), w.data(), y.data(), dy.data(), nullptr, nullptr,
                    cudnn_search_limit());
        return layer;
      });
  }
#endif
#if FFTCONV_BENCH_HAS_ONEDNN
  if constexpr (std::is_same_v<Exec, fftconv::host>) {
    if (st.baseline == "onednn")
      results.run_baseline("onednn", evaluate, [&] {
        return std::make_unique<onednn_layer<float>>(make_baseline_shape(g, xe, ye), onednn_passes{step, false, step});
      });
  }
#endif
  results.fall_back_to_naive(conv_macs, st, [&] {
    policy_layer<2, double, fftconv::naive> layer(g, xe, we);
    network<Exec, double, policy_layer<2, double, fftconv::naive>> net(exec, layer, s, data);
    step ? net.step() : net.forward();
    outputs o;
    o.tensors.push_back(net.logits());
    if (step) {
      o.tensors.push_back(net.conv_weight_gradient());
      o.tensors.push_back(net.conv_bias_gradient());
    }
    return o;
  });
  return finish_case(std::move(record), std::move(results), true, conv_macs, names, st, evaluate,
                     [&]<class P>() {
                       // A first layer: its input needs no gradient, so a step has no backward_data.
                       if constexpr (policy_runs_on<Exec, float, P>)
                         return std::make_unique<policy_layer<2, float, P>>(
                             g, xe, we, step ? fftconv::passes{true, false, true} : fftconv::passes::inference());
                       else
                         return std::make_unique<unavailable_layer<float>>(policy_unavailable_reason<Exec, float, P>());
                     });
}

// Naive's throughput on a mid-size layer, in multiply-adds per second: predicts its time on every case.
template <class Exec>
double calibrate_naive(Exec exec, bool on_device) {
  using plat = platform<Exec>;
  using backend = fftconv::detail::backend<Exec>;
  fftconv::geometry<2> g{};
  g.in_channels = on_device ? 16 : 8;
  g.out_channels = g.in_channels;
  g.kernel = {7, 7};
  const std::int64_t n = on_device ? 64 : 32, batch = on_device ? 4 : 1;
  const std::array<std::int64_t, 4> xe{batch, g.in_channels, n, n}, we{g.out_channels, g.in_channels, 7, 7};
  policy_layer<2, float, fftconv::naive> layer(g, xe, we);
  std::mt19937_64 rng(7);
  auto x = plat::upload(exec, random_vector(rng, batch * g.in_channels * n * n));
  auto w = plat::upload(exec, random_vector(rng, g.out_channels * g.in_channels * 49));
  const std::int64_t m = n - 6, ny = batch * g.out_channels * m * m;
  auto y = backend::template allocate<float>(exec, ny);
  options o;
  o.warmup = 1;
  o.min_reps = 3;
  o.max_reps = 3;
  layer.forward(exec, x.data(), w.data(), nullptr, y.data());
  const timing_stats s = measure(exec, o, 0.0, [&] { layer.forward(exec, x.data(), w.data(), nullptr, y.data()); });
  return double(ny) * double(g.in_channels) * 49.0 / (s.median_ms * 1e-3);
}

}  // namespace bench
