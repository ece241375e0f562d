// fftconv_bench: times the policies (naive, im2col, fft, vendor, automatic) and the baseline (cuDNN on the GPU,
// oneDNN on the host; the vendor policy runs the same library through fftconv::conv) side by side on the cases
// of bench/README.md, checks every output against the baseline's, and writes <out>/<gpu>_<date>.json and .csv
// (bench/plot.py draws them).
//
//   fftconv_bench [--quick] [--host] [--out DIR] [--only GROUP,...] [--match REGEX] [--policies LIST]
//                 [--dtype fp32,bf16] [--passes fwd,step] [--no-baseline] [--naive-cap S] [--target S]
//                 [--device ID] [--seed N]
//
// This file is compiled by nvcc (as main.cu, which includes it) when CUDA is available: GPU mode, plus the host
// mode. Compiled by a plain C++ compiler it holds only the host mode. Host timings are CPU wall time, and the
// JSON says so: they are never GPU numbers.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif
#if FFTCONV_HAS_FFTW
#include <fftw3.h>
#endif
#if FFTCONV_HAS_CBLAS
#include <cblas.h>
#endif
#if defined(__CUDACC__)
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cufft.h>
#endif

#include "runner.hpp"

namespace bench {
namespace {

std::string built_policy_list() {
  std::string names;
  const json built = policy_names();
  for (const json& name : *built.as_array()) names += (names.empty() ? "" : ",") + *name.as_string();
  return names;
}

void print_usage() {
  std::cout << "usage: fftconv_bench [--quick] [--host] [--out DIR] [--only GROUP,...] [--match REGEX]\n"
               "                     [--policies LIST] [--dtype LIST] [--passes LIST] [--no-baseline]\n"
               "                     [--naive-cap SECONDS] [--target SECONDS] [--device ID] [--seed N]\n"
               "  --quick         small sizes of every case group (seconds; what CI runs with --host)\n"
               "  --host          run on the CPU (fftconv::host, oneDNN as the baseline); CPU wall time\n"
               "  --out DIR       where <name>.json and <name>.csv go (default bench-results)\n"
               "  --only LIST     only case groups whose name contains one of these, e.g. headline,network_batch\n"
               "  --match REGEX   and only cases whose label matches (ECMAScript search), e.g. 'k=3$'\n"
               "  --policies LIST only these of the built policies, e.g. fft or im2col,fft (built: "
            << built_policy_list()
            << ")\n"
               "  --dtype LIST    storage of every tensor: fp32 (default), bf16 (float compute; the baselines in bf16\n"
               "                  too), or fp32,bf16: each case in both, one after the other (layers only: the\n"
               "                  network cases are fp32). No fp16 row: oneDNN 2.6 has no f16 convolution on the CPU\n"
               "  --passes LIST   fwd, step or fwd,step (default)\n"
               "  --no-baseline   without cuDNN / oneDNN (a float64 naive run is the reference where it fits)\n"
               "  --naive-cap S   skip naive where its predicted time per call exceeds S seconds (default 1)\n"
               "  --target S      timed budget per contestant and pass, sets the repeats (default 0.15)\n"
               "groups: functional_input functional_kernel functional_dims network_input network_kernel\n"
               "        network_batch headline scale depthwise stem causal\n";
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, separator);)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

// Returns false (after printing why) on a bad command line.
bool parse(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--quick")
      o.quick = true;
    else if (a == "--host")
      o.host = true;
    else if (a == "--out")
      o.out = value();
    else if (a == "--only")
      o.only = split(value(), ',');
    else if (a == "--match") {
      const std::string pattern = value();
      try {
        o.match.emplace(pattern, std::regex::ECMAScript);
        o.match_text = pattern;
      } catch (const std::regex_error& e) {
        throw std::invalid_argument("--match " + pattern + ": not a regular expression (" + e.what() + ")");
      }
    } else if (a == "--policies") {
      o.policies = split(value(), ',');
      const std::string built = "," + built_policy_list() + ",";
      for (const std::string& p : o.policies)
        if (built.find("," + p + ",") == std::string::npos)
          throw std::invalid_argument("--policies: " + p + " is not a built policy (built: " + built_policy_list() +
                                      "; FFTCONV_BENCH_EXCLUDE leaves policies out at configure time)");
    } else if (a == "--dtype") {
      o.dtypes.clear();
      for (const std::string& d : split(value(), ','))
        if (d == "fp32" || d == "float")
          o.dtypes.push_back(dtype::fp32);
        else if (d == "bf16")
          o.dtypes.push_back(dtype::bf16);
        else
          throw std::invalid_argument("--dtype: " + d + " is not fp32 or bf16 (fp16: oneDNN 2.6, the host baseline, "
                                      "has no f16 convolution on the CPU)");
      if (o.dtypes.empty()) throw std::invalid_argument("--dtype needs fp32, bf16 or both");
    } else if (a == "--passes") {
      o.passes.clear();
      for (const std::string& w : split(value(), ','))
        if (w == "fwd")
          o.passes.push_back(timed_work::forward);
        else if (w == "step")
          o.passes.push_back(timed_work::step);
        else
          throw std::invalid_argument("--passes: " + w + " is not fwd or step");
      if (o.passes.empty()) throw std::invalid_argument("--passes needs fwd, step or both");
    } else if (a == "--no-baseline")
      o.baseline = false;
    else if (a == "--naive-cap")
      o.naive_cap_seconds = std::stod(value());
    else if (a == "--target")
      o.target_seconds = std::stod(value());
    else if (a == "--device")
      o.device = std::stoi(value());
    else if (a == "--seed")
      o.seed = std::stoull(value());
    else if (a == "--help" || a == "-h") {
      print_usage();
      std::exit(0);
    } else {
      throw std::invalid_argument("unknown argument " + a);
    }
  }
  if (o.quick) {
    o.target_seconds = std::min(o.target_seconds, 0.02);
    o.warmup = 1;
    o.min_reps = 3;
    o.max_reps = 20;
  }
  return true;
}

