#pragma once
// Compiler glue shared by every header: the host/device qualifier for the element math, the library version,
// and which third-party backends this translation unit can use.

#if defined(__CUDACC__)
#define FFTCONV_HD __host__ __device__
#else
#define FFTCONV_HD
#endif

// A static_assert condition that depends on a template parameter, so it fires only when instantiated: the
// primary templates that name a missing specialization (conv_impl, backend, fft_backend).
namespace fftconv::detail {
template <class>
inline constexpr bool dependent_false = false;
}  // namespace fftconv::detail

#define FFTCONV_VERSION_MAJOR 0
#define FFTCONV_VERSION_MINOR 1
#define FFTCONV_VERSION_PATCH 0

// Backends. Each FFTCONV_HAS_* is 1 or 0; one defined before this point (-D, or the CMake targets) wins, so
// -DFFTCONV_HAS_FFTW=0 turns a backend off. Otherwise the headers decide from what the compiler can see, so a
// plain compiler line needs no -D flags. A backend that is on must also be linked; what it needs:
//   FFTCONV_HAS_FFTW    <fftw3.h>                          -lfftw3f -lfftw3
//   FFTCONV_HAS_CBLAS   <cblas.h> (FFTCONV_CBLAS_HEADER)   -lopenblas (or another CBLAS)
//   FFTCONV_HAS_CUDART  <cuda_runtime_api.h>               -lcudart (nvcc links it itself)
//   FFTCONV_HAS_ONEDNN  <oneapi/dnnl/dnnl.h>, oneDNN 2.x   -ldnnl     (fftconv::vendor on the host)
//   FFTCONV_HAS_CUDNN   <cudnn.h>, under nvcc               -lcudnn    (fftconv::vendor on the device)
// fftconv::automatic considers the vendor policy wherever it is on, so a program using automatic links the vendor
// library when its headers are visible; -DFFTCONV_HAS_ONEDNN=0 / -DFFTCONV_HAS_CUDNN=0 leave it out.

#if !defined(FFTCONV_HAS_FFTW)
#if __has_include(<fftw3.h>)
#define FFTCONV_HAS_FFTW 1
#else
#define FFTCONV_HAS_FFTW 0
#endif
#endif

// The CBLAS header: <cblas.h> where the system provides one (Debian points it at the chosen BLAS), else
// OpenBLAS's own folder (Fedora: openblas/, Debian: <multiarch>/openblas-<threading>/). Define
// FFTCONV_CBLAS_HEADER (e.g. <mkl_cblas.h>) to name another.
#if !defined(FFTCONV_CBLAS_HEADER)
#if __has_include(<cblas.h>)
#define FFTCONV_CBLAS_HEADER <cblas.h>
#elif __has_include(<openblas/cblas.h>)
#define FFTCONV_CBLAS_HEADER <openblas/cblas.h>
#elif defined(__linux__) && defined(__x86_64__) && __has_include(<x86_64-linux-gnu/openblas-pthread/cblas.h>)
#define FFTCONV_CBLAS_HEADER <x86_64-linux-gnu/openblas-pthread/cblas.h>
#elif defined(__linux__) && defined(__x86_64__) && __has_include(<x86_64-linux-gnu/openblas-openmp/cblas.h>)
#define FFTCONV_CBLAS_HEADER <x86_64-linux-gnu/openblas-openmp/cblas.h>
#elif defined(__linux__) && defined(__aarch64__) && __has_include(<aarch64-linux-gnu/openblas-pthread/cblas.h>)
#define FFTCONV_CBLAS_HEADER <aarch64-linux-gnu/openblas-pthread/cblas.h>
#elif defined(__linux__) && defined(__aarch64__) && __has_include(<aarch64-linux-gnu/openblas-openmp/cblas.h>)
#define FFTCONV_CBLAS_HEADER <aarch64-linux-gnu/openblas-openmp/cblas.h>
#endif
#endif

#if !defined(FFTCONV_HAS_CBLAS)
#if defined(FFTCONV_CBLAS_HEADER)
#define FFTCONV_HAS_CBLAS 1
#else
#define FFTCONV_HAS_CBLAS 0
#endif
#elif FFTCONV_HAS_CBLAS && !defined(FFTCONV_CBLAS_HEADER)
#define FFTCONV_CBLAS_HEADER <cblas.h>  // asked for explicitly: the compiler's error then names the missing header
#endif

// The CUDA runtime answers which memory a pointer lives in. nvcc always links it, so under nvcc it is on; a
// host compiler seeing <cuda_runtime_api.h> says nothing about -lcudart being on the link line, so there it is
// opt-in: -DFFTCONV_HAS_CUDART=1 -I<cuda>/include -L<cuda>/lib64 -lcudart (the CMake targets do this when the
// toolkit is found). Without it, the host executor takes every pointer as host memory.
#if !defined(FFTCONV_HAS_CUDART)
#if defined(__CUDACC__)
#define FFTCONV_HAS_CUDART 1
#else
#define FFTCONV_HAS_CUDART 0
#endif
#endif

// oneDNN's C API (dnnl.h, which nvcc parses too; never the C++ dnnl.hpp). Version 3 changed the convolution
// descriptors this library uses, so only 2.x turns the vendor policy on by itself.
#if !defined(FFTCONV_HAS_ONEDNN)
#if __has_include(<oneapi/dnnl/dnnl_version.h>)
#include <oneapi/dnnl/dnnl_version.h>
#if DNNL_VERSION_MAJOR == 2
#define FFTCONV_HAS_ONEDNN 1
#else
#define FFTCONV_HAS_ONEDNN 0
#endif
#else
#define FFTCONV_HAS_ONEDNN 0
#endif
#endif

#if !defined(FFTCONV_HAS_CUDNN)
#if defined(__CUDACC__) && __has_include(<cudnn.h>)
#define FFTCONV_HAS_CUDNN 1
#else
#define FFTCONV_HAS_CUDNN 0
#endif
#endif
