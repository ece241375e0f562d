// Host-only C++20 program built with the host compiler against the installed package.
#include "consumer.hpp"

template <class Policy>
bool check(const char* name) {
  using namespace consumer;
  fftconv::conv<2, float, Policy> layer(layer_geometry);
  const auto out = layer.output_extents({batch, in_channels, height, width});
  const auto x = values(batch * in_channels * height * width, 1), w = values(out_channels * 2 * 3 * 2, 2),
             bias = values(out_channels, 3);
  std::vector<float> y(out[0] * out[1] * out[2] * out[3]);
  layer.forward(fftconv::host{}, fftconv::view<const float, 4>(x.data(), batch, in_channels, height, width),
                fftconv::view<const float, 4>(w.data(), out_channels, 2, 3, 2), bias.data(),
                fftconv::make_view(y.data(), out));
  return close(y, expected_output(x, w, bias, out[2], out[3]), name);
}

int main() {
  bool ok = check<fftconv::naive>("host naive");
  ok = check<fftconv::im2col>("host im2col") && ok;
  ok = check<fftconv::fft>("host fft") && ok;
  return ok ? 0 : 1;
}
