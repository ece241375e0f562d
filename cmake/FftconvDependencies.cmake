# Finds what the backends use and wraps it in fftconv_deps_* INTERFACE targets. The same file is installed and
# run by fftconvConfig.cmake, so a consumer finds the same libraries the library was configured with.
#
#   FFTCONV_HAVE_CUDA_TOOLKIT  cudart, cuFFT, cuBLAS and CCCL (cuda::std::mdspan) headers
#   FFTCONV_HAVE_FFTW          fftw3 + fftw3f
#   FFTCONV_HAVE_CBLAS         OpenBLAS (cblas.h)
#   FFTCONV_HAVE_OPENMP        OpenMP for the host loops
#   FFTCONV_HAVE_ONEDNN        oneDNN 2.x (libdnnl): fftconv::vendor on the host
#   FFTCONV_HAVE_CUDNN         cuDNN 8 or 9 (libcudnn): fftconv::vendor on the device
#
# The vendor libraries are optional and on where found; FFTCONV_WITH_ONEDNN=OFF / FFTCONV_WITH_CUDNN=OFF leave
# them out (the targets then define FFTCONV_HAS_ONEDNN=0 / FFTCONV_HAS_CUDNN=0, so nothing links them and
# fftconv::automatic does without that candidate). ONEDNN_ROOT / CUDNN_ROOT point at other install prefixes.

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

option(FFTCONV_WITH_ONEDNN "fftconv::vendor on the host through oneDNN 2.x, where found" ON)
option(FFTCONV_WITH_CUDNN "fftconv::vendor on the device through cuDNN, where found" ON)

# oneDNN by its header and library rather than its CMake config, which stops a configure without the OpenCL
# headers of its GPU runtime. Only the 2.x C API is used (3.x changed the convolution descriptors).
set(FFTCONV_HAVE_ONEDNN OFF)
if(FFTCONV_WITH_ONEDNN)
  set(_fftconv_onednn_hints ${ONEDNN_ROOT} $ENV{ONEDNN_ROOT} ${DNNL_ROOT} $ENV{DNNL_ROOT})
  find_path(FFTCONV_ONEDNN_INCLUDE_DIR oneapi/dnnl/dnnl.h HINTS ${_fftconv_onednn_hints} PATH_SUFFIXES include)
  find_library(FFTCONV_ONEDNN_LIBRARY dnnl HINTS ${_fftconv_onednn_hints} PATH_SUFFIXES lib lib64)
  set(FFTCONV_ONEDNN_VERSION "")
  if(FFTCONV_ONEDNN_INCLUDE_DIR AND EXISTS "${FFTCONV_ONEDNN_INCLUDE_DIR}/oneapi/dnnl/dnnl_version.h")
    file(STRINGS "${FFTCONV_ONEDNN_INCLUDE_DIR}/oneapi/dnnl/dnnl_version.h" _fftconv_onednn_lines
         REGEX "^#define DNNL_VERSION_(MAJOR|MINOR|PATCH) [0-9]+")
    foreach(part MAJOR MINOR PATCH)
      string(REGEX REPLACE ".*DNNL_VERSION_${part} ([0-9]+).*" "\\1" _fftconv_onednn_${part} "${_fftconv_onednn_lines}")
    endforeach()
    set(FFTCONV_ONEDNN_VERSION "${_fftconv_onednn_MAJOR}.${_fftconv_onednn_MINOR}.${_fftconv_onednn_PATCH}")
  endif()
  if(FFTCONV_ONEDNN_LIBRARY AND FFTCONV_ONEDNN_VERSION MATCHES "^2\\.")
    set(FFTCONV_HAVE_ONEDNN ON)
  endif()
endif()

set(FFTCONV_HAVE_CUDNN OFF)
if(FFTCONV_WITH_CUDNN AND FFTCONV_HAVE_CUDA_TOOLKIT)
  set(_fftconv_cudnn_hints ${CUDNN_ROOT} $ENV{CUDNN_ROOT} ${CUDNN_DIR} $ENV{CUDNN_DIR} ${CUDAToolkit_LIBRARY_ROOT})
  find_path(FFTCONV_CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} ${_fftconv_cudnn_hints}
            PATH_SUFFIXES include)
  find_library(FFTCONV_CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} ${_fftconv_cudnn_hints}
               PATH_SUFFIXES lib lib64 lib/x64)
  set(FFTCONV_CUDNN_VERSION "")
  if(FFTCONV_CUDNN_INCLUDE_DIR)
    foreach(header cudnn_version.h cudnn_version_v9.h cudnn.h)
      if(EXISTS "${FFTCONV_CUDNN_INCLUDE_DIR}/${header}" AND FFTCONV_CUDNN_VERSION STREQUAL "")
        file(STRINGS "${FFTCONV_CUDNN_INCLUDE_DIR}/${header}" _fftconv_cudnn_major REGEX "^#define CUDNN_MAJOR [0-9]+")
        file(STRINGS "${FFTCONV_CUDNN_INCLUDE_DIR}/${header}" _fftconv_cudnn_minor REGEX "^#define CUDNN_MINOR [0-9]+")
        if(_fftconv_cudnn_major)
          string(REGEX REPLACE ".* ([0-9]+)$" "\\1" _fftconv_cudnn_major "${_fftconv_cudnn_major}")
          string(REGEX REPLACE ".* ([0-9]+)$" "\\1" _fftconv_cudnn_minor "${_fftconv_cudnn_minor}")
          set(FFTCONV_CUDNN_VERSION "${_fftconv_cudnn_major}.${_fftconv_cudnn_minor}")
        endif()
      endif()
    endforeach()
  endif()
  if(FFTCONV_CUDNN_LIBRARY AND FFTCONV_CUDNN_VERSION VERSION_GREATER_EQUAL 8)
    set(FFTCONV_HAVE_CUDNN ON)
  endif()
endif()
