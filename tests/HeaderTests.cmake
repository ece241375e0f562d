# Every public .hpp compiles on its own, by the host compiler alone, with warnings as errors: this catches a
# missing include and a CUDA construct outside `#if defined(__CUDACC__)`.
option(FFTCONV_HEADER_TESTS "Compile every public header alone (the sanitizer builds leave them out: nothing runs)" ON)
if(NOT FFTCONV_HEADER_TESTS)
  return()
endif()
file(GLOB_RECURSE _fftconv_headers RELATIVE "${PROJECT_SOURCE_DIR}/include" CONFIGURE_DEPENDS
     "${PROJECT_SOURCE_DIR}/include/fftconv/*.hpp")
set(_fftconv_header_sources "")
foreach(header IN LISTS _fftconv_headers)
  string(MAKE_C_IDENTIFIER "${header}" stem)
  set(source "${CMAKE_CURRENT_BINARY_DIR}/header_tests/${stem}.cpp")
  file(CONFIGURE OUTPUT "${source}" CONTENT "#include <${header}>\n#include <${header}>  // include guard\n")
  list(APPEND _fftconv_header_sources "${source}")
endforeach()
add_library(fftconv_header_tests OBJECT ${_fftconv_header_sources})
target_link_libraries(fftconv_header_tests PRIVATE fftconv::fftconv)
target_compile_options(fftconv_header_tests PRIVATE -Wall -Wextra -Wpedantic -Werror)
# The targets are IMPORTED, so their include dirs would come in as -isystem and hide the headers' warnings.
set_target_properties(fftconv_header_tests PROPERTIES NO_SYSTEM_FROM_IMPORTED ON)

# The .cuh headers, each alone under nvcc: the device backend's files must include what they use too.
if(FFTCONV_HAS_CUDA_COMPILER)
  file(GLOB_RECURSE _fftconv_device_headers RELATIVE "${PROJECT_SOURCE_DIR}/include" CONFIGURE_DEPENDS
       "${PROJECT_SOURCE_DIR}/include/fftconv/*.cuh")
  set(_fftconv_device_header_sources "")
  foreach(header IN LISTS _fftconv_device_headers)
    string(MAKE_C_IDENTIFIER "${header}" stem)
    set(source "${CMAKE_CURRENT_BINARY_DIR}/header_tests/${stem}.cu")
    file(CONFIGURE OUTPUT "${source}" CONTENT "#include <${header}>\n#include <${header}>  // include guard\n")
    list(APPEND _fftconv_device_header_sources "${source}")
  endforeach()
  add_library(fftconv_device_header_tests OBJECT ${_fftconv_device_header_sources})
  target_link_libraries(fftconv_device_header_tests PRIVATE fftconv::fftconv)
  target_compile_options(fftconv_device_header_tests PRIVATE -Xcompiler=-Wall,-Wextra)
endif()
