// The device backend for N = 2: every policy, float and double, on torch's stream and caching allocator.
#include "device_conv.cuh"

FFTCONV_TORCH_INSTANTIATE_DEVICE(2)
