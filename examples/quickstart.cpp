// fftconv in one page, on the CPU: a training step of a 7x7 layer with the FFT policy (forward keeps the
// transformed x and w in memory of yours for backward), checked against direct convolution.
#include <array>
#include <cmath>
#include <cstdio>
#include <vector>

#include <fftconv/fftconv.hpp>

struct alignas(64) block { std::byte bytes[64]; };  // a saved state is 64-byte aligned memory of yours

template <class Policy>  // y, dx and dw of one step, one after the other
std::vector<float> train_step(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& dy) {
  fftconv::conv<2, float, Policy> layer({.in_channels = 3, .out_channels = 8, .kernel = {7, 7},
                                         .padding = fftconv::same_padding<2>({7, 7})});
  const std::array<std::int64_t, 4> xe{4, 3, 64, 64}, we{8, 3, 7, 7}, ye = layer.output_extents(xe);
  std::vector<float> out(dy.size() + x.size() + w.size());
  float *y = out.data(), *dx = y + dy.size(), *dw = dx + x.size();
  std::vector<block> saved((layer.saved_bytes(xe) + 63) / 64);
  const fftconv::saved_state state(saved.front().bytes, layer.saved_bytes(xe));
  const auto xv = fftconv::make_view(x.data(), xe), wv = fftconv::make_view(w.data(), we);
  layer.forward(fftconv::host{}, xv, wv, nullptr, fftconv::make_view(y, ye), state);
  layer.backward(fftconv::host{}, xv, wv, fftconv::make_view(dy.data(), ye), state,
                 {.dx = fftconv::make_view(dx, xe), .dw = fftconv::make_view(dw, we)});
  return out;
}

int main() {
  std::vector<float> x(4 * 3 * 64 * 64), w(8 * 3 * 7 * 7), dy(4 * 8 * 64 * 64);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * float(i));
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::cos(0.11f * float(i)) / 49;
  for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = std::sin(0.05f * float(i));
  const std::vector<float> fft = train_step<fftconv::fft>(x, w, dy), direct = train_step<fftconv::naive>(x, w, dy);
  double error = 0, norm = 0;
  for (std::size_t i = 0; i < fft.size(); ++i) error += std::pow(fft[i] - direct[i], 2), norm += std::pow(direct[i], 2);
  std::printf("one step, FFT policy vs direct convolution: relative L2 difference %.1e\n", std::sqrt(error / norm));
  return std::sqrt(error / norm) < 1e-4 ? 0 : 1;
}
