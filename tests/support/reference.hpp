#pragma once
// The oracle: convolution in float64, written as plainly as possible and sharing no code with the library.
// Tensors are flat row-major vectors with an explicit shape. backward_data is written as the scatter
// (adjoint) of forward, unlike the library's gather, so the two derivations check each other.

#include <cstdint>
#include <vector>

namespace reference {

struct layer {
  int rank = 2;
  std::int64_t batch = 1, in_channels = 1, out_channels = 1, groups = 1;
  std::vector<std::int64_t> input, kernel, padding, stride, dilation;  // one entry per spatial dim
  // Zeros after each spatial dim; `padding` is the zeros before. Empty: the same as `padding` (symmetric).
  std::vector<std::int64_t> padding_high;

  std::int64_t padding_low_of(int d) const { return padding[d]; }
  std::int64_t padding_high_of(int d) const { return padding_high.empty() ? padding[d] : padding_high[d]; }

  // The output covers the windows that fit in [-low, input + high).
  std::vector<std::int64_t> output() const {
    std::vector<std::int64_t> out(rank);
    for (int d = 0; d < rank; ++d)
      out[d] = (input[d] + padding_low_of(d) + padding_high_of(d) - dilation[d] * (kernel[d] - 1) - 1) / stride[d] + 1;
    return out;
  }
  static std::int64_t volume(const std::vector<std::int64_t>& extents) {
    std::int64_t v = 1;
    for (auto e : extents) v *= e;
    return v;
  }
  std::int64_t x_size() const { return batch * in_channels * volume(input); }
  std::int64_t y_size() const { return batch * out_channels * volume(output()); }
  std::int64_t w_size() const { return out_channels * (in_channels / groups) * volume(kernel); }
};

// Calls visit(b, o, c, y_offset, x_offset_or_-1, w_offset) for every (output element, input channel, tap).
template <class Visit>
void for_each_term(const layer& L, Visit visit) {
  const auto out = L.output();
  const std::int64_t cin_g = L.in_channels / L.groups, cout_g = L.out_channels / L.groups;
  const std::int64_t out_volume = layer::volume(out), in_volume = layer::volume(L.input);
  const std::int64_t taps = layer::volume(L.kernel);
  std::vector<std::int64_t> q(L.rank), k(L.rank);
  for (std::int64_t b = 0; b < L.batch; ++b)
    for (std::int64_t o = 0; o < L.out_channels; ++o)
      for (std::int64_t qo = 0; qo < out_volume; ++qo) {
        std::int64_t rest = qo;
        for (int d = L.rank - 1; d >= 0; --d) { q[d] = rest % out[d]; rest /= out[d]; }
        const std::int64_t y_offset = (b * L.out_channels + o) * out_volume + qo;
        for (std::int64_t ci = 0; ci < cin_g; ++ci) {
          const std::int64_t c = (o / cout_g) * cin_g + ci;
          for (std::int64_t t = 0; t < taps; ++t) {
            std::int64_t r = t;
            for (int d = L.rank - 1; d >= 0; --d) { k[d] = r % L.kernel[d]; r /= L.kernel[d]; }
            std::int64_t x_spatial = 0;
            bool inside = true;
            for (int d = 0; d < L.rank; ++d) {
              const std::int64_t i = q[d] * L.stride[d] - L.padding_low_of(d) + k[d] * L.dilation[d];
              if (i < 0 || i >= L.input[d]) inside = false;
              x_spatial = x_spatial * L.input[d] + i;
            }
            const std::int64_t x_offset = inside ? (b * L.in_channels + c) * in_volume + x_spatial : -1;
            visit(b, o, c, y_offset, x_offset, (o * cin_g + ci) * taps + t);
          }
        }
      }
}

inline std::vector<double> forward(const layer& L, const std::vector<double>& x, const std::vector<double>& w,
                                   const std::vector<double>* bias) {
  std::vector<double> y(L.y_size(), 0.0);
  const std::int64_t out_volume = layer::volume(L.output());
  if (bias)
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = (*bias)[(i / out_volume) % L.out_channels];
  for_each_term(L, [&](auto, auto, auto, std::int64_t yo, std::int64_t xo, std::int64_t wo) {
    if (xo >= 0) y[yo] += x[xo] * w[wo];
  });
  return y;
}

inline std::vector<double> backward_data(const layer& L, const std::vector<double>& dy, const std::vector<double>& w) {
  std::vector<double> dx(L.x_size(), 0.0);
  for_each_term(L, [&](auto, auto, auto, std::int64_t yo, std::int64_t xo, std::int64_t wo) {
    if (xo >= 0) dx[xo] += dy[yo] * w[wo];
  });
  return dx;
}

inline std::vector<double> backward_filter(const layer& L, const std::vector<double>& x, const std::vector<double>& dy) {
  std::vector<double> dw(L.w_size(), 0.0);
  for_each_term(L, [&](auto, auto, auto, std::int64_t yo, std::int64_t xo, std::int64_t wo) {
    if (xo >= 0) dw[wo] += x[xo] * dy[yo];
  });
  return dw;
}

inline std::vector<double> backward_bias(const layer& L, const std::vector<double>& dy) {
  std::vector<double> db(L.out_channels, 0.0);
  const std::int64_t out_volume = layer::volume(L.output());
  for (std::size_t i = 0; i < dy.size(); ++i) db[(i / out_volume) % L.out_channels] += dy[i];
  return db;
}

}  // namespace reference
