// The host backend for N = 1: every policy, float and double (one translation unit per rank keeps the build
// parallel and each unit's memory bounded).
#include "host_conv.hpp"

FFTCONV_TORCH_INSTANTIATE_HOST(1)
