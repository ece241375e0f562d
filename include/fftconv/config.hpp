#pragma once
// Compiler glue shared by every header: the host/device qualifier for the element math, and the
// library version.

#if defined(__CUDACC__)
#define FFTCONV_HD __host__ __device__
#else
#define FFTCONV_HD
#endif

#define FFTCONV_VERSION_MAJOR 0
#define FFTCONV_VERSION_MINOR 1
#define FFTCONV_VERSION_PATCH 0
