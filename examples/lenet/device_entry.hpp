#pragma once
// The GPU half of train_lenet, defined in train_lenet_device.cu (built only when CUDA is available).

#include "data.hpp"
#include "options.hpp"

namespace lenet {

// Number of usable GPUs; 0 without a driver or a device.
int gpu_count();

// run_training on fftconv::device with a stream of its own; returns the last test accuracy.
double train_on_gpu(const options& o, const dataset_split& data);

}  // namespace lenet
