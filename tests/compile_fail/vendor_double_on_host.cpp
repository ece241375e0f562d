// oneDNN has no double convolution on the CPU: a double vendor layer run on fftconv::host must not compile, and
// the message must say why and what to use instead.
#include <fftconv/fftconv.hpp>

int main() {
  fftconv::conv<2, double, fftconv::vendor> layer({.in_channels = 1, .out_channels = 1, .kernel = {3, 3}});
  double x[16] = {}, w[9] = {}, y[4] = {};
  layer.forward(fftconv::host{}, fftconv::view<const double, 4>(x, 1, 1, 4, 4),
                fftconv::view<const double, 4>(w, 1, 1, 3, 3), nullptr, fftconv::view<double, 4>(y, 1, 1, 2, 2));
}
