// The vendor policy on fftconv::host needs oneDNN: with it off (FFTCONV_HAS_ONEDNN=0; fftconv::host's target
// defines it 1 where oneDNN is found) the call must not compile, and the message must say what to do.
#undef FFTCONV_HAS_ONEDNN
#define FFTCONV_HAS_ONEDNN 0
#include <fftconv/fftconv.hpp>

int main() {
  fftconv::conv<2, float, fftconv::vendor> layer({.in_channels = 1, .out_channels = 1, .kernel = {3, 3}});
  float x[16] = {}, w[9] = {}, y[4] = {};
  layer.forward(fftconv::host{}, fftconv::view<const float, 4>(x, 1, 1, 4, 4),
                fftconv::view<const float, 4>(w, 1, 1, 3, 3), nullptr, fftconv::view<float, 4>(y, 1, 1, 2, 2));
}
