# Finds what the backends use and wraps it in fftconv_deps_* INTERFACE targets. The same file is installed and
# run by fftconvConfig.cmake, so a consumer finds the same libraries the library was configured with.
#
#   FFTCONV_HAVE_CUDA_TOOLKIT  cudart, cuFFT, cuBLAS and CCCL (cuda::std::mdspan) headers
#   FFTCONV_HAVE_FFTW          fftw3 + fftw3f
#   FFTCONV_HAVE_CBLAS         OpenBLAS (cblas.h)
#   FFTCONV_HAVE_OPENMP        OpenMP for the host loops

find_package(CUDAToolkit QUIET)
set(FFTCONV_HAVE_CUDA_TOOLKIT ${CUDAToolkit_FOUND})

find_package(PkgConfig QUIET)
set(FFTCONV_HAVE_FFTW OFF)
set(FFTCONV_HAVE_CBLAS OFF)
if(PkgConfig_FOUND)
  pkg_check_modules(FFTCONV_FFTW QUIET IMPORTED_TARGET GLOBAL fftw3 fftw3f)
  if(FFTCONV_FFTW_FOUND)
    set(FFTCONV_HAVE_FFTW ON)
  endif()
  pkg_check_modules(FFTCONV_OPENBLAS QUIET IMPORTED_TARGET GLOBAL openblas)
  if(FFTCONV_OPENBLAS_FOUND)
    set(FFTCONV_HAVE_CBLAS ON)
  endif()
endif()

find_package(OpenMP QUIET COMPONENTS CXX)
set(FFTCONV_HAVE_OPENMP ${OpenMP_CXX_FOUND})

if(NOT FFTCONV_HAVE_CUDA_TOOLKIT)
  # cuda::std::mdspan comes from CCCL; a toolkit-less host build may point CCCL_INCLUDE_DIR at a CCCL checkout.
  find_path(FFTCONV_CCCL_INCLUDE_DIR cuda/std/mdspan HINTS "${CCCL_INCLUDE_DIR}" /usr/local/cuda/include/cccl)
  # The 16-bit element types are the toolkit's __nv_bfloat16 and __half (header-only on the host).
  find_path(FFTCONV_CUDA_FP16_INCLUDE_DIR cuda_bf16.h HINTS "${CUDA_FP16_INCLUDE_DIR}" /usr/local/cuda/include)
endif()
