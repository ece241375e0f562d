// quickstart.cpp's training step on a CUDA stream over device memory, checked against the CPU; 77: no GPU.
#include <array>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <vector>
#include <fftconv/fftconv.hpp>

int main() {
  const auto check = [](cudaError_t e) { if (e != cudaSuccess) throw std::runtime_error(cudaGetErrorString(e)); };
  if (int gpus = 0; cudaGetDeviceCount(&gpus) != cudaSuccess || gpus == 0) return std::puts("no GPU: skipped"), 77;
  fftconv::conv<2, float, fftconv::fft> layer({.in_channels = 3, .out_channels = 8, .kernel = {7, 7},
                                               .padding = fftconv::same_padding<2>({7, 7})});
  const std::array<std::int64_t, 4> xe{4, 3, 64, 64}, we{8, 3, 7, 7}, ye = layer.output_extents(xe);
  const std::size_t nx = 4 * 3 * 64 * 64, nw = 8 * 3 * 7 * 7, ny = 4 * 8 * 64 * 64, n = nx + nw + ny;
  std::vector<float> inputs(n), gpu(n), cpu(n);  // inputs: x, w, dy; results: y, dx, dw
  for (std::size_t i = 0; i < n; ++i) inputs[i] = std::sin(0.37f * float(i));
  const auto step = [&](auto exec, const float* in, float* out, fftconv::saved_state saved) {
    const auto x = fftconv::make_view(in, xe), w = fftconv::make_view(in + nx, we);
    layer.forward(exec, x, w, nullptr, fftconv::make_view(out, ye), saved);
    layer.backward(exec, x, w, fftconv::make_view(in + nx + nw, ye), saved,
                   {.dx = fftconv::make_view(out + ny, xe), .dw = fftconv::make_view(out + ny + nx, we)});
  };
  step(fftconv::host{}, inputs.data(), cpu.data(), {});
  const std::size_t saved_bytes = layer.saved_bytes(xe, fftconv::keep::spectra, /*on_device=*/true);
  float* memory;     // inputs, then results
  std::byte* saved;  // cudaMalloc aligns to 256 bytes, as a saved state on the GPU needs
  check(cudaMalloc(&memory, 2 * n * sizeof(float)));
  check(cudaMalloc(&saved, saved_bytes));
  check(cudaMemcpyAsync(memory, inputs.data(), n * sizeof(float), cudaMemcpyHostToDevice, cudaStreamPerThread));
  step(fftconv::device{cudaStreamPerThread}, memory, memory + n, {saved, saved_bytes});
  check(cudaMemcpyAsync(gpu.data(), memory + n, n * sizeof(float), cudaMemcpyDeviceToHost, cudaStreamPerThread));
  check(cudaStreamSynchronize(cudaStreamPerThread));
  double error = 0, norm = 0;
  for (std::size_t i = 0; i < n; ++i) error += std::pow(gpu[i] - cpu[i], 2), norm += std::pow(cpu[i], 2);
  std::printf("one step on the GPU vs the CPU: relative L2 difference %.1e\n", std::sqrt(error / norm));
  check(cudaFree(saved)), check(cudaFree(memory));
  return std::sqrt(error / norm) < 1e-4 ? 0 : 1;
}