std::string utc_now(const char* format) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[64];
  std::strftime(text, sizeof text, format, &tm);
  return text;
}

std::string first_line_matching(const char* path, const std::string& key) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key, 0) == 0) return line;
  return {};
}

std::string cpu_model() {
  std::string line = first_line_matching("/proc/cpuinfo", "model name");
  const auto colon = line.find(':');
  return colon == std::string::npos ? "unknown CPU" : line.substr(line.find_first_not_of(' ', colon + 1));
}

[[maybe_unused]] std::string slug(const std::string& text) {  // file names (GPU mode)
  std::string s;
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)))
      s += char(std::tolower(static_cast<unsigned char>(c)));
    else if (!s.empty() && s.back() != '-')
      s += '-';
  }
  while (!s.empty() && s.back() == '-') s.pop_back();
  return s.empty() ? "unknown" : s;
}

// /proc/loadavg's 1, 5 and 15 minute averages: on a shared machine, how many others wanted the cores.
std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return in ? one + " " + five + " " + fifteen : std::string("unknown");
}

json host_environment() {
  json e = json::make_object();
  e["cpu"] = cpu_model();
  e["cpus_online"] = int(std::thread::hardware_concurrency());
  e["load_average_at_start"] = load_average();
#if defined(_OPENMP)
  e["threads"] = omp_get_max_threads();
#else
  e["threads"] = int(std::thread::hardware_concurrency());
#endif
  // Thread settings: the process's OpenMP pool (which oneDNN's OpenMP runtime shares), OpenBLAS's, and the
  // environment that shapes them.
  for (const char* variable : {"OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OMP_PROC_BIND", "OMP_PLACES", "OMP_DYNAMIC",
                               "GOMP_SPINCOUNT", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "ONEDNN_MAX_CPU_ISA",
                               "DNNL_MAX_CPU_ISA"})
    if (const char* value = std::getenv(variable)) e[variable] = value;
#if defined(__clang__)
  e["host_compiler"] = std::string("clang ") + __clang_version__;
#else
  e["host_compiler"] = std::string("g++ ") + __VERSION__;
#endif
#if defined(__CUDACC__)
  e["nvcc"] = std::to_string(__CUDACC_VER_MAJOR__) + "." + std::to_string(__CUDACC_VER_MINOR__) + "." +
              std::to_string(__CUDACC_VER_BUILD__);
#endif
#if FFTCONV_HAS_FFTW
  e["fftw"] = fftw_version;
#endif
#if FFTCONV_HAS_CBLAS && defined(OPENBLAS_VERSION)
  e["openblas"] = openblas_get_config();
  e["openblas_core"] = openblas_get_corename();  // the kernels in use (generic ones on an unrecognised CPU)
  e["openblas_threads"] = openblas_get_num_threads();
  e["openblas_parallel"] = openblas_get_parallel() == 0 ? "sequential" : openblas_get_parallel() == 1 ? "pthreads"
                                                                                                      : "OpenMP";
#endif
#if FFTCONV_BENCH_HAS_ONEDNN
  e["onednn"] = onednn_version();
  e["onednn_cpu_isa"] = onednn_cpu_isa();
  e["onednn_f16_note"] = "oneDNN 2.6 has no f16 convolution on the CPU: host runs have fp32 and bf16 rows only";
#endif
  e["fftconv"] = std::to_string(FFTCONV_VERSION_MAJOR) + "." + std::to_string(FFTCONV_VERSION_MINOR) + "." +
                 std::to_string(FFTCONV_VERSION_PATCH);
  // the instruction set of the host's spectral products (fft), chosen for this CPU at run time
  const fftconv::detail::simd_level simd = fftconv::detail::host_simd_level();
  e["fftconv_host_simd"] = simd == fftconv::detail::simd_level::avx512 ? "avx512"
                           : simd == fftconv::detail::simd_level::avx2 ? "avx2+fma"
                                                                       : "16-byte vectors";
  return e;
}

