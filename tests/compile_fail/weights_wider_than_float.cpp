// Weights are T, or float beside 16-bit activations: double weights on a float layer are refused.
#include <fftconv/fftconv.hpp>

int main() {
  fftconv::conv<1, float, fftconv::fft, double> layer({.in_channels = 1, .out_channels = 1, .kernel = {3}});
  (void)layer;
}
