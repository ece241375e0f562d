// A policy must be one of fftconv::naive, im2col, fft.
#include <fftconv/fftconv.hpp>

struct winograd {};

int main() {
  fftconv::conv<2, float, winograd> layer({.in_channels = 1, .out_channels = 1, .kernel = {3, 3}});
  (void)layer;
}