#if defined(__CUDACC__)
std::string cuda_version_string(int v) { return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10); }

json device_environment(int device) {
  json e = host_environment();
  cudaDeviceProp p{};
  FFTCONV_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
  e["gpu"] = p.name;
  e["compute_capability"] = std::to_string(p.major) + "." + std::to_string(p.minor);
  e["sm_count"] = p.multiProcessorCount;
  e["memory_bytes"] = std::size_t(p.totalGlobalMem);
  // The kernel module's version line, e.g. "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.65.06 ...".
  std::string driver = first_line_matching("/proc/driver/nvidia/version", "NVRM version");
  const auto module = driver.find("Kernel Module");
  if (module != std::string::npos) {
    std::istringstream words(driver.substr(module + 13));
    words >> driver;
  }
  e["driver"] = driver.empty() ? json(nullptr) : json(driver);
  int v = 0;
  FFTCONV_CUDA_CHECK(cudaDriverGetVersion(&v));
  e["cuda_driver_api"] = cuda_version_string(v);
  FFTCONV_CUDA_CHECK(cudaRuntimeGetVersion(&v));
  e["cuda_runtime"] = cuda_version_string(v);
  FFTCONV_CUFFT_CHECK(cufftGetVersion(&v));
  e["cufft"] = v;
  int major = 0, minor = 0, patch = 0;
  FFTCONV_CUBLAS_CHECK(cublasGetProperty(MAJOR_VERSION, &major));
  FFTCONV_CUBLAS_CHECK(cublasGetProperty(MINOR_VERSION, &minor));
  FFTCONV_CUBLAS_CHECK(cublasGetProperty(PATCH_LEVEL, &patch));
  e["cublas"] = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
#if FFTCONV_BENCH_HAS_CUDNN
  e["cudnn"] = cudnn_version_string();
#else
  e["cudnn"] = nullptr;
  e["cudnn_note"] = "bench built without cuDNN (cudnn.h / libcudnn not found at configure time)";
#endif
  return e;
}
#endif

// One line per case and pass on stdout while the run goes.
void print_case(std::size_t index, std::size_t total, const json& record) {
  std::ostringstream line;
  line << '[' << index << '/' << total << "] " << *record.find("group")->as_string() << ' '
       << *record.find("pass")->as_string() << ' ' << *record.find("label")->as_string();
  if (const json* storage = record.find("dtype"); storage != nullptr && *storage->as_string() != "fp32")
    line << ' ' << *storage->as_string();
  for (const json& r : *record.find("results")->as_array()) {
    line << " | " << *r.find("impl")->as_string() << ' ';
    if (is_ok(r)) {
      char text[64];
      std::snprintf(text, sizeof text, "%.4g ms", *r.find("median_ms")->as_number());
      line << text;
      if (const json* check = r.find("check")) line << ' ' << *check->as_string();
    } else {
      line << *r.find("status")->as_string();
    }
  }
  std::cout << line.str() << std::endl;
}

