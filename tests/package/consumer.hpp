#pragma once
// A 2D forward with padding, stride 2, dilation 2 and groups 2, checked against a direct sum written here.
#include <fftconv/fftconv.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace consumer {

inline constexpr std::int64_t batch = 2, in_channels = 4, out_channels = 6, groups = 2, height = 11, width = 9;
inline const fftconv::geometry<2> layer_geometry{.in_channels = in_channels, .out_channels = out_channels,
                                                 .kernel = {3, 2}, .padding = {2, 1}, .stride = {2, 2},
                                                 .dilation = {2, 2}, .groups = groups};

inline std::vector<float> values(std::size_t count, unsigned seed) {
  std::vector<float> v(count);
  for (std::size_t i = 0; i < count; ++i) v[i] = std::sin(0.37f * float(i) + float(seed)) * 0.9f;
  return v;
}

inline std::vector<double> expected_output(const std::vector<float>& x, const std::vector<float>& w,
                                           const std::vector<float>& bias, std::int64_t oh, std::int64_t ow) {
  std::vector<double> y(batch * out_channels * oh * ow);
  const auto& g = layer_geometry;
  const std::int64_t cin_g = in_channels / groups, cout_g = out_channels / groups;
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t o = 0; o < out_channels; ++o)
      for (std::int64_t i = 0; i < oh; ++i)
        for (std::int64_t j = 0; j < ow; ++j) {
          double sum = bias[o];
          for (std::int64_t c = 0; c < cin_g; ++c)
            for (std::int64_t ki = 0; ki < g.kernel[0]; ++ki)
              for (std::int64_t kj = 0; kj < g.kernel[1]; ++kj) {
                const std::int64_t r = i * 2 - 2 + ki * 2, s = j * 2 - 1 + kj * 2;
                if (r < 0 || r >= height || s < 0 || s >= width) continue;
                sum += double(x[((b * in_channels + (o / cout_g) * cin_g + c) * height + r) * width + s]) *
                       w[((o * cin_g + c) * g.kernel[0] + ki) * g.kernel[1] + kj];
              }
          y[((b * out_channels + o) * oh + i) * ow + j] = sum;
        }
  return y;
}

inline bool close(const std::vector<float>& actual, const std::vector<double>& expected, const char* what) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    diff += (actual[i] - expected[i]) * (actual[i] - expected[i]);
    norm += expected[i] * expected[i];
  }
  const double error = std::sqrt(diff / norm);
  std::printf("%s: relative L2 error %.3g\n", what, error);
  return error <= 1e-5;
}

// Runs Policy's forward on `exec` and checks it against expected_output. Memory puts the data where exec reads
// it: input(host vector) -> a pointer exec reads, output(host vector) -> one it writes as many floats to, and
// fetch(that pointer, host vector) copies the result back (false if anything failed).
template <class Policy, class Memory, class Exec>
bool check(const char* name, Exec exec) {
  fftconv::conv<2, float, Policy> layer(layer_geometry);
  const auto out = layer.output_extents({batch, in_channels, height, width});
  const auto x = values(batch * in_channels * height * width, 1), w = values(out_channels * 2 * 3 * 2, 2),
             bias = values(out_channels, 3);
  std::vector<float> y(out[0] * out[1] * out[2] * out[3]);
  Memory memory;
  float* const y_data = memory.output(y);
  layer.forward(exec, fftconv::view<const float, 4>(memory.input(x), batch, in_channels, height, width),
                fftconv::view<const float, 4>(memory.input(w), out_channels, 2, 3, 2), memory.input(bias),
                fftconv::make_view(y_data, out));
  return memory.fetch(y_data, y) && close(y, expected_output(x, w, bias, out[2], out[3]), name);
}

// The host executor reads and writes the host vectors themselves.
struct host_memory {
  const float* input(const std::vector<float>& v) { return v.data(); }
  float* output(std::vector<float>& v) { return v.data(); }
  bool fetch(const float*, std::vector<float>&) { return true; }
};

}  // namespace consumer
