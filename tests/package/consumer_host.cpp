// Host-only C++20 program built with the host compiler against the installed package.
#include "consumer.hpp"

int main() {
  using consumer::check;
  using consumer::host_memory;
  bool ok = check<fftconv::naive, host_memory>("host naive", fftconv::host{});
  ok = check<fftconv::im2col, host_memory>("host im2col", fftconv::host{}) && ok;
  ok = check<fftconv::fft, host_memory>("host fft", fftconv::host{}) && ok;
  return ok ? 0 : 1;
}
