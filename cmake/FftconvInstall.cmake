# `cmake --install` writes the headers and a CMake package: find_package(fftconv CONFIG REQUIRED) then
# target_link_libraries(app PRIVATE fftconv::fftconv).
include(CMakePackageConfigHelpers)

set(FFTCONV_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/fftconv")
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/fftconv" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/fftconvConfig.cmake.in"
                              "${PROJECT_BINARY_DIR}/fftconvConfig.cmake"
                              INSTALL_DESTINATION "${FFTCONV_INSTALL_CMAKEDIR}" PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
write_basic_package_version_file("${PROJECT_BINARY_DIR}/fftconvConfigVersion.cmake"
                                 COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES "${PROJECT_BINARY_DIR}/fftconvConfig.cmake" "${PROJECT_BINARY_DIR}/fftconvConfigVersion.cmake"
              "${PROJECT_SOURCE_DIR}/cmake/FftconvDependencies.cmake" "${PROJECT_SOURCE_DIR}/cmake/FftconvTargets.cmake"
        DESTINATION "${FFTCONV_INSTALL_CMAKEDIR}")

# pkg-config files for builds without CMake, each the flags of one CMake target as one compiler sees it:
#   fftconv-host.pc  fftconv::host    for a C++ compiler (g++, clang++)
#   fftconv.pc       fftconv::fftconv for a C++ compiler: fftconv-host plus the device backend's libraries
#   fftconv-cuda.pc  fftconv::fftconv for nvcc (.cu files), OpenMP through -Xcompiler; with the toolkit only
# The backends' own modules (fftw3, fftw3f, openblas) are Requires, as FftconvDependencies.cmake found them.
# The vendor libraries, which ship no pkg-config module, are in Libs as found: fftconv-host (and so fftconv and
# fftconv-cuda) carries -ldnnl and -DFFTCONV_HAS_ONEDNN=1 where oneDNN 2.x was found, else -DFFTCONV_HAS_ONEDNN=0,
# which keeps a visible <oneapi/dnnl/dnnl.h> from turning the vendor policy on unlinked; fftconv and fftconv-cuda
# carry -lcudnn where cuDNN was found, and fftconv-cuda -DFFTCONV_HAS_CUDNN=1 or =0 likewise.
# The files are written at install time, so that `cmake --install --prefix <dir>` puts <dir> in them.
get_target_property(_fftconv_pc_dirs fftconv::headers INTERFACE_INCLUDE_DIRECTORIES)
list(REMOVE_ITEM _fftconv_pc_dirs "${FFTCONV_INCLUDE_DIR}")  # the installed headers replace the source tree's
list(REMOVE_DUPLICATES _fftconv_pc_dirs)
set(_fftconv_pc_include_flags "")
foreach(dir IN LISTS _fftconv_pc_dirs)
  string(APPEND _fftconv_pc_include_flags " -I${dir}")
endforeach()

# -I<dir> for a vendor header folder the compiler does not search already (/usr/include needs none).
function(_fftconv_pc_vendor_include out dir)
  set(flag "")
  if(NOT dir IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES AND NOT dir IN_LIST _fftconv_pc_dirs)
    set(flag " -I${dir}")
  endif()
  set(${out} "${flag}" PARENT_SCOPE)
endfunction()
# -L<dir> -l<name> for a library found at <path> (no -L for a folder the linker searches already, nor for the
# toolkit's, which the same Libs line names first).
function(_fftconv_pc_vendor_link out path name)
  get_filename_component(dir "${path}" DIRECTORY)
  set(flags " -l${name}")
  if(NOT dir IN_LIST CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES AND NOT dir STREQUAL "${CUDAToolkit_LIBRARY_DIR}")
    set(flags " -L${dir}${flags}")
  endif()
  set(${out} "${flags}" PARENT_SCOPE)
endfunction()
set(_fftconv_pc_onednn_cflags "")
set(_fftconv_pc_onednn_libs "")
if(FFTCONV_HAVE_ONEDNN)
  _fftconv_pc_vendor_include(_fftconv_pc_onednn_cflags "${FFTCONV_ONEDNN_INCLUDE_DIR}")
  _fftconv_pc_vendor_link(_fftconv_pc_onednn_libs "${FFTCONV_ONEDNN_LIBRARY}" dnnl)
endif()
set(_fftconv_pc_cudnn_cflags "")
set(_fftconv_pc_cudnn_libs "")
if(FFTCONV_HAVE_CUDNN)
  _fftconv_pc_vendor_include(_fftconv_pc_cudnn_cflags "${FFTCONV_CUDNN_INCLUDE_DIR}")
  _fftconv_pc_vendor_link(_fftconv_pc_cudnn_libs "${FFTCONV_CUDNN_LIBRARY}" cudnn)
endif()

# The defines of fftconv::host (FFTCONV_HAS_ONEDNN among them) for every file; fftconv-cuda adds fftconv::device's
# (FFTCONV_HAS_CUDNN), which only nvcc reads.
get_target_property(_fftconv_pc_defines fftconv::host INTERFACE_COMPILE_DEFINITIONS)
set(_fftconv_pc_define_flags "")
foreach(define IN LISTS _fftconv_pc_defines)
  string(APPEND _fftconv_pc_define_flags " -D${define}")
endforeach()
get_target_property(_fftconv_pc_device_defines fftconv::device INTERFACE_COMPILE_DEFINITIONS)
set(_fftconv_pc_device_define_flags "")
foreach(define IN LISTS _fftconv_pc_device_defines)
  if(NOT define IN_LIST _fftconv_pc_defines)
    string(APPEND _fftconv_pc_device_define_flags " -D${define}")
  endif()
endforeach()

set(FFTCONV_PC_HOST_REQUIRES "")
if(FFTCONV_HAVE_FFTW)
  string(APPEND FFTCONV_PC_HOST_REQUIRES " fftw3 fftw3f")
endif()
if(FFTCONV_HAVE_CBLAS)
  string(APPEND FFTCONV_PC_HOST_REQUIRES " openblas")
endif()
set(_fftconv_pc_openmp "")
set(_fftconv_pc_openmp_nvcc "")
if(FFTCONV_HAVE_OPENMP)
  set(_fftconv_pc_openmp " ${OpenMP_CXX_FLAGS}")
  string(REPLACE ";" "," _fftconv_pc_openmp_nvcc " -Xcompiler=${OpenMP_CXX_FLAGS}")
endif()
set(FFTCONV_PC_HOST_CFLAGS
    "${_fftconv_pc_include_flags}${_fftconv_pc_onednn_cflags}${_fftconv_pc_define_flags}${_fftconv_pc_openmp}")
set(FFTCONV_PC_HOST_LIBS "${_fftconv_pc_openmp}${_fftconv_pc_onednn_libs}")
set(FFTCONV_PC_DEVICE_LIBS "")
if(FFTCONV_HAVE_CUDA_TOOLKIT)
  string(APPEND FFTCONV_PC_HOST_LIBS " -L${CUDAToolkit_LIBRARY_DIR} -lcudart")
  set(FFTCONV_PC_DEVICE_LIBS "-L${CUDAToolkit_LIBRARY_DIR} -lcufft -lcublas${_fftconv_pc_cudnn_libs}")
  set(FFTCONV_PC_CUDA_CFLAGS "${_fftconv_pc_include_flags}${_fftconv_pc_onednn_cflags}${_fftconv_pc_cudnn_cflags}\
${_fftconv_pc_define_flags}${_fftconv_pc_device_define_flags}${_fftconv_pc_openmp_nvcc}")
  set(FFTCONV_PC_CUDA_LIBS "${_fftconv_pc_openmp_nvcc} ${FFTCONV_PC_DEVICE_LIBS}${_fftconv_pc_onednn_libs}")
endif()

foreach(var IN ITEMS FFTCONV_PC_HOST_REQUIRES FFTCONV_PC_HOST_CFLAGS FFTCONV_PC_HOST_LIBS FFTCONV_PC_CUDA_CFLAGS
                    FFTCONV_PC_CUDA_LIBS)
  string(STRIP "${${var}}" ${var})
endforeach()

if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(FFTCONV_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(FFTCONV_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
set(FFTCONV_PC_PREFIX "@FFTCONV_PC_INSTALL_PREFIX@")  # filled in by the install step below
set(_fftconv_pc_names fftconv-host fftconv)
if(FFTCONV_HAVE_CUDA_TOOLKIT)
  list(APPEND _fftconv_pc_names fftconv-cuda)
endif()
foreach(name IN LISTS _fftconv_pc_names)
  configure_file("${PROJECT_SOURCE_DIR}/cmake/${name}.pc.in" "${PROJECT_BINARY_DIR}/pkgconfig/${name}.pc.in" @ONLY)
  install(CODE "set(FFTCONV_PC_INSTALL_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
configure_file(\"${PROJECT_BINARY_DIR}/pkgconfig/${name}.pc.in\" \"${PROJECT_BINARY_DIR}/pkgconfig/${name}.pc\" @ONLY)")
  install(FILES "${PROJECT_BINARY_DIR}/pkgconfig/${name}.pc" DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
endforeach()
