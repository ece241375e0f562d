# The compute capability of the first visible GPU (nvidia-smi), else 90.
function(fftconv_default_cuda_architecture out)
  set(arch 90)
  find_program(_fftconv_nvidia_smi nvidia-smi)
  if(_fftconv_nvidia_smi)
    execute_process(COMMAND "${_fftconv_nvidia_smi}" --query-gpu=compute_cap --format=csv,noheader
                    OUTPUT_VARIABLE caps RESULT_VARIABLE rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(rc EQUAL 0 AND caps MATCHES "^([0-9]+)\\.([0-9]+)")
      set(arch "${CMAKE_MATCH_1}${CMAKE_MATCH_2}")
    endif()
  endif()
  message(STATUS "fftconv: CUDA architecture ${arch} (set CMAKE_CUDA_ARCHITECTURES to choose)")
  set(${out} "${arch}" PARENT_SCOPE)
endfunction()
