// fftconv::device needs the CUDA compiler: a g++ translation unit gets a static_assert, not a link error.
#include <fftconv/fftconv.hpp>

int main() {
  fftconv::conv<1, float, fftconv::naive> layer({.in_channels = 1, .out_channels = 1, .kernel = {3}});
  float x[8]{}, w[3]{}, y[6]{};
  layer.forward(fftconv::device{}, fftconv::view<const float, 3>(x, 1, 1, 8), fftconv::view<const float, 3>(w, 1, 1, 3),
                nullptr, fftconv::view<float, 3>(y, 1, 1, 6));
}
