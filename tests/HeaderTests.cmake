# Every public .hpp compiles on its own, by the host compiler alone, with warnings as errors: this catches a
# missing include and a CUDA construct outside `#if defined(__CUDACC__)`. With nvcc, every .cuh compiles alone too.
option(FFTCONV_HEADER_TESTS "Compile every public header alone (the sanitizer builds leave them out: nothing runs)" ON)
if(NOT FFTCONV_HEADER_TESTS)
  return()
endif()

# An object library `target` of one generated source per public header matching `pattern`, each including its
# header twice (the second time tests the include guard), in files ending in `extension`.
function(fftconv_add_header_tests target pattern extension)
  file(GLOB_RECURSE headers RELATIVE "${PROJECT_SOURCE_DIR}/include" CONFIGURE_DEPENDS
       "${PROJECT_SOURCE_DIR}/include/fftconv/${pattern}")
  set(sources "")
  foreach(header IN LISTS headers)
    string(MAKE_C_IDENTIFIER "${header}" stem)
    set(source "${CMAKE_CURRENT_BINARY_DIR}/header_tests/${stem}.${extension}")
    file(CONFIGURE OUTPUT "${source}" CONTENT "#include <${header}>\n#include <${header}>  // include guard\n")
    list(APPEND sources "${source}")
  endforeach()
  add_library(${target} OBJECT ${sources})
  target_link_libraries(${target} PRIVATE fftconv::fftconv)
  # The targets are IMPORTED, so their include dirs would come in as -isystem and hide the headers' warnings.
  set_target_properties(${target} PROPERTIES NO_SYSTEM_FROM_IMPORTED ON)
endfunction()

fftconv_add_header_tests(fftconv_header_tests "*.hpp" cpp)
target_compile_options(fftconv_header_tests PRIVATE -Wall -Wextra -Wpedantic -Werror)
if(FFTCONV_HAS_CUDA_COMPILER)
  fftconv_add_header_tests(fftconv_device_header_tests "*.cuh" cu)
  target_compile_options(fftconv_device_header_tests PRIVATE -Xcompiler=-Wall,-Wextra)
endif()