std::string csv_field(const json* v) {
  if (v == nullptr || v->is_null()) return "";
  if (const std::string* s = v->as_string()) {
    std::string quoted = "\"";
    for (char c : *s) quoted += (c == '"' ? std::string("\"\"") : std::string(1, c));
    return quoted + "\"";
  }
  if (const auto* a = v->as_array()) {
    std::string joined;
    for (const json& item : *a) {
      std::ostringstream one;
      item.write(one);
      if (!joined.empty()) joined += 'x';
      joined += one.str();
    }
    return joined;
  }
  std::ostringstream out;
  v->write(out);
  return out.str();
}

void write_csv(const std::string& path, const json& cases) {
  std::ofstream out(path);
  const std::vector<std::string> case_fields{"group",  "sweep",        "x",      "label",   "pass",   "dtype", "kind",
                                             "dims",   "batch",        "in_channels", "out_channels", "groups",
                                             "input",  "kernel",       "stride", "padding", "padding_high",
                                             "reference"};
  const std::vector<std::string> result_fields{
      "impl",      "status",          "median_ms",           "p10_ms", "p90_ms",        "min_ms", "max_ms",
      "reps",      "ratio_to_baseline", "speedup_vs_baseline", "workspace_bytes", "gbs", "copy_fraction", "check",
      "reason"};
  for (const auto& f : case_fields) out << f << ',';
  for (const auto& f : result_fields) out << f << ',';
  out << "max_rel_l2_error\n";
  for (const json& record : *cases.as_array())
    for (const json& r : *record.find("results")->as_array()) {
      for (const auto& f : case_fields) out << csv_field(record.find(f)) << ',';
      for (const auto& f : result_fields) out << csv_field(r.find(f)) << ',';
      double worst = -1;
      if (const json* errors = r.find("rel_l2_error"))
        for (const char* name : {"y", "dx", "dw", "db", "logits"})
          if (const json* e = errors->find(name)) worst = std::max(worst, e->as_number().value_or(1e300));
      if (worst >= 0) out << worst;
      out << '\n';
    }
}

