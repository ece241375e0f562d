#pragma once
// A 2D forward with padding, stride 2, dilation 2 and groups 2, checked against a direct sum written here.
#include <fftconv/fftconv.hpp>

#include <cmath>
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

}  // namespace consumer
