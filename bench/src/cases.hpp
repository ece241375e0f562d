#pragma once
// The case lists (bench/README.md), and their --quick counterparts: the same groups and sweeps at sizes a
// 2-core CI machine runs in seconds. A case is one geometry; every case runs for both passes (fwd, step).

#include <cstdint>
#include <string>
#include <vector>

namespace bench {

enum class case_kind { layer, network };

struct bench_case {
  std::string group;  // e.g. "functional_input": one plot per group and pass
  std::string sweep;  // what the x axis is: "input size", "kernel size", "dims", "batch size", "stride", "layer"
  double x = 0;       // the swept value
  std::string label;  // human-readable, e.g. "2D 32x64->64 n=64 k=7"; --match filters on it
  case_kind kind = case_kind::layer;
  int dims = 2;
  std::int64_t batch = 1, in_channels = 1, out_channels = 1, groups = 1;
  std::int64_t input = 0;   // per spatial dim (cubic inputs and kernels throughout)
  std::int64_t kernel = 0;  // per spatial dim
  std::int64_t stride = 1;  // per spatial dim
  std::int64_t padding_low = 0, padding_high = 0;  // zeros before / after each spatial dim
};

inline std::string dims_name(int dims) { return std::to_string(dims) + "D"; }

// The label names what differs from a plain layer (groups, stride, padding unless 'same' or none) before n and
// k, so that a --match such as `k=3$` keeps selecting by kernel size.
inline void name_layer(bench_case& c, bool same) {
  c.label = dims_name(c.dims) + " " + std::to_string(c.batch) + "x" + std::to_string(c.in_channels) + "->" +
            std::to_string(c.out_channels);
  if (c.groups != 1) c.label += " g=" + std::to_string(c.groups);
  if (c.stride != 1) c.label += " s=" + std::to_string(c.stride);
  if (!same && (c.padding_low != 0 || c.padding_high != 0)) {
    c.label += " p=" + std::to_string(c.padding_low);
    if (c.padding_high != c.padding_low) c.label += "," + std::to_string(c.padding_high);
  }
  c.label += " n=" + std::to_string(c.input) + " k=" + std::to_string(c.kernel);
}

// `same`: PyTorch's padding='same' (stride 1): the span k - 1 split floor(half) low, the rest high.
inline bench_case layer_case(std::string group, std::string sweep, double x, int dims, std::int64_t batch,
                             std::int64_t in_channels, std::int64_t out_channels, std::int64_t n, std::int64_t k,
                             bool same) {
  bench_case c;
  c.group = std::move(group);
  c.sweep = std::move(sweep);
  c.x = x;
  c.kind = case_kind::layer;
  c.dims = dims;
  c.batch = batch;
  c.in_channels = in_channels;
  c.out_channels = out_channels;
  c.input = n;
  c.kernel = k;
  if (same) {
    c.padding_low = (k - 1) / 2;
    c.padding_high = (k - 1) - c.padding_low;
  }
  name_layer(c, same);
  return c;
}

// A layer with groups, stride and explicit (possibly asymmetric) padding.
inline bench_case general_case(std::string group, std::string sweep, double x, int dims, std::int64_t batch,
                               std::int64_t in_channels, std::int64_t out_channels, std::int64_t groups,
                               std::int64_t n, std::int64_t k, std::int64_t stride, std::int64_t padding_low,
                               std::int64_t padding_high) {
  bench_case c = layer_case(std::move(group), std::move(sweep), x, dims, batch, in_channels, out_channels, n, k,
                            false);
  c.groups = groups;
  c.stride = stride;
  c.padding_low = padding_low;
  c.padding_high = padding_high;
  name_layer(c, false);
  return c;
}

// The small network: conv(3->16, k, no padding) + ReLU, 2x2 max pool, 3 linear layers, SGD.
inline bench_case network_case(std::string group, std::string sweep, double x, std::int64_t batch, std::int64_t n,
                               std::int64_t k) {
  bench_case c = layer_case(std::move(group), std::move(sweep), x, 2, batch, 3, 16, n, k, false);
  c.kind = case_kind::network;
  c.label = "net b=" + std::to_string(batch) + " n=" + std::to_string(n) + " k=" + std::to_string(k);
  return c;
}

inline std::vector<bench_case> make_cases(bool quick) {
  std::vector<bench_case> cases;
  // Functional: a single 1->1 channel image.
  if (quick) {
    for (std::int64_t n : {3, 18, 33})
      cases.push_back(layer_case("functional_input", "input size", n, 2, 1, 1, 1, n, 2, false));
    for (std::int64_t k : {2, 6, 10})
      cases.push_back(layer_case("functional_kernel", "kernel size", k, 2, 1, 1, 1, 20, k, false));
    for (int d : {1, 2, 3}) cases.push_back(layer_case("functional_dims", "dims", d, d, 1, 1, 1, 12, 2, false));
  } else {
    for (std::int64_t n = 3; n <= 300; n += 5)
      cases.push_back(layer_case("functional_input", "input size", n, 2, 1, 1, 1, n, 2, false));
    for (std::int64_t k = 2; k <= 50; k += 2)
      cases.push_back(layer_case("functional_kernel", "kernel size", k, 2, 1, 1, 1, 150, k, false));
    for (int d : {1, 2, 3}) cases.push_back(layer_case("functional_dims", "dims", d, d, 1, 1, 1, 50, 2, false));
  }
  // Network: conv(3->16) + pool + 3 linear layers, one SGD step.
  if (quick) {
    for (std::int64_t n : {12, 16}) cases.push_back(network_case("network_input", "input size", n, 2, n, 5));
    for (std::int64_t k : {3, 5}) cases.push_back(network_case("network_kernel", "kernel size", k, 2, 16, k));
    for (std::int64_t b : {1, 3}) cases.push_back(network_case("network_batch", "batch size", b, b, 12, 3));
  } else {
    for (std::int64_t n : {70, 80, 90, 100, 110, 128})
      cases.push_back(network_case("network_input", "input size", n, 10, n, 64));
    for (std::int64_t k = 8; k <= 64; k += 8)
      cases.push_back(network_case("network_kernel", "kernel size", k, 4, 128, k));
    for (std::int64_t b : {16, 32, 64, 128, 150, 180, 200})
      cases.push_back(network_case("network_batch", "batch size", b, b, 64, 32));
  }
  // Headline layers, 'same' padding. Quick keeps the shapes' structure at a fraction of the size.
  auto headline = [&](int dims, std::int64_t b, std::int64_t c, std::int64_t o, std::int64_t n, std::int64_t k) {
    bench_case h = layer_case("headline", "layer", k, dims, b, c, o, n, k, true);
    cases.push_back(h);
  };
  if (quick) {
    for (std::int64_t k : {3, 5}) headline(2, 2, 4, 8, 16, k);
    headline(3, 1, 2, 4, 8, 3);
    headline(1, 2, 4, 4, 256, 31);
  } else {
    for (std::int64_t k : {3, 5, 7, 11, 15, 31}) headline(2, 32, 64, 64, 64, k);
    for (std::int64_t k : {3, 5, 7, 9}) headline(3, 8, 16, 16, 32, k);
    for (std::int64_t k : {31, 127, 1023}) headline(1, 16, 32, 32, 16384, k);
  }
  // fft at every size ("scale"): the image grows under a fixed layer; depthwise layers with large
  // kernels; a strided stem beside its stride-1 twin; a causal depthwise long convolution (all zeros before).
  if (quick) {
    for (std::int64_t n : {8, 16}) cases.push_back(layer_case("scale", "input size", n, 2, 1, 4, 4, n, 3, true));
    for (std::int64_t k : {3, 5})
      cases.push_back(general_case("depthwise", "kernel size", k, 2, 2, 4, 4, 4, 12, k, 1, k / 2, k / 2));
    for (std::int64_t s : {2, 1}) cases.push_back(general_case("stem", "stride", s, 2, 2, 3, 4, 1, 16, 3, s, 1, 1));
    cases.push_back(general_case("causal", "kernel size", 32, 1, 1, 4, 4, 4, 32, 32, 1, 31, 0));
  } else {
    for (std::int64_t n : {64, 128, 256, 512})
      cases.push_back(layer_case("scale", "input size", n, 2, 4, 64, 64, n, 7, true));
    for (std::int64_t k : {7, 31, 51})
      cases.push_back(general_case("depthwise", "kernel size", k, 2, 32, 64, 64, 64, 64, k, 1, k / 2, k / 2));
    for (std::int64_t s : {2, 1})
      cases.push_back(general_case("stem", "stride", s, 2, 32, 3, 64, 1, 224, 7, s, 3, 3));
    cases.push_back(general_case("causal", "kernel size", 8192, 1, 4, 256, 256, 256, 8192, 8192, 1, 8191, 0));
  }
  return cases;
}

}  // namespace bench
