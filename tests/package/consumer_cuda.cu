// CUDA program built with nvcc against the installed package: the same checks on the GPU when one is there.
#include <cuda_runtime.h>

#include <cstdint>
#include <exception>
#include <map>
#include <new>
#include <stdexcept>
#include <string>

#include "consumer.hpp"

// The consumer's own CUDA calls throw on failure (fftconv's throw fftconv exceptions).
static void cuda_check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
}

// The consumer's memory on the GPU: stream-ordered (cudaMallocAsync / cudaFreeAsync on the stream fftconv names),
// with the books kept by consumer::counting_resource.
class stream_ordered_resource final : public consumer::counting_resource {
  void* obtain(std::size_t bytes, std::size_t alignment, CUstream_st* stream) override {
    void* pointer = nullptr;
    if (cudaMallocAsync(&pointer, bytes, stream) != cudaSuccess) {
      (void)cudaGetLastError();  // clear it: fftconv turns bad_alloc into fftconv::out_of_memory
      throw std::bad_alloc();
    }
    if (reinterpret_cast<std::uintptr_t>(pointer) % alignment != 0) {
      cudaFreeAsync(pointer, stream);
      throw std::bad_alloc();
    }
    return pointer;
  }
  void release(void* pointer, std::size_t, std::size_t, CUstream_st* stream) noexcept override {
    cudaFreeAsync(pointer, stream);
  }
};

// Device copies of the consumer's host vectors, made on first use (cudaMalloc) and freed with this object;
// copies are ordered on the executor's stream.
class device_memory {
 public:
  explicit device_memory(fftconv::device exec) : stream_(exec.stream) {}
  device_memory(const device_memory&) = delete;
  device_memory& operator=(const device_memory&) = delete;
  ~device_memory() {
    for (const auto& [host, copy] : copies_) cudaFree(copy);
  }

  float* at(std::vector<float>& v) { return copy_of(v); }
  const float* at(const std::vector<float>& v) { return copy_of(v); }
  void put(const std::vector<float>& v) {
    cuda_check(cudaMemcpyAsync(copy_of(v), v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice, stream_),
               "cudaMemcpyAsync to the device");
  }
  void get(std::vector<float>& v) {
    cuda_check(cudaMemcpyAsync(v.data(), copy_of(v), v.size() * sizeof(float), cudaMemcpyDeviceToHost, stream_),
               "cudaMemcpyAsync to the host");
    cuda_check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  }

 private:
  float* copy_of(const std::vector<float>& v) {
    void*& copy = copies_[v.data()];
    if (copy == nullptr) cuda_check(cudaMalloc(&copy, v.size() * sizeof(float)), "cudaMalloc");
    return static_cast<float*>(copy);
  }

  cudaStream_t stream_;
  std::map<const float*, void*> copies_;
};

int main() try {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("consumer_cuda: built; no GPU here, so the device checks are not run\n");
    return 0;
  }
  using namespace consumer;
  cudaStream_t stream = nullptr;
  cuda_check(cudaStreamCreate(&stream), "cudaStreamCreate");
  bool ok = check<fftconv::naive, device_memory>("device naive", fftconv::device{stream});
  ok = check<fftconv::im2col, device_memory>("device im2col", fftconv::device{stream}) && ok;
  ok = check<fftconv::fft, device_memory>("device fft", fftconv::device{stream}) && ok;
  ok = check_automatic<device_memory>("device automatic", fftconv::device{stream}, FFTCONV_HAS_CUDNN) && ok;
#if FFTCONV_HAS_CUDNN  // fftconv::vendor on the device does not compile without cuDNN
  ok = check<fftconv::vendor, device_memory>("device vendor", fftconv::device{stream}) && ok;
#endif
  {
    stream_ordered_resource resource;  // outlives the layers that allocate from it
    for (const bool channels_last : {false, true}) {
      const fftconv::device exec{stream, &resource};
      ok = train<fftconv::fft, device_memory>("device fft", channels_last, exec, resource) && ok;
      ok = train<fftconv::im2col, device_memory>("device im2col", channels_last, exec, resource) && ok;
    }
  }
  cuda_check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  cuda_check(cudaStreamDestroy(stream), "cudaStreamDestroy");
  return ok ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "consumer_cuda: %s\n", e.what());
  return 1;
}