template <class Exec>
int run(Exec exec, bool on_device, run_state& st, json document, const std::string& name, const char* clock) {
  const auto started = std::chrono::steady_clock::now();
  const options& o = st.opt;
  std::filesystem::create_directories(o.out);
  const std::string json_path = (std::filesystem::path(o.out) / (name + ".json")).string();
  const std::string csv_path = (std::filesystem::path(o.out) / (name + ".csv")).string();

  st.copy_gbs = platform<Exec>::copy_bandwidth_gbs(
      exec, on_device ? (std::size_t{512} << 20) : (o.quick ? std::size_t{16} << 20 : std::size_t{128} << 20));
  st.naive_macs_per_second = calibrate_naive(exec, on_device);
  std::cout << "copy bandwidth " << st.copy_gbs << " GB/s (read + write), naive " << st.naive_macs_per_second / 1e9
            << " GMAC/s\n";

  json settings = json::make_object();
  settings["clock"] = clock;
  settings["warmup"] = o.warmup;
  settings["min_reps"] = o.min_reps;
  settings["max_reps"] = o.max_reps;
  settings["target_seconds"] = o.target_seconds;
  settings["naive_cap_seconds"] = o.naive_cap_seconds;
  settings["slow_call_seconds"] = o.slow_call_seconds;
  settings["slow_reps"] = o.slow_reps;
  settings["seed"] = static_cast<long long>(o.seed);
  json precisions = json::make_array();
  for (dtype d : o.dtypes) precisions.push_back(dtype_name(d));
  settings["precision"] = precisions.as_array()->size() == 1 ? (*precisions.as_array())[0] : precisions;
  settings["compute"] = "fp32 (fftconv, cuDNN's compute type and oneDNN's accumulation)";
  json pass_names = json::make_array();
  for (timed_work w : o.passes) pass_names.push_back(work_name(w));
  settings["passes"] = pass_names;
  settings["tf32"] = on_device ? "off (cuDNN CUDNN_FMA_MATH, NVIDIA_TF32_OVERRIDE=0)" : "n/a";
  document["settings"] = settings;
  document["copy_bandwidth_gbs"] = st.copy_gbs;
  document["naive_calibration_gmacs"] = st.naive_macs_per_second / 1e9;
  json selected = json::make_array();
  const json built = policy_names();
  for (const json& name : *built.as_array())
    if (policy_selected(o, *name.as_string())) selected.push_back(name);
  document["policies"] = selected;
  document["built_policies"] = built;
  json filters = json::make_object();
  filters["only"] = o.only;
  filters["match"] = o.match ? json(o.match_text) : json(nullptr);
  document["case_filters"] = filters;
  document["summary"] = json::make_object();
  document["cases"] = json::make_array();

  std::vector<bench_case> cases;
  for (const bench_case& c : make_cases(o.quick))
    if (case_selected(o, c)) cases.push_back(c);
  if (cases.empty()) std::cout << "fftconv_bench: no case matches --only / --match\n";
  auto save = [&](bool final_write) {
    json& summary = document["summary"];
    summary["case_passes"] = document["cases"].as_array()->size();
    summary["check_failures"] = st.check_failures;
    summary["errors"] = st.errors;
    summary["elapsed_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    summary["load_average"] = load_average();
    summary["complete"] = final_write;
    std::ofstream out(json_path);
    document.write(out);
    out << '\n';
    if (final_write) write_csv(csv_path, document["cases"]);
  };

  // The network cases are fp32 code: they run in fp32 only.
  auto runs_in = [](const bench_case& c, dtype d) { return c.kind == case_kind::layer || d == dtype::fp32; };
  std::size_t total = 0;
  for (const bench_case& c : cases)
    for (dtype d : o.dtypes) total += runs_in(c, d) ? o.passes.size() : 0;
  std::size_t done = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const bench_case& c = cases[i];
    for (timed_work work : o.passes)
      for (dtype storage : o.dtypes) {  // dtypes interleaved per case and pass: a load change hits both
        if (!runs_in(c, storage)) continue;
        const std::uint64_t seed = case_seed(o.seed, i);
        json record;
        try {
          auto layer = [&]<class T>() {
            if (c.dims == 1) return run_layer_case<Exec, 1, T>(exec, c, work, seed, st);
            if (c.dims == 2) return run_layer_case<Exec, 2, T>(exec, c, work, seed, st);
            return run_layer_case<Exec, 3, T>(exec, c, work, seed, st);
          };
          if (c.kind == case_kind::network)
            record = run_network_case(exec, c, work, seed, st);
          else if (storage == dtype::bf16)
            record = layer.template operator()<fftconv::bf16>();
          else
            record = layer.template operator()<float>();
        } catch (const std::exception& e) {
          // Outside any contestant (data upload, a sticky CUDA error of an earlier call): record it, go on.
          record = case_record(c, work);
          record["dtype"] = dtype_name(storage);
          record["error"] = e.what();
          record["results"] = json::make_array();
          ++st.errors;
        }
        release_policy_caches();
        put_ratios(record, st.baseline);
        print_case(++done, total, record);
        document["cases"].push_back(std::move(record));
        if (done % 16 == 0) save(false);  // a partial file survives an interrupted run
      }
  }
  save(true);
  std::cout << "wrote " << json_path << "\n      " << csv_path << '\n'
            << st.check_failures << " check failures, " << st.errors << " errors\n";
  return st.check_failures == 0 && st.errors == 0 ? 0 : 1;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  using namespace bench;
  // fp32 means fp32: no TF32 in cuDNN or cuBLAS, for the baseline and for fftconv alike. Set before any CUDA
  // library initialises; an explicit setting in the environment wins.
  setenv("NVIDIA_TF32_OVERRIDE", "0", 0);
  run_state st;
  try {
    parse(argc, argv, st.opt);
  } catch (const std::exception& e) {
    std::cerr << "fftconv_bench: " << e.what() << '\n';
    print_usage();
    return 2;
  }
  json document = json::make_object();
  document["schema"] = "fftconv-bench/1";
  document["date"] = utc_now("%Y-%m-%dT%H:%M:%SZ");
  std::string command;
  for (int i = 0; i < argc; ++i) {
    if (i > 0) command += ' ';
    command += argv[i];
  }
  document["command"] = command;
  document["quick"] = st.opt.quick;
  const std::string stamp = utc_now("%Y%m%dT%H%M%SZ") + (st.opt.quick ? "_quick" : "");
  try {
    if (st.opt.host) {
#if FFTCONV_BENCH_HOST_MODE
      document["mode"] = "host";
      json environment = host_environment();
      environment["gpu"] = "no GPU";
      environment["note"] = "host mode: CPU wall-clock times of the host backend; not GPU results";
#if FFTCONV_BENCH_HAS_ONEDNN
      if (st.opt.baseline) st.baseline = "onednn";
      environment["baseline_note"] = st.opt.baseline ? "oneDNN " + onednn_version() + " (" + onednn_cpu_isa() + ")"
                                                     : std::string("--no-baseline");
#else
      environment["baseline_note"] =
          "bench built without oneDNN (libdnnl-dev 2.x not found at configure time): no host baseline";
#endif
      document["environment"] = environment;
      document["baseline"] = st.baseline.empty() ? json(nullptr) : json(st.baseline);
      std::cout << "fftconv_bench: host mode on " << cpu_model() << " (CPU timings, not GPU), baseline: "
                << (st.baseline.empty() ? "none (" + *environment.find("baseline_note")->as_string() +
                                              "): float64 naive as the reference where it fits"
                                        : "oneDNN " + *environment.find("onednn")->as_string())
                << '\n';
      return run(fftconv::host{}, false, st, document, "host_" + stamp, platform<fftconv::host>::clock);
#else
      std::cerr << "fftconv_bench: host mode was not built (it needs OpenBLAS and FFTW3 at configure time)\n";
      return 2;
#endif
    }
#if defined(__CUDACC__)
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess || count == 0) {
      (void)cudaGetLastError();
      std::cerr << "fftconv_bench: no GPU visible (" << cudaGetErrorName(status)
                << "); use --host for a CPU run of the same code paths\n";
      return 2;
    }
    FFTCONV_CUDA_CHECK(cudaSetDevice(st.opt.device));
    cudaStream_t stream = nullptr;
    FFTCONV_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    document["mode"] = "gpu";
    json environment = device_environment(st.opt.device);
    const std::string gpu = *environment.find("gpu")->as_string();
    document["environment"] = environment;
    std::cout << "fftconv_bench: GPU mode on " << gpu << '\n';
    int rc = 0;
    {
#if FFTCONV_BENCH_HAS_CUDNN
      // A cuDNN that fails to start (e.g. a library mismatch) costs the baseline, not the run.
      std::optional<cudnn_handle> handle;
      try {
        if (st.opt.baseline) {
          handle.emplace();
          st.cudnn = handle->get();
          st.baseline = "cudnn";
        }
        document["baseline"] = st.baseline.empty() ? json(nullptr) : json(st.baseline);
        if (st.baseline.empty()) std::cout << "fftconv_bench: --no-baseline: float64 naive as the reference\n";
      } catch (const std::exception& e) {
        document["baseline"] = nullptr;
        environment["cudnn_note"] = std::string("cudnnCreate failed: ") + e.what();
        document["environment"] = environment;
        std::cout << "fftconv_bench: " << e.what() << ": no baseline, float64 naive as the reference\n";
      }
#else
      document["baseline"] = nullptr;
      std::cout << "fftconv_bench: built without cuDNN: no baseline, float64 naive as the reference\n";
#endif
      rc = run(fftconv::device{stream}, true, st, document, slug(gpu) + "_" + stamp, platform<fftconv::device>::clock);
      FFTCONV_CUDA_CHECK(cudaStreamSynchronize(stream));
      release_policy_caches();
    }
    (void)cudaStreamDestroy(stream);
    return rc;
#else
    std::cerr << "fftconv_bench: built without CUDA (no nvcc at configure time): only --host is available\n";
    return 2;
#endif
  } catch (const std::exception& e) {
    std::cerr << "fftconv_bench: " << e.what() << '\n';
    return 1;
  }
}
