// train_lenet's device instantiations: the same training loop as the host's, on fftconv::device.

#include <cuda_runtime.h>

#include <cstdio>

#include <fftconv/backend/device/status.hpp>

#include "lenet/device_entry.hpp"
#include "lenet/training.hpp"

namespace lenet {

int gpu_count() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status == cudaErrorNoDevice || status == cudaErrorInsufficientDriver) {
    (void)cudaGetLastError();  // "no GPU" is an answer, not an error: leave no sticky status behind
    return 0;
  }
  FFTCONV_CUDA_CHECK(status);
  return count;
}

double train_on_gpu(const options& o, const dataset_split& data) {
  int id = 0;
  FFTCONV_CUDA_CHECK(cudaGetDevice(&id));
  cudaDeviceProp properties{};
  FFTCONV_CUDA_CHECK(cudaGetDeviceProperties(&properties, id));
  std::printf("gpu %d: %s\n", id, properties.name);
  const cuda_stream stream;
  return run_training(fftconv::device{stream.get()}, o, data);
}

}  // namespace lenet
