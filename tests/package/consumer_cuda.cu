// CUDA program built with nvcc against the installed package: the same forward on the GPU when one is there.
#include <cuda_runtime.h>

#include "consumer.hpp"

// Device copies of one check's data, freed when the check ends (also when the forward throws).
class device_memory {
 public:
  device_memory() = default;
  device_memory(const device_memory&) = delete;
  device_memory& operator=(const device_memory&) = delete;
  ~device_memory() {
    for (void* p : owned_) cudaFree(p);
  }

  const float* input(const std::vector<float>& v) {
    float* p = output(v);
    if (p != nullptr && cudaMemcpy(p, v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess)
      ok_ = false;
    return p;
  }
  float* output(const std::vector<float>& v) {
    void* p = nullptr;
    if (cudaMalloc(&p, v.size() * sizeof(float)) != cudaSuccess) {
      ok_ = false;
      return nullptr;
    }
    owned_.push_back(p);
    return static_cast<float*>(p);
  }
  bool fetch(const float* p, std::vector<float>& y) {
    return ok_ && cudaMemcpy(y.data(), p, y.size() * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess;
  }

 private:
  std::vector<void*> owned_;
  bool ok_ = true;
};

int main() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("consumer_cuda: built; no GPU here, so the device forward is not run\n");
    return 0;
  }
  using consumer::check;
  bool ok = check<fftconv::naive, device_memory>("device naive", fftconv::device{});
  ok = check<fftconv::im2col, device_memory>("device im2col", fftconv::device{}) && ok;
  ok = check<fftconv::fft, device_memory>("device fft", fftconv::device{}) && ok;
  return ok ? 0 : 1;
}
