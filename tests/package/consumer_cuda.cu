// CUDA program built with nvcc against the installed package: the same forward on the GPU when one is there.
#include <cuda_runtime.h>

#include "consumer.hpp"

template <class Policy>
bool check(const char* name) {
  using namespace consumer;
  fftconv::conv<2, float, Policy> layer(layer_geometry);
  const auto out = layer.output_extents({batch, in_channels, height, width});
  const auto x = values(batch * in_channels * height * width, 1), w = values(out_channels * 2 * 3 * 2, 2),
             bias = values(out_channels, 3);
  std::vector<float> y(out[0] * out[1] * out[2] * out[3]);
  float *dx, *dw, *db, *dy;
  cudaMalloc(&dx, x.size() * 4), cudaMalloc(&dw, w.size() * 4), cudaMalloc(&db, bias.size() * 4), cudaMalloc(&dy, y.size() * 4);
  cudaMemcpy(dx, x.data(), x.size() * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(dw, w.data(), w.size() * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(db, bias.data(), bias.size() * 4, cudaMemcpyHostToDevice);
  layer.forward(fftconv::device{}, fftconv::view<const float, 4>(dx, batch, in_channels, height, width),
                fftconv::view<const float, 4>(dw, out_channels, 2, 3, 2), db, fftconv::make_view(dy, out));
  const cudaError_t status = cudaMemcpy(y.data(), dy, y.size() * 4, cudaMemcpyDeviceToHost);
  cudaFree(dx), cudaFree(dw), cudaFree(db), cudaFree(dy);
  return status == cudaSuccess && close(y, expected_output(x, w, bias, out[2], out[3]), name);
}

int main() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("consumer_cuda: built; no GPU here, so the device forward is not run\n");
    return 0;
  }
  bool ok = check<fftconv::naive>("device naive");
  ok = check<fftconv::im2col>("device im2col") && ok;
  ok = check<fftconv::fft>("device fft") && ok;
  return ok ? 0 : 1;
}
