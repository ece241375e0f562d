# Defines the fftconv targets over FFTCONV_INCLUDE_DIR with what FftconvDependencies.cmake found. Used in the
# build tree and, installed, by fftconvConfig.cmake, so both see the same targets:
#
#   fftconv::headers  the headers, C++20 and CCCL's include dir (cuda::std::mdspan)
#   fftconv::host     + FFTW3, OpenBLAS and OpenMP: the CPU backend (and cudart, when present, for pointer checks),
#                       and oneDNN where found (fftconv::vendor)
#   fftconv::device   + cudart, cuFFT, cuBLAS: the GPU backend (used from .cu files), and cuDNN where found
#   fftconv::fftconv  both backends, whatever was found

if(TARGET fftconv::fftconv)
  return()
endif()

add_library(fftconv::headers INTERFACE IMPORTED GLOBAL)
# C++20 for both languages. CMake before 3.26 knows no C++20 flag for nvcc (cuda_std_20), so the flag is
# passed directly; nvcc takes the last -std it sees.
set_target_properties(fftconv::headers PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${FFTCONV_INCLUDE_DIR}"
                                                  INTERFACE_COMPILE_FEATURES cxx_std_20
                                                  INTERFACE_COMPILE_OPTIONS $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20>)
if(FFTCONV_HAVE_CUDA_TOOLKIT)
  set(_fftconv_cccl "")
  foreach(dir IN LISTS CUDAToolkit_INCLUDE_DIRS)
    if(EXISTS "${dir}/cccl/cuda/std/mdspan")
      list(APPEND _fftconv_cccl "${dir}/cccl")
    endif()
  endforeach()
  # The toolkit's own include dir follows CCCL's so that `#include <cuda/std/...>` finds CCCL first.
  set_property(TARGET fftconv::headers APPEND PROPERTY INTERFACE_INCLUDE_DIRECTORIES ${_fftconv_cccl}
                                                                                    ${CUDAToolkit_INCLUDE_DIRS})
elseif(FFTCONV_CCCL_INCLUDE_DIR)
  set_property(TARGET fftconv::headers APPEND PROPERTY INTERFACE_INCLUDE_DIRECTORIES "${FFTCONV_CCCL_INCLUDE_DIR}")
  if(FFTCONV_CUDA_FP16_INCLUDE_DIR)
    set_property(TARGET fftconv::headers APPEND PROPERTY INTERFACE_INCLUDE_DIRECTORIES "${FFTCONV_CUDA_FP16_INCLUDE_DIR}")
  else()
    message(WARNING "fftconv: cuda_bf16.h / cuda_fp16.h not found: set CUDA_FP16_INCLUDE_DIR to the CUDA Toolkit's include")
  endif()
else()
  message(WARNING "fftconv: CCCL (cuda/std/mdspan) not found: install the CUDA Toolkit or set CCCL_INCLUDE_DIR")
endif()

add_library(fftconv::host INTERFACE IMPORTED GLOBAL)
target_link_libraries(fftconv::host INTERFACE fftconv::headers)
if(FFTCONV_HAVE_FFTW)
  target_link_libraries(fftconv::host INTERFACE PkgConfig::FFTCONV_FFTW)
  target_compile_definitions(fftconv::host INTERFACE FFTCONV_HAS_FFTW=1)
else()  # off even where <fftw3.h> is visible: the headers would otherwise turn it on, unlinked
  target_compile_definitions(fftconv::host INTERFACE FFTCONV_HAS_FFTW=0)
endif()
if(FFTCONV_HAVE_CBLAS)
  target_link_libraries(fftconv::host INTERFACE PkgConfig::FFTCONV_OPENBLAS)
  target_compile_definitions(fftconv::host INTERFACE FFTCONV_HAS_CBLAS=1)
else()
  target_compile_definitions(fftconv::host INTERFACE FFTCONV_HAS_CBLAS=0)
endif()
if(FFTCONV_HAVE_OPENMP)
  # OpenMP::OpenMP_CXX adds -fopenmp for C++ only; nvcc passes it on to the host compiler.
  target_link_libraries(fftconv::host INTERFACE OpenMP::OpenMP_CXX)
  target_compile_options(fftconv::host INTERFACE $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-fopenmp>)
endif()
if(FFTCONV_HAVE_CUDA_TOOLKIT)
  target_link_libraries(fftconv::host INTERFACE CUDA::cudart)
  target_compile_definitions(fftconv::host INTERFACE FFTCONV_HAS_CUDART=1)
endif()
if(FFTCONV_HAVE_ONEDNN)
  target_include_directories(fftconv::host SYSTEM INTERFACE "${FFTCONV_ONEDNN_INCLUDE_DIR}")
  target_link_libraries(fftconv::host INTERFACE "${FFTCONV_ONEDNN_LIBRARY}")
  target_compile_definitions(fftconv::host INTERFACE FFTCONV_HAS_ONEDNN=1)
else()  # off even where <oneapi/dnnl/dnnl.h> is visible: the headers would otherwise turn it on, unlinked
  target_compile_definitions(fftconv::host INTERFACE FFTCONV_HAS_ONEDNN=0)
endif()

add_library(fftconv::device INTERFACE IMPORTED GLOBAL)
target_link_libraries(fftconv::device INTERFACE fftconv::headers)
if(FFTCONV_HAVE_CUDA_TOOLKIT)
  target_link_libraries(fftconv::device INTERFACE CUDA::cudart CUDA::cufft CUDA::cublas)
  target_compile_definitions(fftconv::device INTERFACE FFTCONV_HAS_CUDART=1)
endif()
if(FFTCONV_HAVE_CUDNN)
  target_include_directories(fftconv::device SYSTEM INTERFACE "${FFTCONV_CUDNN_INCLUDE_DIR}")
  target_link_libraries(fftconv::device INTERFACE "${FFTCONV_CUDNN_LIBRARY}")
  target_compile_definitions(fftconv::device INTERFACE FFTCONV_HAS_CUDNN=1)
else()
  target_compile_definitions(fftconv::device INTERFACE FFTCONV_HAS_CUDNN=0)
endif()

add_library(fftconv::fftconv INTERFACE IMPORTED GLOBAL)
target_link_libraries(fftconv::fftconv INTERFACE fftconv::host fftconv::device)
