// Element types are float, double, bf16 and fp16.
#include <fftconv/fftconv.hpp>

int main() {
  fftconv::conv<1, int, fftconv::naive> layer({.in_channels = 1, .out_channels = 1, .kernel = {3}});
  (void)layer;
}
